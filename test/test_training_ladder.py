"""The ladder's bookkeeping: interleaved latencies, the results table and shipping the best student."""

from __future__ import annotations

import json

import pytest
import torch

from had_tracker.models.builder import ModelConfig, build_model, load_checkpoint, save_checkpoint
from had_tracker.training.ladder import format_table, measure_latencies, ship_best


@pytest.fixture
def checkpoints(tmp_path):
    paths = {}
    for name, kind in (("teacher", "teacher"), ("none", "student"), ("response", "student")):
        cfg = ModelConfig.from_yaml("cpu-tiny", kind)
        torch.manual_seed(len(paths))
        paths[name] = save_checkpoint(tmp_path / f"{name}.pt", build_model(cfg), cfg)
    return paths


def _row(path, kind, sr):
    return {"checkpoint": str(path), "kind": kind, "success_auc": sr, "precision_20": sr + 10, "norm_precision_20": sr}


def test_latencies_are_measured_for_every_row_and_tabled(checkpoints):
    rows = {
        "teacher": {**_row(checkpoints["teacher"], "teacher", 60.0), "params": 695_333, "macs": 2.9e8},
        "none": {**_row(checkpoints["none"], "student", 55.0), "params": 101_453, "macs": 2.2e7},
    }
    measure_latencies(rows, threads=1, repeats=4)
    for row in rows.values():
        for key in ("latency_ms", "latency_ms_1thread"):
            assert 0.0 < row[key]["min"] <= row[key]["median"] <= row[key]["p90"]
    table = format_table(rows).splitlines()
    assert len(table) == 4 and table[2].startswith("| teacher (RGB+events) | — | 60.0 | 70.0 |")
    assert table[3].startswith("| student (events) | none | 55.0 |") and "| 101 k | 22.0 |" in table[3]


def test_ship_best_copies_the_student_with_the_best_held_out_success(checkpoints, tmp_path):
    record = {
        "train_data": "synthetic:preset=mixed,sequences=2,seed=0",
        "test_data": "synthetic:preset=mixed,sequences=2,seed=10000",
        "seed": 0,
        "results": {
            "teacher": _row(checkpoints["teacher"], "teacher", 90.0),  # never shipped: not a student
            "none": _row(checkpoints["none"], "student", 50.0),
            "response": _row(checkpoints["response"], "student", 58.5),
        },
    }
    (tmp_path / "results.json").write_text(json.dumps(record))
    best, path = ship_best(tmp_path, tmp_path / "shipped" / "student.pt")
    assert best == "response"
    payload = load_checkpoint(path)
    assert payload["kind"] == "student"
    assert payload["provenance"]["ladder_rung"] == "response"
    assert payload["provenance"]["held_out"]["success_auc"] == 58.5
    shipped = payload["model"]
    original = load_checkpoint(checkpoints["response"])["model"]
    assert shipped.keys() == original.keys() and all(torch.equal(shipped[k], original[k]) for k in shipped)
