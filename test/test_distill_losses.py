"""Constructed-input tests of every distillation term, the switches and the trainable distillation parts."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from had_tracker.distill.config import DistillConfig, TaskConfig
from had_tracker.distill.hierarchical import Distiller, asymmetric_weights, proportional_layer_map, student_bin_tokens
from had_tracker.distill.sinkhorn import grid_cost, sinkhorn_divergence, sinkhorn_potentials
from had_tracker.distill.task import center_heatmap, focal_loss, task_losses
from had_tracker.models.builder import ModelConfig, build_model
from had_tracker.training.config import TrainConfig
from had_tracker.training.loop import TrainStep, make_optimizer

F = 12
TERMS = ("feature", "relation", "response", "ot", "temporal")


def blob(row: float, col: float, sigma: float = 1.0) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(F, dtype=torch.float32), torch.arange(F, dtype=torch.float32), indexing="ij")
    m = torch.exp(-((y - row) ** 2 + (x - col) ** 2) / (2 * sigma**2)).flatten()[None]
    return m / m.sum()


def ot(a: torch.Tensor, b: torch.Tensor) -> float:
    return sinkhorn_divergence(a, b, epsilon=0.01, iterations=50).item()


def test_ot_of_identical_maps_is_zero():
    a = blob(5, 5)
    assert abs(ot(a, a)) < 1e-6
    r = torch.softmax(torch.randn(3, F * F, generator=torch.Generator().manual_seed(0)), dim=1)
    assert sinkhorn_divergence(r, r, 0.01, 50).abs().max().item() < 1e-5


def test_ot_grows_with_shift_distance():
    a = blob(5, 4)
    costs = [ot(a, blob(5, 4 + d)) for d in range(1, 6)]
    assert all(c2 > c1 for c1, c2 in zip(costs, costs[1:], strict=False)), costs
    # squared ground cost: about (d / F)^2 for a pure translation
    assert costs[0] == pytest.approx((1 / F) ** 2, rel=0.1)


def test_ot_charges_a_one_cell_shift_far_less_than_a_pointwise_loss_does():
    a = blob(5, 4, sigma=0.7)
    near, far = blob(5, 5, sigma=0.7), blob(5, 9, sigma=0.7)
    l1 = lambda p, q: (p - q).abs().sum().item()  # noqa: E731
    # relative to a far shift, a one-cell misregistration is almost free under OT, nearly full price pointwise
    assert ot(a, near) / ot(a, far) < 0.1
    assert l1(a, near) / l1(a, far) > 0.5


def test_separable_sinkhorn_matches_the_dense_log_domain_reference():
    g = torch.Generator().manual_seed(1)
    a, b = torch.softmax(torch.randn(2, F * F, generator=g), 1), torch.softmax(torch.randn(2, F * F, generator=g), 1)
    eps, iters = 0.02, 30
    cost = grid_cost(F)
    f, gg = torch.zeros_like(a), torch.zeros_like(b)
    for _ in range(iters):
        f = -eps * torch.logsumexp(-cost[None] / eps + (gg / eps + b.log())[:, None, :], 2)
        gg = -eps * torch.logsumexp(-cost[None] / eps + (f / eps + a.log())[:, :, None], 1)
    f2, g2 = sinkhorn_potentials(a, b, eps, iters)
    torch.testing.assert_close(f2, f, atol=1e-5, rtol=0)
    torch.testing.assert_close(g2, gg, atol=1e-5, rtol=0)


def test_ot_gradient_moves_the_student_map_toward_the_teacher():
    a = blob(5, 3)
    logits = torch.log(blob(5, 7)).clone().requires_grad_(True)
    before = ot(a, torch.softmax(logits, 1))
    sinkhorn_divergence(a, torch.softmax(logits, 1), 0.01, 50).sum().backward()
    with torch.no_grad():
        logits -= 50.0 * logits.grad
    assert ot(a, torch.softmax(logits, 1)) < before


def test_ot_is_finite_in_float32_for_near_one_hot_maps():
    a = torch.full((1, F * F), 1e-9)
    a[0, 0] = 1.0
    b = torch.full((1, F * F), 1e-9)
    b[0, -1] = 1.0
    value = sinkhorn_divergence(a / a.sum(), b / b.sum(), 0.001, 100)
    assert torch.isfinite(value).all() and value.item() > 0.5


def test_center_heatmap_peaks_at_the_box_centre_cell_and_focal_is_low_there():
    boxes = torch.tensor([[0.3, 0.7, 0.2, 0.1]])
    heat = center_heatmap(boxes, F)
    assert heat[0, 0, int(0.7 * F), int(0.3 * F)] == 1.0 and int((heat == 1).sum()) == 1
    good = heat.clamp(1e-4, 1 - 1e-4)
    bad = torch.roll(good, shifts=4, dims=3)
    assert focal_loss(good, heat) < 0.1 * focal_loss(bad, heat)


def test_asymmetric_weights_have_mean_one_and_follow_the_discrepancy():
    d = torch.tensor([[0.0, 1.0, 3.0]])
    w = asymmetric_weights(d, gamma=1.0)
    assert w.mean().item() == pytest.approx(1.0)
    assert w[0, 0] < w[0, 1] < w[0, 2]


def test_proportional_layer_map_pairs_relative_depths():
    assert proportional_layer_map(4, 3) == [(0, 0), (2, 1), (3, 2)]
    assert proportional_layer_map(12, 12) == [(i, i) for i in range(12)]


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    tc, sc = ModelConfig.from_yaml("cpu-tiny", "teacher"), ModelConfig.from_yaml("cpu-tiny", "student")
    teacher, student = build_model(tc).eval(), build_model(sc)
    g = torch.Generator().manual_seed(0)
    c, b = sc.events.channels, 2
    batch = {
        "template_rgb": torch.randn(b, 3, 48, 48, generator=g),
        "template_events_teacher": torch.rand(b, c, 48, 48, generator=g),
        "search_rgb": torch.randn(b, 3, 96, 96, generator=g),
        "search_events_teacher": torch.rand(b, c, 96, 96, generator=g),
        "template_events": torch.rand(b, c, 48, 48, generator=g),
        "search_events": torch.rand(b, c, 96, 96, generator=g),
        "search_bins": torch.rand(b, sc.events.temporal_bins, c, 96, 96, generator=g),
        "search_box": torch.tensor([[0.5, 0.5, 0.2, 0.3], [0.4, 0.6, 0.1, 0.1]]),
    }
    return tc, sc, teacher, student, batch


def _terms(nets, cfg: DistillConfig) -> tuple[dict, Distiller]:
    tc, sc, teacher, student, batch = nets
    torch.manual_seed(0)
    step = TrainStep(student, Distiller(cfg, tc, sc), teacher)
    return step(batch), step.distiller


def test_each_switch_really_removes_its_term(nets):
    full = DistillConfig.from_yaml("had")
    terms, _ = _terms(nets, full)
    assert set(TERMS) <= set(terms)
    for name in TERMS:
        cfg = dataclasses.replace(full, **{name: dataclasses.replace(getattr(full, name), enabled=False)})
        without, _ = _terms(nets, cfg)
        assert name not in without
        summed = sum(v for k, v in without.items() if k != "total" and not k.startswith("_"))
        torch.testing.assert_close(without["total"], summed)
    none, distiller = _terms(nets, DistillConfig.from_yaml("none"))
    assert set(k for k in none if not k.startswith("_")) == {"focal", "giou", "l1", "total"}
    assert len(list(distiller.parameters())) == 0


def test_zero_weight_gives_a_zero_term(nets):
    full = DistillConfig.from_yaml("had")
    cfg = dataclasses.replace(full, ot=dataclasses.replace(full.ot, weight=0.0))
    terms, _ = _terms(nets, cfg)
    assert terms["ot"].item() == 0.0


def test_temporal_aligner_and_projectors_receive_gradients_and_are_optimised(nets):
    tc, sc, teacher, student, batch = nets
    cfg = DistillConfig.from_yaml("had")
    step = TrainStep(student, Distiller(cfg, tc, sc), teacher)
    step(batch)["total"].backward()
    d = step.distiller
    assert d.aligner.gru.weight_ih_l0.grad.abs().sum() > 0
    assert d.aligner.out.weight.grad.abs().sum() > 0
    assert all(p.weight.grad.abs().sum() > 0 for p in d.projectors)
    optimizer = make_optimizer(step, TrainConfig())
    optimised = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert all(id(p) in optimised for p in d.parameters())
    assert all(id(p) not in optimised for p in teacher.parameters())
    state = step.state_dict()
    assert any(k.startswith("distiller.aligner.gru") for k in state) and any("projectors.0" in k for k in state)
    assert not any(k.startswith("teacher") for k in state)


def test_student_bin_tokens_shape(nets):
    _, sc, _, student, batch = nets
    tokens = student_bin_tokens(student, batch["template_events"], batch["search_bins"])
    assert tokens.shape == (2, sc.events.temporal_bins, sc.search_tokens, sc.arch.dim)


def test_teacher_is_detached_one_way(nets):
    tc, sc, teacher, student, batch = nets
    teacher.requires_grad_(True)
    try:
        step = TrainStep(student, Distiller(DistillConfig.from_yaml("had"), tc, sc), teacher)
        step(batch)["total"].backward()
        assert all(p.grad is None for p in teacher.parameters())
    finally:
        teacher.requires_grad_(False)


def test_presets_form_the_ablation_ladder():
    enabled = {
        name: {t for t in TERMS if getattr(DistillConfig.from_yaml(name), t).enabled}
        for name in ("none", "response", "hdetrack", "hdetrack+ot", "hdetrack+temporal", "had")
    }
    assert enabled["none"] == set()
    assert enabled["response"] == {"response"}
    assert enabled["hdetrack"] == {"feature", "relation", "response"}
    assert enabled["hdetrack+ot"] == enabled["hdetrack"] | {"ot"}
    assert enabled["hdetrack+temporal"] == enabled["hdetrack"] | {"temporal"}
    assert enabled["had"] == set(TERMS) and DistillConfig.from_yaml("had").asymmetric.enabled


def test_target_cell_presets_differ_from_their_rung_only_in_where_the_box_terms_read():
    for variant, base in (("none-target", "none"), ("response-target", "response")):
        v, b = DistillConfig.from_yaml(variant).to_dict(), DistillConfig.from_yaml(base).to_dict()
        assert v["task"]["box_at"] == "target" and b["task"]["box_at"] == "peak"
        assert {k: x for k, x in v.items() if k not in ("name", "task")} == {
            k: x for k, x in b.items() if k not in ("name", "task")
        }


def _minimise_response(per_cell, steps: int = 1500, seed: int = 0):
    """Minimise sum_cells w * per_cell(p_t, log_p_s) over free student logits, w = HAD's asymmetric weights."""
    import torch.nn.functional as nnf

    from had_tracker.distill.hierarchical import asymmetric_weights

    g = torch.Generator().manual_seed(seed)
    p_t = nnf.softmax(torch.randn(4, 64, generator=g), dim=1)
    logits = torch.zeros(4, 64, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.05)
    for _ in range(steps):
        log_p_s = nnf.log_softmax(logits, dim=1)
        w = asymmetric_weights((p_t - log_p_s.exp()).abs(), 1.0)
        loss = (w * per_cell(p_t, log_p_s)).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    p_s = nnf.softmax(logits.detach(), dim=1)
    kl = (p_t * (p_t.log() - p_s.log())).sum(1)
    return kl, p_t, p_s


