"""Checkpoints: atomic writes, round trips, and clear errors for missing, corrupt, truncated or wrong-kind files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from had_tracker.errors import CheckpointError
from had_tracker.models.builder import (
    ModelConfig,
    build_model,
    default_student_checkpoint,
    load_model,
    save_checkpoint,
)


@pytest.fixture
def student_ckpt(tmp_path):
    cfg = ModelConfig.from_yaml("cpu-tiny", "student")
    torch.manual_seed(0)
    model = build_model(cfg)
    return save_checkpoint(tmp_path / "student.pt", model, cfg), model


def test_round_trip_restores_identical_weights_and_config(student_ckpt):
    path, model = student_ckpt
    loaded, cfg = load_model(path)
    assert cfg == ModelConfig.from_yaml("cpu-tiny", "student") and not loaded.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])


def test_save_is_atomic_and_leaves_no_temp_files(student_ckpt):
    path, _ = student_ckpt
    assert sorted(p.name for p in path.parent.iterdir()) == ["student.pt"]


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nope.pt")


def test_truncated_checkpoint(student_ckpt, tmp_path):
    path, _ = student_ckpt
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_model(cut)


def test_corrupt_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_model(bad)


def test_foreign_checkpoint_is_not_a_had_tracker_checkpoint(tmp_path):
    foreign = tmp_path / "plain_state_dict.pt"
    torch.save(build_model(ModelConfig.from_yaml("cpu-tiny", "student")).state_dict(), foreign)
    with pytest.raises(CheckpointError, match="not a had_tracker checkpoint"):
        load_model(foreign)


def test_pickled_objects_are_refused_by_weights_only(tmp_path):
    evil = tmp_path / "object.pt"
    torch.save({"format": "had_tracker/checkpoint", "obj": ModelConfig()}, evil)
    with pytest.raises(CheckpointError):
        load_model(evil)


def test_wrong_kind_is_a_clear_error(student_ckpt):
    path, _ = student_ckpt
    with pytest.raises(CheckpointError, match="holds a student, expected a teacher"):
        load_model(path, expected_kind="teacher")


def test_weights_that_do_not_fit_the_config(tmp_path):
    cfg = ModelConfig.from_yaml("cpu-tiny", "student")
    payload_path = save_checkpoint(tmp_path / "s.pt", build_model(cfg), cfg)
    payload = torch.load(payload_path, weights_only=True)
    payload["model_config"]["arch"]["dim"] = 64
    torch.save(payload, payload_path)
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(payload_path)


def test_shipped_student_loads_and_is_small():
    path = default_student_checkpoint()
    if not path.is_file():
        pytest.fail(f"the shipped student {path} is missing")
    model, cfg = load_model(path, expected_kind="student")
    assert cfg.name == "cpu-tiny" and path.stat().st_size < 10 * 1024 * 1024
    c = cfg.events.channels
    out = model(
        torch.zeros(1, c, cfg.template_size, cfg.template_size), torch.zeros(1, c, cfg.search_size, cfg.search_size)
    )
    assert out["pred_boxes"].shape == (1, 4)


@pytest.mark.parametrize("content", [b"", bytes(range(256)) * 20], ids=["zero-bytes", "random-bytes"])
def test_empty_or_random_file_is_one_clear_error(tmp_path, content):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError, match="empty|not a torch checkpoint") as info:
        load_model(bad)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content", [b"", b"\x8a\x0b garbage" * 300], ids=["zero-bytes", "random-bytes"])
def test_cli_export_of_a_bad_checkpoint_exits_nonzero_with_one_line(tmp_path, capsys, content):
    from had_tracker.cli import main

    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    assert main(["export", "--ckpt", str(bad), "--format", "torchscript", "--out", str(tmp_path / "x.ts.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "checkpoint" in err and "Traceback" not in err


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_or_inf_weights_are_rejected_at_load(tmp_path, value):
    from had_tracker.tracking.tracker import Tracker, TrackerConfig

    cfg = ModelConfig.from_yaml("cpu-tiny", "student")
    model = build_model(cfg)
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = value
    path = save_checkpoint(tmp_path / "diverged.pt", model, cfg)
    with pytest.raises(CheckpointError, match="NaN/Inf weights"):
        load_model(path)
    with pytest.raises(CheckpointError, match="NaN/Inf weights"):  # the tracker (and node start) use the same loader
        Tracker(TrackerConfig(checkpoint=str(path)))


def test_stale_temp_file_of_a_killed_save_is_removed_by_the_next_save_and_load(student_ckpt):
    import os

    path, model = student_ckpt
    stale = path.parent / f".{path.name}.abc123.tmp"
    stale.write_bytes(b"\x00" * 1024)  # what a save killed half-way leaves
    fresh = path.parent / f".{path.name}.def456.tmp"
    fresh.write_bytes(b"\x00")  # a save in progress right now: kept
    old = stale.stat().st_mtime - 3600
    os.utime(stale, (old, old))
    load_model(path)
    assert not stale.exists() and fresh.exists()
    stale.write_bytes(b"\x00" * 1024)
    os.utime(stale, (old, old))
    save_checkpoint(path, model, ModelConfig.from_yaml("cpu-tiny", "student"))
    assert not stale.exists()


def test_tracker_never_reports_tracking_with_a_nan_score():
    from had_tracker.tracking.tracker import Tracker, TrackerConfig, TrackState
    from test.standin_models import DensityModel
    from test.test_tracking_tracker import blob_sample

    class NaNModel(DensityModel):
        def forward(self, *inputs):
            out = super().forward(*inputs)
            return {k: torch.full_like(v, float("nan")) for k, v in out.items()}

    tracker = Tracker(TrackerConfig(lost_patience=3), model=NaNModel())
    tracker.initialize(blob_sample(0, 100, 100), (90, 90, 20, 20))
    states = []
    for k in range(1, 6):
        result = tracker.update(blob_sample(k, 100, 100))
        assert np.isfinite(result.score) and np.isfinite(result.box_xywh).all()
        states.append(result.state)
    assert states[-1] == TrackState.LOST
