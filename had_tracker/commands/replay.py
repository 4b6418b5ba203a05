"""``had-tracker replay BAG --out DIR``: a bag through the Synchronizer + Tracker core, with metrics and a report."""

from __future__ import annotations

import argparse


def _box(text: str) -> list[float]:
    """``x,y,w,h`` in pixels: 4 finite numbers, positive size, not normalised (all <= 1)."""
    import math

    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"a box is x,y,w,h (4 numbers, pixels), got {text!r}") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"a box is x,y,w,h (4 finite numbers, pixels), got {text!r}")
    if values[2] <= 0 or values[3] <= 0:
        raise argparse.ArgumentTypeError(f"box width and height must be > 0 pixels, got {text!r}")
    if all(abs(v) <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(
            f"{text!r} looks normalised (every value <= 1); give the box in pixels of the event image: x,y,w,h"
        )
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
    p.add_argument(
        "--init-box",
        type=_box,
        help="x,y,w,h in pixels to start from; needed when the bag has no ground truth, and used instead of "
        "it when given (the ground truth then only scores)",
    )
    p.add_argument("--init-time-ns", type=int, default=0, help="time the --init-box is valid at (0 = first window)")
    p.add_argument("--sync-config", help="YAML with Synchronizer settings (top level or under 'sync:')")
    p.add_argument("--tracker-config", help="YAML with Tracker settings (top level or under 'tracker:')")
    p.add_argument("--convention", default="pytracking", choices=("pytracking", "got10k", "otb"))
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1; 0 = torch default)")
    p.add_argument("--quiet", action="store_true", help="no progress bar (it is also off when stderr is no terminal)")
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
        progress=not args.quiet,
    )
    print(results_table(report))
    for note in report["notes"]:
        print(note)
    print(f"report: {args.out}/report.md")
    _check_started(report, args.init_box)
    return 0


def _check_started(report: dict, init_box: list[float] | None) -> None:
    """Raise HadTrackerError (exit 2) when the --init-box was refused or a tracker never started."""
    from had_tracker.errors import HadTrackerError

    for name, entry in report["trackers"].items():
        if init_box is not None and entry.get("init_source") != "parameter":
            why = entry.get("init_error") or "no event window to start on"
            raise HadTrackerError(f"--init-box {','.join(f'{v:g}' for v in init_box)} was not used by {name}: {why}")
        if not entry.get("started", True):
            raise HadTrackerError(f"{name} never started: {entry.get('init_error') or 'no window to start on'}")
