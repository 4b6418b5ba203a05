"""Training data sources from a ``--data`` spec string.

- ``synthetic:preset=mixed,sequences=N,seed=S[,key=value...]`` — the synthetic engine
  (``had_tracker.data.synthetic.generate_sequence``), extra keys passed through;
- ``toy:sequences=N,seed=S[,frames=F]`` — the tiny built-in moving-square generator;
- ``cache:DIR`` (or a directory holding ``sequences.json``) — sequences written by
  :func:`save_sequence_cache` (one ``.npy`` per array, memory-mapped on load, so parallel training
  processes share the pages);
- another directory — a dataset folder readable by ``had_tracker.data.folder`` (the synthetic
  engine's folder layout), when that reader is installed.

Sequence ``i`` of a generated set uses seed ``S + i``, so a training set and a held-out test set with
disjoint seed ranges never share a sequence.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from had_tracker.data.sequence import TrackingSequence
from had_tracker.errors import ConfigError
from had_tracker.events.container import Events

CACHE_INDEX = "sequences.json"
_CACHE_ARRAYS = ("frame_t_ns", "exposure_start_ns", "exposure_end_ns", "gt_boxes", "absent")


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"kind:k=v,k=v"`` -> ``(kind, {k: v})`` with ints/floats converted."""
    kind, _, rest = spec.partition(":")
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"data spec {spec!r}: expected key=value, got {item!r}")
        for cast in (int, float):
            try:
                options[key] = cast(value)
                break
            except ValueError:
                continue
        else:
            options[key] = value
    return kind, options


def load_sequences(spec: str) -> list[TrackingSequence]:
    """The sequences a ``--data`` spec names (see the module docstring)."""
    if spec.startswith("cache:"):
        return load_sequence_cache(spec.partition(":")[2])
    kind, options = parse_spec(spec) if ":" in spec else (spec, {})
    if kind in ("synthetic", "toy"):
        count = int(options.pop("sequences", 8))
        seed = int(options.pop("seed", 0))
        if count < 1:
            raise ConfigError(f"data spec {spec!r}: sequences must be >= 1")
        if kind == "toy":
            from had_tracker.training.toy import moving_square_sequence

            frames = int(options.pop("frames", 30))
            if options:
                raise ConfigError(f"data spec {spec!r}: unknown toy option(s) {sorted(options)}")
            return [moving_square_sequence(seed + i, num_frames=frames) for i in range(count)]
        generate = _synthetic_generator()
        preset = options.pop("preset", "mixed")
        return [generate(preset, seed + i, **options) for i in range(count)]
    path = Path(spec)
    if (path / CACHE_INDEX).is_file():
        return load_sequence_cache(path)
    if path.is_dir():
        try:
            folder = importlib.import_module("had_tracker.data.folder")
        except ImportError as exc:
            raise ConfigError(
                f"reading dataset folders needs had_tracker.data.folder, which is not installed: {exc}"
            ) from exc
        reader = getattr(folder, "read_folder", None) or getattr(folder, "read_dataset", None)
        if reader is None:
            raise ConfigError("had_tracker.data.folder has no read_folder/read_dataset function")
        result = reader(path)
        return list(result) if not isinstance(result, TrackingSequence) else [result]
    raise ConfigError(f"unknown data spec {spec!r}: use synthetic:preset=...,sequences=N,seed=S, toy:..., or a folder")


def _synthetic_generator() -> Any:
    try:
        synthetic = importlib.import_module("had_tracker.data.synthetic")
    except ImportError as exc:
        raise ConfigError(f"the synthetic engine (had_tracker.data.synthetic) is not available: {exc}") from exc
    generate = getattr(synthetic, "generate_sequence", None)
    if generate is None or not inspect.isroutine(generate):
        raise ConfigError("had_tracker.data.synthetic has no generate_sequence(preset, seed, ...)")
    return generate


def save_sequence_cache(sequences: list[TrackingSequence], directory: str | Path) -> Path:
    """Write sequences as ``.npy`` arrays (+ ``sequences.json``) atomically: a temp folder, then rename."""
    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    index = []
    for i, seq in enumerate(sequences):
        if seq.events is None:
            raise ConfigError(f"sequence {seq.name!r} has no raw events; the cache stores events")
        sub = tmp / f"{i:05d}"
        sub.mkdir()
        np.save(sub / "frames.npy", np.stack([np.asarray(seq.frames[j]) for j in range(len(seq))]))
        for name in _CACHE_ARRAYS:
            np.save(sub / f"{name}.npy", np.asarray(getattr(seq, name)))
        for name in ("t", "x", "y", "p"):
            np.save(sub / f"events_{name}.npy", getattr(seq.events, name))
        index.append(
            {
                "dir": sub.name,
                "name": seq.name,
                "width": seq.width,
                "height": seq.height,
                "event_width": seq.events.width,
                "event_height": seq.events.height,
                "attributes": {k: bool(v) for k, v in seq.attributes.items()},
                "meta": json.loads(json.dumps(seq.meta, default=str)),
            }
        )
    (tmp / CACHE_INDEX).write_text(json.dumps(index, indent=1), encoding="utf-8")
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)
    return directory


def load_sequence_cache(directory: str | Path) -> list[TrackingSequence]:
    """Sequences written by :func:`save_sequence_cache` (frames and events memory-mapped)."""
    directory = Path(directory)
    index_path = directory / CACHE_INDEX
    if not index_path.is_file():
        raise ConfigError(f"{directory} is not a sequence cache (no {CACHE_INDEX})")
    out = []
    for entry in json.loads(index_path.read_text(encoding="utf-8")):
        sub = directory / entry["dir"]

        def load(name: str, sub: Path = sub) -> np.ndarray:
            return np.load(sub / f"{name}.npy", mmap_mode="r")

        events = Events.from_arrays(
            *(load(f"events_{n}") for n in ("t", "x", "y", "p")), entry["event_width"], entry["event_height"]
        )
        out.append(
            TrackingSequence(
                name=entry["name"],
                frames=load("frames"),
                **{name: np.asarray(load(name)) for name in _CACHE_ARRAYS},
                width=entry["width"],
                height=entry["height"],
                events=events,
                attributes=entry["attributes"],
                meta=entry["meta"],
            )
        )
    return out
