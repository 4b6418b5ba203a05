"""One-pass evaluation (OPE) metrics for single-object tracking, computed as the reference toolkits do.

Boxes are ``[x, y, w, h]`` in pixels (top-left corner). Three conventions are implemented; they differ
only in details, and those details move published numbers by a point or more. (The pixel-inclusive IoU
of pytracking/OTB and got10k's continuous IoU give the same intersection for xywh boxes, since
``min(x1 + w1 - 1, x2 + w2 - 1) - max(x1, x2) + 1 = min(x1 + w1, x2 + w2) - max(x1, x2)``; they differ by
got10k's ``eps`` and clip. The real differences are in the handling of invalid and absent frames, bad
predictions and length mismatch, and in the denominators.)

``pytracking`` (default; what OSTrack, HDETrack and HAD report; ``pytracking/analysis/extract_results.py``)
    * IoU pixel-inclusive: ``br = x + w - 1``, intersection side ``br - tl + 1`` clamped at 0,
      union ``w1 h1 + w2 h2 - I``.
    * centre ``x + 0.5 (w - 1)``; normalized centre error divides both centres by the GT ``(w, h)``.
    * a NaN prediction or a negative width/height raises :class:`MetricsInputError`; NaN ground truth too.
    * a zero width or height in frame ``i >= 1`` is replaced by the prediction of frame ``i - 1`` (in order,
      so runs of zeros inherit the last good box).
    * length mismatch: a longer prediction is truncated, a shorter one is **zero-padded** (padding fails).
    * frame 0 prediction := GT frame 0 (and is counted).
    * valid frame = GT ``w > 0 and h > 0`` and (when ``absent`` is given) the target is present. Invalid
      frames get IoU ``-1`` (fail) and centre error ``+inf`` (fail), but normalized error ``-1``, which
      **counts as a success** for normalized precision (a toolkit quirk kept on purpose).
    * denominator: all GT frames (``exclude_invalid_frames=False``, the toolkit default); with
      ``exclude_invalid_frames=True`` the number of valid frames.
    * thresholds: IoU ``arange(21) * 0.05``, success = IoU ``>`` tau; centre ``0..50`` px, normalized
      ``0..0.50`` step 0.01, success = error ``<=`` theta.
    * averaging: mean curve over sequences, AUC = mean of the averaged success curve.

``got10k`` (the got10k toolkit's OTB-style experiment, ``got10k/utils/metrics.py``, ``experiments/otb.py``)
    * IoU continuous (no +-1 px): union gets ``+eps``, the result is clipped to ``[0, 1]``.
    * centre ``x + (w - 1) / 2``; normalized error divides the centre difference per axis by
      ``max(1, GT w|h)``.
    * bad predictions are not handled: a NaN IoU/error simply fails every threshold.
    * length mismatch: both truncated to the shorter length.
    * frame 0 prediction := GT frame 0 (counted). Invalid GT gets no special case (IoU 0, error computed).
    * absent frames (when given) are removed from the curves (the GOT-10k experiment's ``cover > 0``
      mask); the denominator is the number of remaining frames.
    * thresholds: IoU ``linspace(0, 1, 21)``; same comparisons as above. Averaging: mean over sequences.

``otb`` (the OTB MATLAB toolkit as used by VisEvent / COESOT / EventVOT, ``calcSeqErrRobust``)
    * IoU pixel-inclusive (``calcRectInt``); centre ``x + (w - 1) / 2``; normalized: centres divided by
      the GT ``(w, h)``.
    * a NaN, ``w <= 0`` or ``h <= 0`` prediction in frame ``i >= 1`` (GT not NaN) copies frame ``i - 1``.
    * a longer prediction is truncated; a shorter one raises :class:`MetricsInputError`.
    * frame 0 prediction := GT frame 0 (counted).
    * valid frame = all four GT values ``> 0`` (so a box touching ``x = 0`` is invalid, as in the toolkit);
      invalid frames get IoU ``-1`` (fail) and centre errors ``-1``, which **count as successes** for
      precision and normalized precision (toolkit quirk).
    * absent frames are removed but the denominator stays the full length, so they count as failures.
    * averaging: sequences whose curve sums to ~0 are dropped before the mean (per curve).

Scalar results are in percent (0-100), as papers print them: ``success_auc`` (AUC of the success curve),
``op50``/``op75`` (success curve at IoU 0.5/0.75), ``precision_20`` (precision at 20 px),
``norm_precision_20`` (normalized precision at 0.20).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from had_tracker.errors import HadTrackerError

CONVENTIONS = ("pytracking", "got10k", "otb")
DEFAULT_CONVENTION = "pytracking"

# Threshold grids. pytracking builds torch.arange(0, 1.05, 0.05) (start + i * step), got10k np.linspace.
IOU_THRESHOLDS = {
    "pytracking": np.arange(21, dtype=np.float64) * 0.05,
    "otb": np.arange(21, dtype=np.float64) * 0.05,
    "got10k": np.linspace(0.0, 1.0, 21),
}
CENTER_THRESHOLDS_PX = np.arange(51, dtype=np.float64)
NORM_CENTER_THRESHOLDS = np.arange(51, dtype=np.float64) / 100.0
PRECISION_INDEX = 20  # 20 px
NORM_PRECISION_INDEX = 20  # 0.20
OP50_INDEX, OP75_INDEX = 10, 15


class MetricsInputError(HadTrackerError, ValueError):
    """Predictions or ground truth the chosen convention rejects (NaN, negative size, bad length, bad file)."""


@dataclass
class FrameErrors:
    """Per-frame errors of one sequence after the convention's clean-up.

    ``iou`` is -1 where the frame is invalid; ``center_px``/``center_norm`` follow the convention's
    sentinels (see the module docstring). ``counted`` marks frames that enter the curves; ``denominator``
    is what the per-sequence success counts are divided by.
    """

    iou: np.ndarray
    center_px: np.ndarray
    center_norm: np.ndarray
    valid: np.ndarray
    counted: np.ndarray
    denominator: int
    pred_used: np.ndarray


@dataclass
class SequenceResult:
    """Curves (fractions 0..1) and scalars (percent) of one sequence."""

    name: str
    success_curve: np.ndarray
    precision_curve: np.ndarray
    norm_precision_curve: np.ndarray
    n_frames: int
    n_valid: int
    mean_iou: float
    attributes: dict[str, bool] = field(default_factory=dict)

    @property
    def success_auc(self) -> float:
        """AUC of the success curve [%] (mean over the 21 thresholds)."""
        return float(100.0 * np.mean(self.success_curve))

    def scalars(self) -> dict[str, Any]:
        """The headline numbers of this sequence [%], plus frame counts."""
        return {
            "success_auc": self.success_auc,
            "op50": float(100.0 * self.success_curve[OP50_INDEX]),
            "op75": float(100.0 * self.success_curve[OP75_INDEX]),
            "precision_20": float(100.0 * self.precision_curve[PRECISION_INDEX]),
            "norm_precision_20": float(100.0 * self.norm_precision_curve[NORM_PRECISION_INDEX]),
            "mean_iou": self.mean_iou,
            "n_frames": self.n_frames,
            "n_valid": self.n_valid,
        }


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise MetricsInputError(f"unknown metric convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")


def _as_boxes(boxes: np.ndarray | Sequence, what: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4))
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise MetricsInputError(f"{what} must have shape (N, 4) as x, y, w, h; got {arr.shape}")
    return arr.copy()


def iou_pixel_inclusive(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of ``(N, 4)`` xywh boxes with the +1 pixel convention (pytracking, OTB ``calcRectInt``)."""
    tl = np.maximum(a[:, :2], b[:, :2])
    br = np.minimum(a[:, :2] + a[:, 2:] - 1.0, b[:, :2] + b[:, 2:] - 1.0)
    inter = np.clip(br - tl + 1.0, 0.0, None).prod(axis=1)
    union = a[:, 2:].prod(axis=1) + b[:, 2:].prod(axis=1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / union


def iou_continuous(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of ``(N, 4)`` xywh boxes as continuous rectangles, ``+eps`` in the union, clipped to [0, 1] (got10k)."""
    tl = np.maximum(a[:, :2], b[:, :2])
    br = np.minimum(a[:, :2] + a[:, 2:], b[:, :2] + b[:, 2:])
    inter = np.maximum(br - tl, 0.0).prod(axis=1)
    union = a[:, 2:].prod(axis=1) + b[:, 2:].prod(axis=1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(inter / (union + np.finfo(float).eps), 0.0, 1.0)


def _centers(boxes: np.ndarray) -> np.ndarray:
    return boxes[:, :2] + 0.5 * (boxes[:, 2:] - 1.0)


def _fill_from_previous(pred: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Replace rows ``i >= 1`` flagged ``bad`` by the latest earlier row that was kept (sequential copy)."""
    bad = bad.copy()
    if len(bad):
        bad[0] = False
    if not bad.any():
        return pred
    index = np.where(bad, 0, np.arange(len(pred)))
    np.maximum.accumulate(index, out=index)
    return pred[index]


def frame_errors(
    pred: np.ndarray,
    gt: np.ndarray,
    absent: np.ndarray | None = None,
    convention: str = DEFAULT_CONVENTION,
    exclude_invalid_frames: bool = False,
) -> FrameErrors:
    """Per-frame IoU / centre errors of one sequence under ``convention`` (see the module docstring).

    ``absent`` is a boolean per GT frame, True where the target is absent (VisEvent ``absent`` semantics).
    """
    _check_convention(convention)
    pred = _as_boxes(pred, "predictions")
    gt = _as_boxes(gt, "ground truth")
    n_gt = len(gt)
    if n_gt == 0:
        raise MetricsInputError("ground truth is empty: at least one frame is needed")
    if absent is not None:
        absent = np.asarray(absent, dtype=bool).reshape(-1)
        if len(absent) != n_gt:
            raise MetricsInputError(f"absent flags have {len(absent)} entries, ground truth has {n_gt} frames")
    if convention == "pytracking":
        return _pytracking_errors(pred, gt, absent, exclude_invalid_frames)
    if convention == "got10k":
        return _got10k_errors(pred, gt, absent)
    return _otb_errors(pred, gt, absent)


def _pytracking_errors(
    pred: np.ndarray, gt: np.ndarray, absent: np.ndarray | None, exclude_invalid_frames: bool
) -> FrameErrors:
    if np.isnan(pred).any() or (pred[:, 2:] < 0.0).any():
        raise MetricsInputError(
            "invalid predictions (NaN or negative width/height) rejected by the pytracking convention"
        )
    if np.isnan(gt).any():
        raise MetricsInputError(
            "NaN in the ground truth (the pytracking convention rejects it; use 0,0,0,0 for absent)"
        )
    n = len(gt)
    pred = _fill_from_previous(pred, (pred[:, 2:] == 0.0).any(axis=1))
    if len(pred) > n:
        pred = pred[:n]
    elif len(pred) < n:
        pred = np.concatenate([pred, np.zeros((n - len(pred), 4))])
    pred[0] = gt[0]
    valid = (gt[:, 2:] > 0.0).all(axis=1)
    if absent is not None:
        valid &= ~absent
    with np.errstate(divide="ignore", invalid="ignore"):
        center_px = np.linalg.norm(_centers(pred) - _centers(gt), axis=1)
        center_norm = np.linalg.norm(_centers(pred) / gt[:, 2:] - _centers(gt) / gt[:, 2:], axis=1)
        iou = iou_pixel_inclusive(pred, gt)
    center_px[~valid] = np.inf
    center_norm[~valid] = -1.0
    iou[~valid] = -1.0
    if np.isnan(iou).any():
        raise MetricsInputError("NaN in the computed overlap")
    denominator = int(valid.sum()) if exclude_invalid_frames else n
    return FrameErrors(iou, center_px, center_norm, valid, np.ones(n, bool), denominator, pred)


def _got10k_errors(pred: np.ndarray, gt: np.ndarray, absent: np.ndarray | None) -> FrameErrors:
    if len(pred) == 0:
        raise MetricsInputError("predictions are empty (the got10k convention needs at least the first frame)")
    pred[0] = gt[0]
    n = min(len(pred), len(gt))
    pred, gt = pred[:n], gt[:n]
    counted = np.ones(n, bool) if absent is None else ~absent[:n]
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = iou_continuous(pred, gt)
        diff = _centers(pred) - _centers(gt)
        center_px = np.sqrt((diff**2).sum(axis=1))
        center_norm = np.sqrt(((diff / np.maximum(1.0, gt[:, 2:])) ** 2).sum(axis=1))
    valid = counted.copy()
    return FrameErrors(iou, center_px, center_norm, valid, counted, int(counted.sum()), pred)


def _otb_errors(pred: np.ndarray, gt: np.ndarray, absent: np.ndarray | None) -> FrameErrors:
    n = len(gt)
    if len(pred) < n:
        raise MetricsInputError(f"{len(pred)} predictions for {n} ground-truth frames (the otb convention needs all)")
    pred = pred[:n]
    bad = (np.isnan(pred).any(axis=1) | (pred[:, 2] <= 0) | (pred[:, 3] <= 0)) & ~np.isnan(gt).any(axis=1)
    pred = _fill_from_previous(pred, bad)
    pred[0] = gt[0]
    with np.errstate(invalid="ignore"):
        valid = (gt > 0).all(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = iou_pixel_inclusive(pred, gt)
        center_px = np.linalg.norm(_centers(pred) - _centers(gt), axis=1)
        center_norm = np.linalg.norm(_centers(pred) / gt[:, 2:] - _centers(gt) / gt[:, 2:], axis=1)
    iou[~valid] = -1.0
    center_px[~valid] = -1.0
    center_norm[~valid] = -1.0
    counted = np.ones(n, bool) if absent is None else ~absent
    return FrameErrors(iou, center_px, center_norm, valid, counted, n, pred)


def _curve_greater(values: np.ndarray, thresholds: np.ndarray, denominator: int) -> np.ndarray:
    if denominator <= 0:
        return np.full(len(thresholds), np.nan)
    return (values[:, None] > thresholds[None, :]).sum(axis=0) / denominator


def _curve_less_equal(values: np.ndarray, thresholds: np.ndarray, denominator: int) -> np.ndarray:
    if denominator <= 0:
        return np.full(len(thresholds), np.nan)
    return (values[:, None] <= thresholds[None, :]).sum(axis=0) / denominator


def evaluate_sequence(
    pred: np.ndarray,
    gt: np.ndarray,
    absent: np.ndarray | None = None,
    convention: str = DEFAULT_CONVENTION,
    name: str = "",
    attributes: dict[str, bool] | None = None,
    exclude_invalid_frames: bool = False,
) -> SequenceResult:
    """Success, precision and normalized-precision curves of one sequence under ``convention``."""
    err = frame_errors(pred, gt, absent, convention, exclude_invalid_frames)
    c = err.counted
    success = _curve_greater(err.iou[c], IOU_THRESHOLDS[convention], err.denominator)
    precision = _curve_less_equal(err.center_px[c], CENTER_THRESHOLDS_PX, err.denominator)
    norm_precision = _curve_less_equal(err.center_norm[c], NORM_CENTER_THRESHOLDS, err.denominator)
    scored = c & err.valid & np.isfinite(err.iou)
    mean_iou = float(np.mean(err.iou[scored])) if scored.any() else float("nan")
    return SequenceResult(
        name=name,
        success_curve=success,
        precision_curve=precision,
        norm_precision_curve=norm_precision,
        n_frames=len(err.iou),
        n_valid=int((err.valid & c).sum()),
        mean_iou=mean_iou,
        attributes=dict(attributes or {}),
    )


def _average_curves(curves: np.ndarray, convention: str) -> np.ndarray:
    """Mean over sequences; sequences without a curve (no frames) are skipped; OTB also drops all-zero curves."""
    keep = ~np.isnan(curves).any(axis=1)
    if convention == "otb":
        keep &= curves.sum(axis=1) > np.finfo(float).eps
    if not keep.any():
        return np.full(curves.shape[1], np.nan)
    return curves[keep].mean(axis=0)


def summarize(results: Sequence[SequenceResult], convention: str = DEFAULT_CONVENTION) -> dict[str, Any]:
    """Dataset-level numbers [%] from per-sequence results: curves averaged over sequences, then read off.

    Returns ``success_auc, op50, op75, precision_20, norm_precision_20, n_frames, n_sequences`` and the
    averaged curves (``success_curve`` etc., fractions) with their thresholds.
    """
    _check_convention(convention)
    if not results:
        raise MetricsInputError("no sequence results to summarize")
    success = _average_curves(np.stack([r.success_curve for r in results]), convention)
    precision = _average_curves(np.stack([r.precision_curve for r in results]), convention)
    norm_precision = _average_curves(np.stack([r.norm_precision_curve for r in results]), convention)
    ious = [r.mean_iou for r in results if np.isfinite(r.mean_iou)]
    return {
        "convention": convention,
        "success_auc": float(100.0 * np.mean(success)),
        "op50": float(100.0 * success[OP50_INDEX]),
        "op75": float(100.0 * success[OP75_INDEX]),
        "precision_20": float(100.0 * precision[PRECISION_INDEX]),
        "norm_precision_20": float(100.0 * norm_precision[NORM_PRECISION_INDEX]),
        "mean_iou": float(np.mean(ious)) if ious else float("nan"),
        "n_frames": int(sum(r.n_frames for r in results)),
        "n_sequences": len(results),
        "iou_thresholds": IOU_THRESHOLDS[convention].tolist(),
        "success_curve": success.tolist(),
        "center_thresholds_px": CENTER_THRESHOLDS_PX.tolist(),
        "precision_curve": precision.tolist(),
        "norm_center_thresholds": NORM_CENTER_THRESHOLDS.tolist(),
        "norm_precision_curve": norm_precision.tolist(),
    }


def summarize_by_attribute(
    results: Sequence[SequenceResult], convention: str = DEFAULT_CONVENTION
) -> dict[str, dict[str, Any]]:
    """``summarize`` restricted to the sequences that have each attribute set (attributes never set are omitted)."""
    names = sorted({k for r in results for k, v in r.attributes.items() if v})
    out = {}
    for attr in names:
        subset = [r for r in results if r.attributes.get(attr)]
        summary = summarize(subset, convention)
        out[attr] = {k: v for k, v in summary.items() if not k.endswith(("_curve", "_thresholds", "thresholds_px"))}
    return out


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """The scalar part of a summary (no curves), for printing."""
    return {k: v for k, v in summary.items() if not isinstance(v, list)}


def _tokens(line: str) -> list[str]:
    return line.replace(",", " ").replace(";", " ").split()


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def load_boxes(path: str | Path) -> np.ndarray:
    """Read boxes as ``(N, 4)`` ``x, y, w, h`` (comma, semicolon, tab or space separated; ``nan`` allowed).

    Accepted rows: ``x,y,w,h`` (benchmark files), ``t_ns,x,y,w,h`` (the predictions ``eval dataset`` writes:
    the time column is dropped), or any columns under a header line naming ``x``, ``y``, ``w``, ``h`` (e.g.
    the ``predictions_*.csv`` of ``replay``). Blank lines and ``#`` comments are skipped. Raises
    MetricsInputError naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise MetricsInputError(f"no box file at {path}")
    rows = []
    columns: list[int] | None = None  # from a header line
    width = 0  # 4 or 5 values per row, fixed by the first row
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = _tokens(line)
        if not rows and columns is None and not any(_is_number(f) for f in fields):
            names = [f.lower() for f in fields]
            if not {"x", "y", "w", "h"} <= set(names):
                raise MetricsInputError(f"{path}:{lineno}: header {line!r} does not name the columns x, y, w, h")
            columns = [names.index(c) for c in ("x", "y", "w", "h")]
            width = len(names)
            continue
        if not width:
            if len(fields) not in (4, 5):
                raise MetricsInputError(
                    f"{path}:{lineno}: expected 4 values x,y,w,h (or 5: t_ns,x,y,w,h), got {len(fields)}: {line!r}"
                )
            width = len(fields)
        if len(fields) != width:
            raise MetricsInputError(f"{path}:{lineno}: expected {width} values like the lines above, got {len(fields)}")
        picked = [fields[i] for i in columns] if columns is not None else fields[-4:]
        try:
            rows.append([float(v) for v in picked])
        except ValueError:
            raise MetricsInputError(f"{path}:{lineno}: not a number in {line!r}") from None
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def load_flags(path: str | Path) -> np.ndarray:
    """Read 0/1 flags, one per frame (any separator), as a boolean array."""
    path = Path(path)
    if not path.is_file():
        raise MetricsInputError(f"no flag file at {path}")
    values: list[float] = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        for tok in _tokens(line.split("#", 1)[0]):
            try:
                values.append(float(tok))
            except ValueError:
                raise MetricsInputError(f"{path}:{lineno}: flag {tok!r} is not a number") from None
    return np.asarray(values) != 0


def save_boxes(path: str | Path, boxes: np.ndarray, t_ns: Iterable[int] | None = None) -> None:
    """Write boxes as ``x,y,w,h`` floats per line (full precision), optionally prefixed by ``t_ns``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    lines = []
    times = list(t_ns) if t_ns is not None else None
    for i, b in enumerate(boxes):
        row = ",".join(repr(float(v)) for v in b)
        lines.append(f"{int(times[i])},{row}" if times is not None else row)
    Path(path).write_text("\n".join(lines) + ("\n" if lines else ""))
