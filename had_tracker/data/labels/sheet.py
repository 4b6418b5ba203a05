"""Contact sheet of a labelled recording: evenly spaced label times, frame (if any) + events + the label box."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from had_tracker.data.labels.recordings import Recording


def contact_sheet(
    rec: Recording,
    t_ns: np.ndarray,
    boxes: np.ndarray,
    out: str | Path,
    tiles: int = 16,
    columns: int = 4,
    window_ns: int = 10_000_000,
    held: np.ndarray | None = None,
) -> Path:
    """Write a PNG grid of ``tiles`` label times.

    Each tile: the grey APS frame (or black), the ``window_ns`` of events centred on the label time (ON red,
    OFF blue), the box (green; orange where held), the label index and time.
    """
    width, height = int(rec.events.width), int(rec.events.height)
    picks = np.unique(np.linspace(0, len(t_ns) - 1, min(tiles, len(t_ns))).round().astype(int))
    images = []
    for i in picks:
        t = int(t_ns[i])
        if rec.frames is not None:
            k = int(np.argmin(np.abs(rec.frame_t_ns - t)))
            img = cv2.cvtColor(rec.frames[k], cv2.COLOR_GRAY2BGR) // 2
        else:
            img = np.zeros((height, width, 3), np.uint8)
        a, b = np.searchsorted(rec.events.t, [t - window_ns // 2, t + window_ns // 2])
        x, y, p = rec.events.x[a:b], rec.events.y[a:b], rec.events.p[a:b]
        img[y[p > 0], x[p > 0]] = (0, 0, 255)
        img[y[p == 0], x[p == 0]] = (255, 128, 0)
        bx, by, bw, bh = (int(round(v)) for v in boxes[i])
        colour = (0, 165, 255) if held is not None and held[i] else (0, 255, 0)
        cv2.rectangle(img, (bx, by), (bx + bw - 1, by + bh - 1), colour, 1)
        label = f"#{i} {(t - int(t_ns[0])) / 1e6:.0f} ms"
        cv2.putText(img, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        images.append(img)
    while len(images) % columns:
        images.append(np.zeros_like(images[0]))
    rows = [np.hstack(images[k : k + columns]) for k in range(0, len(images), columns)]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), np.vstack(rows))
    return out
