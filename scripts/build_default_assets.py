"""Rebuild the shipped asset pack (had_tracker/resources/assets) from its public sources.

Sources (each licence checked in the source's own notes; see the MANIFEST.tsv this writes):
- scikit-image's bundled photos: ``pip install scikit-image``; folder ``skimage/data`` (licences in the
  docstrings of ``skimage.data.<name>``).
- scikit-learn's sample images (CC BY 2.0): ``pip download --no-deps scikit-learn`` and unzip
  ``sklearn/datasets/images`` from the wheel (licence in its README.txt).
- Debian's ``lomiri-wallpapers-16.04`` (only the CC-BY-4.0 and CC0 photos, per its copyright file):
  ``apt-get download lomiri-wallpapers-16.04 && dpkg-deb -x lomiri-wallpapers-16.04_*.deb DIR``.

Cut-out masks are derived works made here with GrabCut inside a hand-chosen rectangle per photo (the
rectangles below); they carry the photo's licence.

Usage: python scripts/build_default_assets.py --skimage DIR --sklearn DIR --lomiri DIR [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from had_tracker.data.synthetic.photoreal.assets import (
    ManifestEntry,
    _fit,
    default_pack_path,
    grabcut_alpha,
    rgba_cutout,
    write_manifest,
)

SK_NOTE = "scikit-image 0.26 skimage/data/{f} (skimage.data.{n} docstring)"
SKL_NOTE = "scikit-learn 1.9 sklearn/datasets/images/{f} (README.txt)"
LOM_NOTE = "Debian lomiri-wallpapers-16.04 20.04.0 /usr/share/backgrounds/{f} (debian/copyright)"

# (source key, file, licence, attribution)
BACKGROUNDS = [
    ("skimage", "coffee.png", "CC0-1.0", "Rachel Michetti"),
    ("skimage", "rocket.jpg", "public-domain", "SpaceX"),
    ("skimage", "camera.png", "CC0-1.0", "Lav Varshney"),
    ("skimage", "brick.png", "CC0-1.0", "CC0Textures (Bricks25)"),
    ("skimage", "grass.png", "CC0-1.0", "linolafett (DeviantArt)"),
    ("skimage", "gravel.png", "CC0-1.0", "CC0Textures (Gravel04)"),
    ("skimage", "astronaut.png", "public-domain", "NASA"),
    ("sklearn", "china.jpg", "CC-BY-2.0", "danielbuechele (flickr), via scikit-learn"),
    ("sklearn", "flower.jpg", "CC-BY-2.0", "vultilion (flickr), via scikit-learn"),
    ("lomiri", "aitzgorri_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "Aitzol Berasategi, 2018"),
    ("lomiri", "friends_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "Aitzol Berasategi, 2018"),
    ("lomiri", "life_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "Aitzol Berasategi, 2018"),
    ("lomiri", "picosdeeuropa_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "Aitzol Berasategi, 2018"),
    ("lomiri", "sunset_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "Aitzol Berasategi, 2018"),
    ("lomiri", "Picture_0B_by_freespace.jpg", "CC-BY-4.0", 'Trevor "Freespace", 2018'),
    ("lomiri", "Picture_1A_by_freespace.jpg", "CC-BY-4.0", 'Trevor "Freespace", 2018'),
    ("lomiri", "seeding_by_Clements_Engelhardt.jpg", "CC0-1.0", "Clemens Engelhardt, 2018"),
    ("lomiri", "Wine_by_Jakkub_Mede.jpg", "CC-BY-4.0", "Jakub Mede, 2018"),
]

# (name, source key, file, licence, attribution, GrabCut rect as fractions x, y, w, h of the image)
# SURE_FG: parts GrabCut would otherwise drop, marked as object (same fractions)
SURE_FG = {"astronaut": (0.3, 0.08, 0.2, 0.3)}
OBJECTS = [
    ("coffee_cup", "skimage", "coffee.png", "CC0-1.0", "Rachel Michetti", (0.07, 0.0, 0.72, 0.85)),
    ("astronaut", "skimage", "astronaut.png", "public-domain", "NASA", (0.04, 0.0, 0.68, 1.0)),
    ("cameraman", "skimage", "camera.png", "CC0-1.0", "Lav Varshney", (0.12, 0.04, 0.58, 0.95)),
    ("cat", "skimage", "chelsea.png", "CC0-1.0", "Stefan van der Walt", (0.12, 0.0, 0.76, 0.99)),
    ("dahlia", "sklearn", "flower.jpg", "CC-BY-2.0", "vultilion (flickr), via scikit-learn", (0.24, 0.13, 0.5, 0.72)),
    ("pagoda", "sklearn", "china.jpg", "CC-BY-2.0", "danielbuechele (flickr), via scikit-learn", (0.07, 0.03, 0.5, 0.8)),
    ("fig", "lomiri", "Picture_0B_by_freespace.jpg", "CC-BY-4.0", 'Trevor "Freespace", 2018', (0.41, 0.24, 0.33, 0.56)),
    ("red_bowl", "lomiri", "Picture_0B_by_freespace.jpg", "CC-BY-4.0", 'Trevor "Freespace", 2018', (0.04, 0.1, 0.9, 0.8)),
    ("rocket", "skimage", "rocket.jpg", "public-domain", "SpaceX", (0.44, 0.12, 0.14, 0.86)),
    ("speaker", "lomiri", "Wine_by_Jakkub_Mede.jpg", "CC-BY-4.0", "Jakub Mede, 2018", (0.0, 0.02, 0.18, 0.47)),
    ("djembe", "lomiri", "Wine_by_Jakkub_Mede.jpg", "CC-BY-4.0", "Jakub Mede, 2018", (0.02, 0.47, 0.63, 0.29)),
    ("wine_bottle", "lomiri", "Wine_by_Jakkub_Mede.jpg", "CC-BY-4.0", "Jakub Mede, 2018", (0.36, 0.1, 0.21, 0.25)),
    ("side_table", "lomiri", "Wine_by_Jakkub_Mede.jpg", "CC-BY-4.0", "Jakub Mede, 2018", (0.27, 0.27, 0.69, 0.34)),
    ("paint_brushes", "lomiri", "Picture_1A_by_freespace.jpg", "CC-BY-4.0", 'Trevor "Freespace", 2018', (0.62, 0.27, 0.28, 0.72)),
    ("dandelion", "lomiri", "seeding_by_Clements_Engelhardt.jpg", "CC0-1.0", "Clemens Engelhardt, 2018", (0.11, 0.08, 0.28, 0.9)),
]  # fmt: skip


def _read(dirs: dict[str, Path], key: str, name: str) -> np.ndarray:
    path = dirs[key] / name
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"cannot read {path}")
    return img


def _note(key: str, name: str) -> str:
    stem = Path(name).stem
    return {"skimage": SK_NOTE, "sklearn": SKL_NOTE, "lomiri": LOM_NOTE}[key].format(f=name, n=stem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skimage", required=True, type=Path, help="skimage/data folder")
    parser.add_argument("--sklearn", required=True, type=Path, help="sklearn/datasets/images folder")
    parser.add_argument("--lomiri", required=True, type=Path, help="extracted .../usr/share/backgrounds folder")
    parser.add_argument("--out", type=Path, default=default_pack_path())
    parser.add_argument("--max-side", type=int, default=1024, help="background long side [px]")
    parser.add_argument("--object-side", type=int, default=256, help="object long side [px]")
    args = parser.parse_args()
    dirs = {"skimage": args.skimage, "sklearn": args.sklearn, "lomiri": args.lomiri}
    out = args.out
    (out / "backgrounds").mkdir(parents=True, exist_ok=True)
    (out / "objects").mkdir(parents=True, exist_ok=True)
    rows = []
    for key, name, licence, attribution in BACKGROUNDS:
        img = _fit(_read(dirs, key, name), args.max_side)
        file = f"backgrounds/{Path(name).stem.split('_by_')[0].lower()}.jpg"
        cv2.imwrite(str(out / file), img, [cv2.IMWRITE_JPEG_QUALITY, 85])
        rows.append(ManifestEntry(file, "background", _note(key, name), licence, attribution))
    for obj, key, name, licence, attribution, frac in OBJECTS:
        img = _fit(_read(dirs, key, name), 2 * args.object_side)
        h, w = img.shape[:2]
        rect = (int(frac[0] * w), int(frac[1] * h), int(frac[2] * w), int(frac[3] * h))
        fg = SURE_FG.get(obj)
        sure = None if fg is None else (int(fg[0] * w), int(fg[1] * h), int(fg[2] * w), int(fg[3] * h))
        alpha = grabcut_alpha(img, rect, iters=8, sure_fg=sure)
        rgba = _fit(rgba_cutout(img, alpha), args.object_side)
        file = f"objects/{obj}.png"
        cv2.imwrite(str(out / file), rgba, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        rows.append(ManifestEntry(file, "object", _note(key, name) + " + GrabCut mask", licence, attribution))
    write_manifest(out, rows)
    print(f"wrote {len(rows)} assets to {out}")


if __name__ == "__main__":
    main()
