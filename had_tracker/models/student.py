"""The event-only student: a one-stream ViT over [event template, event search] tokens + a center head."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from had_tracker.models.config import ModelConfig
from had_tracker.models.heads import CenterHead
from had_tracker.models.vit import Backbone, PatchEmbed, init_weights, positional_embedding


class Student(nn.Module):
    """``model(template_events (B,C,Ht,Wt), search_events (B,C,Hs,Ws)) -> dict`` (see :class:`CenterHead`).

    With ``return_features=True`` the dict also holds ``tokens`` (every block's output, ``(B, N, dim)``),
    ``search_tokens`` (final normed search tokens), ``attn`` (``{layer: (B, heads, N, N)}`` for
    ``attn_layers``) and ``layout`` (``{role: slice}`` over the token axis).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.kind != "student":
            raise ValueError(f"Student needs a student config, got kind={cfg.kind!r}")
        self.cfg = cfg
        a = cfg.arch
        self.patch_embed = PatchEmbed(cfg.events.channels, a.dim, cfg.patch_size)
        self.pos_template = positional_embedding(cfg.template_tokens, a.dim)
        self.pos_search = positional_embedding(cfg.search_tokens, a.dim)
        self.backbone = Backbone(a.dim, a.depth, a.heads, a.mlp_ratio, a.drop_path)
        self.head = CenterHead(a.dim, a.head_channels)
        nz, nx = cfg.template_tokens, cfg.search_tokens
        self.layout = {"template_events": slice(0, nz), "search_events": slice(nz, nz + nx)}
        init_weights(self)
        self.head.init_score_bias()

    def embed(self, template_events: Tensor, search_events: Tensor) -> Tensor:
        """Input tokens ``(B, Nz + Nx, dim)`` before the first block."""
        z = self.patch_embed(template_events) + self.pos_template
        x = self.patch_embed(search_events) + self.pos_search
        return torch.cat([z, x], dim=1)

    def encode(self, template_events: Tensor, search_events: Tensor) -> Tensor:
        """Final normed search tokens ``(B, Nx, dim)`` only (no head): what the temporal aligner reads."""
        out_tokens, _, _ = self.backbone(self.embed(template_events, search_events))
        return out_tokens[:, self.layout["search_events"]]

    def forward(
        self,
        template_events: Tensor,
        search_events: Tensor,
        return_features: bool = False,
        attn_layers: tuple[int, ...] = (),
    ) -> dict:
        tokens = self.embed(template_events, search_events)
        out_tokens, features, attn = self.backbone(tokens, return_features, attn_layers)
        search = out_tokens[:, self.layout["search_events"]]
        f = self.cfg.feat_size
        out = self.head(search.transpose(1, 2).reshape(search.shape[0], -1, f, f))
        if return_features:
            out.update(tokens=features, search_tokens=search, attn=attn, layout=self.layout)
        return out
