"""``had-tracker export [--ckpt CKPT] [--format torchscript|onnx]``: export a network and check it against torch."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` command."""
    parser = subparsers.add_parser(
        "export",
        help="export a checkpoint to TorchScript or ONNX (checked against torch)",
        description="Export a checkpoint's network to TorchScript or ONNX (onnx and onnxruntime come with the plain "
        "install). Inputs, outputs and how to build and decode them: docs/export.md; "
        "examples/run_exported_student.py runs an exported student on a bag. A <file>.json card beside the "
        "export holds the model config.",
    )
    parser.add_argument("--ckpt", default=None, help="checkpoint (default: the shipped cpu-tiny student)")
    parser.add_argument(
        "--format",
        choices=("torchscript", "onnx"),
        default="torchscript",
        help="torchscript (default) or onnx (checked with onnxruntime)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="output file (default: CKPT's name with .ts.pt / .onnx, next to it; for the shipped student in ./)",
    )
    parser.add_argument("--tolerance", type=float, default=1e-4, help="max abs difference allowed vs torch")
    parser.add_argument("--no-check", action="store_true", help="skip the numerical comparison")
    parser.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from had_tracker.errors import HadTrackerError
    from had_tracker.models.builder import default_student_checkpoint, load_model
    from had_tracker.models.export import SUFFIXES, card_path, export_model, max_abs_difference, require_onnx

    if args.format == "onnx":
        require_onnx(runtime=not args.no_check)  # before any work: one line saying what to install
    ckpt = Path(args.ckpt) if args.ckpt else default_student_checkpoint()
    model, cfg = load_model(ckpt)
    if args.out:
        out = Path(args.out)
    else:  # next to a user's checkpoint; the shipped one lives inside the installed package: here instead
        out = (ckpt.parent if args.ckpt else Path.cwd()) / (ckpt.stem + SUFFIXES[args.format])
    export_model(model, cfg, out, args.format)
    print(f"wrote {out} ({cfg.name} {cfg.kind}, {args.format}) and {card_path(out)}")
    if not args.no_check:
        diff = max_abs_difference(model, cfg, out, args.format)
        print(f"max |exported - torch| = {diff:.3g}")
        if diff > args.tolerance:
            raise HadTrackerError(f"exported outputs differ from torch by {diff:.3g} > {args.tolerance}")
    return 0
