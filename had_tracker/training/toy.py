"""A tiny self-contained sequence generator for unit tests and as a fallback training source.

A bright textured square moves over a dark, faintly textured background; events are emitted where the
log intensity changes by more than a contrast threshold between internal sub-frames (rendered at
``substeps`` times the frame rate), with time stamps spread inside each sub-step. It is deliberately
simple (the synthetic engine in ``had_tracker.data.synthetic`` is the realistic one).
"""

from __future__ import annotations

import numpy as np

from had_tracker.data.sequence import TrackingSequence
from had_tracker.events.container import Events


def _render(width: int, height: int, box: np.ndarray, background: np.ndarray, texture: np.ndarray) -> np.ndarray:
    image = background.copy()
    x, y, w, h = box
    x0, y0 = int(round(x)), int(round(y))
    x1, y1 = int(round(x + w)), int(round(y + h))
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if cx1 > cx0 and cy1 > cy0:
        tex = texture[(np.arange(cy0, cy1) - y0) % texture.shape[0]][:, (np.arange(cx0, cx1) - x0) % texture.shape[1]]
        image[cy0:cy1, cx0:cx1] = tex
    return image


def moving_square_sequence(
    seed: int,
    num_frames: int = 30,
    width: int = 160,
    height: int = 120,
    fps: float = 50.0,
    exposure_ms: float = 8.0,
    substeps: int = 8,
    threshold: float = 0.15,
    name: str | None = None,
) -> TrackingSequence:
    """A deterministic sequence of a textured square bouncing around with a random velocity and size change."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(14, 26)
    box = np.array(
        [rng.uniform(10, width - size - 10), rng.uniform(10, height - size - 10), size, size * rng.uniform(0.7, 1.4)]
    )
    velocity = rng.uniform(-1, 1, 2) * rng.uniform(60, 200)  # px/s
    background = (rng.uniform(0.05, 0.2, (height // 8 + 1, width // 8 + 1)).repeat(8, 0).repeat(8, 1))[:height, :width]
    texture = rng.uniform(0.6, 1.0, (6, 6)).repeat(4, 0).repeat(4, 1)
    frame_dt_ns = int(1e9 / fps)
    sub_dt_ns = frame_dt_ns // substeps
    frames, boxes = [], []
    ts, xs, ys, ps = [], [], [], []
    prev_log = np.log(_render(width, height, box, background, texture) + 1e-2)
    for _ in range(num_frames):
        sub_images = []
        for s in range(substeps):
            box[:2] += velocity * sub_dt_ns * 1e-9
            for axis, limit in ((0, width), (1, height)):  # bounce off the borders
                if box[axis] < 0 or box[axis] + box[axis + 2] > limit:
                    velocity[axis] = -velocity[axis]
                    box[axis] = np.clip(box[axis], 0, limit - box[axis + 2])
            image = _render(width, height, box, background, texture)
            sub_images.append(image)
            log = np.log(image + 1e-2)
            diff = log - prev_log
            yy, xx = np.nonzero(np.abs(diff) >= threshold)
            if len(xx):
                t0 = len(frames) * frame_dt_ns + s * sub_dt_ns
                ts.append(t0 + rng.integers(0, sub_dt_ns, len(xx)))
                xs.append(xx)
                ys.append(yy)
                ps.append((diff[yy, xx] > 0).astype(np.uint8))
                prev_log = np.where(np.abs(diff) >= threshold, log, prev_log)
        exposure_images = sub_images[-max(1, int(round(exposure_ms * 1e6 / sub_dt_ns))) :]
        frame = np.clip(np.mean(exposure_images, axis=0) * 255, 0, 255).astype(np.uint8)
        frames.append(np.repeat(frame[:, :, None], 3, axis=2))
        boxes.append(box.copy())
    t = np.concatenate(ts) if ts else np.empty(0, np.int64)
    order = np.argsort(t, kind="stable")
    cat = (lambda parts: np.concatenate(parts)[order]) if ts else (lambda parts: np.empty(0))
    events = Events.from_arrays(t[order], cat(xs), cat(ys), cat(ps), width, height)
    frame_t = (np.arange(1, num_frames + 1) * frame_dt_ns).astype(np.int64)
    return TrackingSequence(
        name=name or f"toy_{seed:05d}",
        frames=np.stack(frames),
        frame_t_ns=frame_t,
        exposure_start_ns=frame_t - int(exposure_ms * 1e6),
        exposure_end_ns=frame_t.copy(),
        gt_boxes=np.stack(boxes),
        absent=np.zeros(num_frames, dtype=bool),
        width=width,
        height=height,
        events=events,
        meta={"source": "had_tracker.training.toy", "seed": seed},
    )
