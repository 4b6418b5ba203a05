"""tracker_node logic without ROS: init requests (service/topic/parameter/ground truth) reach the right window."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from had_tracker.events.container import Events
from had_tracker.nodes.session import InitRequest, TrackingSession, check_box
from had_tracker.sync.synchronizer import AlignedSample

WINDOW_NS = 5_000_000


def _sample(index: int, width: int = 64, height: int = 48) -> AlignedSample:
    start = 1_000_000_000 + index * WINDOW_NS
    return AlignedSample(index, start, start + WINDOW_NS, Events.empty(width, height))


@dataclass
class RecordingTracker:
    """Stands in for Tracker: records which window each call got."""

    calls: list = field(default_factory=list)
    fail_init: bool = False

    def push(self, sample):
        self.calls.append(("push", sample.seq))

    def initialize(self, sample, box_xywh, target_id=0):
        if self.fail_init:
            raise ValueError("template crop is empty")
        self.calls.append(("initialize", sample.seq, tuple(box_xywh), target_id))
        return ("init", sample.seq)

    def update(self, sample):
        self.calls.append(("update", sample.seq))
        return ("update", sample.seq)

    def reset(self):
        self.calls.append(("reset",))


def test_idle_windows_only_warm_the_history():
    tracker = RecordingTracker()
    session = TrackingSession(tracker)
    assert session.process(_sample(0)) == [] and session.process(_sample(1)) == []
    assert tracker.calls == [("push", 0), ("push", 1)]
    assert not session.active


def test_latest_window_request_starts_on_the_next_window_then_updates():
    tracker = RecordingTracker()
    session = TrackingSession(tracker)
    session.process(_sample(0))
    ok, message = session.request_init(InitRequest((10, 12, 8, 6), target_id=7, source="service"))
    assert ok and "next window" in message
    assert session.process(_sample(1)) == [("init", 1)]
    assert session.process(_sample(2)) == [("update", 2)]
    assert tracker.calls[1:] == [("initialize", 1, (10.0, 12.0, 8.0, 6.0), 7), ("update", 2)]
    assert session.active and session.target_id == 7 and session.init_source == "service" and session.inits == 1


def test_stamped_request_waits_for_the_window_that_reaches_its_time():
    tracker = RecordingTracker()
    session = TrackingSession(tracker)
    stamp = _sample(3).window_end_ns - 1  # inside window 3
    ok, message = session.request_init(InitRequest((1, 1, 5, 5), 2, stamp_ns=stamp, source="ground_truth"))
    assert ok and str(stamp) in message
    results = [session.process(_sample(i)) for i in range(5)]
    assert results == [[], [], [], [("init", 3)], [("update", 4)]]
    assert session.init_source == "ground_truth"


@pytest.mark.parametrize(
    ("box", "reason"),
    [((0, 0, 0, 5), "> 0"), ((0, 0, 5, -1), "> 0"), ((0, float("nan"), 5, 5), "finite"), ((70, 0, 5, 5), "outside")],
)
def test_bad_boxes_are_refused_at_once_and_counted(box, reason):
    tracker = RecordingTracker()
    session = TrackingSession(tracker)
    session.process(_sample(0))  # 64 x 48 image
    ok, message = session.request_init(InitRequest(box, 1))
    assert not ok and reason in message
    assert session.pending is None and session.failed_inits == 1
    session.process(_sample(1))
    assert not session.active


def test_a_failed_initialisation_is_counted_and_the_window_still_processed():
    tracker = RecordingTracker(fail_init=True)
    session = TrackingSession(tracker)
    session.request_init(InitRequest((1, 1, 4, 4), 3, source="topic"))
    assert session.process(_sample(0)) == []
    assert (
        session.failed_inits == 1 and "template crop is empty" in session.last_error and "topic" in session.last_error
    )
    assert tracker.calls == [("push", 0)] and not session.active


def test_a_newer_request_replaces_a_pending_one_and_restarts_an_active_target():
    tracker = RecordingTracker()
    session = TrackingSession(tracker)
    session.request_init(InitRequest((1, 1, 4, 4), 1))
    session.request_init(InitRequest((2, 2, 4, 4), 2))
    session.process(_sample(0))
    session.request_init(InitRequest((3, 3, 4, 4), 3))
    session.process(_sample(1))
    inits = [c for c in tracker.calls if c[0] == "initialize"]
    assert inits == [("initialize", 0, (2.0, 2.0, 4.0, 4.0), 2), ("initialize", 1, (3.0, 3.0, 4.0, 4.0), 3)]
    assert session.target_id == 3


def test_reset_stops_tracking_and_drops_pending_requests():
    tracker = RecordingTracker()
    session = TrackingSession(tracker)
    session.request_init(InitRequest((1, 1, 4, 4), 1))
    session.process(_sample(0))
    session.request_init(InitRequest((2, 2, 4, 4), 2))
    session.reset()
    assert session.process(_sample(1)) == []
    assert not session.active and session.pending is None
    assert tracker.calls[-2:] == [("reset",), ("push", 1)]


def test_check_box_without_an_image_size_only_checks_the_box_itself():
    assert check_box(np.array([-5.0, -5.0, 10.0, 10.0])) == (-5.0, -5.0, 10.0, 10.0)
    with pytest.raises(ValueError, match="4 finite numbers"):
        check_box([1.0, 2.0, 3.0])


def test_ground_truth_starts_the_target_once_until_a_reset():
    tracker = RecordingTracker()
    session = TrackingSession(tracker)
    stamp = _sample(2).window_start_ns + 1  # inside window 2 (a box is valid at the end of its window)
    assert session.offer_ground_truth(False, (0, 0, 0, 0), 4, stamp - WINDOW_NS) is None  # absent: not used
    accepted, _ = session.offer_ground_truth(True, (5, 6, 7, 8), 4, stamp)
    assert accepted
    assert session.offer_ground_truth(True, (9, 9, 9, 9), 4, stamp + 1) is None  # pending: later boxes ignored
    results = [session.process(_sample(i)) for i in range(4)]
    assert results == [[], [], [("init", 2)], [("update", 3)]]
    assert session.offer_ground_truth(True, (9, 9, 9, 9), 4, stamp + 10 * WINDOW_NS) is None  # tracking
    session.reset()
    accepted, _ = session.offer_ground_truth(True, (1, 2, 3, 4), 4, 0)
    assert accepted and session.pending.box_xywh == (1.0, 2.0, 3.0, 4.0)


def test_stale_windows_are_recorded_not_tracked_and_a_start_is_never_skipped():
    from had_tracker.tracking.stale_windows import StaleWindowSkipper

    tracker = RecordingTracker()
    session = TrackingSession(tracker, StaleWindowSkipper(max_age_ns=10_000_000, max_in_row=2))
    stale = 50_000_000
    assert session.process(_sample(0), stale) == []  # idle: pushed whatever its age
    session.request_init(InitRequest((10, 12, 8, 6), target_id=1))
    assert session.process(_sample(1), stale) == [("init", 1)]  # the start is never skipped
    assert session.process(_sample(2), stale) == []
    assert session.process(_sample(3), stale) == []
    assert session.process(_sample(4), stale) == [("update", 4)]  # two in a row skipped: this one is tracked
    assert session.process(_sample(5), 1_000_000) == [("update", 5)]
    assert session.process(_sample(6)) == [("update", 6)]  # unknown age: tracked
    assert tracker.calls[2:] == [("push", 2), ("push", 3), ("update", 4), ("update", 5), ("update", 6)]
    assert session.skipped_stale == 2
    assert TrackingSession(tracker).skipped_stale == 0
