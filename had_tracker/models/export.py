"""Export a checkpoint's network to TorchScript or ONNX, check it against torch, and run an exported file.

Inputs (float32, batch first, batch dynamic), in call order:

- student: ``template_events`` ``(B, C, T, T)``, ``search_events`` ``(B, C, S, S)``;
- teacher: ``template_rgb`` ``(B, 3, T, T)``, ``template_events``, ``search_rgb`` ``(B, 3, S, S)``, ``search_events``.

``T``/``S`` are the config's ``template_size``/``search_size``; ``C = num_bins x 2`` (polarity channels).
An events input is the voxel grid of the events of one time window inside a square crop, built by
:func:`had_tracker.models.inputs.event_tensor` (``events, crop, t_start_ns, t_end_ns, cfg``) with
``crop = had_tracker.geometry.CropWindow.around(box_xywh, factor, size)``: the template crop at
``template_factor`` around the start box, the search crop at ``search_factor`` around the last box, the window
the ``window_ms`` before the current time. RGB inputs come from :func:`had_tracker.models.inputs.rgb_tensor`.

Outputs: ``score_map`` ``(B, 1, F, F)`` (target centre likelihood per cell, ``F = S / patch_size``),
``size_map`` ``(B, 2, F, F)`` (w, h as fractions of the search crop), ``offset_map`` ``(B, 2, F, F)`` (the
centre's sub-cell offset in cells) and ``pred_boxes`` ``(B, 4)`` (the arg-max cell's box, normalised cx, cy,
w, h in the crop). :func:`had_tracker.tracking.postprocess.decode_peak` turns the maps into an image-pixel box
(Hann window as the tracker uses it). :func:`load_exported` wraps an exported file so that
:class:`had_tracker.tracking.tracker.Tracker` runs it (``Tracker(model=..., model_config=...)``);
``examples/run_exported_student.py`` does that on a bag. Each export writes ``<file>.json`` beside it with the
model config these shapes come from.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from had_tracker.errors import ConfigError
from had_tracker.models.config import ModelConfig

OUTPUT_NAMES = ("score_map", "size_map", "offset_map", "pred_boxes")
FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".ts.pt"}
INSTALL_HINT = "pip install onnx onnxruntime (plain requirements of had_tracker since the onnxruntime student runtime)"


def require_onnx(runtime: bool = True) -> None:
    """ConfigError, in one line saying what to install, when ONNX export (or its onnxruntime check) cannot run."""
    missing = [m for m in ("onnx", "onnxruntime")[: 2 if runtime else 1] if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"ONNX export needs {' and '.join(missing)}, not installed: {INSTALL_HINT}; "
            "or use --format torchscript (needs nothing more)"
        )


def card_path(path: str | Path) -> Path:
    """The JSON file written beside an exported model: ``<file>.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


class ExportWrapper(nn.Module):
    """The network with tuple outputs ``names`` (exporters do not keep dicts)."""

    def __init__(self, model: nn.Module, names: tuple[str, ...] = OUTPUT_NAMES) -> None:
        super().__init__()
        self.model, self.names = model, tuple(names)

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        out = self.model(*inputs)
        return tuple(out[k] for k in self.names)


