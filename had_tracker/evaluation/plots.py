"""Success / precision plots (matplotlib, Agg backend) and annotated frame strips (PNG)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from had_tracker.evaluation.palette import GT_COLOR, mpl_color, tracker_color


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_success(summaries: Mapping[str, Mapping[str, Any]], path: str | Path, title: str = "Success plot") -> Path:
    """Success curves (fraction of frames with IoU > threshold) of several trackers; legend shows the AUC."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.2), dpi=100)
    ranked = sorted(summaries.items(), key=lambda kv: -np.nan_to_num(kv[1]["success_auc"], nan=-1.0))
    for name, s in ranked:
        label = f"{name} [{s['success_auc']:.1f}]"
        ax.plot(s["iou_thresholds"], s["success_curve"], lw=2, label=label, color=mpl_color(tracker_color(name)))
    ax.set(xlabel="overlap threshold (IoU)", ylabel="success rate", xlim=(0, 1), ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, title="AUC [%]", title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_precision(
    summaries: Mapping[str, Mapping[str, Any]],
    path: str | Path,
    title: str = "Precision plot",
    normalized: bool = False,
) -> Path:
    """Precision curves (fraction of frames with centre error <= threshold); legend shows the value at 20 px / 0.2."""
    plt = _pyplot()
    key, xkey, score = (
        ("norm_precision_curve", "norm_center_thresholds", "norm_precision_20")
        if normalized
        else ("precision_curve", "center_thresholds_px", "precision_20")
    )
    fig, ax = plt.subplots(figsize=(5.5, 4.2), dpi=100)
    ranked = sorted(summaries.items(), key=lambda kv: -np.nan_to_num(kv[1][score], nan=-1.0))
    for name, s in ranked:
        ax.plot(s[xkey], s[key], lw=2, label=f"{name} [{s[score]:.1f}]", color=mpl_color(tracker_color(name)))
    xmax = 0.5 if normalized else 50
    xlabel = "normalized centre error threshold" if normalized else "centre error threshold [px]"
    ax.set(xlabel=xlabel, ylabel="precision", xlim=(0, xmax), ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, title="at 0.2" if normalized else "at 20 px", title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def event_frame_image(events: Any, width: int, height: int) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB picture of events: ON blue, OFF red, on white (the usual DVS rendering)."""
    image = np.full((height, width, 3), 255, np.uint8)
    if events is None or len(events) == 0:
        return image
    x = np.asarray(events.x, np.intp)
    y = np.asarray(events.y, np.intp)
    p = np.asarray(events.p)
    inside = (x < width) & (y < height)
    x, y, p = x[inside], y[inside], p[inside]
    on = p > 0
    image[y[on], x[on]] = (30, 60, 255)
    image[y[~on], x[~on]] = (255, 40, 40)
    return image


def draw_boxes(
    image: np.ndarray,
    gt_box: np.ndarray | None,
    pred_boxes: Mapping[str, np.ndarray],
    label: str = "",
    scale: int = 1,
) -> np.ndarray:
    """A copy of an RGB image (enlarged ``scale`` times) with the GT box and each tracker's box (palette colours)."""
    import cv2

    out = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    if scale > 1:
        out = cv2.resize(out, (out.shape[1] * scale, out.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    out = np.ascontiguousarray(out.copy())

    def rect(box: np.ndarray | None, color: tuple[int, int, int]) -> None:
        if box is None or not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
            return
        x, y, w, h = (float(v) * scale for v in box)
        cv2.rectangle(out, (round(x), round(y)), (round(x + w), round(y + h)), color, 1, cv2.LINE_AA)

    rect(gt_box, GT_COLOR)
    for name, box in pred_boxes.items():
        rect(box, tracker_color(name))
    if label:
        cv2.putText(out, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(out, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def frame_strip(
    images: Sequence[np.ndarray],
    gt_boxes: Sequence[np.ndarray | None],
    pred_boxes: Mapping[str, Sequence[np.ndarray]],
    path: str | Path,
    labels: Sequence[str] | None = None,
    columns: int = 4,
    min_height: int = 180,
) -> Path:
    """Save a grid of annotated frames (PNG) with a colour legend row: GT green, trackers in legend order.

    Frames smaller than ``min_height`` rows are enlarged by an integer factor (nearest neighbour).
    """
    import cv2

    if not images:
        raise ValueError("frame_strip needs at least one image")
    scale = max(1, min_height // max(1, max(im.shape[0] for im in images)))
    tiles = []
    for i, image in enumerate(images):
        boxes = {name: np.asarray(b[i], float) for name, b in pred_boxes.items()}
        gt = None if gt_boxes[i] is None else np.asarray(gt_boxes[i], float)
        tiles.append(draw_boxes(image, gt, boxes, labels[i] if labels else "", scale))
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, h - t.shape[0]), (0, w - t.shape[1]), (0, 0)), constant_values=255) for t in tiles]
    columns = max(1, min(columns, len(tiles)))
    while len(tiles) % columns:
        tiles.append(np.full((h, w, 3), 255, np.uint8))
    rows = [np.concatenate(tiles[r : r + columns], axis=1) for r in range(0, len(tiles), columns)]
    grid = np.concatenate(rows, axis=0)
    legend = np.full((18, grid.shape[1], 3), 255, np.uint8)
    x = 4
    for name, color in [("ground truth", GT_COLOR)] + [(n, tracker_color(n)) for n in pred_boxes]:
        cv2.rectangle(legend, (x, 5), (x + 10, 13), color, -1)
        cv2.putText(legend, name, (x + 14, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
        x += 22 + 8 * len(name)
    grid = np.concatenate([grid, legend], axis=0)
    path = Path(path)
    if not cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")
    return path
