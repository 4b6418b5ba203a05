"""The ladder's protocol and bookkeeping: seeds, paired CIs, the validation choice, latencies, the results table."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from had_tracker.errors import HadTrackerError
from had_tracker.models.builder import ModelConfig, build_model, load_checkpoint, save_checkpoint
from had_tracker.training.ladder import format_table, measure_latencies, ship_best, summarise_rungs


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
    rows["none"].update(success_auc_sd=1.25, n_seeds=3)
    measure_latencies(rows, threads=1, repeats=4)
    for row in rows.values():
        for key in ("latency_ms", "latency_ms_1thread"):
            assert 0.0 < row[key]["min"] <= row[key]["median"] <= row[key]["p90"]
    table = format_table(rows).splitlines()
    assert table[2].startswith("| teacher (RGB+events) | — | 60.0 | — | 70.0 |")
    assert table[3].startswith("| student (events) | none | 55.0 ± 1.2 (3) | — |") and "| 101 k | 22.0 |" in table[3]
    assert "chosen on validation" in table[-1]


def _runs(checkpoints, val: dict[str, float], test: dict[str, float]) -> dict:
    runs = {"teacher": _row(checkpoints["teacher"], "teacher", 90.0)}
    for name in val:
        rung = name.split("/")[0]
        runs[name] = {**_row(checkpoints[rung], "student", test[name]), "val": {"success_auc": val[name]}}
    return runs


def test_ship_best_takes_the_validation_choice_never_the_test_best(checkpoints, tmp_path):
    runs = _runs(
        checkpoints, {"none/seed0": 50.0, "response/seed0": 58.5}, {"none/seed0": 70.0, "response/seed0": 60.0}
    )
    record = {
        "train_data": "toy:seed=0",
        "val_data": "toy:seed=200",
        "test_data": "toy:seed=100",
        "runs": runs,
        "selected": {"run": "response/seed0", "val_success_auc": 58.5, "lost_threshold": 0.3},
    }
    (tmp_path / "results.json").write_text(json.dumps(record))
    best, path = ship_best(tmp_path, tmp_path / "shipped" / "student.pt")
    assert best == "response/seed0"  # the test set prefers none (70 > 60): the choice ignores it
    payload = load_checkpoint(path)
    assert payload["kind"] == "student"
    prov = payload["provenance"]
    assert prov["ladder_rung"] == "response" and prov["selected_on"] == "validation success AUC"
    assert prov["validation"]["success_auc"] == 58.5 and prov["test"]["success_auc"] == 60.0
    assert prov["tracker_thresholds"]["lost_threshold"] == 0.3
    shipped = payload["model"]
    original = load_checkpoint(checkpoints["response"])["model"]
    assert shipped.keys() == original.keys() and all(torch.equal(shipped[k], original[k]) for k in shipped)


def test_ship_best_refuses_a_ladder_without_validation(checkpoints, tmp_path):
    record = {"train_data": "a", "test_data": "b", "results": {"none": _row(checkpoints["none"], "student", 50.0)}}
    (tmp_path / "results.json").write_text(json.dumps(record))
    with pytest.raises(HadTrackerError, match="validation"):
        ship_best(tmp_path, tmp_path / "x.pt")


def test_rungs_are_summarised_over_seeds_with_a_paired_ci_against_none(checkpoints):
    runs = {}
    for seed, offset in enumerate((0.0, 1.0, 2.0)):
        for rung, gain in (("none", 0.0), ("response", 5.0)):
            per_sequence = {f"{i:04d}:s{i}": 30.0 + i + gain + offset for i in range(8)}
            runs[f"{rung}/seed{seed}"] = {
                **_row(checkpoints[rung], "student", float(np.mean(list(per_sequence.values())))),
                "per_sequence": per_sequence,
                "val": {"success_auc": 1.0},
            }
    rows = summarise_rungs(runs, ("none", "response"), (0, 1, 2))
    assert rows["none"]["success_auc"] == pytest.approx(34.5) and rows["none"]["success_auc_sd"] == pytest.approx(1.0)
    assert rows["none"]["n_seeds"] == 3 and "vs_none" not in rows["none"]
    cmp = rows["response"]["vs_none"]
    assert cmp["mean_diff"] == pytest.approx(5.0) and cmp["excludes_zero"] and cmp["n_sequences"] == 8


def test_the_protocol_is_enforced_before_any_training(tmp_path, monkeypatch):
    import had_tracker.training.ladder as ladder

    monkeypatch.setattr(ladder, "_cache", lambda spec, directory, progress=False: spec)
    monkeypatch.setattr(ladder, "load_sequences", lambda spec, progress=False: [object()] * 8)
    monkeypatch.setattr(ladder, "_run_all", lambda *a: pytest.fail("trained despite a protocol violation"))
    with pytest.raises(HadTrackerError, match=">= 64"):
        ladder.run_ladder(tmp_path, "toy:a", "toy:b", val_data="toy:c")
    with pytest.raises(HadTrackerError, match="three different"):
        ladder.run_ladder(tmp_path, "toy:a", "toy:b", val_data="toy:b", min_test_sequences=1)


@pytest.mark.slow
def test_tiny_ladder_end_to_end_with_seeds_validation_choice_and_cis(tmp_path, monkeypatch):
    """Two rungs x two seeds on toy data, 2 steps each (about 30 s): the whole protocol's bookkeeping."""
    import had_tracker.training.ladder as ladder
    from had_tracker.cli import main

    def run_inline(commands, logs, jobs):
        for name, cmd in commands.items():
            assert main(cmd[3:]) == 0, name  # the recorded command, run in this process
        return {}

    monkeypatch.setattr(ladder, "_run_all", run_inline)
    table = ladder.run_ladder(
        tmp_path,
        "toy:sequences=2,seed=0,frames=12",
        "toy:sequences=3,seed=100,frames=12",
        val_data="toy:sequences=2,seed=200,frames=12",
        rungs=("none", "response"),
        seeds=(0, 1),
        teacher_steps=2,
        student_steps=2,
        min_test_sequences=3,
        latency_repeats=2,
    )
    record = json.loads((tmp_path / "results.json").read_text())
    assert set(record["runs"]) == {"teacher", "none/seed0", "none/seed1", "response/seed0", "response/seed1"}
    assert record["protocol"]["n_test_sequences"] == 3 and record["protocol"]["seeds"] == [0, 1]
    best_val = max((k for k in record["runs"] if k != "teacher"), key=lambda k: record["runs"][k]["val"]["success_auc"])
    assert record["selected"]["run"] == best_val
    assert "lost_threshold" in record["selected"] or "error" in record["selected"]  # 2-step models may be all wrong
    assert "vs_none" in record["results"]["response"] and "± " in table


def test_run_all_writes_the_log_of_a_rung_seed_run_into_its_rung_folder(tmp_path):
    """Regression: run names are "rung/seedN"; their log folder did not exist and the ladder died on start."""
    import sys

    from had_tracker.training.ladder import _run_all

    wall = _run_all({"hdetrack+ot/seed1": [sys.executable, "-c", "print('trained')"]}, tmp_path, jobs=1)
    assert set(wall) == {"hdetrack+ot/seed1"}
    assert "trained" in (tmp_path / "hdetrack_ot" / "seed1.log").read_text(encoding="utf-8")
