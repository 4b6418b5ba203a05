"""``eval compare``: several reports -> one table (and plots)."""

import pytest

from had_tracker.cli import main
from had_tracker.errors import ConfigError
from had_tracker.evaluation.compare import compare_reports
from had_tracker.evaluation.metrics import evaluate_sequence, headline, summarize
from had_tracker.evaluation.report import new_report, write_report


def write(tmp_path, name, auc_shift, convention="pytracking", source=None):
    gt = [[10, 10, 20, 20]] * 4
    pred = [[10, 10, 20, 20], [10 + auc_shift, 10, 20, 20], [10, 10, 20, 20], [10, 10, 20, 20]]
    summary = summarize([evaluate_sequence(pred, gt)], "pytracking")
    report = new_report(name, convention, source or {})
    report["trackers"][name] = {
        "overall": headline(summary),
        "curves": {k: v for k, v in summary.items() if isinstance(v, list)},
        "timing": {"fps": 50.0},
    }
    write_report(report, tmp_path / name)
    return tmp_path / name


def test_compare_orders_rows_by_success_and_draws_plots(tmp_path, capsys):
    a, b = write(tmp_path, "worse", 15), write(tmp_path, "better", 2)
    table, rows = compare_reports([a, b / "report.json"], tmp_path / "plots")
    lines = table.splitlines()
    assert lines[2].startswith("| better |") and lines[3].startswith("| worse |")
    assert rows[0]["fps"] == 50.0 and (tmp_path / "plots" / "compare_success.png").exists()
    assert main(["eval", "compare", str(a), str(b)]) == 0
    assert "| better |" in capsys.readouterr().out


def test_compare_labels_windowed_and_repeated_runs(tmp_path):
    a = write(tmp_path, "MIL", 2, source={"repeats": 10})
    b = write(tmp_path, "student", 2, source={"window_hz": 200.0})
    c = write(tmp_path, "KCF", 2, source={"window_hz": 200.0, "repeats": 1})
    _, rows = compare_reports([a, b, c])
    assert [r["tracker"] for r in rows] == ["MIL [mean of 10 runs]", "student [200 Hz]", "KCF [200 Hz]"]


def test_compare_refuses_mixed_conventions_and_missing_reports(tmp_path):
    a, b = write(tmp_path, "a", 2), write(tmp_path, "b", 2, convention="otb")
    with pytest.raises(ConfigError, match="different metric conventions"):
        compare_reports([a, b])
    with pytest.raises(ConfigError, match="no report"):
        compare_reports([tmp_path / "nope"])
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not a valid report"):
        compare_reports([tmp_path / "bad.json"])
