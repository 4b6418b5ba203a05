"""Semi-automatic box labels from events: a seeded, gated event-density blob followed over time.

The procedure (one step per label time ``t``; a loop over label times, never over events):

1. the events in the window around ``t`` (``[t - window_ns, t]``, or centred on ``t``);
2. the *gate*: the previous box moved by the last step's velocity, grown by ``gate`` x its size per side;
   events outside it are ignored (other moving objects, far noise);
3. noise filtering on a grid of ``cell`` x ``cell`` px: a cell counts as active with at least
   ``min_cell_events`` events and at least ``min_neighbours`` active cells among its 8 neighbours (isolated
   noise cells and lone pixels drop out);
4. active cells, dilated by one cell, form connected components; the target is the union of the
   components whose event centroid lies inside the predicted box (grown by ``keep_margin``), or the
   largest component touching the predicted box when none does;
5. the box is the ``trim``..``100 - trim`` percentile extent of those components' events that lie in the
   predicted box grown by ``extent_margin`` x its size per side (inclusive pixel extent), clipped to the image; its width and height change by at most ``max_scale_step`` per
   step. A step with fewer than ``min_events`` target events holds the previous box (``held``).

The first box (``seed_box``) is given by hand; everything after it is this procedure, so a label file
records the command and parameters and can be regenerated. It is a *labelling* aid: check the contact
sheet before trusting the result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from had_tracker.events.container import Events


@dataclass(frozen=True)
class BlobParams:
    """Parameters of :func:`event_blob_boxes` (recorded in every label file)."""

    window_ns: int = 20_000_000
    centred: bool = True  # window centred on the label time (labels may look ahead); False = ends at t
    gate: float = 0.5  # gate half-growth per side, in box sides
    gate_min_px: float = 8.0  # at least this many px of growth per side
    cell: int = 4  # noise-filter grid cell [px]
    min_cell_events: int = 2
    min_neighbours: int = 1
    keep_margin: float = 0.25  # a component is kept when its centroid is in the predicted box grown by this
    trim: float = 1.0  # percentile trimmed on each side of the extent
    max_scale_step: float = 1.3  # max width/height factor between consecutive labels
    extent_margin: float = 1.0  # the extent counts only target events in the predicted box grown by this (sides)
    min_events: int = 20

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class BlobLabels:
    """Boxes ``(N, 4)`` x y w h at ``t_ns`` with per-step evidence: target events and held flags."""

    t_ns: np.ndarray
    boxes: np.ndarray
    n_events: np.ndarray
    held: np.ndarray


def _grow(box: np.ndarray, frac: float, min_px: float) -> np.ndarray:
    x, y, w, h = box
    gx, gy = max(frac * w, min_px), max(frac * h, min_px)
    return np.array([x - gx, y - gy, w + 2 * gx, h + 2 * gy])


def _inside(x: np.ndarray, y: np.ndarray, box: np.ndarray) -> np.ndarray:
    return (x >= box[0]) & (x < box[0] + box[2]) & (y >= box[1]) & (y < box[1] + box[3])


def _target_mask(x: np.ndarray, y: np.ndarray, pred: np.ndarray, width: int, height: int, p: BlobParams) -> np.ndarray:
    """Events of the target among the gated events ``x, y`` (steps 3-4)."""
    import cv2

    gw, gh = -(-width // p.cell), -(-height // p.cell)
    cx, cy = x // p.cell, y // p.cell
    counts = np.bincount(cy * gw + cx, minlength=gw * gh).reshape(gh, gw)
    active = (counts >= p.min_cell_events).astype(np.uint8)
    neighbours = cv2.filter2D(active, -1, np.ones((3, 3), np.float32), borderType=cv2.BORDER_CONSTANT) - active
    active &= (neighbours >= p.min_neighbours).astype(np.uint8)
    if not active.any():
        return np.zeros(len(x), bool)
    grown = cv2.dilate(active, np.ones((3, 3), np.uint8))
    n_comp, comp = cv2.connectedComponents(grown, connectivity=8)
    label = np.where(active[cy, cx] > 0, comp[cy, cx], 0)  # events in filtered-out cells get 0
    sums_x = np.bincount(label, weights=x, minlength=n_comp)
    sums_y = np.bincount(label, weights=y, minlength=n_comp)
    n = np.bincount(label, minlength=n_comp).astype(np.float64)
    n[0] = 0
    with np.errstate(invalid="ignore", divide="ignore"):
        centroid_x, centroid_y = sums_x / n, sums_y / n
    keep_box = _grow(pred, p.keep_margin, 0.0)
    keep = (n > 0) & _inside(centroid_x, centroid_y, keep_box)
    if not keep.any():
        touching = np.bincount(label[_inside(x, y, pred)], minlength=n_comp)
        touching[0] = 0
        if touching.max() == 0:
            return np.zeros(len(x), bool)
        keep[int(np.argmax(np.where(touching > 0, n, 0)))] = True
    return keep[label] & (label > 0)


def event_blob_boxes(events: Events, t_ns: np.ndarray, seed_box: np.ndarray, params: BlobParams) -> BlobLabels:
    """Follow the seeded blob over the label times ``t_ns`` (the seed is the box at ``t_ns[0]``)."""
    p = params
    t_ns = np.asarray(t_ns, np.int64)
    width, height = int(events.width), int(events.height)
    boxes = np.zeros((len(t_ns), 4))
    n_events = np.zeros(len(t_ns), np.int64)
    held = np.zeros(len(t_ns), bool)
    box = np.asarray(seed_box, np.float64)
    velocity = np.zeros(2)
    for i, t in enumerate(t_ns):
        lo, hi = (t - p.window_ns // 2, t + p.window_ns // 2) if p.centred else (t - p.window_ns, t)
        a, b = np.searchsorted(events.t, [lo, hi])
        x, y = events.x[a:b].astype(np.int64), events.y[a:b].astype(np.int64)
        pred = box.copy()
        if i:
            pred[:2] += velocity
        gate = _grow(pred, p.gate, p.gate_min_px)
        g = _inside(x, y, gate)
        mask = _target_mask(x[g], y[g], pred, width, height, p)
        tx, ty = x[g][mask], y[g][mask]
        near = _inside(tx, ty, _grow(pred, p.extent_margin, 0.0))
        tx, ty = tx[near], ty[near]
        n_events[i] = len(tx)
        if i == 0:
            new = box  # the seed is the label of the first time
        elif len(tx) < p.min_events:
            new, held[i] = pred, True
        else:
            x0, x1 = np.percentile(tx, [p.trim, 100 - p.trim])
            y0, y1 = np.percentile(ty, [p.trim, 100 - p.trim])
            w = np.clip(x1 - x0 + 1, box[2] / p.max_scale_step, box[2] * p.max_scale_step)
            h = np.clip(y1 - y0 + 1, box[3] / p.max_scale_step, box[3] * p.max_scale_step)
            cx, cy = 0.5 * (x0 + x1 + 1), 0.5 * (y0 + y1 + 1)
            new = np.array([cx - 0.5 * w, cy - 0.5 * h, w, h])
        new = _clip(new, width, height)
        if i:
            velocity = (new[:2] + 0.5 * new[2:]) - (box[:2] + 0.5 * box[2:])
        boxes[i], box = new, new
    return BlobLabels(t_ns, boxes, n_events, held)


def _clip(box: np.ndarray, width: int, height: int) -> np.ndarray:
    x0, y0 = max(box[0], 0.0), max(box[1], 0.0)
    x1, y1 = min(box[0] + box[2], float(width)), min(box[1] + box[3], float(height))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return box
    return np.array([x0, y0, x1 - x0, y1 - y0])
