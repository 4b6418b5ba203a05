"""Preview images of a sequence: RGB frame with the GT box beside the event frame of the same interval."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from had_tracker.data.sequence import TrackingSequence


def event_frame(sequence: TrackingSequence, index: int, window_ns: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB: events of the frame period ending at frame ``index``'s exposure end.

    White canvas, ON events red, OFF events blue (the convention of the FE108/COESOT event images).
    """
    canvas = np.full((sequence.height, sequence.width, 3), 255, np.uint8)
    if sequence.events is None:
        if sequence.event_frames is not None:
            return np.asarray(sequence.event_frames[index])
        return canvas
    t1 = int(sequence.exposure_end_ns[index])
    if window_ns is None:
        period = np.diff(sequence.frame_t_ns).mean() if len(sequence) > 1 else 40_000_000
        window_ns = int(period)
    ev = sequence.events.slice_time(t1 - window_ns, t1)
    on = ev.p.astype(bool)
    canvas[ev.y[~on], ev.x[~on]] = (40, 60, 220)
    canvas[ev.y[on], ev.x[on]] = (220, 40, 40)
    return canvas


def draw_box(image: np.ndarray, box: np.ndarray, color: tuple[int, int, int] = (0, 255, 0)) -> np.ndarray:
    """A copy of ``image`` with the ``x, y, w, h`` box drawn (edge coordinates)."""
    out = np.ascontiguousarray(image.copy())
    x, y, w, h = (float(v) for v in box)
    if w > 0 and h > 0:
        cv2.rectangle(out, (round(x), round(y)), (round(x + w) - 1, round(y + h) - 1), color, 1, cv2.LINE_AA)
    return out


def preview_image(sequence: TrackingSequence, index: int) -> np.ndarray:
    """RGB frame + GT box | event frame + GT box, side by side (H, 2W, 3) uint8 RGB."""
    box = sequence.gt_boxes[index]
    color = (255, 160, 0) if sequence.absent[index] else (0, 255, 0)
    rgb = draw_box(np.asarray(sequence.frames[index]), box, color)
    ev = draw_box(event_frame(sequence, index), box, (0, 170, 0) if not sequence.absent[index] else color)
    return np.concatenate([rgb, ev], axis=1)


def write_previews(sequence: TrackingSequence, out_dir: str | Path, count: int = 3) -> list[Path]:
    """Write ``count`` evenly spaced preview PNGs to ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    indices = np.linspace(0, len(sequence) - 1, num=min(count, len(sequence))).round().astype(int)
    paths = []
    for i in indices:
        path = out / f"{sequence.name}_preview_{i:04d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(preview_image(sequence, int(i)), cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths
