"""Model configuration: one dataclass per concern, loaded from a preset YAML under ``config/models/``.

A preset file defines the shared input geometry (crop sizes/factors, patch size, event representation)
plus two architectures, ``teacher`` and ``student``. ``ModelConfig`` is the view of one of them
(``kind``), so a checkpoint embeds exactly what is needed to rebuild its network.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from had_tracker.config_values import check_values
from had_tracker.errors import ConfigError

KINDS = ("teacher", "student")


def preset_dirs(area: str) -> list[Path]:
    """Directories searched for preset YAMLs of ``area`` (``models``, ``distill``, ``train``): source tree, then install."""
    package_dir = Path(__file__).resolve().parents[1]
    repo_config = package_dir.parent / "config" / area
    # data_files land in <prefix>/share/had_tracker: the venv (sys.prefix) for pip, install/had_tracker for
    # colcon, whose package sits in <prefix>/lib/pythonX.Y/site-packages/had_tracker.
    prefixes = dict.fromkeys([*package_dir.parents[3:4], Path(sys.prefix)])
    return [repo_config, *(prefix / "share" / "had_tracker" / "config" / area for prefix in prefixes)]


def resolve_preset(source: str | Path, area: str) -> Path:
    """A YAML path given directly, or the file ``<name>.yaml`` in one of :func:`preset_dirs`."""
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    for directory in preset_dirs(area):
        candidate = directory / f"{source}.yaml"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for d in preset_dirs(area) if d.is_dir() for p in d.glob("*.yaml")})
    raise ConfigError(f"unknown {area} preset {str(source)!r}; known presets: {', '.join(known) or 'none'}")


def load_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML mapping with a clear error."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a YAML mapping, got {type(data).__name__}")
    return data


def dataclass_from_dict(cls: type, data: dict[str, Any] | None, where: str) -> Any:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys (typos must not pass silently)."""
    data = dict(data or {})
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    data = check_values(cls, data, where)  # types first: one line naming the field, never a TypeError
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


@dataclass(frozen=True)
class EventReprConfig:
    """Event representation of a crop: a voxel grid with ``num_bins`` time bins (x2 with polarity channels).

    ``window_ms`` is the minimum event window; the teacher's window is the RGB exposure window widened
    to at least this length, the student's the window of the same length ending at the search time.
    ``temporal_bins`` is K, the number of consecutive sub-windows the temporal aligner sees.
    """

    num_bins: int = 3
    polarity_channels: bool = True
    window_ms: float = 20.0
    temporal_bins: int = 3

    def __post_init__(self) -> None:
        if self.num_bins < 1 or self.temporal_bins < 1 or self.window_ms <= 0:
            raise ValueError("events: num_bins, temporal_bins must be >= 1 and window_ms > 0")

    @property
    def channels(self) -> int:
        """Channels of the event tensor."""
        return self.num_bins * (2 if self.polarity_channels else 1)


@dataclass(frozen=True)
class ArchConfig:
    """One ViT: width ``dim``, ``depth`` blocks, ``heads`` attention heads, center-head width ``head_channels``."""

    dim: int = 64
    depth: int = 2
    heads: int = 2
    mlp_ratio: float = 4.0
    head_channels: int = 32
    drop_path: float = 0.0

    def __post_init__(self) -> None:
        if self.dim < 1 or self.depth < 1 or self.heads < 1 or self.dim % self.heads:
            raise ValueError(f"arch: need dim, depth, heads >= 1 and dim % heads == 0, got {self}")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build (and feed) one network of a preset: the teacher or the student."""

    kind: str = "student"
    name: str = "cpu-tiny"
    template_size: int = 48
    search_size: int = 96
    template_factor: float = 2.0
    search_factor: float = 4.0
    patch_size: int = 8
    events: EventReprConfig = field(default_factory=EventReprConfig)
    arch: ArchConfig = field(default_factory=ArchConfig)
    rgb_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    rgb_std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        for size_name in ("template_size", "search_size"):
            size = getattr(self, size_name)
            if size < self.patch_size or size % self.patch_size:
                raise ValueError(f"{size_name}={size} must be a positive multiple of patch_size={self.patch_size}")
        if self.template_factor <= 0 or self.search_factor <= 0:
            raise ValueError("template_factor and search_factor must be > 0")

    @property
    def feat_size(self) -> int:
        """Side F of the score map (search tokens per row)."""
        return self.search_size // self.patch_size

    @property
    def template_tokens(self) -> int:
        """Tokens per template stream."""
        return (self.template_size // self.patch_size) ** 2

    @property
    def search_tokens(self) -> int:
        """Tokens per search stream."""
        return self.feat_size**2

    @classmethod
    def from_yaml(cls, source: str | Path, kind: str = "student") -> ModelConfig:
        """Load ``kind`` ("teacher"/"student") from a preset name (``cpu-tiny``) or a YAML path."""
        path = resolve_preset(source, "models")
        return cls.from_preset_dict(load_yaml(path), kind, where=str(path), default_name=path.stem)

    @classmethod
    def from_preset_dict(
        cls, data: dict[str, Any], kind: str, where: str = "model preset", default_name: str = "custom"
    ) -> ModelConfig:
        """Build from a preset mapping (shared keys + ``teacher:``/``student:`` architectures)."""
        if kind not in KINDS:
            raise ConfigError(f"kind must be one of {KINDS}, got {kind!r}")
        data = dict(data)
        archs = {k: data.pop(k, None) for k in KINDS}
        if archs[kind] is None:
            raise ConfigError(f"{where}: no '{kind}' section")
        events = dataclass_from_dict(EventReprConfig, data.pop("events", None), f"{where}: events")
        arch = dataclass_from_dict(ArchConfig, archs[kind], f"{where}: {kind}")
        data.setdefault("name", default_name)
        for key in ("rgb_mean", "rgb_std"):
            if key in data:
                data[key] = tuple(float(v) for v in data[key])
        return dataclass_from_dict(cls, {**data, "kind": kind, "events": events, "arch": arch}, where)

    def to_dict(self) -> dict[str, Any]:
        """Plain-type mapping (embedded in checkpoints)."""
        out = asdict(self)
        out["rgb_mean"], out["rgb_std"] = list(self.rgb_mean), list(self.rgb_std)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["events"] = dataclass_from_dict(EventReprConfig, data.get("events"), "checkpoint config: events")
        data["arch"] = dataclass_from_dict(ArchConfig, data.get("arch"), "checkpoint config: arch")
        for key in ("rgb_mean", "rgb_std"):
            if key in data:
                data[key] = tuple(float(v) for v in data[key])
        return dataclass_from_dict(cls, data, "checkpoint config")

    def with_kind(self, kind: str, arch: ArchConfig) -> ModelConfig:
        """The same geometry with another network."""
        return replace(self, kind=kind, arch=arch)
