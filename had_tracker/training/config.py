"""Training configuration (one dataclass); presets are YAML files under ``config/train/``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from had_tracker.data.sampler import SamplerConfig
from had_tracker.errors import ConfigError
from had_tracker.models.config import dataclass_from_dict, load_yaml, resolve_preset


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and bookkeeping of one training run (teacher or student).

    AdamW with two parameter groups (backbone at ``lr * backbone_lr_scale``; heads, embeddings,
    projectors and the temporal aligner at ``lr``), linear warm-up then cosine or step decay, gradient
    clipping on the global norm. ``batch_size`` is per process; under DDP each rank draws its own pairs.
    """

    model: str = "cpu-tiny"
    distill: str = "none"
    steps: int = 1000
    batch_size: int = 16
    lr: float = 4e-4
    backbone_lr_scale: float = 1.0
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    step_size: int = 0
    gamma: float = 0.1
    warmup_steps: int = 50
    grad_clip: float = 0.1
    seed: int = 0
    log_every: int = 25
    ckpt_every: int = 200
    threads: int = 0
    init: str = ""  # checkpoint whose weights start the run (fine-tuning; same kind and model); "" = random
    # parameter-name prefixes that train (e.g. ["head.size"]: the size branch alone); every other parameter is
    # frozen and its module kept in eval mode (batch-norm statistics unchanged); empty = everything trains
    trainable: tuple[str, ...] = ()
    sampler: SamplerConfig = field(default_factory=SamplerConfig)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError(
                f"train config: steps and batch_size must be >= 1 and lr > 0, got steps={self.steps}, "
                f"batch_size={self.batch_size}, lr={self.lr}"
            )
        if self.log_every < 1 or self.ckpt_every < 1:
            raise ConfigError(
                f"train config: log_every and ckpt_every must be >= 1, got {self.log_every} and {self.ckpt_every}"
            )
        if self.warmup_steps < 0 or self.step_size < 0 or self.threads < 0 or self.grad_clip < 0:
            raise ConfigError("train config: warmup_steps, step_size, threads and grad_clip must be >= 0")
        if not (self.gamma > 0 and self.weight_decay >= 0 and self.backbone_lr_scale >= 0):
            raise ConfigError("train config: gamma must be > 0, weight_decay and backbone_lr_scale >= 0")
        if isinstance(self.trainable, str) or not all(isinstance(p, str) and p for p in self.trainable):
            raise ConfigError(
                f"train config: trainable must be a list of parameter-name prefixes, got {self.trainable!r}"
            )
        object.__setattr__(self, "trainable", tuple(self.trainable))
        if self.schedule not in ("cosine", "step", "constant"):
            raise ConfigError(f"train config: schedule must be cosine, step or constant, got {self.schedule!r}")

    @classmethod
    def from_yaml(cls, source: str | Path, **overrides: Any) -> TrainConfig:
        """Load a preset name or YAML path; ``overrides`` (not None) replace top-level keys."""
        path = resolve_preset(source, "train")
        return cls.from_dict(load_yaml(path), where=str(path), **overrides)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "train config", **overrides: Any) -> TrainConfig:
        """Build from a mapping (unknown keys are errors)."""
        data = dict(data)
        data["sampler"] = dataclass_from_dict(SamplerConfig, data.get("sampler"), f"{where}: sampler")
        cfg = dataclass_from_dict(cls, data, where)
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(cfg, **given) if given else cfg

    def to_dict(self) -> dict[str, Any]:
        """Plain-type mapping (embedded in checkpoints)."""
        return asdict(self)
