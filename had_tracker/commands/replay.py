"""``had-tracker replay BAG --out DIR``: a bag through the Synchronizer + Tracker core, with metrics and a report."""

from __future__ import annotations

import argparse


def _box(text: str) -> list[float]:
    values = [float(v) for v in text.replace(",", " ").split()]
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"a box is x,y,w,h (4 numbers), got {text!r}")
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``replay`` command."""
    p = subparsers.add_parser(
        "replay",
        help="replay a rosbag2 bag through the tracker (no ROS needed): predictions, metrics, plots, report",
    )
    p.add_argument("bag", help="rosbag2 directory (mcap or sqlite3)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", help="student checkpoint (default: the shipped student)")
    p.add_argument(
        "--trackers",
        default="student,mil",
        help="comma-separated: student and/or OpenCV baselines mil, kcf, csrt (-rgb | -events); default student,mil",
    )
    p.add_argument("--gt-topic", help="had_msgs/GroundTruth topic (default: found by type)")
    p.add_argument("--events-topic", help="event topic (default: the bag's only event topic)")
    p.add_argument("--image-topic", help="sensor_msgs/Image topic (default: the bag's only image topic)")
    p.add_argument("--camera-info-topic", help="sensor_msgs/CameraInfo topic of the RGB camera")
    p.add_argument("--init-box", type=_box, help="x,y,w,h to start from when the bag has no ground truth")
    p.add_argument("--init-time-ns", type=int, default=0, help="time the --init-box is valid at (0 = first window)")
    p.add_argument("--sync-config", help="YAML with Synchronizer settings (top level or under 'sync:')")
    p.add_argument("--tracker-config", help="YAML with Tracker settings (top level or under 'tracker:')")
    p.add_argument("--convention", default="pytracking", choices=("pytracking", "got10k", "otb"))
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1; 0 = torch default)")
    p.set_defaults(func=_replay)


def _replay(args: argparse.Namespace) -> int:
    from had_tracker.evaluation.replay import replay_bag
    from had_tracker.evaluation.report import results_table

    sync_config = tracker_config = None
    if args.sync_config:
        from had_tracker.sync.synchronizer import SyncConfig

        sync_config = SyncConfig.from_yaml(args.sync_config)
    from dataclasses import replace

    from had_tracker.tracking.tracker import TrackerConfig

    tracker_config = TrackerConfig.from_yaml(args.tracker_config) if args.tracker_config else TrackerConfig()
    tracker_config = replace(tracker_config, num_threads=args.threads)  # the Tracker applies it (0 = torch's)
    report = replay_bag(
        args.bag,
        args.out,
        tracker_names=[t.strip() for t in args.trackers.split(",") if t.strip()],
        model=args.model,
        sync_config=sync_config,
        tracker_config=tracker_config,
        events_topic=args.events_topic,
        image_topic=args.image_topic,
        gt_topic=args.gt_topic,
        camera_info_topic=args.camera_info_topic,
        init_box=args.init_box,
        init_time_ns=args.init_time_ns,
        convention=args.convention,
    )
    print(results_table(report))
    for note in report["notes"]:
        print(note)
    print(f"report: {args.out}/report.md")
    return 0
