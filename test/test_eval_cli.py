"""``had-tracker eval metrics``: JSON on stdout, one-line errors."""

import json

import pytest

from had_tracker.cli import main


def test_eval_metrics_prints_json_with_headline_keys(tmp_path, capsys):
    (tmp_path / "pred.txt").write_text("0,0,5,5\n20 10 20 20\n10,10,20,0\n12,10,20,20\n")
    (tmp_path / "gt.txt").write_text("10,10,20,20\n10,10,20,20\n10,10,20,20\n0,0,0,0\n")
    assert main(["eval", "metrics", "--pred", str(tmp_path / "pred.txt"), "--gt", str(tmp_path / "gt.txt")]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("success_auc", "precision_20", "norm_precision_20", "op50", "op75", "n_frames"):
        assert key in out
    assert out["success_auc"] == pytest.approx(100 * (7 * 0.75 + 13 * 0.25) / 21)
    assert out["n_frames"] == 4 and out["precision_20"] == pytest.approx(75.0)


def test_eval_metrics_absent_file_semantics(tmp_path, capsys):
    (tmp_path / "pred.txt").write_text("10,10,20,20\n30,10,20,20\n")
    (tmp_path / "gt.txt").write_text("10,10,20,20\n10,10,20,20\n")
    (tmp_path / "flags.txt").write_text("1\n0\n")
    args = ["eval", "metrics", "--pred", str(tmp_path / "pred.txt"), "--gt", str(tmp_path / "gt.txt")]
    # 1 = present (COESOT): frame 1 absent -> invalid -> centre error +inf under pytracking
    assert main([*args, "--absent", str(tmp_path / "flags.txt"), "--absent-means", "present"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_valid"] == 1 and out["precision_20"] == pytest.approx(50.0)
    # without flags frame 1 is valid, 20 px off -> within 20 px
    assert main([*args, "--convention", "otb"]) == 0
    assert json.loads(capsys.readouterr().out)["precision_20"] == pytest.approx(100.0)


def test_eval_metrics_bad_input_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "gt.txt").write_text("10,10,20,20\n")
    (tmp_path / "pred.txt").write_text("nan,1,2,3\n")
    code = main(["eval", "metrics", "--pred", str(tmp_path / "missing.txt"), "--gt", str(tmp_path / "gt.txt")])
    assert code == 2 and "no box file" in capsys.readouterr().err
    code = main(["eval", "metrics", "--pred", str(tmp_path / "pred.txt"), "--gt", str(tmp_path / "gt.txt")])
    # a single frame is replaced by GT, but the NaN check comes first in pytracking
    assert code == 2 and "NaN" in capsys.readouterr().err
