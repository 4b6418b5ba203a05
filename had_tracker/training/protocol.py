"""Honest-protocol statistics for the ladder: seeds' mean +- SD and paired per-sequence bootstrap CIs.

A rung is compared with ``none`` on the *same* test sequences: per sequence, the difference of the rung's
SR and none's SR (each averaged over its seeds); the bootstrap resamples sequences (pairs stay together)
and the 95% CI is the 2.5/97.5 percentiles of the resampled mean difference. A component is called helpful
only where that CI excludes 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedComparison:
    """Mean per-sequence difference (rung - baseline) with its bootstrap CI, and whether the CI excludes 0."""

    mean_diff: float
    ci_low: float
    ci_high: float
    n_sequences: int

    @property
    def excludes_zero(self) -> bool:
        return self.ci_low > 0.0 or self.ci_high < 0.0


def mean_sd(values: np.ndarray) -> tuple[float, float]:
    """Mean and sample SD (ddof 1; 0 for a single value) of per-seed scores."""
    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def paired_bootstrap_ci(
    rung: np.ndarray, baseline: np.ndarray, n_boot: int = 10_000, level: float = 0.95, seed: int = 0
) -> PairedComparison:
    """Paired bootstrap over sequences of ``mean(rung - baseline)``.

    ``rung`` and ``baseline`` are ``(n_sequences,)`` per-sequence scores or ``(n_seeds, n_sequences)``
    (averaged over seeds first); both must cover the same sequences in the same order.
    """
    a = np.asarray(rung, np.float64)
    b = np.asarray(baseline, np.float64)
    a, b = (a.mean(0) if a.ndim == 2 else a), (b.mean(0) if b.ndim == 2 else b)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"need the same >= 2 sequences for both, got {a.shape} and {b.shape}")
    diff = a - b
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, diff.size, size=(n_boot, diff.size))
    boots = diff[idx].mean(1)
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(boots, [tail, 100.0 - tail])
    return PairedComparison(float(diff.mean()), float(low), float(high), int(diff.size))


def calibrate_thresholds(
    scores: np.ndarray, correct: np.ndarray, negative: np.ndarray, min_precision: float = 0.95
) -> dict[str, float | int | None]:
    """Tracker thresholds from validation peaks (never from the test set).

    ``scores``: the peak score of each validation search crop; ``correct``: its decoded box overlaps the target
    (IoU >= 0.5); ``negative``: the target was absent from the crop (or replaced by a distractor). Crops that
    are neither (target present, box wrong) count as wrong, like negatives.

    - ``lost_threshold``: the score that best separates correct crops from wrong ones (balanced accuracy);
    - ``reacquire_threshold``: the lowest score above which at least ``min_precision`` of the peaks are correct
      (a re-acquisition should rarely jump onto something else); None when no threshold reaches it.
    """
    s = np.asarray(scores, np.float64)
    good = np.asarray(correct, bool) & ~np.asarray(negative, bool)
    bad = ~good
    if good.sum() == 0 or bad.sum() == 0:
        raise ValueError(f"need both correct and wrong validation peaks (got {int(good.sum())} and {int(bad.sum())})")
    candidates = np.unique(s)
    tpr = np.array([(s[good] >= t).mean() for t in candidates])
    tnr = np.array([(s[bad] < t).mean() for t in candidates])
    balanced = 0.5 * (tpr + tnr)
    lost = float(candidates[int(np.argmax(balanced))])
    reacquire = None
    for t in candidates:  # ascending: the lowest threshold that is precise enough
        above = s >= t
        if above.any() and good[above].mean() >= min_precision:
            reacquire = float(t)
            break
    return {
        "lost_threshold": lost,
        "lost_balanced_accuracy": float(balanced.max()),
        "reacquire_threshold": reacquire,
        "reacquire_min_precision": float(min_precision),
        "n_correct": int(good.sum()),
        "n_wrong": int(bad.sum()),
    }


def validation_peaks(model, cfg, sequences, n: int = 256, seed: int = 0) -> tuple[np.ndarray, ...]:  # noqa: ANN001
    """``(scores, correct, negative)`` of a student on ``n`` validation pairs, half of them negative crops.

    The score is the raw score map at the Hann-weighted peak (as the tracker reads it); correct = the
    decoded box has IoU >= 0.5 with the target.
    """
    import torch

    from had_tracker.data.sampler import PairSampler, SamplerConfig, collate
    from had_tracker.tracking.postprocess import hann2d

    sampler = PairSampler(
        sequences,
        cfg,
        SamplerConfig(negative_absent=0.25, negative_distractor=0.25),
        seed=seed,
        epoch_size=n,
        with_teacher_inputs=False,
    )
    scores, correct, negative = [], [], []
    model.eval()
    with torch.no_grad():
        for start in range(0, n, 32):
            batch = collate([sampler[i] for i in range(start, min(start + 32, n))])
            out = model(batch["template_events"], batch["search_events"])
            score = out["score_map"][:, 0].numpy()
            f = score.shape[-1]
            peak = (score * hann2d(f)).reshape(len(score), -1).argmax(1)
            rows, cols = np.divmod(peak, f)
            size = out["size_map"].numpy()[np.arange(len(score)), :, rows, cols]
            offset = out["offset_map"].numpy()[np.arange(len(score)), :, rows, cols]
            boxes = np.column_stack([(cols + offset[:, 0]) / f, (rows + offset[:, 1]) / f, size[:, 0], size[:, 1]])
            target = batch["search_box"].numpy()
            scores.append(score[np.arange(len(score)), rows, cols])
            correct.append(_iou_cxcywh(boxes, target) >= 0.5)
            negative.append((target[:, 2] <= 0) | (target[:, 3] <= 0))
    return np.concatenate(scores), np.concatenate(correct), np.concatenate(negative)


def _iou_cxcywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a0, a1 = a[:, :2] - a[:, 2:] / 2, a[:, :2] + a[:, 2:] / 2
    b0, b1 = b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2
    inter = np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None).prod(1)
    union = a[:, 2:].prod(1) + b[:, 2:].prod(1) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
