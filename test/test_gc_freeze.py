"""Start-up objects leave the cyclic collector's reach; later garbage is still collected."""

from __future__ import annotations

import gc

from had_tracker.gc_freeze import freeze_startup_objects


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_frozen_objects_are_not_tracked_and_new_cycles_are_still_collected():
    try:
        before = _Cycle()
        frozen = freeze_startup_objects()
        assert frozen > 0 and gc.get_freeze_count() == frozen
        gc.collect()
        assert any(o is before for o in gc.get_objects()) is False  # frozen objects are outside every generation
        later = _Cycle()
        assert any(o is later for o in gc.get_objects())
        del later
        assert gc.collect() >= 1  # the new cycle is garbage the collector still finds
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
