"""OSTrack-style center head and box decoding.

Three small conv branches over the ``F x F`` search feature map: a score map (sigmoid, the target
centre's cell), a size map (sigmoid, w and h as fractions of the search crop) and an offset map
(sigmoid, the centre's sub-cell position). The box is read at the arg-max cell of the score map.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

SCORE_CLAMP = 1e-4  # the score map stays inside [1e-4, 1 - 1e-4] so focal/log terms stay finite


def _branch(in_channels: int, channels: int, out_channels: int) -> nn.Sequential:
    mid = max(channels // 2, 1)
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, 3, padding=1),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, mid, 3, padding=1),
        nn.BatchNorm2d(mid),
        nn.ReLU(inplace=True),
        nn.Conv2d(mid, out_channels, 1),
    )


class CenterHead(nn.Module):
    """``(B, dim, F, F)`` features -> ``score_map (B,1,F,F)``, ``size_map (B,2,F,F)``, ``offset_map (B,2,F,F)``."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.score = _branch(in_channels, channels, 1)
        self.size = _branch(in_channels, channels, 2)
        self.offset = _branch(in_channels, channels, 2)

    def init_score_bias(self, prior: float = 0.01) -> None:
        """Start from a low score everywhere (CenterNet): the focal loss then begins near its background value."""
        nn.init.constant_(self.score[-1].bias, math.log(prior / (1 - prior)))

    def forward(self, feature_map: Tensor) -> dict[str, Tensor]:
        score_logits = self.score(feature_map)
        score_map = torch.sigmoid(score_logits).clamp(SCORE_CLAMP, 1.0 - SCORE_CLAMP)
        size_map = torch.sigmoid(self.size(feature_map))
        offset_map = torch.sigmoid(self.offset(feature_map))
        boxes, _ = decode_boxes(score_map, size_map, offset_map)
        return {
            "score_map": score_map,
            "score_logits": score_logits,
            "size_map": size_map,
            "offset_map": offset_map,
            "pred_boxes": boxes,
        }


def decode_boxes(score_map: Tensor, size_map: Tensor, offset_map: Tensor) -> tuple[Tensor, Tensor]:
    """Boxes at the arg-max cell: ``(B, 4)`` cx, cy, w, h normalised to the search crop, and ``(B,)`` scores.

    Differentiable with respect to the size and offset maps (the cell index is not).
    """
    b, _, f, _ = score_map.shape
    flat = score_map.reshape(b, -1)
    scores, index = flat.max(dim=1)
    gather = index[:, None, None].expand(b, 2, 1)
    size = size_map.reshape(b, 2, -1).gather(2, gather).squeeze(2)
    offset = offset_map.reshape(b, 2, -1).gather(2, gather).squeeze(2)
    col = (index % f).to(score_map.dtype)
    row = torch.div(index, f, rounding_mode="floor").to(score_map.dtype)
    cx = (col + offset[:, 0]) / f
    cy = (row + offset[:, 1]) / f
    return torch.stack([cx, cy, size[:, 0], size[:, 1]], dim=1), scores
