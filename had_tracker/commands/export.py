"""``had-tracker export --ckpt CKPT --format onnx|torchscript``: export a network and check it against torch."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` command."""
    parser = subparsers.add_parser("export", help="export a checkpoint to ONNX or TorchScript (checked against torch)")
    parser.add_argument("--ckpt", default=None, help="checkpoint (default: the shipped cpu-tiny student)")
    parser.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    parser.add_argument("--out", default=None, help="output file (default: next to the checkpoint, .onnx / .ts.pt)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="max abs difference allowed vs torch")
    parser.add_argument("--no-check", action="store_true", help="skip the numerical comparison")
    parser.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from had_tracker.errors import HadTrackerError
    from had_tracker.models.builder import default_student_checkpoint, load_model
    from had_tracker.models.export import export_model, max_abs_difference

    ckpt = Path(args.ckpt) if args.ckpt else default_student_checkpoint()
    model, cfg = load_model(ckpt)
    suffix = ".onnx" if args.format == "onnx" else ".ts.pt"
    out = Path(args.out) if args.out else ckpt.with_suffix(suffix)
    export_model(model, cfg, out, args.format)
    print(f"wrote {out} ({cfg.name} {cfg.kind}, {args.format})")
    if not args.no_check:
        diff = max_abs_difference(model, cfg, out, args.format)
        print(f"max |exported - torch| = {diff:.3g}")
        if diff > args.tolerance:
            raise HadTrackerError(f"exported outputs differ from torch by {diff:.3g} > {args.tolerance}")
    return 0
