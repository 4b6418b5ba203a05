"""Export a checkpoint's network to ONNX or TorchScript, and check it against torch.

The exported graph takes the same inputs as the module (student: ``template_events``,
``search_events``; teacher: ``template_rgb``, ``template_events``, ``search_rgb``, ``search_events``;
batch dimension dynamic) and returns ``score_map``, ``size_map``, ``offset_map``, ``pred_boxes``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from had_tracker.errors import ConfigError
from had_tracker.models.config import ModelConfig

OUTPUT_NAMES = ("score_map", "size_map", "offset_map", "pred_boxes")
FORMATS = ("onnx", "torchscript")


class ExportWrapper(nn.Module):
    """The network with tuple outputs (exporters do not keep dicts)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        out = self.model(*inputs)
        return tuple(out[k] for k in OUTPUT_NAMES)


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = ExportWrapper(model).eval()  # exporters restore the wrapper's mode recursively: it must be eval
    inputs = example_inputs(cfg)
    with torch.no_grad():
        if fmt == "torchscript":
            traced = torch.jit.trace(wrapper, inputs, check_trace=False)
            torch.jit.save(traced, str(path))
        else:
            names = input_names(cfg)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer/deprecation chatter of the TorchScript-based exporter
                torch.onnx.export(
                    wrapper,
                    inputs,
                    str(path),
                    input_names=list(names),
                    output_names=list(OUTPUT_NAMES),
                    dynamic_axes={n: {0: "batch"} for n in (*names, *OUTPUT_NAMES)},
                    opset_version=17,
                    dynamo=False,
                )
    return path


def max_abs_difference(model: nn.Module, cfg: ModelConfig, path: str | Path, fmt: str, batch: int = 2) -> float:
    """Largest absolute output difference between torch and the exported file on random inputs (onnxruntime for ONNX)."""
    model = model.eval()
    inputs = example_inputs(cfg, batch=batch, seed=1)
    with torch.no_grad():
        reference = ExportWrapper(model).eval()(*inputs)
        if fmt == "torchscript":
            exported = torch.jit.load(str(path))(*inputs)
            outputs = [o.numpy() for o in exported]
        else:
            try:
                import onnxruntime as ort
            except ImportError as exc:
                raise ConfigError("checking an ONNX export needs onnxruntime (pip install onnxruntime)") from exc
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            feeds = {n: x.numpy() for n, x in zip(input_names(cfg), inputs, strict=True)}
            outputs = session.run(list(OUTPUT_NAMES), feeds)
    return float(max(np.abs(o - r.numpy()).max() for o, r in zip(outputs, reference, strict=True)))
