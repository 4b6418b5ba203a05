"""The tracking (task) loss of the student against ground truth: focal heatmap + GIoU + L1 (OSTrack/HAD)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def gaussian_radius(height: Tensor, width: Tensor, min_overlap: float = 0.7) -> Tensor:
    """The CenterNet radius (in cells) such that a box shifted by it keeps IoU >= ``min_overlap``."""
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + torch.sqrt((b1**2 - 4 * c1).clamp_min(0))) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + torch.sqrt((b2**2 - 16 * c2).clamp_min(0))) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + torch.sqrt((b3**2 - 4 * a3 * c3).clamp_min(0))) / 2
    return torch.minimum(torch.minimum(r1, r2), r3)


def center_heatmap(boxes_cxcywh: Tensor, feat_size: int) -> Tensor:
    """``(B, 1, F, F)`` Gaussian heatmaps, exactly 1 at the cell holding each box centre."""
    f = feat_size
    cx, cy = boxes_cxcywh[:, 0] * f, boxes_cxcywh[:, 1] * f
    col = cx.floor().clamp(0, f - 1)
    row = cy.floor().clamp(0, f - 1)
    radius = gaussian_radius(boxes_cxcywh[:, 3] * f, boxes_cxcywh[:, 2] * f).clamp_min(0)
    sigma = ((2 * radius.floor() + 1) / 6).clamp_min(1.0 / 6)
    grid = torch.arange(f, dtype=boxes_cxcywh.dtype, device=boxes_cxcywh.device)
    dx2 = (grid[None, :] - col[:, None]) ** 2
    dy2 = (grid[None, :] - row[:, None]) ** 2
    heat = torch.exp(-(dy2[:, :, None] + dx2[:, None, :]) / (2 * sigma[:, None, None] ** 2))
    return heat.unsqueeze(1)


def focal_loss(pred: Tensor, target: Tensor, alpha: float = 2.0, beta: float = 4.0) -> Tensor:
    """The CenterNet focal loss on probabilities, normalised by the number of positive cells (target == 1)."""
    pos = target.eq(1).to(pred.dtype)
    neg = 1.0 - pos
    pos_loss = torch.log(pred) * (1 - pred) ** alpha * pos
    neg_loss = torch.log(1 - pred) * pred**alpha * (1 - target) ** beta * neg
    num_pos = pos.sum()
    return -(pos_loss.sum() + neg_loss.sum()) / num_pos.clamp_min(1.0)


def cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    """Centre-size boxes to corner boxes."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def giou_loss(pred_cxcywh: Tensor, target_cxcywh: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ``1 - GIoU`` and the per-box IoU (detached) of centre-size boxes."""
    p, t = cxcywh_to_xyxy(pred_cxcywh), cxcywh_to_xyxy(target_cxcywh)
    area_p = (p[:, 2] - p[:, 0]).clamp_min(0) * (p[:, 3] - p[:, 1]).clamp_min(0)
    area_t = (t[:, 2] - t[:, 0]).clamp_min(0) * (t[:, 3] - t[:, 1]).clamp_min(0)
    lt, rb = torch.maximum(p[:, :2], t[:, :2]), torch.minimum(p[:, 2:], t[:, 2:])
    inter = (rb - lt).clamp_min(0).prod(dim=1)
    union = area_p + area_t - inter
    iou = inter / union.clamp_min(1e-7)
    lt_c, rb_c = torch.minimum(p[:, :2], t[:, :2]), torch.maximum(p[:, 2:], t[:, 2:])
    hull = (rb_c - lt_c).clamp_min(0).prod(dim=1)
    giou = iou - (hull - union) / hull.clamp_min(1e-7)
    return (1 - giou).mean(), iou.detach()


def boxes_at_cells(size_map: Tensor, offset_map: Tensor, boxes_cxcywh: Tensor) -> Tensor:
    """``(B, 4)`` boxes (cx, cy, w, h, crop-normalised) read from the size and offset maps at the cell holding each box's centre."""
    b, _, f, _ = size_map.shape
    col = (boxes_cxcywh[:, 0] * f).floor().clamp(0, f - 1)
    row = (boxes_cxcywh[:, 1] * f).floor().clamp(0, f - 1)
    index = (row * f + col).long()[:, None, None].expand(b, 2, 1)
    size = size_map.reshape(b, 2, -1).gather(2, index).squeeze(2)
    offset = offset_map.reshape(b, 2, -1).gather(2, index).squeeze(2)
    return torch.stack([(col + offset[:, 0]) / f, (row + offset[:, 1]) / f, size[:, 0], size[:, 1]], dim=1)


def task_losses(outputs: dict, gt_boxes_cxcywh: Tensor, weights: object) -> dict[str, Tensor]:
    """``{"focal", "giou", "l1"}`` weighted terms (weights: an object with ``focal_weight``, ``giou_weight``, ``l1_weight``).

    The box terms read the decoded ``pred_boxes`` (at the score peak), or the size and offset maps at the
    ground-truth centre's cell when ``weights.box_at`` is ``"target"``.

    A box with zero width or height marks a *negative* search crop (target absent or replaced by a
    distractor, see :mod:`had_tracker.data.sampler`): its heatmap target is zero everywhere (the focal
    loss pushes every cell down) and it takes no part in the box terms.
    """
    f = outputs["score_map"].shape[-1]
    present = (gt_boxes_cxcywh[:, 2] > 0) & (gt_boxes_cxcywh[:, 3] > 0)
    heat = center_heatmap(gt_boxes_cxcywh, f) * present[:, None, None, None].to(gt_boxes_cxcywh.dtype)
    if getattr(weights, "box_at", "peak") == "target":
        pred = boxes_at_cells(outputs["size_map"], outputs["offset_map"], gt_boxes_cxcywh)
    else:
        pred = outputs["pred_boxes"]
    if bool(present.all()):
        giou, iou = giou_loss(pred, gt_boxes_cxcywh)
        l1 = (pred - gt_boxes_cxcywh).abs().mean()
    elif bool(present.any()):
        giou, iou = giou_loss(pred[present], gt_boxes_cxcywh[present])
        l1 = (pred[present] - gt_boxes_cxcywh[present]).abs().mean()
    else:  # only negatives: no box to regress (zero, with a graph)
        giou = l1 = pred.sum() * 0.0
        iou = pred.new_zeros(1)
    terms = {
        "focal": weights.focal_weight * focal_loss(outputs["score_map"], heat),
        "giou": weights.giou_weight * giou,
        "l1": weights.l1_weight * l1,
    }
    if not all(math.isfinite(v.item()) for v in terms.values()):
        raise FloatingPointError(f"non-finite task loss: { {k: v.item() for k, v in terms.items()} }")
    terms["_iou"] = iou.mean()
    return terms
