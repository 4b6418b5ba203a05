"""Paired comparison of evaluation reports over the same sequences: the issue-14 protocol for any two recipes.

Each side is one or more ``report.json`` (one per training seed) of ``eval dataset`` on the *same* sequences.
Per side: the mean over sequences of a per-sequence metric for each seed, then mean +- SD over the seeds; against
the baseline: per sequence, the candidate's value averaged over its seeds minus the baseline's, and the paired
bootstrap 95 % CI of the mean difference (:func:`had_tracker.training.protocol.paired_bootstrap_ci`). A candidate
is called better only where that CI excludes 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from had_tracker.errors import ConfigError
from had_tracker.evaluation.compare import load_report
from had_tracker.training.protocol import mean_sd, paired_bootstrap_ci

METRICS = ("success_auc", "precision_20", "norm_precision_20", "op50", "op75", "mean_iou")


def per_sequence(path: str | Path, metric: str = "success_auc", tracker: str | None = None) -> dict[str, float]:
    """``{sequence name: metric}`` of one report (``report.json`` or its folder); ``tracker`` picks one of several."""
    if metric not in METRICS:
        raise ConfigError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    report = load_report(Path(path))
    trackers = report.get("trackers") or {}
    if tracker is None:
        if len(trackers) != 1:
            raise ConfigError(f"{path} holds {len(trackers)} trackers ({', '.join(trackers)}): name one with --tracker")
        tracker = next(iter(trackers))
    if tracker not in trackers:
        raise ConfigError(f"{path} has no tracker {tracker!r} (it has {', '.join(trackers) or 'none'})")
    rows = trackers[tracker].get("per_sequence") or []
    out = {r["name"]: float(r[metric]) for r in rows if r.get(metric) is not None}
    if not out:
        raise ConfigError(f"{path}: tracker {tracker!r} has no per-sequence {metric}")
    return out


def _seed_matrix(paths: Sequence[str | Path], names: list[str], metric: str, tracker: str | None) -> np.ndarray:
    """``(n_seeds, n_sequences)`` values in the order of ``names``; every report must cover exactly those."""
    rows = []
    for p in paths:
        values = per_sequence(p, metric, tracker)
        if set(values) != set(names):
            missing, extra = sorted(set(names) - set(values)), sorted(set(values) - set(names))
            raise ConfigError(
                f"{p} does not cover the baseline's sequences (missing {missing[:3]}, extra {extra[:3]}): "
                "a paired comparison needs the same sequences on both sides"
            )
        rows.append([values[n] for n in names])
    return np.asarray(rows, np.float64)


def paired_table(
    base: Sequence[str | Path],
    candidates: Sequence[Sequence[str | Path]],
    labels: Sequence[str] | None = None,
    metric: str = "success_auc",
    tracker: str | None = None,
    n_boot: int = 10_000,
) -> tuple[str, list[dict]]:
    """A Markdown table (baseline first, then each candidate with its CI against the baseline) and its rows."""
    if not base or not candidates or any(not c for c in candidates):
        raise ConfigError("need at least one baseline report and one report per candidate")
    labels = list(labels or [])
    if labels and len(labels) != len(candidates) + 1:
        raise ConfigError(f"need {len(candidates) + 1} labels (baseline, then each candidate), got {len(labels)}")
    names = sorted(per_sequence(base[0], metric, tracker))
    if len(names) < 2:
        raise ConfigError("a paired bootstrap needs at least 2 sequences")
    base_m = _seed_matrix(base, names, metric, tracker)
    sides = [("baseline", base, base_m)] + [
        (f"candidate {i + 1}", c, _seed_matrix(c, names, metric, tracker)) for i, c in enumerate(candidates)
    ]
    rows = []
    for i, (default, paths, m) in enumerate(sides):
        mean, sd = mean_sd(m.mean(axis=1))
        row = {"label": labels[i] if labels else default, "seeds": len(paths), "mean": mean, "sd": sd}
        if i:
            c = paired_bootstrap_ci(m, base_m, n_boot=n_boot)
            row.update(diff=c.mean_diff, ci_low=c.ci_low, ci_high=c.ci_high, excludes_zero=c.excludes_zero)
        rows.append(row)
    lines = [
        f"{metric} over {len(names)} sequences (mean over sequences; mean ± SD over seeds; paired bootstrap 95 % CI "
        "of the seed-averaged per-sequence difference against the baseline)",
        "",
        "| | seeds | mean ± SD | Δ vs baseline [95 % CI] |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        delta = "—"
        if "diff" in r:
            mark = " *" if r["excludes_zero"] else ""
            delta = f"{r['diff']:+.1f} [{r['ci_low']:+.1f}, {r['ci_high']:+.1f}]{mark}"
        lines.append(f"| {r['label']} | {r['seeds']} | {r['mean']:.1f} ± {r['sd']:.1f} | {delta} |")
    if any(r.get("excludes_zero") for r in rows):
        lines += ["", "\\* the CI excludes 0"]
    return "\n".join(lines) + "\n", rows
