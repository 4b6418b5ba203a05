"""The RGB+event teacher: a one-stream ViT over [RGB template, event template, RGB search, event search].

The head reads the fused search features: the RGB-search and event-search output tokens of the same
position, concatenated on channels and projected back to the model width (CEUTrack fuses the two
search streams on channels as well; we use the transformer outputs of both).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from had_tracker.models.config import ModelConfig
from had_tracker.models.heads import CenterHead
from had_tracker.models.vit import Backbone, PatchEmbed, init_weights, positional_embedding


class Teacher(nn.Module):
    """``model(template_rgb, template_events, search_rgb, search_events) -> dict`` (same keys as the student)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.kind != "teacher":
            raise ValueError(f"Teacher needs a teacher config, got kind={cfg.kind!r}")
        self.cfg = cfg
        a = cfg.arch
        self.rgb_embed = PatchEmbed(3, a.dim, cfg.patch_size)
        self.event_embed = PatchEmbed(cfg.events.channels, a.dim, cfg.patch_size)
        nz, nx = cfg.template_tokens, cfg.search_tokens
        self.pos_template = positional_embedding(nz, a.dim)
        self.pos_search = positional_embedding(nx, a.dim)
        # Modality embeddings tell the blocks which stream a token comes from (positions are shared).
        self.modality = nn.Parameter(torch.zeros(2, 1, 1, a.dim))
        self.backbone = Backbone(a.dim, a.depth, a.heads, a.mlp_ratio, a.drop_path)
        self.fuse = nn.Linear(2 * a.dim, a.dim)
        self.head = CenterHead(a.dim, a.head_channels)
        self.layout = {
            "template_rgb": slice(0, nz),
            "template_events": slice(nz, 2 * nz),
            "search_rgb": slice(2 * nz, 2 * nz + nx),
            "search_events": slice(2 * nz + nx, 2 * nz + 2 * nx),
        }
        init_weights(self)
        self.head.init_score_bias()
        nn.init.trunc_normal_(self.modality, std=0.02)

    def forward(
        self,
        template_rgb: Tensor,
        template_events: Tensor,
        search_rgb: Tensor,
        search_events: Tensor,
        return_features: bool = False,
        attn_layers: tuple[int, ...] = (),
    ) -> dict:
        z_rgb = self.rgb_embed(template_rgb) + self.pos_template + self.modality[0]
        z_evt = self.event_embed(template_events) + self.pos_template + self.modality[1]
        x_rgb = self.rgb_embed(search_rgb) + self.pos_search + self.modality[0]
        x_evt = self.event_embed(search_events) + self.pos_search + self.modality[1]
        tokens = torch.cat([z_rgb, z_evt, x_rgb, x_evt], dim=1)
        out_tokens, features, attn = self.backbone(tokens, return_features, attn_layers)
        fused = self.fuse(
            torch.cat([out_tokens[:, self.layout["search_rgb"]], out_tokens[:, self.layout["search_events"]]], dim=2)
        )
        f = self.cfg.feat_size
        out = self.head(fused.transpose(1, 2).reshape(fused.shape[0], -1, f, f))
        if return_features:
            out.update(tokens=features, search_tokens=fused, attn=attn, layout=self.layout)
        return out
