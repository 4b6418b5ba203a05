"""Exported students/teachers match torch within 1e-4 (ONNX through onnxruntime, TorchScript)."""

from __future__ import annotations

import pytest
import torch

from had_tracker.models.builder import ModelConfig, build_model
from had_tracker.models.export import export_model, max_abs_difference


@pytest.fixture(scope="module")
def student():
    torch.manual_seed(0)
    cfg = ModelConfig.from_yaml("cpu-tiny", "student")
    return build_model(cfg).eval(), cfg


def test_onnx_student_matches_torch(student, tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime is a test extra")
    model, cfg = student
    path = export_model(model, cfg, tmp_path / "student.onnx", "onnx")
    assert max_abs_difference(model, cfg, path, "onnx") < 1e-4
    assert not model.training


def test_torchscript_student_matches_torch(student, tmp_path):
    model, cfg = student
    path = export_model(model, cfg, tmp_path / "student.ts.pt", "torchscript")
    assert max_abs_difference(model, cfg, path, "torchscript") < 1e-4


def test_onnx_teacher_matches_torch(tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime is a test extra")
    torch.manual_seed(0)
    cfg = ModelConfig.from_yaml("cpu-tiny", "teacher")
    model = build_model(cfg).eval()
    path = export_model(model, cfg, tmp_path / "teacher.onnx", "onnx")
    assert max_abs_difference(model, cfg, path, "onnx") < 1e-4
