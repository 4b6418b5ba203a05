"""Preview image of the photoreal presets for docs/synthetic.md: per preset, RGB + box | events (10 ms) + box.

Usage: python scripts/photoreal_previews.py [--out docs/images/synth_photoreal.jpg] [--duration 1.0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from had_tracker.data.synthetic import SyntheticConfig, generate_sequence
from had_tracker.data.synthetic.config import PHOTOREAL_PRESET_NAMES
from had_tracker.data.synthetic.preview import draw_box, event_frame

SEEDS = {"photoreal": 11, "photoreal-egomotion": 3, "photoreal-lowlight": 7, "photoreal-rgbcam": 5,
         "davis346-like": 2, "mixed-real": 4}  # fmt: skip


def row(preset: str, seed: int, duration: float, height: int = 260) -> np.ndarray:
    rec = generate_sequence(SyntheticConfig.from_preset(preset, duration_s=duration), seed)
    seq = rec.aligned()
    # the frame (after the first quarter) where the target's box is largest: the target is well in view
    size = np.minimum(seq.gt_boxes[:, 2], seq.gt_boxes[:, 3]) * ~seq.absent
    size[: len(seq) // 4] = -1
    i = int(np.argmax(size))
    box = seq.gt_boxes[i]
    rgb = draw_box(np.asarray(seq.frames[i]), box, (0, 255, 0))
    ev = draw_box(event_frame(seq, i, window_ns=10_000_000), box, (0, 170, 0))
    pair = np.concatenate([rgb, ev], axis=1)
    scale = height / pair.shape[0]
    pair = cv2.resize(pair, (round(pair.shape[1] * scale), height), interpolation=cv2.INTER_AREA)
    label = f"{preset} (seed {seed}): {len(rec.events) / duration / 1e6:.1f} Mev/s"
    cv2.putText(pair, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA)
    return pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/images/synth_photoreal.jpg"))
    parser.add_argument("--duration", type=float, default=1.0)
    args = parser.parse_args()
    rows = [row(p, SEEDS.get(p, 0), args.duration) for p in PHOTOREAL_PRESET_NAMES]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    img = np.concatenate(rows, axis=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    print(f"wrote {args.out} ({img.shape[1]}x{img.shape[0]})")


if __name__ == "__main__":
    main()
