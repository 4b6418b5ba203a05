"""``eval dataset``: a tracker over several sequences in a process pool, per-attribute report."""

import itertools
import json

import numpy as np
import pytest

from had_tracker.cli import main
from had_tracker.errors import ConfigError
from had_tracker.evaluation.dataset_eval import evaluate_dataset, evaluate_sequences
from had_tracker.tracking.result import TrackResult, TrackState
from test.test_eval_harness import moving_square_sequence


class EventCentroidTracker:
    """Deterministic and cheap: centres the first box on the mean event position of each window."""

    def initialize(self, sample, box_xywh, target_id=0):
        self.box = np.asarray(box_xywh, float)
        return self.update(sample)

    def update(self, sample):
        if len(sample.events):
            cx, cy = float(np.mean(sample.events.x)), float(np.mean(sample.events.y))
            self.box = np.array([cx - self.box[2] / 2, cy - self.box[3] / 2, self.box[2], self.box[3]])
        return TrackResult(
            self.box.copy(), 1.0, TrackState.TRACKING, sample.window_start_ns, sample.window_end_ns, 0, 0.1
        )


def three_sequences():
    """Three copies of the moving square; the last one starts with two absent frames (tracking starts at 2)."""
    out = []
    for i, attrs in enumerate(({"fast_motion": True}, {"low_light": True}, {"fast_motion": True, "low_light": True})):
        seq = moving_square_sequence()
        seq.name = f"square_{i}"
        seq.attributes = attrs
        out.append(seq)
    out[2].absent[:2] = True
    out[2].gt_boxes[:2] = 0.0
    return out


def test_pool_and_serial_runs_give_the_same_report(tmp_path):
    pooled = evaluate_sequences(
        three_sequences, EventCentroidTracker, tmp_path / "pool", "C", workers=2, progress=False
    )
    serial = evaluate_sequences(three_sequences, EventCentroidTracker, tmp_path / "serial", "C", workers=1)
    entry = pooled["trackers"]["C"]
    assert [s["name"] for s in entry["per_sequence"]] == ["square_0", "square_1", "square_2"]
    assert entry["overall"]["n_sequences"] == 3 and entry["overall"]["n_frames"] == 46
    assert [s["first_frame"] for s in entry["per_sequence"]] == [0, 0, 2]
    assert set(entry["per_attribute"]) == {"fast_motion", "low_light"}
    # the overall AUC is the mean of the per-sequence AUCs (curves averaged, then the mean over thresholds)
    aucs = [s["success_auc"] for s in entry["per_sequence"]]
    assert entry["overall"]["success_auc"] == pytest.approx(np.mean(aucs))
    assert serial["trackers"]["C"]["overall"] == entry["overall"]
    assert 20 < entry["overall"]["success_auc"] < 100
    lines = (tmp_path / "pool" / "predictions" / "square_1.txt").read_text().splitlines()
    assert len(lines) == 16 and len(lines[0].split(",")) == 5
    assert len((tmp_path / "pool" / "predictions" / "square_2.txt").read_text().splitlines()) == 14
    # the centroid of the events since the previous frame trails the moving square: a lag (negative lead)
    assert all(s["motion_bias_ms"] < 0 and s["motion_bias_px"] < 0 for s in entry["per_sequence"])
    assert [s["motion_bias_frames"] for s in entry["per_sequence"]] == [14, 14, 12]
    assert "lead ms (px)" in (tmp_path / "pool" / "report.md").read_text()
    data = json.loads((tmp_path / "pool" / "report.json").read_text())
    assert data["files"]["success_plot"] == "success.png" and (tmp_path / "pool" / "success.png").exists()


class RandomJitterTracker(EventCentroidTracker):
    """The centroid tracker plus an offset drawn per run: a stand-in for a stochastic tracker (MIL)."""

    runs = itertools.count()  # each run its own (seeded, so reproducible) draw

    def initialize(self, sample, box_xywh, target_id=0):
        self.offset = np.random.default_rng(next(self.runs)).uniform(-6, 6, 2)
        return super().initialize(sample, box_xywh, target_id)

    def update(self, sample):
        result = super().update(sample)
        result.box_xywh[:2] += self.offset
        return result


class FrameTracker(EventCentroidTracker):
    """The centroid tracker declared an RGB tracker: it must keep one update per frame."""

    modality = "rgb"


def test_repeats_score_each_sequence_by_the_mean_of_its_runs(tmp_path):
    report = evaluate_sequences(
        three_sequences, RandomJitterTracker, tmp_path, "R", workers=1, progress=False, repeats=4
    )
    rows = report["trackers"]["R"]["per_sequence"]
    for row in rows:
        runs = row["success_auc_runs"]
        assert len(runs) == 4 and len(set(runs)) > 1  # four different draws
        assert row["success_auc"] == pytest.approx(np.mean(runs))
        assert row["success_auc_sd"] == pytest.approx(np.std(runs, ddof=1))
    assert report["trackers"]["R"]["overall"]["success_auc"] == pytest.approx(np.mean([r["success_auc"] for r in rows]))
    single = evaluate_sequences(three_sequences, EventCentroidTracker, tmp_path / "one", "C", workers=1, progress=False)
    assert "success_auc_runs" not in single["trackers"]["C"]["per_sequence"][0]


