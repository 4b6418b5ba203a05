"""Photoreal presets through every consumer: training data specs, bags (+ replay), folders (+ eval dataset), CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from had_tracker.cli import main
from had_tracker.data.synthetic import SyntheticConfig, generate_sequence

SPEC_SIZE = "duration_s=0.3,width=128,height=96,rgb_fps=20,gt_hr_rate_hz=100"


@pytest.fixture(scope="module")
def recording():
    cfg = SyntheticConfig.from_preset(
        "photoreal-rgbcam", duration_s=0.4, width=128, height=96, target_size_px=(26.0, 34.0), rgb_fps=20.0,
        gt_hr_rate_hz=100.0, rgb_width=240, rgb_height=180,
        homography=(1.6, 0.0, 15.0, 0.0, 1.6, 12.0, 0.0, 0.0, 1.0), rolling_shutter_s=0.01,
    )  # fmt: skip
    return generate_sequence(cfg, seed=2)


@pytest.mark.parametrize("preset", ["photoreal", "mixed-real", "davis346-like"])
def test_training_data_spec_reads_the_photoreal_presets(preset):
    from had_tracker.training.data import load_sequences

    seqs = load_sequences(f"synthetic:preset={preset},sequences=2,seed=5,{SPEC_SIZE}")
    assert len(seqs) == 2 and {s.meta["preset"] for s in seqs} == {preset}
    for seq in seqs:
        assert seq.events is not None and len(seq.events) > 0 and len(seq) >= 5
        assert seq.frames[0].shape == (96, 128, 3)
    assert seqs[0].name != seqs[1].name or not np.array_equal(seqs[0].gt_boxes, seqs[1].gt_boxes)


def test_bag_of_a_photoreal_sequence_reads_back_aligned(recording, tmp_path):
    from had_tracker.data.writers import write_bag
    from had_tracker.evaluation.sequence_bag import read_sequence_bag

    write_bag(recording, tmp_path / "bag")
    seq = read_sequence_bag(tmp_path / "bag")
    assert len(seq) == len(recording)
    assert (seq.width, seq.height) == (240, 180)
    np.testing.assert_allclose(seq.gt_boxes, recording.gt_boxes, atol=1e-3)
    np.testing.assert_array_equal(seq.absent, recording.absent)
    assert seq.events is not None and len(seq.events) > 0.8 * len(recording.events)
    meta = json.loads((tmp_path / "bag" / "synthetic_metadata.json").read_text())
    assert meta["config"]["rgb_misregistration_px"] == [3.0, -2.0]
    assert meta["config"]["rgb_clock_error_ns"] == 4_000_000
    assert meta["config"]["scene_kind"] == "photoreal"


def test_replay_of_a_photoreal_bag(recording, tmp_path):
    from had_tracker.data.writers import write_bag
    from had_tracker.evaluation.baselines import OpenCVBaseline
    from had_tracker.evaluation.replay import replay_bag

    write_bag(recording, tmp_path / "bag")
    report = replay_bag(tmp_path / "bag", tmp_path / "out", trackers={"MIL (rgb)": OpenCVBaseline("mil", "rgb")})
    assert report["metrics_available"]
    assert report["trackers"]["MIL (rgb)"]["overall"]["n_frames"] == len(recording)


def test_folder_of_photoreal_sequences_through_eval_dataset(recording, tmp_path):
    from had_tracker.data.datasets import load_dataset
    from had_tracker.data.writers import write_folder
    from had_tracker.evaluation.dataset_eval import evaluate_dataset

    write_folder(recording, tmp_path / "ds")
    (seq,) = load_dataset(tmp_path / "ds", "synthetic")
    np.testing.assert_allclose(seq.gt_boxes, recording.gt_boxes, atol=1e-3)
    report = evaluate_dataset(tmp_path / "ds", "synthetic", tmp_path / "out", tracker="mil-events", workers=1)
    assert report["overall"]["n_sequences"] == 1 and report["overall"]["n_frames"] == len(recording)


def test_synth_command_with_a_photoreal_preset(tmp_path):
    cfg = tmp_path / "small.yaml"
    cfg.write_text("width: 96\nheight: 72\ntarget_size_px: [20, 28]\nrgb_fps: 20\ngt_hr_rate_hz: 50\n")
    args = ["synth", "--out", str(tmp_path / "out"), "--preset", "photoreal-lowlight", "--format", "folder"]
    assert main([*args, "--duration", "0.2", "--config", str(cfg), "--preview"]) == 0
    folder = tmp_path / "out" / "photoreal-lowlight_000000"
    assert (folder / "events.npz").is_file() and (folder / "groundtruth.txt").is_file()
    assert list((tmp_path / "out" / "previews").glob("*.png"))
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["config"]["preset"] == "photoreal-lowlight" and meta["config"]["flicker_hz"] == 100.0