def test_weighted_response_term_alone_recovers_the_teachers_map():
    from had_tracker.distill.hierarchical import cellwise_kl

    kl, p_t, p_s = _minimise_response(cellwise_kl)
    assert kl.max() < 1e-4
    assert torch.equal(p_t.argmax(1), p_s.argmax(1))


def test_the_plain_kl_terms_under_the_same_weights_move_the_optimum():
    """The regression: weighting the plain terms p_t log(p_t / p_s) leaves the minimiser away from the teacher."""
    kl, _, _ = _minimise_response(lambda p_t, log_p_s: p_t * (torch.log(p_t) - log_p_s))
    assert kl.max() > 1e-2


def test_ot_weight_is_set_from_a_measured_gradient_share():
    from had_tracker.distill.hierarchical import calibrate_ot_weight, gradient_norms

    x = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    terms = {"response": (x**2).sum() * 50.0, "ot": 3.0 * (x.sum() ** 2) * 1e-3}
    terms["total"] = terms["response"] + terms["ot"]
    weight, norms = calibrate_ot_weight(terms, 3.0, [x], 0.25)
    new = {"ot": terms["ot"] / 3.0 * weight, "rest": terms["response"]}
    measured = gradient_norms(new, [x])
    assert measured["ot"] / (measured["ot"] + measured["rest"]) == pytest.approx(0.25, rel=1e-6)
    assert norms["ot_unit"] > 0 and weight > 3.0  # at weight 3 the OT gradient was far below a quarter


