"""Evaluation reports: one JSON (machine-readable, strict JSON: NaN becomes null) and one Markdown page.

A report is a plain dict::

    {"title": str, "created_utc": str, "convention": str, "source": {...},
     "metrics_available": bool, "notes": [str, ...],
     "trackers": {name: {"overall": {...} | None, "per_sequence": [{...}], "per_attribute": {...},
                         "timing": {...}, "files": {...}}},
     "files": {"success_plot": "success.png", ...}}

``overall`` holds the scalars of :func:`had_tracker.evaluation.metrics.summarize` (percent); the curves
are stored in ``curves`` next to it so plots can be redrawn from the JSON alone.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

SCALAR_COLUMNS = (
    ("success_auc", "SR (AUC)"),
    ("precision_20", "PR@20px"),
    ("norm_precision_20", "NPR@0.2"),
    ("op50", "OP50"),
    ("op75", "OP75"),
)


def new_report(title: str, convention: str, source: dict[str, Any]) -> dict[str, Any]:
    """An empty report skeleton."""
    return {
        "title": title,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "convention": convention,
        "source": source,
        "metrics_available": False,
        "notes": [],
        "trackers": {},
        "files": {},
    }


def json_safe(value: Any) -> Any:
    """Strict-JSON copy: NaN/inf floats become None, numpy scalars/arrays become Python types."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist"):
        return json_safe(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def _fmt(value: Any, digits: int = 1) -> str:
    if isinstance(value, dict) and all(isinstance(v, bool) for v in value.values()):
        return ", ".join(k for k, v in value.items() if v) or "none"
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown page: headline table, timing, per-attribute and per-sequence tables, figures."""
    lines = [f"# {report['title']}", ""]
    lines.append(f"Created {report['created_utc']}; metric convention `{report['convention']}` (values in %).")
    src = report.get("source") or {}
    if src:
        lines.append("")
        lines.append("Source: " + ", ".join(f"{k} `{v}`" for k, v in src.items()))
    for note in report.get("notes", []):
        lines += ["", f"> {note}"]
    trackers = report.get("trackers", {})
    lines += ["", "## Results", ""]
    if not report.get("metrics_available"):
        lines.append("**Metrics unavailable**: no ground truth to compare with. Predictions and timing are below.")
        lines.append("")
    header = "| tracker | " + " | ".join(c for _, c in SCALAR_COLUMNS) + " | FPS | latency mean / p95 [ms] | frames |"
    lines += [header, "|" + "---|" * (len(SCALAR_COLUMNS) + 4)]
    for name, t in trackers.items():
        overall = t.get("overall") or {}
        timing = t.get("timing") or {}
        cells = [_fmt(overall.get(k)) for k, _ in SCALAR_COLUMNS]
        lat = f"{_fmt(timing.get('latency_ms_mean'), 2)} / {_fmt(timing.get('latency_ms_p95'), 2)}"
        frames = overall.get("n_frames", timing.get("n_updates", "n/a"))
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {_fmt(timing.get('fps'))} | {lat} | {frames} |")
    attrs = {a for t in trackers.values() for a in (t.get("per_attribute") or {})}
    if attrs:
        lines += ["", "## Per attribute (SR / PR)", ""]
        names = list(trackers)
        lines += ["| attribute | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
        for attr in sorted(attrs):
            row = []
            for n in names:
                a = (trackers[n].get("per_attribute") or {}).get(attr)
                row.append(f"{_fmt(a['success_auc'])} / {_fmt(a['precision_20'])}" if a else "n/a")
            lines.append(f"| {attr} | " + " | ".join(row) + " |")
    seq_rows = [(n, s) for n, t in trackers.items() for s in (t.get("per_sequence") or [])]
    if len(seq_rows) > len(trackers):  # more than one sequence: per-sequence rows add information
        lines += ["", "## Per sequence", ""]
        bias = any("motion_bias_ms" in s for _, s in seq_rows)  # eval dataset: box ahead of (+) / behind the target
        head = "| tracker | sequence | SR | PR | NPR | frames |" + (" lead ms (px) |" if bias else "")
        lines += [head, "|---|---|---|---|---|---|" + ("---|" if bias else "")]
        for n, s in seq_rows:
            lead = f" {_fmt(s.get('motion_bias_ms'), 0)} ({_fmt(s.get('motion_bias_px'))}) |" if bias else ""
            lines.append(
                f"| {n} | {s.get('name', '')} | {_fmt(s.get('success_auc'))} | {_fmt(s.get('precision_20'))} | "
                f"{_fmt(s.get('norm_precision_20'))} | {s.get('n_frames', 'n/a')} |{lead}"
            )
    files = report.get("files", {})
    figures = [(k, v) for k, v in files.items() if str(v).endswith(".png")]
    if figures:
        lines += ["", "## Figures", ""]
        lines += [f"![{k}]({v})" for k, v in figures]
    others = [(k, v) for k, v in files.items() if not str(v).endswith(".png")]
    for name, t in trackers.items():
        others += [(f"{name}: {k}", v) for k, v in (t.get("files") or {}).items()]
    for section, title in (("demo", "Demo"), ("replay", "Replay inputs"), ("sync", "Synchronizer")):
        values = report.get(section)
        if values:
            lines += ["", f"## {title}", ""]
            lines += [f"- {k}: {_fmt(v, 2)}" for k, v in values.items()]
    if others:
        lines += ["", "## Files", ""]
        lines += [f"- {k}: `{v}`" for k, v in others]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out_dir: str | Path, stem: str = "report") -> tuple[Path, Path]:
    """Write ``<stem>.json`` (strict JSON) and ``<stem>.md`` into ``out_dir``; return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    clean = json_safe(report)
    json_path.write_text(json.dumps(clean, indent=2, allow_nan=False) + "\n")
    md_path.write_text(render_markdown(clean))
    return json_path, md_path


def results_table(report: dict[str, Any]) -> str:
    """A plain-text results table: one row per tracker, the best OpenCV baseline marked."""
    rows = []
    best_baseline, best_auc = None, -1.0
    for name, t in report["trackers"].items():
        o = t.get("overall") or {}
        auc = o.get("success_auc")
        if not name.startswith("HAD") and auc is not None and auc > best_auc:
            best_baseline, best_auc = name, auc
    header = f"{'tracker':<30} {'SR(AUC)':>8} {'PR@20':>7} {'NPR@.2':>7} {'OP50':>6} {'FPS':>7}"
    rows.append(header)
    rows.append("-" * len(header))

    def fmt(v: Any, width: int) -> str:
        return f"{v:>{width}.1f}" if isinstance(v, int | float) and v == v else f"{'n/a':>{width}}"

    for name, t in report["trackers"].items():
        o = t.get("overall") or {}
        fps = (t.get("timing") or {}).get("fps")
        label = name + (" (best baseline)" if name == best_baseline else "")
        rows.append(
            f"{label:<30} {fmt(o.get('success_auc'), 8)} {fmt(o.get('precision_20'), 7)} "
            f"{fmt(o.get('norm_precision_20'), 7)} {fmt(o.get('op50'), 6)} {fmt(fps, 7)}"
        )
    return "\n".join(rows)
