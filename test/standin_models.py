"""A transparent stand-in for the tracking network, for tests of the runtime and the pipeline.

It scores each cell of the search score map by the events in the 3x3 cells around it
(``1 - exp(-count / 60)``), puts the box centre at the centroid of the events in the 5x5 cells around it and predicts the box side the crop factor implies
(a square of the template box's geometric-mean side). No learning: a test that tracks with it pins crops,
representation, clocks, registration and box decoding, and fails when any of them is broken.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from had_tracker.models.config import ModelConfig


class DensityModel(nn.Module):
    """Event density as the score map (see module docstring); counts its calls."""

    def __init__(self, kind: str = "student") -> None:
        super().__init__()
        self.cfg = ModelConfig(kind=kind)
        self.calls = 0

    def forward(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        # numpy inside: tiny arrays, and no torch thread pool to contend for on a busy machine.
        self.calls += 1
        k = self.cfg.patch_size
        counts = np.expm1(np.abs(inputs[-1][0].numpy())).sum(0)  # undo the log1p of event_tensor: (S, S)
        f = counts.shape[0] // k
        centres = np.arange(counts.shape[0]) + 0.5  # pixel centres of the search crop
        moments = np.stack([counts, counts * centres[None, :], counts * centres[:, None]])
        per_cell = moments.reshape(3, f, k, f, k).sum(axis=(2, 4))  # count, sum x, sum y per cell

        # Score: events in the 3x3 cells around a cell (about the target's extent at search factor 4);
        # centre: the centroid of the events in the 5x5 cells around it, so that a peak the Hann window
        # moved off the blob's middle still decodes the whole blob's centre.
        def around(m: np.ndarray, cells: int) -> np.ndarray:
            r = cells // 2
            padded = np.pad(m, ((0, 0), (r, r), (r, r)))
            return sum(padded[:, dy : dy + f, dx : dx + f] for dy in range(cells) for dx in range(cells))

        total = around(per_cell[:1], 3)[0]
        near = around(per_cell, 5)
        cell = np.arange(f)
        count5 = np.maximum(near[0], 1e-6)
        offset = np.stack([near[1] / count5 / k - cell[None, :], near[2] / count5 / k - cell[:, None]])
        offset = np.where(total[None] > 0, offset, 0.5)
        score = 1.0 - np.exp(-total / 60.0)
        size = np.full((2, f, f), 1.0 / self.cfg.search_factor)

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None]

        return {
            "score_map": tensor(score[None]),
            "size_map": tensor(size),
            "offset_map": tensor(offset),
            "pred_boxes": torch.zeros(1, 4),
        }
