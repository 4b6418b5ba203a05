"""Every HAD distillation term in one place: feature, relation, response, OT, temporal, asymmetric weights.

The :class:`Distiller` holds the trainable parts (projectors, temporal aligner): they go into the
optimizer and into checkpoints with the student, and are dropped at inference. The teacher is always
detached (one-way distillation). Tokens are paired by role and position: the student's event-template
token i with the teacher's event-template token i, event-search with event-search — no tiling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from had_tracker.distill.config import DistillConfig
from had_tracker.distill.sinkhorn import sinkhorn_divergence
from had_tracker.distill.task import task_losses
from had_tracker.errors import ConfigError
from had_tracker.models.config import ModelConfig

ROLES = ("template_events", "search_events")


def proportional_layer_map(teacher_depth: int, student_depth: int) -> list[tuple[int, int]]:
    """Every student block s paired with the teacher block at the same relative depth: ``[(t, s), ...]``."""
    return [(max(round((s + 1) * teacher_depth / student_depth) - 1, 0), s) for s in range(student_depth)]


def asymmetric_weights(score: Tensor, gamma: float) -> Tensor:
    """Weights ``(B, N)`` of mean 1 that grow with ``score`` (detached): ``1 + gamma * score / mean(score)``."""
    score = score.detach()
    w = 1.0 + gamma * score / score.mean(dim=1, keepdim=True).clamp_min(1e-12)
    return w / w.mean(dim=1, keepdim=True)


def cellwise_kl(p_t: Tensor, log_p_s: Tensor) -> Tensor:
    """Per-cell generalised KL ``p_t log(p_t / p_s) - p_t + p_s`` (each cell >= 0, 0 iff ``p_s = p_t``).

    Summed over a grid of distributions it equals the KL divergence, but unlike the plain terms
    ``p_t log(p_t / p_s)`` every cell is minimised at equality on its own, so any positive per-cell weights
    (the asymmetric ones) keep the teacher's map as the unique minimiser: weighting cannot move the optimum.
    """
    return p_t * (torch.log(p_t.clamp_min(1e-12)) - log_p_s) - p_t + log_p_s.exp()


def ot_weight_for_share(grad_norm_ot: float, grad_norm_rest: float, share: float) -> float:
    """The OT weight that gives OT ``share`` of the summed gradient norms: ``w g_ot / (w g_ot + g_rest) = share``.

    ``grad_norm_ot`` is the gradient norm of the *unweighted* OT term, ``grad_norm_rest`` that of the sum of
    every other term (weights applied), both w.r.t. the student's parameters on one batch.
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be in (0, 1), got {share}")
    if grad_norm_ot <= 0.0:
        raise ValueError("the OT term has no gradient on this batch: cannot set its weight from a share")
    return share * grad_norm_rest / ((1.0 - share) * grad_norm_ot)


def gradient_norms(terms: dict[str, Tensor], params: list[Tensor]) -> dict[str, float]:
    """L2 norm of each term's gradient w.r.t. ``params`` (keys without a leading ``_``, ``total`` excluded)."""
    out = {}
    for name, value in terms.items():
        if name.startswith("_") or name == "total" or not value.requires_grad:
            continue
        grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
        out[name] = float(torch.sqrt(sum((g.detach() ** 2).sum() for g in grads if g is not None)))
    return out


def calibrate_ot_weight(
    terms: dict[str, Tensor], configured_weight: float, params: list[Tensor], share: float
) -> tuple[float, dict[str, float]]:
    """The OT weight giving OT ``share`` of the gradient norms, measured on one batch's loss ``terms``.

    ``terms`` are a step's weighted terms (OT at ``configured_weight``, divided out here); the gradient norms of
    the unweighted OT term and of the sum of all other terms are taken w.r.t. ``params`` (the student's).
    Returns ``(weight, {"ot_unit": ..., "rest": ...})``.
    """
    if "ot" not in terms:
        raise ValueError("calibrate_ot_weight needs a preset with the OT term enabled")
    rest = [v for k, v in terms.items() if not k.startswith("_") and k not in ("total", "ot") and v.requires_grad]
    norms = gradient_norms({"ot_unit": terms["ot"] / configured_weight, "rest": sum(rest)}, params)
    return ot_weight_for_share(norms["ot_unit"], norms["rest"], share), norms


