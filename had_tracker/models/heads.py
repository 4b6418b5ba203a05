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
# FusedCenterHead runs its grouped 3x3 convolution as a dense one (zero off-diagonal blocks) up to this many
# weights: at batch 1 on a CPU the grouped primitive's set-up then costs more than the extra arithmetic.
DENSE_CONV2_MAX_WEIGHTS = 32_768


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
        return _head_outputs(self.score(feature_map), self.size(feature_map), self.offset(feature_map))


def _head_outputs(score_logits: Tensor, size_logits: Tensor, offset_logits: Tensor) -> dict[str, Tensor]:
    score_map = torch.sigmoid(score_logits).clamp(SCORE_CLAMP, 1.0 - SCORE_CLAMP)
    size_map = torch.sigmoid(size_logits)
    offset_map = torch.sigmoid(offset_logits)
    boxes, _ = decode_boxes(score_map, size_map, offset_map)
    return {
        "score_map": score_map,
        "score_logits": score_logits,
        "size_map": size_map,
        "offset_map": offset_map,
        "pred_boxes": boxes,
    }


def _fold_batch_norm(conv: nn.Conv2d, norm: nn.BatchNorm2d | None) -> tuple[Tensor, Tensor]:
    """Weight and bias of ``norm(conv(x))`` as one convolution (eval-mode statistics)."""
    weight, bias = conv.weight.detach(), conv.bias.detach()
    if norm is None:
        return weight, bias
    scale = norm.weight.detach() / torch.sqrt(norm.running_var + norm.eps)
    return weight * scale[:, None, None, None], (bias - norm.running_mean) * scale + norm.bias.detach()


class FusedCenterHead(nn.Module):
    """The inference form of an eval-mode :class:`CenterHead`: the same outputs from 2 convolutions and a matmul, not 9.

    Batch norms are folded into their convolutions, and the three branches run side by side: one convolution
    over the shared input, one grouped (or, when small, dense block-diagonal) convolution, then the three
    1x1 convolutions as one block-diagonal matrix product (the score branch's single output channel is
    padded to two so that every block has the same width); one sigmoid covers the three maps. On CPU at
    batch 1 the per-operator overhead, not arithmetic, dominates this head, so fewer operators is what makes
    it faster.

    With ``decode_boxes=False`` the output has no ``pred_boxes``: for callers that read the maps themselves
    (the tracker decodes its own peak, after a motion prior), which saves the dozen small decoding operators.
    """

    def __init__(self, head: CenterHead, decode_boxes: bool = True) -> None:
        super().__init__()
        self.decode_boxes = decode_boxes
        if head.training:
            raise ValueError("fuse an eval-mode CenterHead (batch-norm statistics are frozen into the weights)")
        branches = (head.score, head.size, head.offset)
        first = [_fold_batch_norm(b[0], b[1]) for b in branches]
        second = [_fold_batch_norm(b[3], b[4]) for b in branches]
        last = [_fold_batch_norm(b[6], None) for b in branches]
        width, mid = first[0][0].shape[0], second[0][0].shape[0]
        # built where the model lives (e.g. cuda, float64), so the folded weights are copied without rounding
        like = {"device": head.score[0].weight.device, "dtype": head.score[0].weight.dtype}
        self.conv1 = nn.Conv2d(first[0][0].shape[1], 3 * width, 3, padding=1, **like)
        # Small grouped convolutions run faster as one dense convolution with zero off-diagonal blocks.
        dense = (3 * mid) * (3 * width) * 9 <= DENSE_CONV2_MAX_WEIGHTS
        self.conv2 = nn.Conv2d(3 * width, 3 * mid, 3, padding=1, groups=1 if dense else 3, **like)
        # The last 1x1 convolution as a (6, 3 * mid) matrix (block diagonal) applied to every cell.
        self.proj_weight = nn.Parameter(torch.zeros(6, 3 * mid, **like), requires_grad=False)
        self.proj_bias = nn.Parameter(torch.zeros(6, 1, **like), requires_grad=False)
        with torch.no_grad():
            self.conv1.weight.copy_(torch.cat([w for w, _ in first]))
            self.conv1.bias.copy_(torch.cat([b for _, b in first]))
            self.conv2.bias.copy_(torch.cat([b for _, b in second]))
            if dense:
                self.conv2.weight.zero_()
                for group, (w, _) in enumerate(second):
                    self.conv2.weight[group * mid : (group + 1) * mid, group * width : (group + 1) * width] = w
            else:
                self.conv2.weight.copy_(torch.cat([w for w, _ in second]))
            for group, (w, b) in enumerate(last):  # the score branch's one channel padded to two
                rows = slice(2 * group, 2 * group + len(b))
                self.proj_weight[rows, group * mid : (group + 1) * mid] = w[:, :, 0, 0]
                self.proj_bias[rows, 0] = b
        self.eval()

    def forward(self, feature_map: Tensor) -> dict[str, Tensor]:
        y = torch.relu(self.conv2(torch.relu(self.conv1(feature_map))))
        b, _, f, _ = y.shape
        logits = torch.matmul(self.proj_weight, y.reshape(b, -1, f * f)).add_(self.proj_bias).reshape(b, 6, f, f)
        maps = torch.sigmoid(logits)  # one sigmoid for the three maps (elementwise: the same values)
        score_map = maps[:, 0:1].clamp(SCORE_CLAMP, 1.0 - SCORE_CLAMP)
        out = {
            "score_map": score_map,
            "score_logits": logits[:, 0:1],
            "size_map": maps[:, 2:4],
            "offset_map": maps[:, 4:6],
        }
        if self.decode_boxes:
            out["pred_boxes"], _ = _decode(score_map, maps[:, 2:6])
        return out


def fuse_for_inference(model: nn.Module, decode_boxes: bool = True) -> nn.Module:
    """Swap the eval-mode ``model``'s center head for its :class:`FusedCenterHead` (in place; returns ``model``).

    For inference only: the fused head has no batch norms to train. Outputs agree to float rounding;
    ``decode_boxes=False`` leaves out ``pred_boxes`` (see :class:`FusedCenterHead`).
    """
    for network in getattr(model, "members", None) or [model]:  # an ensemble: each member's head
        if isinstance(getattr(network, "head", None), CenterHead):
            network.head = FusedCenterHead(network.head, decode_boxes)
    return model


def decode_boxes(score_map: Tensor, size_map: Tensor, offset_map: Tensor) -> tuple[Tensor, Tensor]:
    """Boxes at the arg-max cell: ``(B, 4)`` cx, cy, w, h normalised to the search crop, and ``(B,)`` scores.

    Differentiable with respect to the size and offset maps (the cell index is not).
    """
    return _decode(score_map, torch.cat([size_map, offset_map], dim=1))


def _decode(score_map: Tensor, size_offset: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`decode_boxes` with the size and offset maps stacked ``(B, 4, F, F)``: one gather reads all four."""
    b, _, f, _ = score_map.shape
    scores, index = score_map.reshape(b, -1).max(dim=1)
    at_max = size_offset.reshape(b, 4, -1).gather(2, index[:, None, None].expand(b, 4, 1)).squeeze(2)
    col = (index % f).to(score_map.dtype)
    row = torch.div(index, f, rounding_mode="floor").to(score_map.dtype)
    cx = (col + at_max[:, 2]) / f
    cy = (row + at_max[:, 3]) / f
    return torch.stack([cx, cy, at_max[:, 0], at_max[:, 1]], dim=1), scores
