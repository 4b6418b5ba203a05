"""The student network as an onnxruntime session, exported in memory from the loaded torch model.

At batch 1 on a CPU the cpu-tiny student is a few dozen small operators; onnxruntime runs the same graph
with less per-operator overhead than TorchScript (measured 0.69-0.80 vs 0.93-1.07 ms per forward on one
core, see the README's performance table). The export happens once, when the tracker first runs the network,
and writes no file. Outputs agree with torch to float rounding (tested).
"""

from __future__ import annotations

import importlib.util
import io

import numpy as np

INPUTS = ("template_events", "search_events")
OUTPUTS = ("score_map", "size_map", "offset_map")


def onnxruntime_available() -> bool:
    """True when both ``onnx`` (needed by torch's exporter) and ``onnxruntime`` can be imported."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))


class OnnxStudent:
    """``student(template (1,C,T,T), search (1,C,S,S)) -> {score_map, size_map, offset_map}`` (numpy float32)."""

    def __init__(self, model: object, cfg: object, threads: int = 1) -> None:
        import onnxruntime as ort

        from had_tracker.models.export import ExportWrapper, example_inputs, export_onnx
        from had_tracker.models.vit import PatchEmbed

        # Patch embeddings as convolutions in the graph (~5 % faster in onnxruntime than the reshape-permute-matmul
        # form that suits eager torch at batch 1); the torch model is left as it was.
        embeds = [m for m in model.modules() if isinstance(m, PatchEmbed) and m.as_matmul]
        buffer = io.BytesIO()
        try:
            for m in embeds:
                m.as_matmul = False
            # batch 1, fixed shapes: onnxruntime plans for exactly these
            export_onnx(ExportWrapper(model, OUTPUTS).eval(), example_inputs(cfg), buffer, INPUTS, dynamic_batch=False)
        finally:
            for m in embeds:
                m.as_matmul = True
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(int(threads), 1)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: its notes on unused initialisers are not the user's business
        self._session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

    def __call__(self, template: np.ndarray, search: np.ndarray) -> dict[str, np.ndarray]:
        feeds = dict(zip(INPUTS, (np.ascontiguousarray(a, np.float32) for a in (template, search)), strict=True))
        return dict(zip(OUTPUTS, self._session.run(list(OUTPUTS), feeds), strict=True))


__all__ = ["OUTPUTS", "OnnxStudent", "onnxruntime_available"]
