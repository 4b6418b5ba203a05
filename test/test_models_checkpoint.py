"""Checkpoints: atomic writes, round trips, and clear errors for missing, corrupt, truncated or wrong-kind files."""

from __future__ import annotations

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
