"""``had-tracker demo [--out DIR]``: synthetic fast-motion / harsh-light bag -> replay -> metrics, plots, report."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` command."""
    p = subparsers.add_parser(
        "demo",
        help="one-command demo: make a synthetic bag, track it with the shipped student and OpenCV baselines",
    )
    p.add_argument("--out", default="had_tracker_demo", help="output folder (default: ./had_tracker_demo)")
    p.add_argument("--seed", type=int, default=7, help="synthetic scene seed (default 7)")
    p.add_argument("--duration", type=float, default=2.0, help="sequence length [s] (default 2.0)")
    p.add_argument("--model", help="student checkpoint (default: the shipped student)")
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1: the cpu-tiny student is fastest on one)"
    )
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from had_tracker.evaluation.demo import run_demo
    from had_tracker.evaluation.report import results_table

    print(f"had-tracker demo: generating a {args.duration:.1f} s synthetic sequence (seed {args.seed}) ...", flush=True)
    report = run_demo(args.out, seed=args.seed, duration_s=args.duration, model=args.model, threads=args.threads)
    demo = report["demo"]
    attrs = ", ".join(k for k, v in demo["attributes"].items() if v)
    print(f"sequence: {demo['frames']} RGB frames, {demo['events']} events; attributes: {attrs}")
    print(f"bag: {demo['bag']}")
    print()
    print(results_table(report))
    print()
    for note in report["notes"]:
        print(f"note: {note}")
    print(
        f"time: generate {demo['generate_s']:.1f} s, bag {demo['write_bag_s']:.1f} s, "
        f"replay {demo['replay_s']:.1f} s, total {demo['total_s']:.1f} s"
    )
    print(f"report: {args.out}/report.md  (plots: success.png, precision.png; frames: frames.png, event_frames.png)")
    return 0
