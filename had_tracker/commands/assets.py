"""``had-tracker assets build|list``: asset packs (photos + cut-outs) for the photoreal synthetic presets."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``assets`` command group."""
    parser = subparsers.add_parser("assets", help="asset packs of photos and cut-outs for the photoreal presets")
    sub = parser.add_subparsers(dest="assets_command", metavar="SUBCOMMAND", required=True)

    build = sub.add_parser(
        "build",
        help="build a pack from a folder of images (+ NAME_mask.png masks or RGBA PNGs)",
        description="Every image becomes a background; images with a NAME_mask.png beside them (non-zero = "
        "object), RGBA PNGs, or every image with --cutout grabcut, also become object cut-outs. Use the pack "
        "with 'had-tracker synth --preset photoreal --assets OUT' or the config field asset_pack. Packs built "
        "from images that are not permissively licensed must not be committed or redistributed.",
    )
    build.add_argument("--from", dest="source", required=True, help="folder of images (searched recursively)")
    build.add_argument("--out", required=True, help="pack folder to write")
    build.add_argument("--licence", required=True, help="licence of the images (goes into MANIFEST.tsv)")
    build.add_argument("--attribution", default="", help="attribution line (required by CC BY licences)")
    build.add_argument("--source-note", default=None, help="source column of the manifest (default: file path)")
    build.add_argument("--cutout", choices=("mask", "grabcut"), default="mask", help="how objects are cut out")
    build.add_argument("--max-side", type=int, default=1024, help="longest side of stored images [px]")
    build.add_argument("--overwrite", action="store_true", help="replace an existing pack")
    build.set_defaults(func=_build)

    show = sub.add_parser("list", help="list a pack's files with their source and licence")
    show.add_argument("pack", nargs="?", default=None, help="pack folder (default: the shipped pack)")
    show.set_defaults(func=_list)


def _build(args: argparse.Namespace) -> int:
    from had_tracker.data.synthetic.photoreal.assets import AssetPack, build_pack

    out = build_pack(
        args.source,
        args.out,
        licence=args.licence,
        attribution=args.attribution,
        source_note=args.source_note,
        cutout=args.cutout,
        max_side=args.max_side,
        overwrite=args.overwrite,
    )
    pack = AssetPack(out)
    print(f"wrote {out}: {len(pack.backgrounds)} backgrounds, {len(pack.objects)} objects")
    return 0


def _list(args: argparse.Namespace) -> int:
    from had_tracker.data.synthetic.photoreal.assets import default_pack_path, read_manifest

    root = args.pack or default_pack_path()
    for row in read_manifest(root):
        print(f"{row.file}\t{row.kind}\t{row.licence}\t{row.attribution}\t{row.source}")
    return 0
