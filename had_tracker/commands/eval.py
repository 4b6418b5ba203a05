"""``had-tracker eval metrics|dataset``: standard tracking metrics on box files, or a tracker over a dataset."""

from __future__ import annotations

import argparse
import json

from had_tracker.evaluation.paired import METRICS as PAIRED_METRICS

CONVENTION_HELP = "metric convention: pytracking (default; OSTrack/HDETrack/HAD), got10k, or otb (VisEvent/COESOT)"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` command group."""
    parser = subparsers.add_parser("eval", help="tracking metrics (success AUC, precision, normalized precision)")
    sub = parser.add_subparsers(dest="eval_command", metavar="SUBCOMMAND", required=True)

    metrics = sub.add_parser("metrics", help="metrics of one predicted box file against its ground truth (JSON)")
    metrics.add_argument(
        "--pred",
        required=True,
        help="predicted boxes per line: x,y,w,h, or t_ns,x,y,w,h as `eval dataset` writes them "
        "(OUT/predictions/SEQ.txt), or a CSV with a header naming x,y,w,h (`replay`'s predictions_*.csv)",
    )
    metrics.add_argument("--gt", required=True, help="ground-truth boxes, x,y,w,h per line (groundtruth.txt)")
    metrics.add_argument("--absent", help="per-frame 0/1 flags, one per line (say what a 1 means: --absent-means)")
    metrics.add_argument(
        "--absent-means",
        choices=("absent", "present"),
        default=None,
        help="what a 1 in --absent means: 'present' (absent.txt of COESOT and of this package's synthetic "
        "folders, VisEvent absent_label.txt) or 'absent'. Needed for any other file name",
    )
    metrics.add_argument(
        "--convention", default="pytracking", choices=("pytracking", "got10k", "otb"), help=CONVENTION_HELP
    )
    metrics.add_argument(
        "--exclude-invalid-frames", action="store_true", help="pytracking: divide by valid frames, not all frames"
    )
    metrics.add_argument("--curves", action="store_true", help="include the full curves in the JSON")
    metrics.set_defaults(func=_metrics)

    dataset = sub.add_parser("dataset", help="run a tracker over every sequence of a dataset and report metrics")
    dataset.add_argument("--root", required=True, help="dataset root folder")
    dataset.add_argument(
        "--format",
        required=True,
        choices=("fe108", "fe240hz", "visevent", "coesot", "synthetic", "real"),
        help="real: labelled real recordings, --root a label file or a folder of them (e.g. data/labels). "
        "Sequences with only event images get pseudo-events from them (had_tracker.data.datasets.event_images)",
    )
    dataset.add_argument("--out", required=True, help="output folder for predictions and the report")
    dataset.add_argument(
        "--tracker",
        default="student",
        help="student (default), teacher (needs --model), or an OpenCV baseline: mil, kcf, csrt "
        "(suffix -rgb or -events, e.g. mil-events)",
    )
    dataset.add_argument("--model", help="student or teacher checkpoint (default: the shipped student)")
    dataset.add_argument(
        "--tracker-config",
        metavar="YAML",
        help="tracker settings for the student/teacher (TrackerConfig keys, top level or under tracker:, as in "
        "config/tracking.yaml; default: those defaults)",
    )
    dataset.add_argument(
        "--window-hz",
        type=float,
        metavar="HZ",
        help="event trackers (the student, *-events baselines) update at this rate between frames, as the live "
        "node does (sync.rate_hz, 200); default: once per frame. RGB trackers always update per frame",
    )
    dataset.add_argument(
        "--repeats",
        type=int,
        default=1,
        metavar="K",
        help="run each sequence K times with a fresh tracker and score the runs' mean, keeping every run's SR "
        "(for stochastic trackers: OpenCV's MIL is one random draw per run; default 1)",
    )
    dataset.add_argument(
        "--convention", default="pytracking", choices=("pytracking", "got10k", "otb"), help=CONVENTION_HELP
    )
    dataset.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
    dataset.add_argument("--limit", type=int, help="evaluate only the first N sequences")
    dataset.add_argument("--split", help="dataset split, when the format has one")
    dataset.set_defaults(func=_dataset)

    compare = sub.add_parser("compare", help="one Markdown results table (and plots) from several report.json files")
    compare.add_argument("reports", nargs="+", help="report.json files or the folders holding them")
    compare.add_argument("--out", help="also write compare_success.png / compare_precision.png here")
    compare.set_defaults(func=_compare)

    paired = sub.add_parser(
        "paired",
        help="paired per-sequence comparison of recipes (several seeds each) on the same sequences: mean +- SD, "
        "bootstrap 95%% CIs against a baseline",
    )
    paired.add_argument(
        "--base", nargs="+", required=True, metavar="REPORT", help="the baseline's reports (one per seed)"
    )
    paired.add_argument(
        "--candidate",
        nargs="+",
        action="append",
        required=True,
        metavar="REPORT",
        help="one candidate's reports (one per seed); repeat the option for more candidates",
    )
    paired.add_argument("--labels", help="comma-separated row labels: the baseline's, then each candidate's")
    paired.add_argument(
        "--metric",
        default="success_auc",
        choices=PAIRED_METRICS,
        help="per-sequence metric (default success_auc)",
    )
    paired.add_argument("--tracker", help="tracker name, where a report holds several")
    paired.add_argument("--boot", type=int, default=10_000, help="bootstrap resamples (default 10000)")
    paired.set_defaults(func=_paired)


def _metrics(args: argparse.Namespace) -> int:
    from had_tracker.evaluation.metrics import evaluate_sequence, headline, load_boxes, load_flags, summarize

    pred = load_boxes(args.pred)
    gt = load_boxes(args.gt)
    absent = None
    if args.absent:
        flags = load_flags(args.absent)
        absent = ~flags if _absent_means(args.absent, args.absent_means) == "present" else flags
    result = evaluate_sequence(
        pred, gt, absent, convention=args.convention, exclude_invalid_frames=args.exclude_invalid_frames
    )
    summary = summarize([result], args.convention)
    out = summary if args.curves else headline(summary)
    out["n_valid"] = result.n_valid
    print(json.dumps(out, indent=2))
    return 0


# Flag files whose convention is known by name: a 1 means the target is present in all of them.
KNOWN_FLAG_FILES = {"absent.txt": "present", "absent_label.txt": "present"}


def _absent_means(path: str, given: str | None) -> str:
    """The meaning of a 1 in ``path``: ``given``, else the known convention of its file name; ConfigError otherwise."""
    import sys
    from pathlib import Path

    from had_tracker.errors import ConfigError

    known = KNOWN_FLAG_FILES.get(Path(path).name)
    if given is None:
        if known is None:
            raise ConfigError(
                f"--absent {path}: say what a 1 means with --absent-means present (COESOT/VisEvent/this "
                "package's absent.txt) or --absent-means absent"
            )
        print(
            f"note: {Path(path).name} read with 1 = {known} (its usual convention; --absent-means to change)",
            file=sys.stderr,
        )
        return known
    if known is not None and given != known:
        print(
            f"warning: {Path(path).name} usually means 1 = {known}; reading it with 1 = {given} as asked",
            file=sys.stderr,
        )
    return given


def _dataset(args: argparse.Namespace) -> int:
    from had_tracker.evaluation.dataset_eval import evaluate_dataset

    if args.tracker in ("student", "had", "teacher"):
        import torch

        torch.set_num_threads(1)  # also for --workers 1 (pool workers set it themselves)

    report = evaluate_dataset(
        root=args.root,
        fmt=args.format,
        out_dir=args.out,
        tracker=args.tracker,
        model=args.model,
        tracker_config=args.tracker_config,
        convention=args.convention,
        workers=args.workers,
        limit=args.limit,
        split=args.split,
        window_hz=args.window_hz,
        repeats=args.repeats,
    )
    print(json.dumps(report["overall"], indent=2))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from had_tracker.evaluation.compare import compare_reports

    table, _ = compare_reports(args.reports, args.out)
    print(table, end="")
    return 0


def _paired(args: argparse.Namespace) -> int:
    from had_tracker.evaluation.paired import paired_table

    labels = [x.strip() for x in args.labels.split(",")] if args.labels else None
    table, _ = paired_table(args.base, args.candidate, labels, args.metric, args.tracker, args.boot)
    print(table, end="")
    return 0