def export_onnx(
    wrapper: ExportWrapper, inputs: tuple[Tensor, ...], target: object, names: tuple[str, ...], dynamic_batch: bool
) -> None:
    """``torch.onnx.export`` (opset 17, TorchScript-based exporter) of ``wrapper`` to ``target`` (a path or a file)."""
    axes = {n: {0: "batch"} for n in (*names, *wrapper.names)} if dynamic_batch else None
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer/deprecation chatter of the TorchScript-based exporter
        torch.onnx.export(
            wrapper,
            inputs,
            target,
            input_names=list(names),
            output_names=list(wrapper.names),
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def input_names(cfg: ModelConfig) -> tuple[str, ...]:
    """Input names in call order."""
    if cfg.kind == "teacher":
        return ("template_rgb", "template_events", "search_rgb", "search_events")
    return ("template_events", "search_events")


def example_inputs(cfg: ModelConfig, batch: int = 1, seed: int = 0) -> tuple[Tensor, ...]:
    """Random inputs of the right shapes (events non-negative like the real representation)."""
    g = torch.Generator().manual_seed(seed)
    c, t, s = cfg.events.channels, cfg.template_size, cfg.search_size
    shapes = {
        "template_rgb": (3, t),
        "template_events": (c, t),
        "search_rgb": (3, s),
        "search_events": (c, s),
    }
    out = []
    for name in input_names(cfg):
        ch, size = shapes[name]
        x = torch.randn(batch, ch, size, size, generator=g)
        out.append(x.abs() if "events" in name else x)
    return tuple(out)


def export_model(model: nn.Module, cfg: ModelConfig, path: str | Path, fmt: str) -> Path:
    """Write ``model`` to ``path`` as ``fmt`` ("onnx" or "torchscript"); returns the path."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "onnx":
        require_onnx(runtime=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = ExportWrapper(model).eval()  # exporters restore the wrapper's mode recursively: it must be eval
    inputs = example_inputs(cfg)
    with torch.no_grad():
        if fmt == "torchscript":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the tracer's notes on shape checks that are constant here
                traced = torch.jit.trace(wrapper, inputs, check_trace=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.10 steers to torch.export
                torch.jit.save(traced, str(path))
        else:
            export_onnx(wrapper, inputs, str(path), input_names(cfg), dynamic_batch=True)
    write_card(cfg, path, fmt)
    return path


def write_card(cfg: ModelConfig, path: str | Path, fmt: str) -> Path:
    """``<file>.json``: format, input/output names and shapes, and the model config (see the module docstring)."""
    c, t, s = cfg.events.channels, cfg.template_size, cfg.search_size
    f = s // cfg.patch_size
    shapes = {
        "template_rgb": ["B", 3, t, t],
        "template_events": ["B", c, t, t],
        "search_rgb": ["B", 3, s, s],
        "search_events": ["B", c, s, s],
    }
    card = {
        "format": fmt,
        "kind": cfg.kind,
        "inputs": {name: shapes[name] for name in input_names(cfg)},
        "outputs": {
            "score_map": ["B", 1, f, f],
            "size_map": ["B", 2, f, f],
            "offset_map": ["B", 2, f, f],
            "pred_boxes": ["B", 4],
        },  # fmt: skip
        "build_inputs": "had_tracker.models.inputs.event_tensor(events, crop, t_start_ns, t_end_ns, cfg), "
        "crop = had_tracker.geometry.CropWindow.around(box_xywh, factor, size)",
        "decode_outputs": "had_tracker.tracking.postprocess.decode_peak(score_map, size_map, offset_map, crop)",
        "model_config": cfg.to_dict(),
    }
    out = card_path(path)
    out.write_text(json.dumps(card, indent=1), encoding="utf-8")
    return out


class ExportedModel:
    """An exported file as a callable the Tracker can use: torch tensors in, ``{name: tensor}`` out."""

    def __init__(self, path: str | Path, cfg: ModelConfig, fmt: str) -> None:
        self.path, self.cfg, self.format = Path(path), cfg, fmt
        self.names = input_names(cfg)
        if fmt == "torchscript":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                self._module = torch.jit.load(str(self.path), map_location="cpu").eval()
        else:
            require_onnx(runtime=True)
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = 1  # the tracker runs one window at a time
            self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def eval(self) -> ExportedModel:
        """No-op (the exported graph is in inference mode); present because the Tracker calls it."""
        return self

    def __call__(self, *inputs: Tensor) -> dict[str, Tensor]:
        if self.format == "torchscript":
            with torch.no_grad():
                outputs = self._module(*inputs)
        else:
            feeds = {n: x.detach().cpu().numpy() for n, x in zip(self.names, inputs, strict=True)}
            outputs = [torch.from_numpy(o) for o in self._session.run(list(OUTPUT_NAMES), feeds)]
        return dict(zip(OUTPUT_NAMES, outputs, strict=True))


def load_exported(path: str | Path) -> tuple[ExportedModel, ModelConfig]:
    """An exported model (``.onnx`` or TorchScript) and its ModelConfig, read from the ``<file>.json`` card."""
    path = Path(path)
    card = card_path(path)
    if not path.is_file():
        raise ConfigError(f"no exported model at {path}")
    if not card.is_file():
        raise ConfigError(f"{card} is missing: export with `had-tracker export`, which writes it beside the model")
    data = json.loads(card.read_text(encoding="utf-8"))
    cfg = ModelConfig.from_dict(data["model_config"])
    fmt = data.get("format") or ("onnx" if path.suffix == ".onnx" else "torchscript")
    return ExportedModel(path, cfg, fmt), cfg


def max_abs_difference(model: nn.Module, cfg: ModelConfig, path: str | Path, fmt: str, batch: int = 2) -> float:
    """Largest absolute output difference between torch and the exported file on random inputs (onnxruntime for ONNX)."""
    model = model.eval()
    inputs = example_inputs(cfg, batch=batch, seed=1)
    with torch.no_grad():
        reference = ExportWrapper(model).eval()(*inputs)
        if fmt == "torchscript":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                exported = torch.jit.load(str(path))(*inputs)
            outputs = [o.numpy() for o in exported]
        else:
            require_onnx(runtime=True)
            import onnxruntime as ort

            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            feeds = {n: x.numpy() for n, x in zip(input_names(cfg), inputs, strict=True)}
            outputs = session.run(list(OUTPUT_NAMES), feeds)
    return float(max(np.abs(o - r.numpy()).max() for o, r in zip(outputs, reference, strict=True)))
