"""tracker_pipeline: synchronizer_node and tracker_node in one process, one MultiThreadedExecutor.

Each node keeps its own mutually exclusive callback group (so neither core object needs a lock) while the two
nodes run in parallel threads. Windows still travel over the ``~/windows`` topic and are serialized (rclpy
has no intra-process transport); what one process saves is a second Python interpreter and its imports.
"""

from __future__ import annotations

import sys

from had_tracker.nodes.common import run_nodes
from had_tracker.nodes.synchronizer_node import SynchronizerNode
from had_tracker.nodes.tracker_node import TrackerNode


def main(args: list[str] | None = None) -> int:
    """Entry point ``tracker_pipeline``."""
    return run_nodes([SynchronizerNode, TrackerNode], args=args if args is not None else sys.argv, threads=3)


if __name__ == "__main__":
    sys.exit(main())
