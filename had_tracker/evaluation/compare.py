"""Merge several evaluation reports (``report.json`` of replay / eval dataset / demo) into one comparison.

Used for the README's results table: every tracker of every report becomes one row (SR, PR, NPR, OP50,
OP75, FPS); with an output folder, the stored curves are redrawn into one success and one precision plot.
Reports must share the metric convention, otherwise the rows would not be comparable (ConfigError).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from had_tracker.errors import ConfigError

COLUMNS = (
    ("success_auc", "SR"),
    ("precision_20", "PR"),
    ("norm_precision_20", "NPR"),
    ("op50", "OP50"),
    ("op75", "OP75"),
)


def load_report(path: Path) -> dict[str, Any]:
    """A report (``report.json`` or the folder holding it) as a dict; a clear ConfigError when absent or invalid."""
    if path.is_dir():
        path = path / "report.json"
    if not path.is_file():
        raise ConfigError(f"no report at {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not a valid report (JSON error: {exc})") from None


def _run_note(source: dict[str, Any]) -> str:
    """How an `eval dataset` run differs from one update per frame and one run, e.g. `` [200 Hz, mean of 10 runs]``."""
    notes = []
    if source.get("window_hz"):
        notes.append(f"{float(source['window_hz']):g} Hz")
    if int(source.get("repeats") or 1) > 1:
        notes.append(f"mean of {int(source['repeats'])} runs")
    return f" [{', '.join(notes)}]" if notes else ""


def compare_reports(paths: Sequence[str | Path], out_dir: str | Path | None = None) -> tuple[str, list[dict]]:
    """A Markdown table of every tracker in ``paths`` (report.json files or their folders), and the rows.

    With ``out_dir``, also writes ``compare_success.png`` and ``compare_precision.png`` from the stored curves.
    """
    rows: list[dict] = []
    conventions = set()
    curves: dict[str, dict] = {}
    for p in paths:
        report = load_report(Path(p))
        conventions.add(report.get("convention"))
        for name, entry in report.get("trackers", {}).items():
            overall = entry.get("overall") or {}
            timing = entry.get("timing") or {}
            label = name + _run_note(report.get("source") or {})
            label = label if label not in curves else f"{label} ({Path(p).name})"
            rows.append(
                {
                    "tracker": label,
                    "source": str(p),
                    **{k: overall.get(k) for k, _ in COLUMNS},
                    "fps": timing.get("fps"),
                    "n_frames": overall.get("n_frames"),
                }
            )
            stored = entry.get("curves") or {}
            if overall and "success_curve" in stored:
                curves[label] = {**overall, **stored}
    if len(conventions) > 1:
        raise ConfigError(f"reports use different metric conventions {sorted(map(str, conventions))}: not comparable")

    def cell(v: Any) -> str:
        return f"{v:.1f}" if isinstance(v, int | float) and math.isfinite(v) else "n/a"

    head = "| tracker | " + " | ".join(c for _, c in COLUMNS) + " | FPS | frames |"
    lines = [head, "|---|" + "---:|" * (len(COLUMNS) + 2)]
    for r in sorted(rows, key=lambda r: -(r["success_auc"] if isinstance(r["success_auc"], int | float) else -1)):
        cells = " | ".join(cell(r[k]) for k, _ in COLUMNS)
        lines.append(f"| {r['tracker']} | {cells} | {cell(r['fps'])} | {r['n_frames'] or 'n/a'} |")
    if out_dir is not None and curves:
        from had_tracker.evaluation.plots import plot_precision, plot_success

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        plot_success(curves, out / "compare_success.png")
        plot_precision(curves, out / "compare_precision.png")
    return "\n".join(lines) + "\n", rows
