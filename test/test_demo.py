"""The demo, shortened: synthetic bag -> replay -> table, report, plots, frames."""

import json

import pytest

from had_tracker.evaluation.demo import run_demo
from had_tracker.evaluation.report import results_table


def test_short_demo_writes_report_plots_frames_and_a_table(tmp_path):
    pytest.importorskip("had_tracker.data.synthetic.generator")
    report = run_demo(tmp_path, seed=3, duration_s=0.6, baselines=("mil-events",), threads=1, size=(160, 120))
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["demo"]["frames"] > 5 and data["demo"]["events"] > 1000
    assert (tmp_path / "demo_bag" / "metadata.yaml").exists()
    for f in ("report.md", "success.png", "precision.png", "frames.png", "event_frames.png"):
        assert (tmp_path / f).stat().st_size > 0, f
    assert "MIL (events)" in report["trackers"]
    student_ran = any(name.startswith("HAD") for name in report["trackers"])
    # either the student ran, or the report says plainly why not
    assert student_ran or any("student was NOT run" in n for n in report["notes"])
    table = results_table(report)
    assert "SR(AUC)" in table and "MIL (events)" in table and "(best baseline)" in table
