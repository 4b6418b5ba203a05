"""Issue 15 items 3-4: load shedding keeps data age bounded, counts every shed event; data age from the core.

Deterministic: a fake host clock and a modelled consumer (processing a packet costs more host time than the
packet spans), never timed.
"""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.sync.synchronizer import SyncConfig, Synchronizer, data_age_ns
from test.test_sync_synchronizer import HOST_OFFSET, PACKET_NS, make_events, make_packets


class FakeClock:
    def __init__(self, now: int = 0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def overloaded_run(config: SyncConfig, cost_ns: int, shed_cost_ns: int, clock_offset_ns: int = 0):
    """Packets are produced at their header stamp; the consumer needs ``cost_ns`` of host time per packet
    (``shed_cost_ns`` when the synchronizer shed it), so a backlog builds when ``cost_ns > PACKET_NS``.
    Returns (sync, events, [(sample, data age at emission)])."""
    events = make_events(1_000_000_000, 2_000_000_000, 100_000, seed=31)
    clock = FakeClock()
    sync = Synchronizer(config, host_clock=clock)
    out = []
    for pkt in make_packets(events):
        clock.now = max(clock.now, int(pkt.stamp_ns) + clock_offset_ns)  # take the next packet when it exists
        shed_before = sync.stats.shed_packets
        sync.add_event_packet(pkt)
        clock.now += shed_cost_ns if sync.stats.shed_packets > shed_before else cost_ns
        out += [(s, sync.data_age_ns(s)) for s in sync.poll()]
    out += [(s, sync.data_age_ns(s)) for s in sync.flush()]
    return sync, events, out


def test_without_shedding_an_overloaded_consumer_falls_seconds_behind():
    sync, events, out = overloaded_run(SyncConfig(shed_policy="none"), cost_ns=1_500_000, shed_cost_ns=0)
    ages = [a for _, a in out if a is not None]
    assert max(ages) > 900_000_000  # the backlog: data a second old (what issue 15 measured)
    assert sum(len(s.events) for s, _ in out) == len(events) and not sync.stats.drops


@pytest.mark.parametrize("clock_offset_ns", [0, -HOST_OFFSET + 5_000_000_000])
def test_shedding_keeps_data_age_bounded_and_counts_every_shed_event(clock_offset_ns):
    # clock_offset_ns: a host clock unrelated to the header stamps (a bag played without sim time).
    max_age = 100_000_000
    config = SyncConfig(shed_policy="newest", max_data_age_ns=max_age, rate_hz=200)
    sync, events, out = overloaded_run(config, 1_500_000, 100_000, clock_offset_ns)
    samples = [s for s, _ in out]
    ages = [a for s, a in out if a is not None]
    assert ages and max(ages) <= max_age + 5_000_000 + PACKET_NS  # at most one window + one packet past the bound
    assert sync.stats.shed_packets > 0 and sync.stats.drops["shed_stale"] > 0
    # every event is emitted or counted, and the windows' dropped_events add up to the counters
    assert sum(len(s.events) for s in samples) + sync.stats.dropped_events == len(events)
    assert sum(s.dropped_events for s in samples) == sync.stats.dropped_events
    # windows shed whole still use their seq: the gaps say how many
    seqs = [s.seq for s in samples]
    assert seqs[-1] + 1 - len(seqs) == sync.stats.shed_windows
    assert len(samples) >= 100  # tracking goes on with the newest data
    assert sync.stats.empty_windows <= 0.05 * len(samples)  # windows over shed data are shed, not emitted empty


def test_nothing_is_shed_when_the_consumer_keeps_up_and_output_is_bit_exact():
    events = make_events(1_000_000_000, 300_000_000, 100_000, seed=32)
    packets = make_packets(events)
    plain = Synchronizer(SyncConfig())
    reference = []
    for pkt in packets:
        plain.add_event_packet(pkt)
        reference += plain.poll()
    reference += plain.flush()
    clock = FakeClock()
    timed = Synchronizer(SyncConfig(max_data_age_ns=10_000_000), host_clock=clock)
    got = []
    for k, pkt in enumerate(make_packets(events)):
        clock.now = int(pkt.stamp_ns) + 7_000_000_000 + (k % 3) * 2_000_000  # other clock, jittery delivery
        timed.add_event_packet(pkt)
        got += timed.poll()
    got += timed.flush()
    assert timed.stats.shed_packets == 0 and timed.stats.shed_windows == 0
    assert [(s.seq, s.window_start_ns, s.window_end_ns, s.dropped_events) for s in got] == [
        (s.seq, s.window_start_ns, s.window_end_ns, s.dropped_events) for s in reference
    ]
    for a, b in zip(got, reference, strict=True):
        np.testing.assert_array_equal(a.events.t, b.events.t)
        np.testing.assert_array_equal(a.events.x, b.events.x)


def test_windows_carry_the_host_time_of_their_newest_event_and_data_age_follows_the_clock():
    events = make_events(1_000_000_000, 100_000_000, 100_000, seed=33)
    clock = FakeClock()
    sync = Synchronizer(SyncConfig(extra_offset_ns=3_000_000), host_clock=clock)  # output clock 3 ms after host
    samples = []
    for pkt in make_packets(events):
        clock.now = int(pkt.stamp_ns) + 250_000  # every packet 0.25 ms after its stamp
        sync.add_event_packet(pkt)
        samples += sync.poll()
    full = [s for s in samples if len(s.events)]
    assert full
    for s in full:
        newest_sensor = events.t[events.t + HOST_OFFSET + 3_000_000 < s.window_end_ns][-1]
        # zero-delay stamps (host = sensor + offset) delivered 0.25 ms later: the event reached the node then
        assert s.newest_event_host_ns == int(newest_sensor) + HOST_OFFSET + 250_000
    last = full[-1]
    assert sync.data_age_ns(last, last.newest_event_host_ns + 40_000_000) == 40_000_000
    assert data_age_ns(last.newest_event_host_ns, last.newest_event_host_ns + 7) == 7
    assert data_age_ns(None, 10) is None
    assert Synchronizer().data_age_ns(last) is None  # no host clock: no age


def test_lost_packets_per_window_count_seq_gaps():
    events = make_events(1_000_000_000, 100_000_000, 100_000, seed=34)
    packets = [p for p in make_packets(events) if p.seq % 10 != 5]
    sync = Synchronizer(SyncConfig(reorder_depth=0))
    samples = []
    for pkt in packets:
        sync.add_event_packet(pkt)
        samples += sync.poll()
    samples += sync.flush()
    assert sum(s.lost_packets for s in samples) == sync.stats.seq_gaps == 10


def test_node_configuration_with_a_queued_event_subscription_under_the_bound_drops_nothing():
    # Issue 18 item 1 as the node runs it (host clock, RGB frames served at once, events queued 100-200 ms).
    from test.test_sync_synchronizer import queued_delivery

    events = make_events(1_000_000_000, 1_500_000_000, 100_000, seed=35)
    packets = make_packets(events)
    frames = [HOST_OFFSET + 1_000_000_000 + k * 40_000_000 for k in range(38)]
    clock = FakeClock()
    sync = Synchronizer(SyncConfig(), host_clock=clock)
    samples = []
    lag = lambda k: 100_000_000 + 100_000_000 * np.sin(k / 400.0) ** 2  # noqa: E731
    for arrival, kind, item in queued_delivery(packets, frames, lag):
        clock.now = arrival
        if kind == "events":
            sync.add_event_packet(item)
        else:
            sync.add_image(np.zeros((48, 64, 3), np.uint8), item)
        samples += sync.poll()
    samples += sync.flush()
    assert not sync.stats.drops and sync.stats.shed_packets == 0 and sync.stats.shed_windows == 0
    assert sum(len(s.events) for s in samples) == len(events)
    assert sum(s.image is not None for s in samples) >= len(frames) - 2
