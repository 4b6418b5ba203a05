"""Build networks from configs; save and load checkpoints (atomic writes, ``weights_only=True`` loads).

A checkpoint is a plain dict: ``format``, ``version``, ``kind``, ``model_config`` (the
:class:`ModelConfig` as plain types), ``model`` (state dict) and optional extras (the distillation
preset, training state for ``--resume``, metrics). Everything in it loads with ``weights_only=True``.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from had_tracker.errors import CheckpointError
from had_tracker.models.config import ArchConfig, EventReprConfig, ModelConfig
from had_tracker.models.student import Student
from had_tracker.models.teacher import Teacher

__all__ = [
    "ArchConfig",
    "EventReprConfig",
    "ModelConfig",
    "build_model",
    "default_student_checkpoint",
    "load_checkpoint",
    "load_model",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "had_tracker/checkpoint"
CHECKPOINT_VERSION = 1
DEFAULT_STUDENT_FILE = "student_cpu_tiny.pt"


def build_model(cfg: ModelConfig) -> nn.Module:
    """A freshly initialised teacher or student for ``cfg.kind``."""
    return Teacher(cfg) if cfg.kind == "teacher" else Student(cfg)


def default_student_checkpoint() -> Path:
    """The shipped cpu-tiny student checkpoint (inside the installed package)."""
    return Path(__file__).resolve().parents[1] / "resources" / "weights" / DEFAULT_STUDENT_FILE


def save_checkpoint(path: str | Path, model: nn.Module, cfg: ModelConfig, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` + ``cfg`` (+ ``extra`` entries) atomically: a temp file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = model.module if hasattr(model, "module") else model  # unwrap DDP
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "kind": cfg.kind,
        "model_config": cfg.to_dict(),
        "model": {k: v.detach().cpu() for k, v in module.state_dict().items()},
    }
    for key, value in (extra or {}).items():
        if key in payload:
            raise ValueError(f"extra key {key!r} clashes with a checkpoint field")
        payload[key] = value
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp creates 0600; a checkpoint is an ordinary file
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict, validated to be a had_tracker checkpoint; CheckpointError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        data = path.read_bytes()
        payload = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a had_tracker checkpoint (no '{CHECKPOINT_FORMAT}' format tag); "
            "train one with `had-tracker train` or pass the shipped default"
        )
    if payload.get("version", 0) > CHECKPOINT_VERSION:
        raise CheckpointError(f"checkpoint {path} has version {payload['version']}; this had_tracker reads <= 1")
    for key in ("kind", "model_config", "model"):
        if key not in payload:
            raise CheckpointError(f"checkpoint {path} lacks '{key}'")
    return payload


def load_model(
    ckpt_path: str | Path, map_location: str | torch.device = "cpu", expected_kind: str | None = None
) -> tuple[nn.Module, ModelConfig]:
    """Rebuild the network stored in a checkpoint (eval mode) and its config.

    Raises CheckpointError for a missing, corrupt, truncated or foreign file, for a kind other than
    ``expected_kind`` (when given), and for weights that do not fit the embedded config.
    """
    payload = load_checkpoint(ckpt_path, map_location)
    kind = payload["kind"]
    if expected_kind is not None and kind != expected_kind:
        raise CheckpointError(f"checkpoint {ckpt_path} holds a {kind}, expected a {expected_kind}")
    try:
        cfg = ModelConfig.from_dict(payload["model_config"])
    except Exception as exc:  # ConfigError/TypeError from a malformed embedded config
        raise CheckpointError(f"checkpoint {ckpt_path} has an invalid model config: {exc}") from exc
    if cfg.kind != kind:
        raise CheckpointError(f"checkpoint {ckpt_path}: kind {kind!r} disagrees with its config ({cfg.kind!r})")
    model = build_model(cfg)
    try:
        model.load_state_dict(payload["model"], strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"checkpoint {ckpt_path}: weights do not match its {cfg.name} {kind} config: {str(exc)[:300]}"
        ) from exc
    model.to(map_location)
    model.eval()
    return model, cfg
