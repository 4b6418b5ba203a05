"""tracker_pipeline: synchronizer_node and tracker_node in one process, one MultiThreadedExecutor.

Each node keeps its own mutually exclusive callback group (so neither core object needs a lock) while the two
nodes run in parallel threads. Windows still travel over the ``~/windows`` topic and are serialized (rclpy
has no intra-process transport); what one process saves is a second Python interpreter and its imports.
The tracker's search region skips the topic: the tracker node hands it to the synchronizer core's
:class:`~had_tracker.nodes.search_region.SearchRegionSlot` (one attribute replaced atomically from the tracker's
thread; the synchronizer applies it in its own callbacks before the next packet).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from had_tracker.nodes.common import run_nodes
from had_tracker.nodes.synchronizer_node import SynchronizerNode
from had_tracker.nodes.tracker_node import TrackerNode


def linked_factories() -> list[Callable[[], object]]:
    """The two node factories, the tracker's search region wired to the synchronizer built before it."""
    built: dict[str, SynchronizerNode] = {}

    def synchronizer() -> SynchronizerNode:
        built["node"] = SynchronizerNode(search_region_direct=True)
        return built["node"]

    def tracker() -> TrackerNode:
        sync = built["node"]
        # an empty search_region_topic means "keep the whole sensor" in both modes
        return TrackerNode(
            search_region_sink=sync.core.search_region.offer if sync.params["search_region_topic"] else None
        )

    return [synchronizer, tracker]


def main(args: list[str] | None = None) -> int:
    """Entry point ``tracker_pipeline``."""
    return run_nodes(linked_factories(), args=args if args is not None else sys.argv, threads=3)


if __name__ == "__main__":
    sys.exit(main())
