"""Student ensembles: averaged maps, checkpoint round trip, the tracker and the ONNX runtime, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from had_tracker.cli import main
from had_tracker.errors import CheckpointError
from had_tracker.models.builder import ModelConfig, build_model, load_checkpoint, load_model, save_checkpoint
from had_tracker.models.ensemble import StudentEnsemble, save_ensemble
from had_tracker.models.heads import fuse_for_inference


def _students(tmp_path, seeds=(0, 1, 2)):
    cfg = ModelConfig.from_yaml("cpu-tiny", "student")
    paths = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = build_model(cfg)
        with torch.no_grad():  # a score bias per seed, so that the members' maps differ visibly
            model.head.score[-1].bias.fill_(-1.0 - seed)
        paths.append(save_checkpoint(tmp_path / f"s{seed}.pt", model.eval(), cfg))
    return cfg, paths


def _inputs(cfg, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = cfg.events.channels
    return (
        torch.rand(1, c, cfg.template_size, cfg.template_size, generator=g),
        torch.rand(1, c, cfg.search_size, cfg.search_size, generator=g),
    )


def test_maps_are_the_members_mean(tmp_path):
    cfg, paths = _students(tmp_path)
    ensemble, loaded_cfg = load_model(save_ensemble(tmp_path / "ens.pt", paths))
    assert isinstance(ensemble, StudentEnsemble) and len(ensemble.members) == 3 and loaded_cfg == cfg
    members = [load_model(p)[0] for p in paths]
    t, s = _inputs(cfg)
    with torch.no_grad():
        out = ensemble(t, s)
        each = [m(t, s) for m in members]
    for key in ("score_map", "size_map", "offset_map"):
        expected = torch.stack([o[key] for o in each]).mean(0)
        assert torch.allclose(out[key], expected, atol=1e-6), key
        assert not torch.allclose(each[0][key], each[1][key]), key  # the test would pass for identical members
    assert torch.allclose(torch.sigmoid(out["score_logits"]), out["score_map"], atol=1e-5)
    # the box is decoded from the averaged maps: at their arg-max cell
    f = cfg.feat_size
    cell = int(out["score_map"].reshape(-1).argmax())
    cx = (cell % f + out["offset_map"][0, 0].reshape(-1)[cell]) / f
    assert float(out["pred_boxes"][0, 0]) == pytest.approx(float(cx), abs=1e-6)


def test_checkpoint_records_members_and_sources(tmp_path):
    _, paths = _students(tmp_path, seeds=(0, 1))
    payload = load_checkpoint(save_ensemble(tmp_path / "ens.pt", paths, note="seeds 0 and 1"))
    info = payload["ensemble"]
    assert info["members"] == 2 and info["note"] == "seeds 0 and 1"
    assert [s["file"] for s in info["sources"]] == ["s0.pt", "s1.pt"]
    assert all(len(s["sha256"]) == 64 for s in info["sources"])
    assert sorted({k.split(".")[1] for k in payload["model"]}) == ["0", "1"]


def test_fused_inference_form_matches(tmp_path):
    cfg, paths = _students(tmp_path)
    ensemble, _ = load_model(save_ensemble(tmp_path / "ens.pt", paths))
    t, s = _inputs(cfg, seed=3)
    with torch.no_grad():
        before = ensemble(t, s)
        fuse_for_inference(ensemble, decode_boxes=False)
        after = ensemble(t, s)
    assert "pred_boxes" not in after
    for key in ("score_map", "size_map", "offset_map"):
        assert torch.allclose(before[key], after[key], atol=1e-5), key


def test_tracker_runs_an_ensemble_by_every_runtime(tmp_path):
    from had_tracker.events.container import Events
    from had_tracker.sync.synchronizer import AlignedSample
    from had_tracker.tracking.tracker import Tracker, TrackerConfig

    _, paths = _students(tmp_path)
    ens = save_ensemble(tmp_path / "ens.pt", paths)
    rng = np.random.default_rng(0)

    def window(seq: int) -> AlignedSample:
        n, t0 = 400, seq * 20_000_000
        events = Events.from_arrays(
            np.sort(rng.integers(t0, t0 + 20_000_000, n)).astype(np.int64),
            rng.integers(40, 80, n).astype(np.uint16),
            rng.integers(40, 80, n).astype(np.uint16),
            rng.integers(0, 2, n).astype(np.int8),
            160,
            120,
        )
        return AlignedSample(seq=seq, window_start_ns=t0, window_end_ns=t0 + 20_000_000, events=events)

    first, second = window(0), window(1)
    boxes = {}
    for runtime in ("torch", "onnxruntime"):
        tracker = Tracker(TrackerConfig(checkpoint=str(ens), student_runtime=runtime, freeze_student=False))
        assert isinstance(tracker.student.model, StudentEnsemble)
        tracker.initialize(first, [45, 45, 30, 30])
        boxes[runtime] = tracker.update(second).box_xywh
        assert tracker.student.runtime == runtime
    np.testing.assert_allclose(boxes["torch"], boxes["onnxruntime"], atol=1e-3)


def test_refusals(tmp_path):
    cfg, paths = _students(tmp_path, seeds=(0, 1))
    with pytest.raises(CheckpointError, match="2 to 16"):
        save_ensemble(tmp_path / "one.pt", paths[:1])
    ens = save_ensemble(tmp_path / "ens.pt", paths)
    with pytest.raises(CheckpointError, match="already an ensemble"):
        save_ensemble(tmp_path / "nested.pt", [ens, paths[0]])
    small = ModelConfig.from_yaml("cpu-small", "student")
    other = save_checkpoint(tmp_path / "small.pt", build_model(small).eval(), small)
    with pytest.raises(CheckpointError, match="model config differs"):
        save_ensemble(tmp_path / "mixed.pt", [paths[0], other])
    ensemble, _ = load_model(ens)
    t, s = _inputs(cfg)
    with pytest.raises(ValueError, match="no single token stream"):
        ensemble(t, s, return_features=True)
    payload = load_checkpoint(ens)
    payload["ensemble"] = {"members": 1}
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    with pytest.raises(CheckpointError, match="malformed 'ensemble'"):
        load_model(bad)


def test_cli_writes_an_ensemble_and_training_refuses_to_start_from_one(tmp_path):
    _, paths = _students(tmp_path, seeds=(0, 1))
    out = tmp_path / "ens.pt"
    assert main(["train", "ensemble", *map(str, paths), "--out", str(out), "--note", "cli"]) == 0
    assert load_checkpoint(out)["ensemble"]["note"] == "cli"

    from had_tracker.training.loop import _load_init_weights

    cfg = ModelConfig.from_yaml("cpu-tiny", "student")
    with pytest.raises(CheckpointError, match="ensemble"):
        _load_init_weights(out, build_model(cfg), cfg, "student")
