"""The one place that turns a crop of events or of an RGB image into model input.

The training sampler and the tracking runtime both call these functions, so a network sees exactly
the same representation in training and in use.

- Events: a voxel grid of ``cfg.events.num_bins`` time bins (x2 polarity channels when configured)
  over the crop, then ``log1p`` so the scale does not depend on event rate or crop size much.
- RGB: crop-and-resize, scaled to [0, 1], normalised with the preset's mean/std, channels first.
"""

from __future__ import annotations

import numpy as np

from had_tracker.events.container import Events
from had_tracker.events.representations import voxel_grid
from had_tracker.geometry import CropWindow
from had_tracker.models.config import ModelConfig


def event_tensor(events: Events, crop: CropWindow, t_start_ns: int, t_end_ns: int, cfg: ModelConfig) -> np.ndarray:
    """Events in ``[t_start_ns, t_end_ns)`` inside ``crop`` as a float32 ``(C, S, S)`` model input (S = crop.out_size)."""
    if t_end_ns <= t_start_ns:
        raise ValueError(f"empty event window [{t_start_ns}, {t_end_ns}) ns")
    window = events.slice_time(int(t_start_ns), int(t_end_ns))
    return finish_event_grid(_voxel_grid(window, cfg, int(t_start_ns), int(t_end_ns), crop), cfg)


def finish_event_grid(grid: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    """A float32 voxel grid of a crop -> model input (``log1p`` of the counts; signed grids keep their sign).

    May reuse ``grid``'s memory.
    """
    if not cfg.events.polarity_channels:
        return (np.sign(grid) * np.log1p(np.abs(grid))).astype(np.float32, copy=False)
    np.maximum(grid, 0.0, out=grid)
    return np.log1p(grid, out=grid)


def event_tensor_bins(
    events: Events, crop: CropWindow, t_start_ns: int, t_end_ns: int, cfg: ModelConfig, count: int
) -> np.ndarray:
    """``count`` consecutive equal sub-windows of ``[t_start_ns, t_end_ns)``, each as :func:`event_tensor`: ``(K, C, S, S)``."""
    edges = np.linspace(int(t_start_ns), int(t_end_ns), count + 1).round().astype(np.int64)
    return np.stack(
        [event_tensor(events, crop, int(a), int(b), cfg) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    )


def rgb_tensor(image: np.ndarray, crop: CropWindow, cfg: ModelConfig) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB image cropped to ``crop``: float32 ``(3, S, S)`` normalised with the preset's mean/std."""
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"rgb_tensor needs an (H, W, 3) image, got shape {image.shape}")
    patch = crop.crop_image(np.ascontiguousarray(image)).astype(np.float32) / 255.0
    mean = np.asarray(cfg.rgb_mean, dtype=np.float32)
    std = np.asarray(cfg.rgb_std, dtype=np.float32)
    # Padding outside the image is black before normalisation, as in OSTrack.
    return np.ascontiguousarray(((patch - mean) / std).transpose(2, 0, 1))


def _voxel_grid(window: Events, cfg: ModelConfig, t_start_ns: int, t_end_ns: int, crop: CropWindow) -> np.ndarray:
    """``(C, S, S)`` float32 voxel grid of an already time-sliced window over the crop."""
    grid = voxel_grid(
        window,
        cfg.events.num_bins,
        t_start_ns,
        t_end_ns,
        crop=crop.rect,
        out_hw=(crop.out_size, crop.out_size),
        polarity_channels=cfg.events.polarity_channels,
    )
    return grid.reshape(cfg.events.channels, crop.out_size, crop.out_size)
