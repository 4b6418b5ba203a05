#!/usr/bin/env python3
"""Run an exported student (TorchScript ``.ts.pt`` or ONNX ``.onnx``) on a recorded ROS 2 bag.

The exported network replaces the checkpoint inside the package's own tracking runtime, so every step
around it is the tracker's: the Synchronizer cuts the bag's events into windows, the search crop follows the
last box, ``had_tracker.models.inputs.event_tensor`` builds the voxel-grid inputs, and
``had_tracker.tracking.postprocess.decode_peak`` decodes the output maps to an image-pixel box (see
docs/export.md for the inputs and outputs, to run them without this package). The boxes are those of
``had-tracker replay`` with the original checkpoint and ``tracker.init_adapt_steps: 0``, up to float rounding: an
exported graph is fixed, so the tracker's test-time adaptation at initialisation (a fine-tuned copy of the
checkpoint's network) does not apply to it.

    had-tracker export --out student.ts.pt                 # or --format onnx
    python examples/run_exported_student.py student.ts.pt BAG --out exported_run [--init-box x,y,w,h]

Writes ``OUT/predictions_exported_student.csv`` (``t_ns,x,y,w,h,score,state,...``) and, when the bag has
ground truth, metrics, plots and ``report.md``.
"""

from __future__ import annotations

import argparse
import sys

TRACKER_NAME = "exported student"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="exported student (.ts.pt or .onnx) with its .json card beside it")
    p.add_argument("bag", help="rosbag2 directory (events; ground truth or --init-box to start from)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--init-box", help="x,y,w,h in pixels (needed when the bag has no ground truth)")
    p.add_argument("--events-topic", help="event topic (default: the bag's only one)")
    p.add_argument("--gt-topic", help="had_msgs/GroundTruth topic (default: found by type)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Track through the bag with the exported model; print where the predictions are."""
    args = parse_args(argv)
    from had_tracker.errors import HadTrackerError
    from had_tracker.evaluation.replay import replay_bag
    from had_tracker.evaluation.report import results_table
    from had_tracker.models.export import load_exported
    from had_tracker.tracking.tracker import Tracker, TrackerConfig

    try:
        model, cfg = load_exported(args.model)
        tracker = Tracker(TrackerConfig(num_threads=1), model=model, model_config=cfg)
        init_box = [float(v) for v in args.init_box.split(",")] if args.init_box else None
        report = replay_bag(
            args.bag,
            args.out,
            trackers={TRACKER_NAME: tracker},
            events_topic=args.events_topic,
            gt_topic=args.gt_topic,
            init_box=init_box,
        )
    except HadTrackerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(results_table(report))
    for note in report["notes"]:
        print(note)
    print(f"predictions: {args.out}/{report['trackers'][TRACKER_NAME]['files']['predictions']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