def test_window_rate_steps_event_trackers_between_frames_and_rgb_trackers_per_frame(tmp_path):
    for name, factory in (("ev", EventCentroidTracker), ("rgb", FrameTracker)):
        report = evaluate_sequences(
            three_sequences, factory, tmp_path / name, name, workers=1, progress=False, window_ns=2_500_000
        )
        assert report["trackers"][name]["overall"]["n_frames"] == 46  # scored at the same ground-truth frames
    lines = (tmp_path / "ev" / "predictions" / "square_1.txt").read_text().splitlines()
    assert len(lines) == 1 + 4 * 15  # the start frame, then four 2.5 ms windows per 10 ms interval
    times = np.array([int(line.split(",")[0]) for line in lines])
    assert np.all(np.diff(times) == 2_500_000)
    assert len((tmp_path / "rgb" / "predictions" / "square_1.txt").read_text().splitlines()) == 16


def repeated_stamp_sequences():
    """One moving square whose frames 5 and 6 share a stamp (a reader that repeats a time)."""
    seq = moving_square_sequence()
    seq.name = "square_repeated"
    seq.frame_t_ns = np.asarray(seq.frame_t_ns).copy()
    seq.frame_t_ns[6] = seq.frame_t_ns[5]
    return [seq]


def test_repeated_frame_stamps_leave_out_the_motion_bias_not_the_sequence(tmp_path, caplog):
    report = evaluate_sequences(
        repeated_stamp_sequences, EventCentroidTracker, tmp_path, "C", workers=1, progress=False
    )
    entry = report["trackers"]["C"]["per_sequence"][0]
    assert entry["success_auc"] > 20 and entry["n_frames"] == 16
    assert entry["motion_bias_ms"] is None and entry["motion_bias_frames"] == 0
    assert "no motion bias" in caplog.text


def test_dataset_command_errors(tmp_path, capsys):
    with pytest.raises(ConfigError, match="does not exist"):
        evaluate_dataset(tmp_path / "missing", "fe108", tmp_path / "out", tracker="mil")
    with pytest.raises(ConfigError, match="unknown dataset format"):
        evaluate_dataset(tmp_path, "lasot", tmp_path / "out", tracker="mil")
    with pytest.raises(ConfigError, match="unknown baseline"):
        evaluate_dataset(tmp_path, "fe108", tmp_path / "out", tracker="siamrpn")
    with pytest.raises(ConfigError, match="--window-hz"):
        evaluate_dataset(tmp_path, "fe108", tmp_path / "out", tracker="mil", window_hz=0.0)
    with pytest.raises(ConfigError, match="--repeats"):
        evaluate_dataset(tmp_path, "fe108", tmp_path / "out", tracker="mil", repeats=0)
    code = main(["eval", "dataset", "--root", str(tmp_path / "missing"), "--format", "fe108", "--out", str(tmp_path)])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_synthetic_dataset_folder_through_the_readers(tmp_path):
    pytest.importorskip("had_tracker.data.datasets")
    from had_tracker.data.synthetic.config import SyntheticConfig
    from had_tracker.data.synthetic.generator import generate_sequence
    from had_tracker.data.writers import write_folder

    cfg = SyntheticConfig.from_preset("easy", duration_s=0.4, width=96, height=72)
    write_folder(generate_sequence(cfg, seed=1), tmp_path / "ds")
    report = evaluate_dataset(tmp_path / "ds", "synthetic", tmp_path / "out", tracker="mil-events", workers=1)
    overall = report["overall"]
    assert overall["n_sequences"] == 1 and overall["n_frames"] >= 5
    assert report["source"]["format"] == "synthetic" and (tmp_path / "out" / "report.md").exists()


def test_tracker_config_file_reaches_the_student_and_is_refused_for_baselines(tmp_path):
    pytest.importorskip("had_tracker.data.datasets")
    from had_tracker.data.synthetic.config import SyntheticConfig
    from had_tracker.data.synthetic.generator import generate_sequence
    from had_tracker.data.writers import write_folder

    cfg = SyntheticConfig.from_preset("easy", duration_s=0.4, width=96, height=72)
    write_folder(generate_sequence(cfg, seed=1), tmp_path / "ds")
    with pytest.raises(ConfigError, match="not found"):
        evaluate_dataset(tmp_path / "ds", "synthetic", tmp_path / "o0", tracker_config=str(tmp_path / "none.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("tracker:\n  max_aspect_rate: 0.5\n")  # invalid: the file is read and validated
    with pytest.raises(ConfigError, match="max_aspect_rate"):
        evaluate_dataset(tmp_path / "ds", "synthetic", tmp_path / "o1", workers=1, tracker_config=str(bad))
    good = tmp_path / "good.yaml"
    good.write_text("max_aspect_rate: 0\nmax_scale_rate: 4.0\n")
    with pytest.raises(ConfigError, match="baseline"):
        evaluate_dataset(tmp_path / "ds", "synthetic", tmp_path / "o2", tracker="mil-events", tracker_config=str(good))
    report = evaluate_dataset(tmp_path / "ds", "synthetic", tmp_path / "o3", workers=1, tracker_config=str(good))
    assert report["source"]["tracker_config"] == str(good) and report["overall"]["n_sequences"] == 1
