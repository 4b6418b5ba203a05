"""The synchronizer node's live inputs, rclpy-free: host clock (shedding, data age) and the tracker's search region.

Drives :class:`SynchronizerCore` and :class:`TrackerCore` with rosbags messages through the same methods the
nodes call (issue 15 items 2-4; the node only wires clocks, topics and the single-process link to them).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from had_tracker import parameters as schema
from had_tracker.events.encoders import Evt3Encoder
from had_tracker.nodes.search_region import (
    SearchRegionSender,
    SearchRegionSlot,
    roi_from_msg,
    roi_to_msg,
    tracker_search_region,
)
from had_tracker.nodes.session import InitRequest
from had_tracker.nodes.synchronizer_core import SynchronizerCore
from had_tracker.ros_io.event_window import window_msg_to_sample
from had_tracker.ros_io.msgs import default_msg, make_header
from had_tracker.ros_io.typestore import get_typestore
from had_tracker.sync.roi import Roi
from test.test_nodes_callbacks import (
    HOST_NS,
    PACKET_NS,
    StubTracker,
    _good_packets,
    _image,
    _result,
    _sample,
    _sync_core,
    _tracker_core,
    _window_factory,
    _window_msg,
)

_STORE = get_typestore("humble")


@pytest.fixture(scope="module")
def store():
    return _STORE


class FakeClock:
    """A settable host clock [ns] (the node's ROS clock in the nodes)."""

    def __init__(self, now_ns: int = 0) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


def _stamp(packet) -> int:
    return int(packet.header.stamp.sec) * 1_000_000_000 + int(packet.header.stamp.nanosec)


def _feed(core, packets, clock: FakeClock, delay_ns: int) -> list:
    """Deliver packets as a subscription would: each arrives ``delay_ns`` after its header stamp."""
    windows = []
    for packet in packets:
        clock.now_ns = _stamp(packet) + delay_ns
        core.add_event_packet(packet)
        windows += core.windows(_window_factory(_STORE))
    return windows


def _clocked_core(clock, **overrides) -> SynchronizerCore:
    params = {**schema.defaults(schema.SYNCHRONIZER), **overrides}
    return SynchronizerCore(schema.validate(schema.SYNCHRONIZER, params), lambda text: None, host_clock=clock)


# --- host clock: shedding and data age live ---------------------------------------------------------------------------
def test_the_node_clock_turns_on_shedding_a_backlog_and_diagnostics_show_it(store):
    encoder = Evt3Encoder()
    packets = _good_packets(store, 400, encoder=encoder)
    clock = FakeClock()
    core = _clocked_core(clock, image_topic="", camera_info_topic="")
    _feed(core, packets[:100], clock, 1_000_000)  # on time
    _feed(core, packets[100:300], clock, 400_000_000)  # a 400 ms backlog (> sync.max_data_age_ns 250 ms)
    on_time = _feed(core, packets[300:], clock, 1_000_000)
    values = core.report({"event_packets": 0}, True).values
    assert int(values["shed_packets"]) > 0 and int(values["drop_shed_stale"]) > 0
    assert values["host_clock"] == "node clock"
    assert on_time, "tracking resumes on the newest data"
    host = [window_msg_to_sample(w).newest_event_host_ns for w in on_time]
    assert all(h is not None and h > 0 for h in host)

    # the same stream without a host clock (offline replay) sheds nothing
    offline = _sync_core(image_topic="", camera_info_topic="")
    for packet in packets:
        offline.add_event_packet(packet)
        offline.windows(_window_factory(store))
    values = offline.report({"event_packets": 0}, True).values
    assert values["shed_packets"] == "0" and values["host_clock"].startswith("off")


def test_a_zero_clock_reading_sim_time_not_started_neither_sheds_nor_stamps_windows(store):
    clock = FakeClock(0)
    core = _clocked_core(clock, image_topic="", camera_info_topic="")
    packets = _good_packets(store, 60)
    early = []
    for packet in packets[:30]:
        core.add_event_packet(packet)
        early += core.windows(_window_factory(store))
    assert early and all(window_msg_to_sample(w).newest_event_host_ns is None for w in early)
    late = _feed(core, packets[30:], clock, 2_000_000)  # /clock arrived: readings are real from now on
    assert core.synchronizer.stats.shed_packets == 0
    assert late and all(window_msg_to_sample(w).newest_event_host_ns for w in late)
    clock.now_ns = 0
    assert core.host_now() == _stamp(packets[-1]) + 2_000_000  # a 0 reading repeats the last good one


def test_the_rgb_minus_event_clock_offset_reaches_diagnostics(store):
    core = _sync_core(camera_info_topic="")
    assert core.report({"event_packets": 0}, True).values["rgb_minus_event_ns"] == "unknown"
    for i, packet in enumerate(_good_packets(store, 40)):
        core.add_event_packet(packet)
        if i % 10 == 5:
            image = _image(store)
            image.header = make_header(store, _stamp(packet) + 40_000_000, "camera")  # RGB clock 40 ms ahead
            core.add_image(image)
        core.windows(_window_factory(store))
    value = core.report({"event_packets": 0}, True).values["rgb_minus_event_ns"]
    assert value != "unknown" and abs(int(value) - 40_000_000) < 2_000_000


# --- the search region, synchronizer side -------------------------------------------------------------------------------
def test_region_messages_round_trip_and_zeros_mean_the_whole_sensor(store):
    msg = default_msg(store, "sensor_msgs/msg/RegionOfInterest")
    roi = Roi(3, 40, 5, 30)
    assert roi_from_msg(roi_to_msg(roi, msg)) == roi
    assert (msg.x_offset, msg.y_offset, msg.width, msg.height) == (3, 5, 37, 25)
    assert roi_from_msg(roi_to_msg(None, msg)) is None
    assert (msg.x_offset, msg.y_offset, msg.width, msg.height) == (0, 0, 0, 0)
    back = store.deserialize_cdr(store.serialize_cdr(roi_to_msg(roi, msg), msg.__msgtype__), msg.__msgtype__)
    assert roi_from_msg(back) == roi


def test_the_synchronizer_keeps_only_events_inside_the_region_from_the_next_packet(store):
    core = _sync_core(image_topic="", camera_info_topic="")
    packets = _good_packets(store, 80)
    for packet in packets[:20]:
        core.add_event_packet(packet)
        core.windows(_window_factory(store))
    assert core.synchronizer.stats.roi_filtered == 0
    region = roi_to_msg(Roi(0, 16, 0, 12), default_msg(store, "sensor_msgs/msg/RegionOfInterest"))
    core.set_search_region_msg(region)
    windows = []
    for packet in packets[20:]:
        core.add_event_packet(packet)
        windows += core.windows(_window_factory(store))
    assert core.synchronizer.stats.roi_filtered > 0
    late = [window_msg_to_sample(w) for w in windows if window_msg_to_sample(w).window_start_ns > _stamp(packets[22])]
    assert late and all(len(s.events) for s in late)
    for sample in late:  # not a drop: nobody asked for those events
        assert int(sample.events.x.max()) < 16 and int(sample.events.y.max()) < 12
        assert sample.dropped_events == 0
    values = core.report({"event_packets": 0}, True).values
    assert values["search_region"] == "x [0, 16) y [0, 12)" and values["search_regions_received"] == "1"
    assert int(values["roi_filtered"]) == core.synchronizer.stats.roi_filtered
    core.set_search_region_msg(roi_to_msg(None, region))  # whole sensor again
    before = core.synchronizer.stats.roi_filtered
    for packet in _good_packets(store, 5, first_seq=80, start_ns=5_000_000 + 80 * PACKET_NS):
        core.add_event_packet(packet)
    assert core.synchronizer.stats.roi_filtered == before


def test_a_region_not_refreshed_lapses_to_the_whole_sensor():
    now = [0.0]
    slot = SearchRegionSlot(timeout_s=1.0, clock=lambda: now[0])
    applied = []
    slot.offer(Roi(0, 10, 0, 10))
    assert slot.apply(applied.append) == Roi(0, 10, 0, 10)
    now[0] = 0.9
    slot.apply(applied.append)
    assert applied == [Roi(0, 10, 0, 10)]  # unchanged: set_roi not called again
    now[0] = 1.5  # the tracker went away
    assert slot.apply(applied.append) is None and applied[-1] is None and slot.expired == 1
    assert slot.values()["search_region"] == "whole sensor"


def test_a_region_offered_while_the_old_one_lapses_is_not_lost():
    """Single process: the tracker's thread may offer between the synchronizer's read and its expiry check."""
    now = [0.0]
    slot = SearchRegionSlot(timeout_s=1.0, clock=lambda: now[0])
    slot.offer(Roi(0, 10, 0, 10))
    fresh = Roi(20, 40, 20, 40)

    def clock_with_concurrent_offer() -> float:
        slot._clock = lambda: now[0]  # once: the tracker thread offers right after current() read the old offer
        slot.offer(fresh)
        return now[0]

    now[0] = 1.5
    slot._clock = clock_with_concurrent_offer
    assert slot.current() is None and slot.expired == 1  # the read (old) offer lapsed
    assert slot.current() == fresh  # ... and the new one survives
    now[0] = 3.0
    assert slot.current() is None and slot.current() is None and slot.expired == 2  # counted once per offer


def test_the_sender_sends_changes_at_once_and_an_unchanged_region_as_a_keepalive():
    now = [0.0]
    sender = SearchRegionSender(keepalive_s=0.25, clock=lambda: now[0])
    roi = Roi(0, 10, 0, 10)
    assert sender.due(roi) and not sender.due(roi)
    now[0] = 0.1
    assert sender.due(Roi(1, 11, 0, 10)) and not sender.due(Roi(1, 11, 0, 10))
    now[0] = 0.4
    assert sender.due(Roi(1, 11, 0, 10))  # keep-alive (the receiver's region would lapse otherwise)
    assert sender.due(None) and not sender.due(None)


# --- the search region, tracker side -------------------------------------------------------------------------------------
class RoiTracker(StubTracker):
    """A stub tracker that states a search region, as Tracker.search_roi does while TRACKING."""

    roi = Roi(8, 40, 4, 36)

    def search_roi(self):
        return self.roi


def test_the_tracker_asks_for_its_region_only_while_tracking_an_observed_target(store):
    tracker = RoiTracker()
    core = _tracker_core(tracker)
    assert core.search_region() == (True, None)  # idle: the whole sensor
    assert core.search_region() == (False, None)
    core.on_window(_window_msg(store, _sample(0)))
    assert tracker_search_region(core.session, core.last_result) is None
    core.session.request_init(InitRequest((10.0, 10.0, 8.0, 8.0), 1))
    assert tracker_search_region(core.session, core.last_result) is None  # pending: the new target may be anywhere
    core.on_window(_window_msg(store, _sample(1)))
    assert core.search_region() == (True, RoiTracker.roi)
    sample = _sample(2)
    hidden = _result(sample, (10.0, 10.0, 8.0, 8.0))
    hidden.unobserved = True
    tracker.results = [hidden]
    core.on_window(_window_msg(store, sample))
    assert core.search_region() == (True, None)  # the whole-image search needs the whole sensor
    core.session.reset()
    assert tracker_search_region(core.session, core.last_result) is None
    off = _tracker_core(RoiTracker(), publish_search_region=False)
    assert off.search_region() == (False, None)


def test_a_tracker_without_search_roi_never_narrows_the_region(store):
    core = _tracker_core(StubTracker())
    core.session.request_init(InitRequest((10.0, 10.0, 8.0, 8.0), 1))
    core.on_window(_window_msg(store, _sample(0)))
    assert core.session.active and tracker_search_region(core.session, core.last_result) is None


# --- tracker side: data age, the tracker's counters, unobserved ---------------------------------------------------------
def _aged_window(store, index: int, host_ns: int | None, n: int = 20):
    sample = _sample(index, n=n)
    sample.newest_event_host_ns = host_ns
    return _window_msg(store, sample)


def test_data_age_is_publication_minus_the_newest_event_used_on_the_host_clock(store):
    clock = FakeClock(0)
    core = _tracker_core(StubTracker())
    core._host_clock = clock
    core.session.request_init(InitRequest((10.0, 10.0, 8.0, 8.0), 1))
    host = HOST_NS + 10_000_000
    clock.now_ns = host + 12_500_000
    outcome = core.on_window(_aged_window(store, 0, host))
    assert outcome.results and outcome.data_age_ms == pytest.approx(12.5)
    clock.now_ns = host + 20_000_000
    outcome = core.on_window(_aged_window(store, 1, None, n=0))  # no event: the held box is as old as the last one
    assert outcome.data_age_ms == pytest.approx(20.0)
    clock.now_ns = 0  # sim time not started: unknown, never a huge number
    assert math.isnan(core.on_window(_aged_window(store, 2, host)).data_age_ms)
    values = core.report().values
    assert float(values["data_age_p50_ms"]) == pytest.approx(16.25)
    assert float(values["data_age_p99_ms"]) == pytest.approx(19.925)
    assert values["data_age_unknown"] == "1"


def test_windows_stale_when_their_turn_comes_are_skipped_counted_and_publish_nothing(store):
    from had_tracker.nodes.session import TrackingSession
    from had_tracker.tracking.stale_windows import StaleWindowSkipper

    clock = FakeClock(0)
    core = _tracker_core(StubTracker())
    core.session = TrackingSession(StubTracker(), StaleWindowSkipper(max_age_ns=15_000_000, max_in_row=3))
    core._host_clock = clock
    core.session.request_init(InitRequest((10.0, 10.0, 8.0, 8.0), 1))
    host = HOST_NS + 10_000_000
    published = []
    for index, age_ms in enumerate([40, 40, 40, 40, 40, 2]):  # a backlog: the start, 3 skipped, 1 forced, fresh
        clock.now_ns = host + index * 5_000_000 + age_ms * 1_000_000
        outcome = core.on_window(_aged_window(store, index, host + index * 5_000_000))
        published.append(len(outcome.results))
    assert published == [1, 0, 0, 0, 1, 1]
    values = core.report().values
    assert values["windows_skipped_stale"] == "3" and values["window_errors"] == "0"
    assert float(values["data_age_p50_ms"]) == pytest.approx(40.0)  # only published boxes have an age


def test_without_a_host_time_the_data_age_is_unknown(store):
    core = _tracker_core(StubTracker())
    core.session.request_init(InitRequest((10.0, 10.0, 8.0, 8.0), 1))
    assert math.isnan(core.on_window(_aged_window(store, 0, None)).data_age_ms)
    assert core.report().values["data_age_p99_ms"] == "n/a"


def test_track_carries_data_age_and_unobserved_through_cdr(store):
    from had_tracker.ros_io.event_window import make_track_msg, track_msg_to_result

    result = _result(_sample(0), (1.0, 2.0, 3.0, 4.0))
    result.unobserved = True
    track = make_track_msg(store, result, "cam")
    track.data_age_ms = 7.25
    back = store.deserialize_cdr(store.serialize_cdr(track, "had_msgs/msg/Track"), "had_msgs/msg/Track")
    assert back.data_age_ms == pytest.approx(7.25) and back.unobserved
    assert track_msg_to_result(back).unobserved


def test_the_trackers_own_counters_and_history_drops_reach_diagnostics(store):
    tracker = StubTracker()
    tracker.stats = {"updates": 3, "unobserved_windows": 2, "empty_windows": 1}
    tracker.history = SimpleNamespace(dropped=123)
    core = _tracker_core(tracker)
    core.session.request_init(InitRequest((10.0, 10.0, 8.0, 8.0), 1))
    sample = _sample(0)
    held = _result(sample, (10.0, 10.0, 8.0, 8.0))
    held.unobserved = True
    tracker.results = [held]
    core.on_window(_window_msg(store, sample))
    values = core.report().values
    assert values["history_dropped"] == "123"
    assert values["tracker_unobserved_windows"] == "2" and values["tracker_empty_windows"] == "1"
    assert values["unobserved"] == "True"


def test_the_real_trackers_counters_reach_diagnostics():
    from had_tracker.models.builder import build_model
    from had_tracker.models.config import ModelConfig
    from had_tracker.tracking.tracker import Tracker, TrackerConfig

    tracker = Tracker(TrackerConfig(), model=build_model(ModelConfig.from_yaml("cpu-tiny")))
    core = _tracker_core(tracker)
    values = core.report().values
    assert values["history_dropped"] == "0"
    for key in tracker.stats:
        assert f"tracker_{key}" in values, key


def test_the_ros_replay_report_gives_the_tracks_data_age(store, tmp_path):
    from had_tracker.nodes.replay_collector import ReplayCollector
    from had_tracker.ros_io.event_window import make_track_msg

    collector = ReplayCollector()
    for index, age in enumerate([4.0, 6.0, float("nan"), 30.0]):
        track = make_track_msg(store, _result(_sample(index), (1.0, 2.0, 3.0, 4.0)), "cam")
        track.data_age_ms = age
        collector.add_track(track)
    report = collector.write_report(tmp_path, "bag", {})
    age = report["trackers"][collector.tracker_name]["data_age"]
    assert age["tracks"] == 3 and age["p50_ms"] == pytest.approx(6.0) and age["max_ms"] == pytest.approx(30.0)
    assert any(note.startswith("data age") for note in report["notes"])
    offline = ReplayCollector()  # tracks written without a host clock (data_age_ms 0): no figure, not a fake one
    offline.add_track(make_track_msg(store, _result(_sample(0), (1.0, 2.0, 3.0, 4.0)), "cam"))
    assert offline.data_age() is None
