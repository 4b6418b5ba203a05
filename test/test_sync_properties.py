"""Property: whatever the packet order, duplication, loss or clock jumps, the Synchronizer never crashes,
never hangs, and every decoded event is either in exactly one window or counted as dropped."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from had_tracker.sync.synchronizer import SyncConfig, Synchronizer
from test.test_sync_synchronizer import make_events, make_packets


@st.composite
def packet_streams(draw):
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    packets = make_packets(make_events(draw(st.integers(0, 10**10)), 30_000_000, 50_000, seed=seed))
    stream = []
    for pkt in packets:
        action = draw(st.sampled_from(["keep", "keep", "keep", "keep", "drop", "dup", "delay"]))
        if action == "drop":
            continue
        stream.append(pkt)
        if action == "dup":
            stream.append(pkt)
        if action == "delay" and len(stream) > 1:
            k = int(rng.integers(1, min(len(stream), 8)))
            stream.insert(len(stream) - 1 - k, stream.pop())
    if draw(st.booleans()):  # the stream restarts (a bag played again)
        again = make_packets(make_events(draw(st.integers(0, 10**10)), 20_000_000, 50_000, seed=seed + 1))
        stream += again
    policy = draw(
        st.sampled_from([{"rate_hz": 100.0}, {"rate_hz": 1000.0}, {"policy": "fixed_count", "events_per_window": 300}])
    )
    return stream, draw(st.integers(0, 6)), policy


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packet_streams())
def test_every_decoded_event_is_emitted_once_or_counted(case):
    stream, reorder_depth, policy = case
    sync = Synchronizer(SyncConfig(reorder_depth=reorder_depth, **policy))
    emitted, seqs = 0, []
    for pkt in stream:
        sync.add_event_packet(pkt)
        for s in sync.poll():
            emitted += len(s.events)
            seqs.append(s.seq)
            assert s.events.is_time_ordered()
            assert len(s.events) == 0 or (s.events.t[0] >= s.window_start_ns and s.events.t[-1] < s.window_end_ns)
    for s in sync.flush():
        emitted += len(s.events)
        seqs.append(s.seq)
    assert seqs == list(range(len(seqs)))
    assert emitted + sync.stats.dropped_events == sync.stats.events
    assert sync.stats.packets == len(stream)
