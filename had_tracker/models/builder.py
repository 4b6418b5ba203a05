"""Build networks from configs; save and load checkpoints (atomic writes, ``weights_only=True`` loads).

A checkpoint is a plain dict: ``format``, ``version``, ``kind``, ``model_config`` (the
:class:`ModelConfig` as plain types), ``model`` (state dict) and optional extras (the distillation
preset, training state for ``--resume``, metrics). Everything in it loads with ``weights_only=True``.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from had_tracker.errors import CheckpointError
from had_tracker.models.config import ArchConfig, EventReprConfig, ModelConfig
from had_tracker.models.ensemble import StudentEnsemble, ensemble_members
from had_tracker.models.student import Student
from had_tracker.models.teacher import Teacher

__all__ = [
    "ArchConfig",
    "EventReprConfig",
    "ModelConfig",
    "build_model",
    "default_student_checkpoint",
    "check_finite_weights",
    "load_checkpoint",
    "load_model",
    "remove_stale_temp_files",
    "save_checkpoint",
]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "had_tracker/checkpoint"
CHECKPOINT_VERSION = 1
DEFAULT_STUDENT_FILE = "student_cpu_tiny.pt"
STALE_TMP_AGE_S = 60.0  # a temp file untouched this long belongs to a save that died (killed, disk full)


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
    remove_stale_temp_files(path)
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


def remove_stale_temp_files(path: str | Path, max_age_s: float = STALE_TMP_AGE_S) -> list[Path]:
    """Delete the temp files that earlier, crashed saves of ``path`` left (``.NAME.*.tmp``, idle > ``max_age_s``)."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    now = time.time()
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > max_age_s:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue  # gone already, or not ours to delete
    for tmp in removed:
        log.warning("removed %s, left by an interrupted checkpoint save", tmp)
    return removed


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:160]}" if lines else type(exc).__name__


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict, validated to be a had_tracker checkpoint; CheckpointError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    remove_stale_temp_files(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"checkpoint {path} cannot be read ({_first_line(exc)})") from exc
    if not data:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): an interrupted save or copy?")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        # torch.save has written zip archives since torch 1.6; anything else is not a checkpoint of ours
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated: not a torch checkpoint file ({len(data)} bytes)"
        )
    try:
        payload = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except (
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        IndexError,
        KeyError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
    ) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({_first_line(exc)})") from exc
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


def check_finite_weights(state: dict[str, Any], ckpt_path: str | Path) -> None:
    """Raise CheckpointError when a floating-point tensor of ``state`` holds NaN or Inf (a diverged run)."""
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {ckpt_path}: 'model' is not a state dict")
    bad = [
        name
        for name, value in state.items()
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all())
    ]
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise CheckpointError(
            f"checkpoint {ckpt_path} holds NaN/Inf weights (in {bad[0]}{more}): the training run diverged; "
            "use an earlier checkpoint"
        )


def load_model(
    ckpt_path: str | Path, map_location: str | torch.device = "cpu", expected_kind: str | None = None
) -> tuple[nn.Module, ModelConfig]:
    """Rebuild the network stored in a checkpoint (eval mode) and its config.

    An ensemble checkpoint (``had_tracker.models.ensemble``) gives a :class:`StudentEnsemble` of its members.
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
    check_finite_weights(payload["model"], ckpt_path)
    members = ensemble_members(payload, ckpt_path)
    model = StudentEnsemble(cfg, members) if members else build_model(cfg)
    try:
        model.load_state_dict(payload["model"], strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"checkpoint {ckpt_path}: weights do not match its {cfg.name} {kind} config: {str(exc)[:300]}"
        ) from exc
    model.to(map_location)
    model.eval()
    return model, cfg
