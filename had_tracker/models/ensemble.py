"""Several students of one model config run side by side, their maps averaged (a deep ensemble).

Students trained by one recipe with different seeds differ by several SR points on the same sequences
(README, "Measured, not shipped"); averaging their score, size and offset maps cell by cell removes part of
that seed-to-seed variance without choosing one seed. The ensemble has the student's interface
(``model(template_events, search_events) -> dict`` with the same maps), so the tracker, the exporters and
the evaluation run it unchanged; it costs one forward per member.

An ensemble checkpoint is a student checkpoint whose ``model`` entry holds ``members.<i>.*`` and whose
``ensemble`` entry records the members' count and sources (:func:`save_ensemble`); :func:`had_tracker.models.
builder.load_model` rebuilds it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from had_tracker.errors import CheckpointError
from had_tracker.models.config import ModelConfig
from had_tracker.models.heads import SCORE_CLAMP, decode_boxes
from had_tracker.models.student import Student

MAX_MEMBERS = 16


class StudentEnsemble(nn.Module):
    """``model(template_events, search_events) -> dict``: the members' score, size and offset maps averaged.

    ``score_logits`` is the logit of the averaged score map; ``pred_boxes`` is decoded from the averaged maps
    when the members return boxes (an inference-fused member may not).
    """

    def __init__(self, cfg: ModelConfig, members: int | Sequence[nn.Module]) -> None:
        super().__init__()
        if cfg.kind != "student":
            raise ValueError(f"an ensemble holds students, got a {cfg.kind} config")
        modules = [Student(cfg) for _ in range(members)] if isinstance(members, int) else list(members)
        if not 2 <= len(modules) <= MAX_MEMBERS:
            raise ValueError(f"an ensemble needs 2 to {MAX_MEMBERS} members, got {len(modules)}")
        self.cfg = cfg
        self.members = nn.ModuleList(modules)

    def forward(
        self,
        template_events: Tensor,
        search_events: Tensor,
        return_features: bool = False,
        attn_layers: tuple[int, ...] = (),
    ) -> dict[str, Tensor]:
        if return_features or attn_layers:
            raise ValueError("an ensemble has no single token stream: distil or inspect one of its members")
        outs = [member(template_events, search_events) for member in self.members]
        score, size, offset = (
            torch.stack([o[k] for o in outs]).mean(0) for k in ("score_map", "size_map", "offset_map")
        )
        score = score.clamp(SCORE_CLAMP, 1.0 - SCORE_CLAMP)
        result = {
            "score_map": score,
            "score_logits": torch.log(score) - torch.log1p(-score),
            "size_map": size,
            "offset_map": offset,
        }
        if "pred_boxes" in outs[0]:
            result["pred_boxes"], _ = decode_boxes(score, size, offset)
        return result


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_ensemble(out: str | Path, checkpoints: Sequence[str | Path], note: str = "") -> Path:
    """Write the ensemble of the student ``checkpoints`` (same model config, no ensembles) to ``out``.

    CheckpointError when a source is not a student, is itself an ensemble, or has another model config.
    """
    from had_tracker.models.builder import load_checkpoint, load_model, save_checkpoint

    paths = [Path(c) for c in checkpoints]
    if not 2 <= len(paths) <= MAX_MEMBERS:
        raise CheckpointError(f"an ensemble needs 2 to {MAX_MEMBERS} student checkpoints, got {len(paths)}")
    members, cfg, sources = [], None, []
    for path in paths:
        if "ensemble" in load_checkpoint(path):
            raise CheckpointError(f"{path} is already an ensemble; give its member checkpoints")
        model, member_cfg = load_model(path, expected_kind="student")
        if cfg is not None and member_cfg.to_dict() != cfg.to_dict():
            raise CheckpointError(f"{path}: its model config differs from {paths[0]}'s; members must share one")
        cfg = cfg or member_cfg
        members.append(model)
        sources.append({"file": path.name, "sha256": _sha256(path)})
    ensemble = StudentEnsemble(cfg, members)
    info: dict[str, Any] = {"members": len(members), "sources": sources}
    if note:
        info["note"] = note
    return save_checkpoint(out, ensemble, cfg, extra={"ensemble": info})


def ensemble_members(payload: dict[str, Any], where: str | Path) -> int:
    """The member count of an ensemble checkpoint's payload, 0 for a single network; CheckpointError if malformed."""
    info = payload.get("ensemble")
    if info is None:
        return 0
    count = info.get("members") if isinstance(info, dict) else None
    if payload.get("kind") != "student" or not isinstance(count, int) or not 2 <= count <= MAX_MEMBERS:
        raise CheckpointError(f"checkpoint {where}: malformed 'ensemble' entry {info!r}")
    return count


__all__ = ["MAX_MEMBERS", "StudentEnsemble", "ensemble_members", "save_ensemble"]
