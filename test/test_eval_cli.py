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


def test_eval_dataset_outputs_chain_into_eval_metrics(tmp_path, capsys):
    """The predictions `eval dataset` writes (t_ns,x,y,w,h) and the folder's absent.txt (1 = present) score alike."""
    pytest.importorskip("had_tracker.data.datasets")
    from had_tracker.data.synthetic.config import SyntheticConfig
    from had_tracker.data.synthetic.generator import generate_sequence
    from had_tracker.data.writers import write_folder
    from had_tracker.evaluation.dataset_eval import evaluate_dataset

    cfg = SyntheticConfig.from_preset("easy", duration_s=0.4, width=96, height=72)
    recording = generate_sequence(cfg, seed=1)
    write_folder(recording, tmp_path / "ds")
    seq_dir = tmp_path / "ds" / recording.name
    present = (seq_dir / "absent.txt").read_text().split()
    present[-2:] = ["0", "0"]  # the target leaves for the last two frames: the convention now matters
    (seq_dir / "absent.txt").write_text("\n".join(present) + "\n")
    report = evaluate_dataset(tmp_path / "ds", "synthetic", tmp_path / "out", tracker="mil-events", workers=1)
    expected = report["trackers"][next(iter(report["trackers"]))]["per_sequence"][0]
    pred = tmp_path / "out" / "predictions" / f"{recording.name}.txt"
    assert len(pred.read_text().split()[0].split(",")) == 5  # t_ns,x,y,w,h
    args = ["eval", "metrics", "--pred", str(pred), "--gt", str(seq_dir / "groundtruth.txt")]
    capsys.readouterr()
    assert main([*args, "--absent", str(seq_dir / "absent.txt")]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert "1 = present" in captured.err
    assert out["success_auc"] == pytest.approx(expected["success_auc"])
    assert out["precision_20"] == pytest.approx(expected["precision_20"])
    assert out["n_valid"] == len(present) - 2


def test_eval_metrics_requires_the_flag_meaning_for_an_unknown_flag_file(tmp_path, capsys):
    (tmp_path / "pred.txt").write_text("10,10,20,20\n30,10,20,20\n")
    (tmp_path / "gt.txt").write_text("10,10,20,20\n10,10,20,20\n")
    (tmp_path / "flags.txt").write_text("1\n0\n")
    (tmp_path / "absent.txt").write_text("1\n0\n")
    args = ["eval", "metrics", "--pred", str(tmp_path / "pred.txt"), "--gt", str(tmp_path / "gt.txt")]
    assert main([*args, "--absent", str(tmp_path / "flags.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--absent-means" in err
    assert main([*args, "--absent", str(tmp_path / "absent.txt"), "--absent-means", "absent"]) == 0
    captured = capsys.readouterr()
    assert "warning" in captured.err and json.loads(captured.out)["n_valid"] == 1


def test_eval_metrics_reads_timed_and_headed_prediction_files(tmp_path, capsys):
    (tmp_path / "gt.txt").write_text("10,10,20,20\n10,10,20,20\n")
    (tmp_path / "timed.txt").write_text("1000,10,10,20,20\n2000,30,10,20,20\n")
    (tmp_path / "replay.csv").write_text(
        "t_ns,x,y,w,h,score,state,latency_ms,num_events\n1000,10,10,20,20,0.9,TRACKING,1.0,5\n"
        "2000,30,10,20,20,0.8,TRACKING,1.0,5\n"
    )
    results = []
    for name in ("timed.txt", "replay.csv"):
        assert main(["eval", "metrics", "--pred", str(tmp_path / name), "--gt", str(tmp_path / "gt.txt")]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0] == results[1] and results[0]["n_frames"] == 2
    (tmp_path / "mixed.txt").write_text("10,10,20,20\n2000,30,10,20,20\n")
    assert main(["eval", "metrics", "--pred", str(tmp_path / "mixed.txt"), "--gt", str(tmp_path / "gt.txt")]) == 2
    assert "mixed.txt:2" in capsys.readouterr().err
