"""Score-map post-processing: Hann window, peak, box decoding back to image pixels (OSTrack convention)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from had_tracker.geometry import CropWindow


@lru_cache(maxsize=16)
def hann2d(size: int, cell_centred: bool = False) -> np.ndarray:
    """Centred 2-D Hann window ``(size, size)`` with no zero rows (``hanning(size + 2)[1:-1]``, as OSTrack's).

    ``cell_centred``: peaked at the centre of cell ``size // 2`` instead of the map's centre (for an even
    ``size`` a cell corner), for a search crop placed so that the expected target centre falls there.
    """
    if cell_centred and size % 2 == 0:
        w = np.hanning(size + 3)[1:-2]  # odd length size + 1 peaked at index size // 2, its last entry dropped
    else:
        w = np.hanning(size + 2)[1:-1]
    out = np.outer(w, w)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=16)
def _motion_prior(size: int, cell_centred: bool, hann_weight: float) -> np.ndarray:
    """``(1 - hann_weight) + hann_weight * hann2d(size, cell_centred)``, computed once per setting."""
    out = (1.0 - hann_weight) + hann_weight * hann2d(size, cell_centred)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class Peak:
    """The chosen cell of a score map and the box it decodes to."""

    box_xywh: np.ndarray  # image pixels
    score: float  # raw (un-windowed) score at the chosen cell, in [0, 1]
    row: int
    col: int


def decode_peak(
    score_map: np.ndarray,
    size_map: np.ndarray,
    offset_map: np.ndarray,
    crop: CropWindow,
    hann_weight: float = 1.0,
    cell_centred: bool = False,
    refine: bool = False,
) -> Peak:
    """Pick the peak of ``score * ((1 - hann_weight) + hann_weight * hann)`` and decode its box.

    ``score_map`` is ``(F, F)``; ``size_map``/``offset_map`` are ``(2, F, F)`` with sizes normalised to the
    search crop and offsets in cells (the student's center head). The box comes back in image pixels.
    ``cell_centred``: the Hann window peaks at the centre of cell ``F // 2`` (see :func:`hann2d`).
    """
    score = np.asarray(score_map, dtype=np.float64).reshape(score_map.shape[-2:])
    f = score.shape[0]
    response = score * _motion_prior(f, bool(cell_centred), float(hann_weight)) if hann_weight > 0 else score
    index = int(np.argmax(response))
    row, col = divmod(index, f)
    size = np.asarray(size_map, dtype=np.float64).reshape(2, f, f)[:, row, col]
    offsets = np.asarray(offset_map, dtype=np.float64).reshape(2, f, f)
    if refine:
        # score-weighted mean of the candidate centres (cell + offset) of the peak's 3x3 neighbourhood
        r0, r1, c0, c1 = max(row - 1, 0), min(row + 2, f), max(col - 1, 0), min(col + 2, f)
        near = score[r0:r1, c0:c1]
        weights = near * (near >= 0.5 * score[row, col])
        total = weights.sum()
        px = float(((np.arange(c0, c1)[None, :] + offsets[0, r0:r1, c0:c1]) * weights).sum() / total)
        py = float(((np.arange(r0, r1)[:, None] + offsets[1, r0:r1, c0:c1]) * weights).sum() / total)
    else:
        px, py = float(col + offsets[0, row, col]), float(row + offsets[1, row, col])
    out_size = crop.out_size
    cx, cy = px / f * out_size, py / f * out_size
    w, h = float(size[0]) * out_size, float(size[1]) * out_size
    scale = crop.scale  # as CropWindow.box_from_crop, on scalars
    box = np.array([(cx - 0.5 * w) / scale + crop.x0, (cy - 0.5 * h) / scale + crop.y0, w / scale, h / scale])
    return Peak(box, min(max(float(score[row, col]), 0.0), 1.0), row, col)


def _clamp(value: float, lo: float, hi: float) -> float:
    """``np.clip`` for one finite float (min of max, as numpy), without its per-call overhead."""
    return min(max(value, lo), hi)


def _touches_border(start: float, length: float, limit: float, margin_px: float) -> bool:
    return start <= margin_px or start + length >= limit - margin_px


def limit_scale_change(
    box_xywh: np.ndarray,
    previous_xywh: np.ndarray,
    max_change: float,
    image_wh: tuple[int, int] | None = None,
    border_px: float = 2.0,
    max_aspect_change: float = math.inf,
) -> np.ndarray:
    """Keep the box centre; clamp width and height to ``[prev / max_change, prev * max_change]``.

    The aspect ratio (width / height) may then change by at most ``max_aspect_change`` (a factor), at the
    clamped box's area; this is skipped where an axis is free (below).

    With ``image_wh``, an axis on which the previous or the new box touches the image border (within
    ``border_px``) is not clamped: the visible extent of a target crossing the border changes as fast as the
    target moves, not at the rate its distance to the camera does.
    """
    x, y, w, h = (float(v) for v in box_xywh)
    px, py, pw, ph = (float(v) for v in previous_xywh)
    free_w = free_h = False
    if image_wh is not None and image_wh[0] > 0 and image_wh[1] > 0:
        free_w = _touches_border(px, pw, image_wh[0], border_px) or _touches_border(x, w, image_wh[0], border_px)
        free_h = _touches_border(py, ph, image_wh[1], border_px) or _touches_border(y, h, image_wh[1], border_px)
    ok_w, ok_h = math.isfinite(w) and w > 0, math.isfinite(h) and h > 0
    nw = (w if free_w else _clamp(w, pw / max_change, pw * max_change)) if ok_w else pw
    nh = (h if free_h else _clamp(h, ph / max_change, ph * max_change)) if ok_h else ph
    if max_aspect_change < math.inf and not (free_w or free_h) and pw > 0 and ph > 0:
        ratio, previous = nw / nh, pw / ph
        bounded = _clamp(ratio, previous / max_aspect_change, previous * max_aspect_change)
        if bounded != ratio:
            side = math.sqrt(nw * nh)
            nw, nh = side * math.sqrt(bounded), side / math.sqrt(bounded)
    cx, cy = x + 0.5 * w, y + 0.5 * h
    return np.array([cx - 0.5 * nw, cy - 0.5 * nh, nw, nh])
