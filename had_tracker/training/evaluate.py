"""Frame-rate one-pass evaluation of a checkpoint on held-out sequences (used by the ablation ladder).

A deliberately minimal tracker, identical for every model so the ladder compares networks, not
runtimes: the template is cropped once around the first ground-truth box; at each later frame the
search crop is centred on the previous estimate, the score map is multiplied by a Hann window
(OSTrack) and the box is decoded at its peak and mapped back to the image. The student sees the event
window ending at the frame time; the teacher additionally sees the RGB frame and the events of its
exposure window (what it was trained on). Metrics: ``had_tracker.evaluation.metrics`` (pytracking).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from had_tracker.data.sampler import event_windows
from had_tracker.data.sequence import TrackingSequence
from had_tracker.evaluation.metrics import evaluate_sequence, headline, summarize
from had_tracker.geometry import CropWindow, clip_box
from had_tracker.models.config import ModelConfig
from had_tracker.models.heads import decode_boxes
from had_tracker.models.inputs import event_tensor, rgb_tensor


def _inputs(seq: TrackingSequence, frame: int, crop: CropWindow, cfg: ModelConfig) -> dict[str, np.ndarray]:
    (tt0, tt1), (ts0, ts1) = event_windows(seq, frame, cfg.events.window_ms)
    out = {"events": event_tensor(seq.events, crop, ts0, ts1, cfg)}
    if cfg.kind == "teacher":
        out["rgb"] = rgb_tensor(np.asarray(seq.frames[frame]), crop, cfg)
        out["events_teacher"] = event_tensor(seq.events, crop, tt0, tt1, cfg)
    return out


@torch.no_grad()
def track_sequence(model: nn.Module, cfg: ModelConfig, seq: TrackingSequence) -> tuple[np.ndarray, float]:
    """Predicted ``(N, 4)`` xywh boxes (frame 0 = ground truth) and the mean model time per frame [s]."""
    model.eval()
    box = np.asarray(seq.gt_boxes[0], dtype=np.float64)
    template_crop = CropWindow.around(box, cfg.template_factor, cfg.template_size)
    template = {k: torch.from_numpy(v)[None] for k, v in _inputs(seq, 0, template_crop, cfg).items()}
    f = cfg.feat_size
    hann = torch.from_numpy(np.outer(np.hanning(f + 2)[1:-1], np.hanning(f + 2)[1:-1])).float()[None, None]
    boxes = [box.copy()]
    model_time = 0.0
    for frame in range(1, len(seq)):
        crop = CropWindow.around(box, cfg.search_factor, cfg.search_size)
        search = {k: torch.from_numpy(v)[None] for k, v in _inputs(seq, frame, crop, cfg).items()}
        t0 = time.perf_counter()
        if cfg.kind == "teacher":
            out = model(template["rgb"], template["events_teacher"], search["rgb"], search["events_teacher"])
        else:
            out = model(template["events"], search["events"])
        model_time += time.perf_counter() - t0
        pred, _ = decode_boxes(out["score_map"] * hann, out["size_map"], out["offset_map"])
        cx, cy, w, h = (pred[0].numpy().astype(np.float64) * cfg.search_size).tolist()
        in_crop = np.array([cx - w / 2, cy - h / 2, w, h])
        box = clip_box(crop.box_from_crop(in_crop), seq.width, seq.height, min_size=2.0)
        boxes.append(box)
    return np.stack(boxes), model_time / max(len(seq) - 1, 1)


def evaluate_model(model: nn.Module, cfg: ModelConfig, sequences: Sequence[TrackingSequence]) -> dict[str, Any]:
    """Success AUC / precision@20 / normalised precision [%] over ``sequences`` and the mean model time per frame.

    ``per_sequence`` maps ``"index:name"`` to the sequence's success AUC, for paired comparisons between models.
    """
    results, times = [], []
    for seq in sequences:
        pred, per_frame = track_sequence(model, cfg, seq)
        results.append(evaluate_sequence(pred, seq.gt_boxes, seq.absent, name=seq.name, attributes=seq.attributes))
        times.append(per_frame)
    summary = headline(summarize(results))
    summary["model_ms_per_frame"] = 1e3 * float(np.mean(times))
    summary["per_sequence"] = {f"{i:04d}:{r.name}": float(r.success_auc) for i, r in enumerate(results)}
    return summary
