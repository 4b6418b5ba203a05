"""Shapes and interfaces of the teacher and the student for every model preset."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from had_tracker.errors import ConfigError
from had_tracker.models.builder import ModelConfig, build_model
from had_tracker.models.heads import decode_boxes

PRESETS = ("cpu-tiny", "cpu-small", "gpu-base")


def _inputs(cfg: ModelConfig, batch: int) -> dict[str, torch.Tensor]:
    c, t, s = cfg.events.channels, cfg.template_size, cfg.search_size
    g = torch.Generator().manual_seed(0)
    return {
        "template_rgb": torch.randn(batch, 3, t, t, generator=g),
        "template_events": torch.rand(batch, c, t, t, generator=g),
        "search_rgb": torch.randn(batch, 3, s, s, generator=g),
        "search_events": torch.rand(batch, c, s, s, generator=g),
    }


def _shallow(cfg: ModelConfig) -> ModelConfig:
    # gpu-base at full depth is too slow for a unit test on CPU; one block has the same shapes.
    return replace(cfg, arch=replace(cfg.arch, depth=1))


@pytest.mark.parametrize("preset", PRESETS)
def test_student_outputs_have_documented_shapes(preset):
    cfg = _shallow(ModelConfig.from_yaml(preset, "student"))
    model = build_model(cfg).eval()
    x = _inputs(cfg, 2)
    with torch.no_grad():
        out = model(x["template_events"], x["search_events"], return_features=True, attn_layers=(0,))
    f = cfg.feat_size
    assert out["score_map"].shape == (2, 1, f, f)
    assert out["size_map"].shape == (2, 2, f, f)
    assert out["offset_map"].shape == (2, 2, f, f)
    assert out["pred_boxes"].shape == (2, 4)
    assert 0.0 < out["score_map"].min() and out["score_map"].max() < 1.0
    n = cfg.template_tokens + cfg.search_tokens
    assert out["tokens"][0].shape == (2, n, cfg.arch.dim)
    assert out["attn"][0].shape == (2, cfg.arch.heads, n, n)


@pytest.mark.parametrize("preset", PRESETS)
def test_teacher_outputs_have_documented_shapes_and_twice_the_tokens(preset):
    cfg = _shallow(ModelConfig.from_yaml(preset, "teacher"))
    model = build_model(cfg).eval()
    x = _inputs(cfg, 1)
    with torch.no_grad():
        out = model(**x, return_features=True)
    f = cfg.feat_size
    assert out["score_map"].shape == (1, 1, f, f)
    assert out["pred_boxes"].shape == (1, 4)
    assert out["tokens"][0].shape[1] == 2 * (cfg.template_tokens + cfg.search_tokens)


def test_cpu_tiny_student_is_genuinely_smaller_than_its_teacher():
    teacher_cfg = ModelConfig.from_yaml("cpu-tiny", "teacher")
    student_cfg = ModelConfig.from_yaml("cpu-tiny", "student")
    assert student_cfg.arch.dim < teacher_cfg.arch.dim and student_cfg.arch.depth < teacher_cfg.arch.depth
    n_teacher = sum(p.numel() for p in build_model(teacher_cfg).parameters())
    n_student = sum(p.numel() for p in build_model(student_cfg).parameters())
    assert n_student <= 0.25 * n_teacher


def test_gpu_base_is_the_papers_vit_b16_setting():
    cfg = ModelConfig.from_yaml("gpu-base", "teacher")
    assert (cfg.arch.dim, cfg.arch.depth, cfg.arch.heads, cfg.patch_size) == (768, 12, 12, 16)
    assert (cfg.template_size, cfg.search_size) == (128, 256)


def test_decode_boxes_reads_the_argmax_cell_plus_offset():
    f = 4
    score = torch.full((1, 1, f, f), 0.1)
    score[0, 0, 2, 1] = 0.9  # row 2, column 1
    size = torch.zeros(1, 2, f, f)
    size[0, :, 2, 1] = torch.tensor([0.25, 0.5])
    offset = torch.full((1, 2, f, f), 0.5)
    boxes, scores = decode_boxes(score, size, offset)
    np.testing.assert_allclose(boxes[0].numpy(), [(1 + 0.5) / f, (2 + 0.5) / f, 0.25, 0.5])
    assert scores.item() == pytest.approx(0.9)


def test_unknown_preset_and_unknown_keys_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown models preset"):
        ModelConfig.from_yaml("no-such-preset")
    bad = tmp_path / "bad.yaml"
    bad.write_text("template_size: 48\nsearch_size: 96\nstudent: {dim: 32, depht: 2}\n")
    with pytest.raises(ConfigError, match="depht"):
        ModelConfig.from_yaml(bad, "student")


@pytest.mark.parametrize("kind", ["student", "teacher"])
def test_fused_inference_head_gives_the_same_outputs_with_fewer_operators(kind):
    from had_tracker.models.export import example_inputs
    from had_tracker.models.heads import CenterHead, FusedCenterHead, fuse_for_inference

    cfg = ModelConfig.from_yaml("cpu-tiny", kind)
    torch.manual_seed(0)
    model = build_model(cfg)
    for module in model.head.modules():  # non-trivial batch-norm statistics, so folding is really exercised
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    inputs = example_inputs(cfg, batch=2)
    with torch.no_grad():
        reference = model(*inputs)
        assert isinstance(model.head, CenterHead)
        fused = fuse_for_inference(model)
        assert isinstance(fused.head, FusedCenterHead)
        out = fused(*inputs)
    for key in ("score_map", "score_logits", "size_map", "offset_map", "pred_boxes"):
        torch.testing.assert_close(out[key], reference[key], atol=1e-5, rtol=1e-4)
    convs = [m for m in fused.head.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 2 and not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.head.modules())
    # the student's small grouped convolution runs dense (block diagonal), the teacher's stays grouped
    assert fused.head.conv2.groups == (1 if kind == "student" else 3)
    head = build_model(cfg).eval().head
    feature_map = torch.randn(1, cfg.arch.dim, cfg.feat_size, cfg.feat_size)
    with torch.no_grad():
        with_boxes, maps_only = (
            FusedCenterHead(head)(feature_map),
            FusedCenterHead(head, decode_boxes=False)(feature_map),
        )
    assert "pred_boxes" in with_boxes and set(maps_only) == set(with_boxes) - {"pred_boxes"}
    for key, value in maps_only.items():
        torch.testing.assert_close(value, with_boxes[key], rtol=0, atol=0)
    with pytest.raises(ValueError, match="eval-mode"):
        FusedCenterHead(build_model(cfg).head.train())
    double = build_model(cfg).double().eval()
    expected = double(*(x.double() for x in inputs))["score_map"]
    fused_double = fuse_for_inference(double)  # follows the model's dtype (and device)
    assert fused_double.head.conv1.weight.dtype == torch.float64
    torch.testing.assert_close(fused_double(*(x.double() for x in inputs))["score_map"], expected)


def test_the_tracker_runs_the_fused_head_of_a_checkpoint_but_leaves_a_given_model_alone(tmp_path):
    from had_tracker.models.builder import save_checkpoint
    from had_tracker.models.heads import CenterHead, FusedCenterHead
    from had_tracker.tracking.tracker import Tracker

    cfg = ModelConfig.from_yaml("cpu-tiny", "student")
    model = build_model(cfg)
    path = save_checkpoint(tmp_path / "s.pt", model, cfg)
    head = Tracker(checkpoint=path).student.model.head
    assert isinstance(head, FusedCenterHead) and not head.decode_boxes  # the tracker decodes its own peak
    Tracker(model=model, model_config=cfg)
    assert isinstance(model.head, CenterHead)


def test_patch_embedding_as_one_matrix_product_equals_the_convolution():
    from had_tracker.models.complexity import count_macs
    from had_tracker.models.vit import PatchEmbed

    torch.manual_seed(0)
    embed = PatchEmbed(6, 48, 8)
    for shape in ((2, 6, 96, 96), (1, 6, 100, 90)):  # the second is not a multiple of the patch: conv fallback
        x = torch.randn(*shape)
        reference = embed.proj(x).flatten(2).transpose(1, 2)
        torch.testing.assert_close(embed(x), reference, atol=1e-5, rtol=1e-5)
        assert count_macs(embed, (x,)) == reference.numel() * 6 * 8 * 8  # counted once, whichever path ran


def test_interleaved_latency_runs_each_model_repeats_times_in_blocks():
    from had_tracker.models.complexity import measure_latencies_ms

    calls: list[str] = []

    class Probe(torch.nn.Module):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def forward(self, x):
            calls.append(self.name)
            return x

    x = torch.zeros(1)
    out = measure_latencies_ms([(Probe("a"), (x,)), (Probe("b"), (x,))], threads=1, warmup=1, repeats=5, block=2)
    assert calls == ["a", "b"] + ["a", "a", "b", "b", "a", "a", "b", "b", "a", "b"]
    assert len(out) == 2 and all(r["min"] <= r["median"] <= r["p90"] for r in out)
    with pytest.raises(ValueError, match="block"):
        measure_latencies_ms([(Probe("a"), (x,))], block=0)
