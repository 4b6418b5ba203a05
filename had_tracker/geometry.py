"""Crop geometry shared by training (sampler) and tracking: one square crop applied to every modality.

OSTrack/HDETrack convention: a square of side ``ceil(sqrt(w * h) * factor)`` pixels centred on the box
centre, resized to ``out_size``; parts outside the image are zero-padded. Events are cropped by mapping
their coordinates (see ``had_tracker.events.representations``), images by an affine warp, so both
modalities see exactly the same window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def validate_box(box_xywh: np.ndarray | tuple[float, float, float, float]) -> np.ndarray:
    """Return the box as a float64 array ``[x, y, w, h]``; raise ValueError if it is not finite or w, h <= 0."""
    box = np.asarray(box_xywh, dtype=np.float64).reshape(-1)
    if box.shape != (4,) or not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"invalid box {box_xywh!r}: need finite x, y, w, h with w > 0 and h > 0")
    return box


@dataclass(frozen=True)
class CropWindow:
    """A square window ``[x0, x0 + side) x [y0, y0 + side)`` in image pixels, resized to ``out_size``."""

    x0: float
    y0: float
    side: float
    out_size: int

    @classmethod
    def around(
        cls, box_xywh: np.ndarray | tuple[float, float, float, float], factor: float, out_size: int
    ) -> CropWindow:
        """The crop of ``factor`` times the box's geometric-mean side, centred on the box centre."""
        x, y, w, h = validate_box(box_xywh)
        side = max(math.ceil(math.sqrt(w * h) * factor), 1)
        cx, cy = x + 0.5 * w, y + 0.5 * h
        return cls(float(round(cx - 0.5 * side)), float(round(cy - 0.5 * side)), float(side), int(out_size))

    @property
    def scale(self) -> float:
        """Output pixels per image pixel."""
        return self.out_size / self.side

    @property
    def rect(self) -> tuple[float, float, float, float]:
        """``(x0, y0, side, side)``: the crop as the representations' ``crop`` argument."""
        return (self.x0, self.y0, self.side, self.side)

    def box_to_crop(self, box_xywh: np.ndarray) -> np.ndarray:
        """Map boxes ``(..., 4)`` xywh from image pixels to crop pixels."""
        box = np.asarray(box_xywh, dtype=np.float64)
        out = box.copy()
        out[..., 0] = (box[..., 0] - self.x0) * self.scale
        out[..., 1] = (box[..., 1] - self.y0) * self.scale
        out[..., 2:] = box[..., 2:] * self.scale
        return out

    def box_from_crop(self, box_xywh_crop: np.ndarray) -> np.ndarray:
        """Map boxes ``(..., 4)`` xywh from crop pixels back to image pixels."""
        box = np.asarray(box_xywh_crop, dtype=np.float64)
        out = box.copy()
        out[..., 0] = box[..., 0] / self.scale + self.x0
        out[..., 1] = box[..., 1] / self.scale + self.y0
        out[..., 2:] = box[..., 2:] / self.scale
        return out

    def crop_image(self, image: np.ndarray, border_value: float = 0.0) -> np.ndarray:
        """Crop-and-resize an ``(H, W[, C])`` image to ``(out_size, out_size[, C])`` (zero padding outside)."""
        import cv2

        s = self.scale
        # Pixel centres: u + 0.5 = (x + 0.5 - x0) * s, the same mapping the event representations use.
        matrix = np.array([[s, 0.0, 0.5 * s - 0.5 - self.x0 * s], [0.0, s, 0.5 * s - 0.5 - self.y0 * s]])
        interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
        return cv2.warpAffine(
            image,
            matrix,
            (self.out_size, self.out_size),
            flags=interp,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=border_value,
        )


def clip_box(box_xywh: np.ndarray, width: int, height: int, min_size: float = 1.0) -> np.ndarray:
    """Clip a box to the image, keeping at least ``min_size`` pixels of width and height."""
    x, y, w, h = np.asarray(box_xywh, dtype=np.float64)
    x1, y1 = min(max(x, 0.0), width - min_size), min(max(y, 0.0), height - min_size)
    x2, y2 = max(min(x + w, float(width)), x1 + min_size), max(min(y + h, float(height)), y1 + min_size)
    return np.array([x1, y1, x2 - x1, y2 - y1])