class TemporalAligner(nn.Module):
    """A GRU over K sub-window features of each search token, projected onto the teacher's width."""

    def __init__(self, student_dim: int, hidden: int, teacher_dim: int) -> None:
        super().__init__()
        self.gru = nn.GRU(student_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, teacher_dim)

    def forward(self, bin_tokens: Tensor) -> Tensor:
        """``(B, K, N, Ds)`` per-sub-window tokens (oldest first) -> ``(B, N, Dt)``."""
        b, k, n, d = bin_tokens.shape
        seq = bin_tokens.permute(0, 2, 1, 3).reshape(b * n, k, d)
        _, last = self.gru(seq)
        return self.out(last[-1]).reshape(b, n, -1)


class Distiller(nn.Module):
    """Computes the weighted loss terms of one training step; owns the trainable distillation parts."""

    def __init__(self, cfg: DistillConfig, teacher_cfg: ModelConfig | None, student_cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.needs_teacher and teacher_cfg is None:
            raise ConfigError(f"distillation preset {cfg.name!r} needs a teacher")
        if teacher_cfg is not None and (
            teacher_cfg.search_size != student_cfg.search_size or teacher_cfg.patch_size != student_cfg.patch_size
        ):
            raise ConfigError("teacher and student must share the crop geometry (search size and patch size)")
        self.layer_map: list[tuple[int, int]] = []
        if cfg.feature.enabled or cfg.relation.enabled:
            pairs = cfg.feature.layer_map or proportional_layer_map(teacher_cfg.arch.depth, student_cfg.arch.depth)
            self.layer_map = [(int(t), int(s)) for t, s in pairs]
            for t, s in self.layer_map:
                if not (0 <= t < teacher_cfg.arch.depth and 0 <= s < student_cfg.arch.depth):
                    raise ConfigError(f"feature.layer_map pair {[t, s]} is outside the teacher/student depth")
        ds = student_cfg.arch.dim
        dt = teacher_cfg.arch.dim if teacher_cfg is not None else ds
        self.projectors = nn.ModuleList(nn.Linear(ds, dt) for _ in self.layer_map) if cfg.feature.enabled else None
        self.aligner = TemporalAligner(ds, cfg.temporal.hidden, dt) if cfg.temporal.enabled else None

    @property
    def teacher_attn_layers(self) -> tuple[int, ...]:
        """Teacher blocks whose attention the relation term reads."""
        return (self.layer_map[-1][0],) if self.cfg.relation.enabled else ()

    @property
    def student_attn_layers(self) -> tuple[int, ...]:
        """Student blocks whose attention the relation term reads."""
        return (self.layer_map[-1][1],) if self.cfg.relation.enabled else ()

    @property
    def needs_features(self) -> bool:
        """True when a term reads intermediate tokens or attention."""
        return self.cfg.feature.enabled or self.cfg.relation.enabled or self.cfg.temporal.enabled

    def _weights(self, error: Tensor, confidence: Tensor | None) -> Tensor:
        asym = self.cfg.asymmetric
        if not asym.enabled:
            return torch.ones_like(error)
        score = error if asym.mode == "discrepancy" or confidence is None else confidence
        return asymmetric_weights(score, asym.gamma)

    @staticmethod
    def _event_tokens(tokens: Tensor, layout: dict[str, slice]) -> Tensor:
        return torch.cat([tokens[:, layout[r]] for r in ROLES], dim=1)

    def _token_confidence(self, teacher_out: dict, n_template: int) -> Tensor:
        # Teacher confidence per event token: its score at the token's search cell; template tokens get the mean.
        cells = teacher_out["score_map"].detach().flatten(1)
        return torch.cat([cells.mean(1, keepdim=True).expand(-1, n_template), cells], dim=1)

    def calibrate_ot(self, terms: dict[str, Tensor], params: list[Tensor]) -> dict[str, float]:
        """Set the OT weight from ``cfg.ot.gradient_share`` on one batch's ``terms`` (see calibrate_ot_weight)."""
        import dataclasses

        weight, norms = calibrate_ot_weight(terms, self.cfg.ot.weight, params, float(self.cfg.ot.gradient_share))
        self.cfg = dataclasses.replace(self.cfg, ot=dataclasses.replace(self.cfg.ot, weight=weight))
        return {**norms, "weight": weight}

    def forward(
        self, student_out: dict, gt_boxes: Tensor, teacher_out: dict | None = None, bin_tokens: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Weighted terms (keys = term names) and ``total``; keys starting with ``_`` are diagnostics, not summed."""
        cfg = self.cfg
        terms = task_losses(student_out, gt_boxes, cfg.task)
        if cfg.needs_teacher:
            if teacher_out is None:
                raise ValueError(f"preset {cfg.name!r} needs teacher outputs")
            teacher_out = {k: (v.detach() if isinstance(v, Tensor) else v) for k, v in teacher_out.items()}
            n_template = student_out["layout"]["template_events"].stop if "layout" in student_out else 0
            confidence = self._token_confidence(teacher_out, n_template) if "layout" in student_out else None
        if cfg.feature.enabled:
            losses = []
            for (t, s), proj in zip(self.layer_map, self.projectors, strict=True):
                target = self._event_tokens(teacher_out["tokens"][t].detach(), teacher_out["layout"])
                target = nnf.layer_norm(target, target.shape[-1:])
                error = (proj(student_out["tokens"][s]) - target).pow(2).mean(-1)
                losses.append((self._weights(error, confidence) * error).mean())
            terms["feature"] = cfg.feature.weight * torch.stack(losses).mean()
        if cfg.relation.enabled:
            t_layer, s_layer = self.layer_map[-1]
            a_s = student_out["attn"][s_layer].mean(1)
            idx = torch.cat(
                [torch.arange(teacher_out["layout"][r].start, teacher_out["layout"][r].stop) for r in ROLES]
            )
            a_t = teacher_out["attn"][t_layer].detach().mean(1)[:, idx][:, :, idx]
            a_t = a_t / a_t.sum(-1, keepdim=True).clamp_min(1e-12)
            error = (a_s - a_t).norm(dim=-1)
            terms["relation"] = cfg.relation.weight * (self._weights(error, confidence) * error).mean()
        if cfg.response.enabled:
            tau = cfg.response.temperature
            p_t = nnf.softmax(teacher_out["score_logits"].flatten(1) / tau, dim=1)
            log_p_s = nnf.log_softmax(student_out["score_logits"].flatten(1) / tau, dim=1)
            w = self._weights((p_t - log_p_s.exp()).abs(), p_t)
            terms["response"] = cfg.response.weight * tau**2 * (w * cellwise_kl(p_t, log_p_s)).sum(1).mean()
        if cfg.ot.enabled:
            tau = cfg.ot.temperature
            p_t = nnf.softmax(teacher_out["score_logits"].flatten(1) / tau, dim=1)
            p_s = nnf.softmax(student_out["score_logits"].flatten(1) / tau, dim=1)
            ot = sinkhorn_divergence(p_t, p_s, cfg.ot.epsilon, cfg.ot.iterations)
            terms["ot"] = cfg.ot.weight * ot.mean()
        if cfg.temporal.enabled:
            if bin_tokens is None:
                raise ValueError("the temporal term needs the student's per-sub-window search tokens")
            target = teacher_out["search_tokens"].detach()
            target = nnf.layer_norm(target, target.shape[-1:])
            error = (self.aligner(bin_tokens) - target).pow(2).mean(-1)
            conf = teacher_out["score_map"].detach().flatten(1)
            terms["temporal"] = cfg.temporal.weight * (self._weights(error, conf) * error).mean()
        terms["total"] = sum(v for k, v in terms.items() if not k.startswith("_"))
        return terms


def student_bin_tokens(student: nn.Module, template_events: Tensor, search_bins: Tensor) -> Tensor:
    """Final search tokens of the student on each of K sub-windows: ``(B, K, Nx, D)`` from ``search_bins (B, K, C, S, S)``."""
    b, k = search_bins.shape[:2]
    template = template_events.unsqueeze(1).expand(-1, k, -1, -1, -1).flatten(0, 1)
    module = student.module if hasattr(student, "module") else student  # unwrap DDP
    tokens = module.encode(template, search_bins.flatten(0, 1))
    return tokens.reshape(b, k, *tokens.shape[1:])
