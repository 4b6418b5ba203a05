"""``had-tracker synth``: generate synthetic RGB+event sequences as ROS 2 bags or dataset folders."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` command."""
    parser = subparsers.add_parser(
        "synth",
        help="generate synthetic RGB+event tracking sequences (bags or dataset folders)",
        description="Generate synthetic RGB+event single-object tracking sequences, deterministic for a seed. "
        "Sequence i uses seed SEED+i. See docs/synthetic.md for layouts and topics.",
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--sequences", type=int, default=1, help="number of sequences (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first sequence (default 0)")
    from had_tracker.data.synthetic.config import PRESET_NAMES

    parser.add_argument(
        "--preset",
        default="easy",
        choices=PRESET_NAMES,
        help="scene preset: procedural shapes (easy, fast, hdr, distractors, mixed) or photographs seen by a "
        "realistic sensor (photoreal, photoreal-egomotion, photoreal-lowlight, photoreal-rgbcam, davis346-like, "
        "mixed-real = shapes or photoreal per seed); see docs/synthetic.md",
    )
    parser.add_argument(
        "--assets",
        default=None,
        help="asset pack folder for the photoreal presets (default: the shipped pack; build one with "
        "'had-tracker assets build')",
    )
    parser.add_argument("--format", default="bag", choices=("bag", "folder"), help="output format (default bag)")
    parser.add_argument("--storage", default="mcap", choices=("mcap", "sqlite3"), help="bag storage (default mcap)")
    parser.add_argument("--duration", type=float, default=None, help="sequence duration [s] (preset default 3.0)")
    parser.add_argument("--config", default=None, help="YAML mapping of SyntheticConfig field overrides")
    parser.add_argument("--preview", action="store_true", help="also write preview PNGs (RGB | events, GT box)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing sequences of the same name")
    parser.set_defaults(func=_run)


def _overrides(args: argparse.Namespace) -> dict:
    from pathlib import Path

    import yaml

    from had_tracker.errors import ConfigError

    values: dict = {}
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping of SyntheticConfig fields")
        values.update({k: tuple(v) if isinstance(v, list) else v for k, v in loaded.items()})
    if args.duration is not None:
        values["duration_s"] = args.duration
    if getattr(args, "assets", None):
        values["asset_pack"] = str(Path(args.assets).resolve())
    return values


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from had_tracker.data.synthetic import SyntheticConfig, generate_sequence
    from had_tracker.data.synthetic.preview import write_previews
    from had_tracker.data.writers import write_bag, write_folder
    from had_tracker.errors import ConfigError

    if args.sequences < 1:
        raise ConfigError(f"--sequences must be >= 1, got {args.sequences}")
    config = SyntheticConfig.from_preset(args.preset, **_overrides(args))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [f"{args.preset}_{args.seed + i:06d}" for i in range(args.sequences)]
    if not args.overwrite and (clash := [n for n in names if (out / n).exists()]):
        raise ConfigError(f"{out / clash[0]} already exists (use --overwrite, another --seed or another --out)")
    for i in tqdm(range(args.sequences), desc=f"synth {args.preset}", unit="seq"):
        seed = args.seed + i
        recording = generate_sequence(config, seed, name=names[i])
        if args.format == "bag":
            write_bag(recording, out / recording.name, storage=args.storage, overwrite=args.overwrite)
        else:
            write_folder(recording, out, overwrite=args.overwrite)
        if args.preview:
            write_previews(recording.aligned(), out / "previews", count=3)
    if args.format == "folder":
        list_file = out / "list.txt"
        existing = list_file.read_text().split() if list_file.exists() else []
        list_file.write_text("\n".join(dict.fromkeys([*existing, *names])) + "\n")
    print(f"wrote {len(names)} {args.preset} sequence(s) as {args.format} to {out}")
    return 0
