"""``had-tracker label blob|sheet``: semi-automatic box labels for real recordings, and their visual check."""

from __future__ import annotations

import argparse
import shlex
import sys

from had_tracker.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``label`` command group."""
    from had_tracker.data.labels.event_blob import BlobParams

    parser = subparsers.add_parser("label", help="label a target in a real recording (seeded event blob)")
    sub = parser.add_subparsers(dest="label_command", metavar="SUBCOMMAND", required=True)
    blob = sub.add_parser("blob", help="follow a hand-seeded event-density blob; write a label file + contact sheet")
    blob.add_argument(
        "--recording",
        required=True,
        help="recording path relative to --data-root: aedat4, rosbag2 bag, Prophesee .raw (EVT 3.0), or an events "
        ".npz as `had-tracker events dump` writes it",
    )
    blob.add_argument("--data-root", help="real-data root (default $HAD_TRACKER_REAL_DATA or ../shared/data)")
    blob.add_argument("--name", required=True, help="sequence name")
    blob.add_argument("--target", default="", help="what the target is (free text, kept in the file)")
    blob.add_argument("--seed-box", required=True, nargs=4, type=float, metavar=("X", "Y", "W", "H"))
    blob.add_argument("--times", default="aps", help="label times: 'aps' (every APS frame) or a rate in Hz, e.g. 100")
    blob.add_argument("--start-ms", type=float, default=0.0, help="first label time after the recording's start [ms]")
    blob.add_argument("--end-ms", type=float, help="last label time after the recording's start [ms] (default: end)")
    for f, default in BlobParams().to_dict().items():
        kind = (lambda s: s.lower() in ("1", "true", "yes")) if isinstance(default, bool) else type(default)
        blob.add_argument(f"--{f.replace('_', '-')}", type=kind, default=default, help=f"(default {default})")
    blob.add_argument("--out", required=True, help="label file to write (JSON)")
    blob.add_argument("--sheet", help="also write the contact sheet PNG here")
    blob.set_defaults(func=_blob)

    sheet = sub.add_parser("sheet", help="contact sheet PNG of a label file (check the labels by eye)")
    sheet.add_argument("label_file")
    sheet.add_argument("--data-root")
    sheet.add_argument("--out", required=True)
    sheet.add_argument("--tiles", type=int, default=16)
    sheet.set_defaults(func=_sheet)


def _blob(args: argparse.Namespace) -> int:
    import numpy as np

    from had_tracker.data.labels.event_blob import BlobParams, event_blob_boxes
    from had_tracker.data.labels.label_file import write_label_file
    from had_tracker.data.labels.recordings import default_data_root, load_recording, sha256_file
    from had_tracker.data.labels.sheet import contact_sheet

    root = args.data_root or str(default_data_root())
    path = f"{root}/{args.recording}"
    rec = load_recording(path)
    params = BlobParams(**{f: getattr(args, f) for f in BlobParams().to_dict()})
    t_first, t_last = int(rec.events.t[0]), int(rec.events.t[-1])
    if rec.frame_t_ns is not None:  # the recording starts with its first event or frame
        t_first, t_last = min(t_first, int(rec.frame_t_ns[0])), max(t_last, int(rec.frame_t_ns[-1]))
    lo = t_first + int(args.start_ms * 1e6)
    hi = t_first + int(args.end_ms * 1e6) if args.end_ms is not None else t_last
    if args.times == "aps":
        if rec.frame_t_ns is None:
            raise ConfigError(f"{path} has no APS frames: give --times as a rate in Hz")
        times = rec.frame_t_ns[(rec.frame_t_ns >= lo) & (rec.frame_t_ns <= hi)]
    else:
        period = int(round(1e9 / float(args.times)))
        times = np.arange(lo, hi + 1, period, dtype=np.int64)
    if len(times) < 2:
        raise ConfigError("fewer than two label times in the chosen range")
    labels = event_blob_boxes(rec.events, times, np.array(args.seed_box), params)
    header = {
        "name": args.name,
        "target": args.target,
        "recording": args.recording,
        "sha256": sha256_file(path),
        "procedure": "event_blob (had_tracker.data.labels.event_blob): hand seed box, then gated event blob",
        "params": params.to_dict(),
        "seed_box": list(args.seed_box),
        "times": args.times,
        "command": "had-tracker " + " ".join(shlex.quote(a) for a in _cli_args()),
        "held_labels": int(labels.held.sum()),
    }
    out = write_label_file(args.out, header, labels.t_ns, labels.boxes, labels.n_events, labels.held)
    print(f"{out}: {len(times)} labels, {int(labels.held.sum())} held (too few events)")
    if args.sheet:
        contact_sheet(rec, labels.t_ns, labels.boxes, args.sheet, held=labels.held, window_ns=params.window_ns)
        print(f"contact sheet: {args.sheet}")
    return 0


def _cli_args() -> list[str]:
    argv = sys.argv[1:]
    # drop output-location and data-root options: the command must read the same anywhere
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--data-root", "--sheet"):
            skip = True
            continue
        out.append(a)
    return out


def _sheet(args: argparse.Namespace) -> int:
    from had_tracker.data.labels.label_file import label_boxes, label_times, read_label_file
    from had_tracker.data.labels.recordings import default_data_root, load_recording
    from had_tracker.data.labels.sheet import contact_sheet

    doc = read_label_file(args.label_file)
    rec = load_recording(f"{args.data_root or default_data_root()}/{doc['recording']}")
    held = [bool(r[6]) for r in doc["labels"]]
    window = int(doc.get("params", {}).get("window_ns", 10_000_000))
    contact_sheet(rec, label_times(doc), label_boxes(doc), args.out, args.tiles, window_ns=window, held=held)
    print(args.out)
    return 0
