"""Shared pieces of the dataset readers: lazy image lists, annotation files, assumed frame timing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from had_tracker.errors import HadTrackerError

IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg")
NS_PER_S = 1_000_000_000


class DatasetError(HadTrackerError):
    """A dataset folder that does not follow the expected layout, or an unreadable file in it."""


class LazyImages(Sequence):
    """Images on disk, read on index as ``(H, W, 3)`` uint8 RGB (a FrameSource)."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if isinstance(index, slice):
            raise TypeError("LazyImages supports integer indices only")
        path = self.paths[index]
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise DatasetError(f"cannot read image {path}")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def frame_number(path: Path) -> int:
    """The last integer in a file name (``frame0012.bmp`` -> 12, ``0001.jpg`` -> 1)."""
    digits = re.findall(r"\d+", path.stem)
    if not digits:
        raise DatasetError(f"image name {path.name} carries no frame number")
    return int(digits[-1])


def list_images(folder: Path, suffix_pattern: str = "") -> list[Path]:
    """Image files in ``folder`` sorted by frame number (``suffix_pattern`` filters stems by regex)."""
    if not folder.is_dir():
        raise DatasetError(f"missing image folder {folder}")
    paths = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    if suffix_pattern:
        paths = [p for p in paths if re.search(suffix_pattern, p.stem)]
    if not paths:
        raise DatasetError(f"no images in {folder}")
    return sorted(paths, key=frame_number)


def read_boxes(path: Path) -> np.ndarray:
    """``x, y, w, h`` rows (comma, tab or space separated) -> ``(N, 4)`` float64; NaN tokens allowed."""
    if not path.is_file():
        raise DatasetError(f"missing annotation file {path}")
    rows = []
    for line_no, line in enumerate(path.read_text().splitlines(), 1):
        tokens = [t for t in re.split(r"[,\s]+", line.strip()) if t]
        if not tokens:
            continue
        try:
            values = [float(t) for t in tokens[:4]]
        except ValueError as exc:
            raise DatasetError(f"{path}:{line_no}: not a number in {line!r}") from exc
        if len(values) != 4:
            raise DatasetError(f"{path}:{line_no}: expected x,y,w,h, got {line!r}")
        rows.append(values)
    if not rows:
        raise DatasetError(f"{path} holds no boxes")
    return np.asarray(rows, np.float64)


def read_flags(path: Path) -> np.ndarray:
    """One integer per line (first column) -> int array."""
    if not path.is_file():
        raise DatasetError(f"missing label file {path}")
    values = []
    for line_no, line in enumerate(path.read_text().splitlines(), 1):
        tokens = [t for t in re.split(r"[,\s]+", line.strip()) if t]
        if tokens:
            try:
                values.append(int(float(tokens[0])))
            except ValueError as exc:
                raise DatasetError(f"{path}:{line_no}: not an integer in {line!r}") from exc
    return np.asarray(values, np.int64)


def read_name_list(path: Path) -> list[str]:
    """Sequence names, one per line (CRLF and a missing final newline are fine)."""
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def assumed_timing(n: int, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame times and exposure windows when a dataset ships none: frame i at i/fps, exposure = the period."""
    period = NS_PER_S / fps
    t = np.rint(np.arange(n) * period).astype(np.int64)
    half = int(period // 2)
    return t, t - half, t + half


def invalid_box(boxes: np.ndarray) -> np.ndarray:
    """Rows that cannot be a present target: NaN or non-positive size."""
    return ~np.all(np.isfinite(boxes), axis=1) | (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)
