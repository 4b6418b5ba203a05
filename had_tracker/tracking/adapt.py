"""Test-time adaptation at initialisation: fine-tune a copy of the student on the first window's own target.

The student has been trained on synthetic scenes only; at initialisation the tracker holds one labelled window
of the real scene (the box it was given). Search crops cut from that window around the box, jittered as the
training sampler jitters them (``had_tracker.data.sampler.jitter_box``), plus negative crops elsewhere in the
window (target label zero), give a few training pairs with the template; a copy of the student is fine-tuned on
them with the training task loss (batch norms frozen), and the tracker runs the copy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from had_tracker.data.sampler import jitter_box
from had_tracker.geometry import CropWindow


@dataclass(frozen=True)
class AdaptSettings:
    """Fine-tuning: steps x batch pairs, AdamW lr; the pairs' jitter as the training sampler's; a fixed seed."""

    steps: int = 20
    batch: int = 8
    lr: float = 1e-4
    negative_fraction: float = 0.25
    center_jitter: float = 3.0
    scale_jitter: float = 0.25
    seed: int = 0


def _negative_crop(
    box: np.ndarray, side: float, out: int, width: int, height: int, rng: np.random.Generator
) -> CropWindow | None:
    """A crop of ``side`` that does not overlap ``box`` (None after 10 draws)."""
    x, y, w, h = box
    for _ in range(10):
        x0 = float(rng.uniform(-0.25 * side, max(width - 0.75 * side, -0.25 * side + 1)))
        y0 = float(rng.uniform(-0.25 * side, max(height - 0.75 * side, -0.25 * side + 1)))
        if x0 + side <= x or x0 >= x + w or y0 + side <= y or y0 >= y + h:
            return CropWindow(x0, y0, side, out)
    return None


def adapt_student(
    model: Any,
    cfg: Any,
    template: Any,
    events: Any,
    t0: int,
    t1: int,
    box_xywh: np.ndarray,
    width: int,
    height: int,
    task_weights: Any,
    settings: AdaptSettings = AdaptSettings(),
) -> Any:
    """A fine-tuned copy of ``model`` (eval mode); ``template`` is the (1, C, T, T) template tensor."""
    import torch

    from had_tracker.distill.task import task_losses
    from had_tracker.models.inputs import event_tensor

    rng = np.random.default_rng(settings.seed)
    searches, targets = [], []
    n_pairs = settings.steps * settings.batch
    for _ in range(n_pairs):
        crop, target = None, np.zeros(4, np.float32)
        if rng.random() < settings.negative_fraction:
            side = CropWindow.around(box_xywh, cfg.search_factor, cfg.search_size).side
            crop = _negative_crop(box_xywh, side, cfg.search_size, width, height, rng)
        if crop is None:
            for _ in range(10):
                jittered = jitter_box(box_xywh, settings.center_jitter, settings.scale_jitter, rng)
                crop = CropWindow.around(jittered, cfg.search_factor, cfg.search_size)
                b = crop.box_to_crop(box_xywh) / cfg.search_size
                centre = b[:2] + b[2:] / 2
                if np.all((centre > 0) & (centre < 1)):
                    break
            target = np.array([centre[0], centre[1], min(b[2], 1.0), min(b[3], 1.0)], np.float32)
        searches.append(event_tensor(events, crop, t0, t1, cfg))
        targets.append(target)
    search = torch.from_numpy(np.stack(searches))
    gt = torch.from_numpy(np.stack(targets))
    tuned = copy.deepcopy(model)
    tuned.eval()  # batch norms keep their statistics; no drop path
    for p in tuned.parameters():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(tuned.parameters(), lr=settings.lr, weight_decay=0.0)
    tmpl = template.detach().expand(settings.batch, -1, -1, -1)
    with torch.enable_grad():
        for step in range(settings.steps):
            sl = slice(step * settings.batch, (step + 1) * settings.batch)
            out = tuned(tmpl, search[sl])
            terms = task_losses(out, gt[sl], task_weights)
            loss = terms["focal"] + terms["giou"] + terms["l1"]
            opt.zero_grad()
            loss.backward()
            opt.step()
    for p in tuned.parameters():
        p.requires_grad_(False)
    return tuned.eval()


def adapt_for_inference(*args: Any, onnx_threads: int = 0, **kwargs: Any) -> tuple[Any, Any]:
    """:func:`adapt_student` (same arguments), then the copy in the tracker's inference form: ``(model, onnx)``.

    The model is fused for inference; ``onnx_threads`` > 0 also exports it to onnxruntime here (so that a
    background adaptation hands over a ready session), else, or where that fails, ``onnx`` is None (the tracker
    exports it, or runs torch, on its first call).
    """
    from had_tracker.models.heads import fuse_for_inference

    tuned = fuse_for_inference(adapt_student(*args, **kwargs), decode_boxes=False)
    onnx = None
    if onnx_threads > 0:
        cfg = args[1] if len(args) > 1 else kwargs["cfg"]
        from had_tracker.models.onnx_student import OnnxStudent

        try:
            onnx = OnnxStudent(tuned, cfg, onnx_threads)
        except Exception:  # noqa: BLE001 - the runner exports again on its first call, and falls back to torch there
            onnx = None
    return tuned, onnx
