"""ViT building blocks shared by the teacher and the student: patch embedding, attention, block, backbone.

The backbone is one-stream (OSTrack): the token groups of every stream are concatenated, each with its
own learned positional embedding, and every block attends across all of them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch x patch`` patches of a ``(B, C, H, W)`` tensor -> ``(B, N, dim)`` tokens."""

    def __init__(self, in_channels: int, dim: int, patch: int) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch, stride=patch)
        self.as_matmul = True  # False: the convolution itself (onnxruntime runs that faster; onnx_student.py)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        p = self.patch
        if h % p or w % p or not self.as_matmul:  # the convolution drops the remainder rows/columns
            return self.proj(x).flatten(2).transpose(1, 2)
        # The same convolution as one matrix product over the flattened patches: at batch 1 on a CPU the
        # convolution primitive's set-up costs more than the arithmetic.
        patches = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5).reshape(b, -1, c * p * p)
        return nnf.linear(patches, self.proj.weight.reshape(self.proj.out_channels, -1), self.proj.bias)


class Attention(nn.Module):
    """Multi-head self-attention; returns the attention probabilities only when asked (costly)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, return_attn: bool = False) -> tuple[Tensor, Tensor | None]:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        if return_attn:
            attn = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
            attn = attn.softmax(dim=-1)
            out = attn @ v
        else:
            attn = None
            out = nnf.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, d)), attn


class DropPath(nn.Module):
    """Stochastic depth per sample (identity at eval or with p = 0)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)); x + mlp(norm(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, drop_path: float = 0.0) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, return_attn: bool = False) -> tuple[Tensor, Tensor | None]:
        y, attn = self.attn(self.norm1(x), return_attn)
        x = x + self.drop_path(y)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x, attn


class Backbone(nn.Module):
    """A stack of blocks over pre-embedded tokens with a final LayerNorm.

    ``forward(tokens, return_features, attn_layers)`` returns the normed output tokens, the list of
    every block's output tokens (when ``return_features``) and ``{layer: attention}`` for ``attn_layers``.
    """

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float, drop_path: float = 0.0) -> None:
        super().__init__()
        rates = [drop_path * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, r) for r in rates)
        self.norm = nn.LayerNorm(dim)

    def forward(
        self, x: Tensor, return_features: bool = False, attn_layers: tuple[int, ...] = ()
    ) -> tuple[Tensor, list[Tensor], dict[int, Tensor]]:
        features: list[Tensor] = []
        attentions: dict[int, Tensor] = {}
        for i, block in enumerate(self.blocks):
            x, attn = block(x, return_attn=i in attn_layers)
            if attn is not None:
                attentions[i] = attn
            if return_features:
                features.append(x)
        return self.norm(x), features, attentions


def init_weights(module: nn.Module) -> None:
    """Truncated-normal linears, zero biases, unit LayerNorms (ViT convention)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def positional_embedding(tokens: int, dim: int) -> nn.Parameter:
    """A learned positional embedding ``(1, tokens, dim)`` initialised with a fixed 2D sine-cosine pattern."""
    side = int(math.isqrt(tokens))
    ys, xs = torch.meshgrid(
        torch.arange(side, dtype=torch.float32), torch.arange(side, dtype=torch.float32), indexing="ij"
    )
    quarter = max(dim // 4, 1)
    omega = 1.0 / (10000 ** (torch.arange(quarter, dtype=torch.float32) / quarter))
    parts = [torch.sin(xs.flatten()[:, None] * omega), torch.cos(xs.flatten()[:, None] * omega)]
    parts += [torch.sin(ys.flatten()[:, None] * omega), torch.cos(ys.flatten()[:, None] * omega)]
    table = torch.cat(parts, dim=1)[:, :dim]
    if table.shape[1] < dim:
        table = nnf.pad(table, (0, dim - table.shape[1]))
    return nn.Parameter(0.1 * table.unsqueeze(0))
