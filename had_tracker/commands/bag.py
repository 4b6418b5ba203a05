"""``had-tracker bag info BAG``: topics, types, counts and duration of a rosbag2 bag."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bag`` command group."""
    parser = subparsers.add_parser("bag", help="inspect ROS 2 bags (no ROS needed)")
    sub = parser.add_subparsers(dest="bag_command", metavar="SUBCOMMAND", required=True)
    info = sub.add_parser("info", help="topics, types, message counts and duration of a bag")
    info.add_argument("bag", help="rosbag2 directory (sqlite3 or mcap)")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> int:
    from had_tracker.ros_io.bag import bag_info

    info = bag_info(args.bag)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"bag:      {info['path']}")
    print(f"storage:  {info['storage']} (rosbag2 metadata version {info['version']})")
    print(f"duration: {info['duration_s']:.6f} s")
    print(f"messages: {info['message_count']}")
    width = max([len(t["topic"]) for t in info["topics"]] + [5])
    type_width = max([len(t["msgtype"]) for t in info["topics"]] + [4])
    print(f"{'topic':<{width}}  {'type':<{type_width}}  count")
    for t in info["topics"]:
        print(f"{t['topic']:<{width}}  {t['msgtype']:<{type_width}}  {t['count']}")
    return 0
