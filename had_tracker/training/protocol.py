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