def test_ot_gradient_share_must_be_a_fraction():
    from had_tracker.distill.config import OTConfig

    with pytest.raises(ValueError, match="gradient_share"):
        OTConfig(gradient_share=1.5)


def _head_outputs_with_box_at(f: int, gt: torch.Tensor, peak_cell: tuple[int, int]) -> dict:
    """Maps whose score peak is at ``peak_cell`` while the size/offset maps hold ``gt`` exactly at gt's own cell."""
    b = gt.shape[0]
    score = torch.full((b, 1, f, f), 0.01, dtype=gt.dtype)
    score[:, 0, peak_cell[0], peak_cell[1]] = 0.9
    size = torch.full((b, 2, f, f), 0.5, dtype=gt.dtype)
    offset = torch.full((b, 2, f, f), 0.5, dtype=gt.dtype)
    for i in range(b):
        col, row = int(gt[i, 0] * f), int(gt[i, 1] * f)
        size[i, :, row, col] = gt[i, 2:]
        offset[i, :, row, col] = gt[i, :2] * f - torch.tensor([col, row], dtype=gt.dtype)
    size.requires_grad_(True)
    from had_tracker.models.heads import decode_boxes

    boxes, _ = decode_boxes(score, size, offset)
    return {"score_map": score, "size_map": size, "offset_map": offset, "pred_boxes": boxes}


