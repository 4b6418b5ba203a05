"""Distillation configuration: one weight and one switch per term; a preset is a YAML under ``config/distill/``.

The ablation ladder is six presets of this one dataclass: ``none`` (task only), ``response``,
``hdetrack`` (feature + relation + response), ``hdetrack+ot``, ``hdetrack+temporal``, ``had`` (all,
with asymmetric weighting).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from had_tracker.errors import ConfigError
from had_tracker.models.config import dataclass_from_dict, load_yaml, resolve_preset


@dataclass(frozen=True)
class TaskConfig:
    """Student vs ground truth: focal on a Gaussian centre heatmap, GIoU and L1 on the box (OSTrack weights).

    ``box_at``: where the box terms read the size and offset maps. ``peak`` (OSTrack, the default): at the
    predicted score peak. ``target`` (CenterNet): at the ground-truth centre's cell, whatever the peak. On one
    seed each (students from scratch, 4000 steps, elongated targets) the two size branches followed the
    target's aspect equally well (log-aspect correlation 0.72 / 0.72 on held-out sequences), so the default
    stays OSTrack's.
    """

    focal_weight: float = 1.0
    giou_weight: float = 1.0
    l1_weight: float = 14.0
    box_at: str = "peak"

    def __post_init__(self) -> None:
        if self.box_at not in ("target", "peak"):
            raise ValueError(f"task.box_at must be 'target' or 'peak', got {self.box_at!r}")


@dataclass(frozen=True)
class FeatureConfig:
    """Hierarchical feature distillation: student block s -> teacher block t, tokens paired by role and position.

    ``layer_map`` is a list of ``[teacher_block, student_block]`` pairs; empty means "proportional":
    every student block paired with the teacher block at the same relative depth.
    """

    enabled: bool = False
    weight: float = 1.0
    layer_map: list = field(default_factory=list)


@dataclass(frozen=True)
class RelationConfig:
    """Attention structure of the matching sub-blocks (head-averaged; teacher rows/cols of its event tokens)."""

    enabled: bool = False
    weight: float = 10.0


@dataclass(frozen=True)
class ResponseConfig:
    """The teacher's score map as a soft target: KL between grid softmaxes of the logits at ``temperature``."""

    enabled: bool = False
    weight: float = 1.0
    temperature: float = 2.0


@dataclass(frozen=True)
class OTConfig:
    """Debiased entropic OT (log-domain Sinkhorn) between teacher and student score maps over the 2D grid.

    Ground cost: squared distance between cell centres in crop-normalised units (the crop side is 1),
    so ``epsilon`` is a squared length in those units.
    """

    enabled: bool = False
    weight: float = 3.0  # used as is unless gradient_share is set
    epsilon: float = 0.01
    iterations: int = 100
    temperature: float = 2.0
    # When set (0 < share < 1): before training, the gradient norm of the unweighted OT term and of the sum of
    # all other (weighted) terms are measured on the first batch w.r.t. the student's parameters, and the OT
    # weight is set so that OT's share of the summed gradient norms is this fraction
    # (distill.hierarchical.calibrate_ot_weight). At the paper's weight 3 OT's gradient was ~300x smaller than
    # the response term's: it did nothing.
    gradient_share: float | None = None

    def __post_init__(self) -> None:
        if self.gradient_share is not None and not 0.0 < self.gradient_share < 1.0:
            raise ValueError(f"ot.gradient_share must be in (0, 1) or null, got {self.gradient_share}")


@dataclass(frozen=True)
class TemporalConfig:
    """Trainable temporal aligner: a GRU over the student's K sub-window features -> teacher features."""

    enabled: bool = False
    weight: float = 1.0  # targets are layer-normed, so the MSE starts near 1 (the paper's x10 was on raw features)
    hidden: int = 64


@dataclass(frozen=True)
class AsymmetricConfig:
    """Per-token/per-cell weights ``1 + gamma * d / mean(d)`` (teacher detached; d = discrepancy or confidence)."""

    enabled: bool = False
    mode: str = "discrepancy"
    gamma: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in ("discrepancy", "confidence"):
            raise ValueError(f"asymmetric.mode must be 'discrepancy' or 'confidence', got {self.mode!r}")


SECTIONS = {
    "task": TaskConfig,
    "feature": FeatureConfig,
    "relation": RelationConfig,
    "response": ResponseConfig,
    "ot": OTConfig,
    "temporal": TemporalConfig,
    "asymmetric": AsymmetricConfig,
}


@dataclass(frozen=True)
class DistillConfig:
    """Every distillation term of HAD with its weight and switch."""

    name: str = "none"
    task: TaskConfig = field(default_factory=TaskConfig)
    feature: FeatureConfig = field(default_factory=FeatureConfig)
    relation: RelationConfig = field(default_factory=RelationConfig)
    response: ResponseConfig = field(default_factory=ResponseConfig)
    ot: OTConfig = field(default_factory=OTConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    asymmetric: AsymmetricConfig = field(default_factory=AsymmetricConfig)

    @property
    def needs_teacher(self) -> bool:
        """True when any term reads the teacher."""
        return any(getattr(self, s).enabled for s in ("feature", "relation", "response", "ot", "temporal"))

    @classmethod
    def from_yaml(cls, source: str | Path) -> DistillConfig:
        """Load a preset name (``had``, ``hdetrack+ot``, ...) or a YAML path."""
        path = resolve_preset(source, "distill")
        data = load_yaml(path)
        data.setdefault("name", path.stem)
        return cls.from_dict(data, where=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "distill config") -> DistillConfig:
        """Build from a mapping (unknown sections or keys are errors)."""
        data = dict(data)
        unknown = sorted(set(data) - set(SECTIONS) - {"name"})
        if unknown:
            raise ConfigError(f"{where}: unknown section(s) {unknown}; allowed: name, {', '.join(SECTIONS)}")
        parts = {k: dataclass_from_dict(c, data.get(k), f"{where}: {k}") for k, c in SECTIONS.items()}
        return cls(name=str(data.get("name", "custom")), **parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain-type mapping (embedded in checkpoints)."""
        return asdict(self)
