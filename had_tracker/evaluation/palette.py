"""One colour per tracker name, shared by every plot and frame strip (so blue means the same tracker everywhere).

Known trackers have fixed colours; any other name gets one from ``EXTRA_COLORS`` chosen by a stable hash of
the name, so the same name has the same colour in every figure whatever the order or subset of trackers.
"""

from __future__ import annotations

import zlib

RGB = tuple[int, int, int]

GT_COLOR: RGB = (0, 200, 0)  # ground truth: green in every figure

TRACKER_COLORS: dict[str, RGB] = {
    "HAD student": (230, 30, 30),
    "HAD teacher": (255, 140, 0),
    "MIL (rgb)": (30, 100, 255),
    "MIL (events)": (230, 190, 0),
    "KCF (rgb)": (0, 185, 215),
    "KCF (events)": (130, 90, 20),
    "CSRT (rgb)": (200, 0, 200),
    "CSRT (events)": (120, 60, 200),
}
EXTRA_COLORS: tuple[RGB, ...] = ((90, 90, 90), (0, 128, 128), (128, 0, 64), (70, 130, 60), (160, 100, 160))


def tracker_color(name: str) -> RGB:
    """The RGB colour (0-255) of tracker ``name``."""
    if name in TRACKER_COLORS:
        return TRACKER_COLORS[name]
    return EXTRA_COLORS[zlib.crc32(name.encode("utf-8")) % len(EXTRA_COLORS)]


def mpl_color(rgb: RGB) -> tuple[float, float, float]:
    """An RGB colour as matplotlib wants it (0-1 floats)."""
    return tuple(c / 255.0 for c in rgb)  # type: ignore[return-value]


__all__ = ["EXTRA_COLORS", "GT_COLOR", "TRACKER_COLORS", "mpl_color", "tracker_color"]