def test_box_terms_read_the_target_cell_or_the_peak():
    f = 8
    gt = torch.tensor([[0.33, 0.61, 0.40, 0.15], [0.70, 0.20, 0.10, 0.30]], dtype=torch.float64)
    out = _head_outputs_with_box_at(f, gt, peak_cell=(0, 0))  # the peak far from both targets
    at_target = task_losses(out, gt, TaskConfig(box_at="target"))
    assert at_target["giou"].item() == pytest.approx(0.0, abs=1e-6) and at_target["l1"].item() == pytest.approx(0.0)
    at_target["l1"].backward(retain_graph=True)
    assert out["size_map"].grad.abs().sum().item() == 0.0  # exact at its cell: nothing to learn
    at_peak = task_losses(out, gt, TaskConfig(box_at="peak"))
    assert at_peak["giou"].item() > 0.5 and at_peak["l1"].item() > 1.0  # the peak's cell holds the 0.5 fill
    out["size_map"].grad = None
    at_peak["l1"].backward()
    grad = out["size_map"].grad.abs().sum(dim=1)
    assert grad[:, 0, 0].min().item() > 0 and grad.sum().item() == pytest.approx(grad[:, 0, 0].sum().item())
    with pytest.raises(ValueError, match="box_at"):
        TaskConfig(box_at="centre")
