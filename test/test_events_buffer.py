"""EventBuffer: bounds by count and duration, time windows, the time-going-backwards policy."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from had_tracker.events.buffer import EventBuffer
from had_tracker.events.container import Events


def batch(t):
    t = np.asarray(t, np.int64)
    return Events.from_arrays(t, t % 640, t % 480, t % 2, 640, 480)


def test_window_selects_half_open_time_range():
    buf = EventBuffer(max_duration_ns=10**9, max_events=100)
    assert buf.append(batch(range(0, 50, 5))) == 10
    win = buf.window(10, 30)
    assert win.t.tolist() == [10, 15, 20, 25]
    assert (win.width, win.height) == (640, 480)
    assert buf.latest_t_ns == 45 and buf.oldest_t_ns == 0 and len(buf) == 10


def test_count_bound_drops_oldest_and_counts():
    buf = EventBuffer(max_duration_ns=10**9, max_events=8)
    buf.append(batch(range(6)))
    assert buf.append(batch(range(6, 12))) == 6
    assert buf.window(0, 100).t.tolist() == list(range(4, 12))
    assert buf.dropped_overflow == 4
    assert buf.append(batch(range(12, 30))) == 8  # a batch larger than the buffer keeps its newest part
    assert buf.window(0, 100).t.tolist() == list(range(22, 30))
    assert buf.dropped_overflow == 4 + 8 + 10


def test_duration_bound_evicts_old_events():
    buf = EventBuffer(max_duration_ns=100, max_events=1000)
    buf.append(batch([0, 50, 99]))
    buf.append(batch([150, 200]))
    assert buf.window(0, 1000).t.tolist() == [150, 200]
    assert buf.evicted_by_age == 3


def test_small_step_back_is_clamped_and_counted():
    buf = EventBuffer(max_duration_ns=10**9, max_events=100, backward_tolerance_ns=1000)
    buf.append(batch([100, 200]))
    buf.append(batch([150, 300, 250, 400]))
    assert buf.window(0, 10**6).t.tolist() == [100, 200, 200, 300, 300, 400]
    assert buf.clamped_late == 2 and buf.time_resets == 0


def test_large_step_back_resets_with_warning(caplog):
    buf = EventBuffer(max_duration_ns=10**12, max_events=100, backward_tolerance_ns=1000)
    buf.append(batch([10_000, 20_000]))
    # caplog's handler goes on the module's own logger: under colcon test, launch_testing's plugin imports
    # `launch`, which stops propagation to the root logger, where caplog listens by default.
    logger = logging.getLogger("had_tracker.events.buffer")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger=logger.name):
            assert buf.append(batch([5, 6])) == 2
    finally:
        logger.removeHandler(caplog.handler)
    assert "reset" in caplog.text
    assert buf.window(0, 10**9).t.tolist() == [5, 6]
    assert buf.time_resets == 1 and buf.cleared_by_reset == 2


def test_reset_inside_one_batch_keeps_the_newer_part():
    buf = EventBuffer(max_duration_ns=10**12, max_events=100, backward_tolerance_ns=1000)
    assert buf.append(batch([10_000, 20_000, 3, 4])) == 2
    assert buf.window(0, 10**9).t.tolist() == [3, 4]
    assert buf.time_resets == 1


def test_invalid_bounds_rejected():
    with pytest.raises(ValueError):
        EventBuffer(0, 10)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=12),
    max_events=st.integers(1, 64),
    max_duration=st.integers(1, 500),
    t0=st.integers(0, 1000),
    t1=st.integers(0, 1000),
)
@pytest.mark.parametrize("time_ordered", [False, True])  # True: the caller vouches for the order (no scan)
def test_matches_a_plain_list_model(sizes, max_events, max_duration, t0, t1, time_ordered):
    buf = EventBuffer(max_duration_ns=max_duration, max_events=max_events)
    model: list[int] = []
    t = 0
    for n in sizes:
        ts = list(range(t, t + n * 3, 3))
        t += n * 3
        buf.append(batch(ts), time_ordered=time_ordered)
        model = (model + ts)[-max_events:]
        if model:
            model = [v for v in model if v >= model[-1] - max_duration]
    assert buf.window(-1, 10**9).t.tolist() == model
    assert buf.window(t0, t1).t.tolist() == [v for v in model if t0 <= v < t1]
    shifted = buf.window(t0, t1, shift_ns=1000)  # times moved to another clock in the copy
    assert shifted.t.tolist() == [v + 1000 for v in model if t0 <= v < t1]
    assert shifted.x.tolist() == [v % 640 for v in model if t0 <= v < t1]
    assert buf.window(-1, 10**9).t.tolist() == model  # the buffer itself is unchanged
    assert buf.appended == sum(sizes) and buf.dropped_overflow + buf.evicted_by_age + len(buf) == sum(sizes)


def _model_run(buf, batches, max_events, max_duration):
    """Append ``batches`` to ``buf`` and to a plain-list model of it; return both contents."""
    model: list[int] = []
    t = 0
    for n, step in batches:
        ts = list(range(t, t + n * step, step))
        t += n * step
        buf.append(batch(ts))
        model = (model + ts)[-max_events:]
        if model:
            model = [v for v in model if v >= model[-1] - max_duration]
    return buf.window(-1, 10**9).t.tolist(), model


# Rising and falling rates (events per batch, time step) from a tiny initial ring, so that the ring grows while
# its events are contiguous and while they are wrapped (either piece the smaller one).
RATES = st.lists(st.tuples(st.integers(0, 60), st.integers(1, 4)), min_size=1, max_size=25)


@settings(max_examples=80, deadline=None)
@given(batches=RATES, max_events=st.integers(1, 300), max_duration=st.integers(1, 400))
def test_a_growing_ring_keeps_every_event_in_order(batches, max_events, max_duration):
    from unittest import mock

    import had_tracker.events.buffer as module

    with mock.patch.object(module, "_INITIAL_CAPACITY", 4):
        buf = EventBuffer(max_duration_ns=max_duration, max_events=max_events)
        held, model = _model_run(buf, batches, max_events, max_duration)
    assert held == model
    assert buf.dropped_overflow + buf.evicted_by_age + len(buf) == buf.appended


def test_storage_is_reserved_once_and_growth_copies_no_storage():
    from unittest import mock

    import had_tracker.events.buffer as module

    with mock.patch.object(module, "_INITIAL_CAPACITY", 4):
        buf = EventBuffer(max_duration_ns=10**9, max_events=1000)
        buf.append(batch(range(3)))
        storage = buf._t
        for start in range(3, 900, 50):  # the ring widens 4 -> 8 -> ... -> 1000 over the same storage
            buf.append(batch(range(start, start + 50)))
    assert buf._t is storage and len(storage) == 1000
    assert buf.window(0, 10**6).t.tolist() == list(range(903))


@settings(max_examples=40, deadline=None)
@given(batches=RATES, max_events=st.integers(1, 300), max_duration=st.integers(1, 400))
def test_where_the_reservation_is_refused_the_storage_grows_by_doubling(batches, max_events, max_duration):
    from unittest import mock

    import had_tracker.events.buffer as module

    request = {}
    allocate = EventBuffer._allocate

    def remember_the_request(self, min_size):
        request["min_size"] = min_size
        return allocate(self, min_size)

    def refuse_the_reservation(size, dtype):  # as an OS would refuse max_events that do not fit
        if size == max_events and request["min_size"] < max_events:
            raise MemoryError
        return np.empty(size, dtype)

    with (
        mock.patch.object(module, "_INITIAL_CAPACITY", 4),
        mock.patch.object(module, "_empty", refuse_the_reservation),
        mock.patch.object(EventBuffer, "_allocate", remember_the_request),
    ):
        buf = EventBuffer(max_duration_ns=max_duration, max_events=max_events)
        held, model = _model_run(buf, batches, max_events, max_duration)
    assert held == model


def test_release_before_lets_go_of_consumed_events_without_counting_a_drop():
    buf = EventBuffer(max_duration_ns=10**9, max_events=100)
    buf.append(batch(range(0, 50, 5)))
    assert buf.release_before(20) == 4
    assert buf.window(0, 100).t.tolist() == [20, 25, 30, 35, 40, 45]
    assert buf.released == 4 and buf.dropped_overflow == 0 and buf.evicted_by_age == 0
    assert buf.release_before(20) == 0 and buf.counters["released"] == 4
