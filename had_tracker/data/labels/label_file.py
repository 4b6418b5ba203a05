"""Label files of real recordings (JSON with provenance) and the TrackingSequence they describe.

A label file names its recording relative to the real-data root and pins its sha256, records the labelling
procedure with every parameter, the command that wrote it and the manual seed box, and lists one box per
label time (``t_ns, x, y, w, h, n_events, held``). :func:`read_label_sequence` turns it into a
:class:`~had_tracker.data.sequence.TrackingSequence` for ``eval dataset --format real``: APS frames as the
RGB frames (grey to three channels) when the recording has them, else a blank frame per label time with
``meta["rgb"] = False`` (RGB trackers refuse such a sequence).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from had_tracker.data.datasets.common import DatasetError
from had_tracker.data.labels.recordings import default_data_root, load_recording, sha256_file
from had_tracker.data.sequence import TrackingSequence

FORMAT_VERSION = 1


class GreyFrames:
    """``(N, H, W)`` grey frames seen as RGB frames (a FrameSource)."""

    def __init__(self, grey: np.ndarray, index: np.ndarray) -> None:
        self.grey, self.index = grey, np.asarray(index, np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> np.ndarray:
        return np.repeat(self.grey[self.index[i]][..., None], 3, axis=2)


class BlankFrames:
    """A black frame per label time, for event-only recordings (a FrameSource)."""

    def __init__(self, n: int, width: int, height: int) -> None:
        self.n, self.shape = n, (height, width, 3)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> np.ndarray:
        if not -self.n <= i < self.n:
            raise IndexError(i)
        return np.zeros(self.shape, np.uint8)


def write_label_file(
    path: str | Path,
    header: dict[str, Any],
    t_ns: np.ndarray,
    boxes: np.ndarray,
    n_events: np.ndarray,
    held: np.ndarray,
) -> Path:
    """Write ``header`` (name, recording, sha256, procedure, params, command, ...) and one label per time."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = [
        [int(t), *(round(float(v), 2) for v in b), int(n), int(h)]
        for t, b, n, h in zip(np.asarray(t_ns, np.int64), boxes, n_events, held, strict=True)
    ]
    doc = {"format_version": FORMAT_VERSION, **header, "columns": ["t_ns", "x", "y", "w", "h", "n_events", "held"]}
    text = json.dumps(doc, indent=1)
    body = ",\n  ".join(json.dumps(r) for r in labels)
    path.write_text(text[:-2] + f',\n "labels": [\n  {body}\n ]\n}}\n')
    return path


def read_label_file(path: str | Path) -> dict[str, Any]:
    """The label document; DatasetError for a missing or malformed file."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"cannot read label file {path}: {exc}") from None
    for key in ("name", "recording", "sha256", "labels"):
        if key not in doc:
            raise DatasetError(f"label file {path} lacks {key!r}")
    return doc


def label_times(doc: dict[str, Any]) -> np.ndarray:
    return np.array([int(r[0]) for r in doc["labels"]], np.int64)


def label_boxes(doc: dict[str, Any]) -> np.ndarray:
    return np.array([r[1:5] for r in doc["labels"]], np.float64).reshape(-1, 4)


def nearest_index(sorted_t: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index of the element of ``sorted_t`` (ascending, non-empty) nearest to each ``t`` (either side)."""
    right = np.clip(np.searchsorted(sorted_t, t), 0, len(sorted_t) - 1)
    left = np.maximum(right - 1, 0)
    return np.where(np.abs(sorted_t[left] - t) < np.abs(sorted_t[right] - t), left, right)


def read_label_sequence(path: str | Path, data_root: str | Path | None = None, verify: bool = True) -> TrackingSequence:
    """The labelled recording as a TrackingSequence (events on the sensor clock = the frames' clock)."""
    doc = read_label_file(path)
    root = Path(data_root) if data_root else default_data_root()
    rec_path = root / doc["recording"]
    if not rec_path.exists():
        raise DatasetError(f"{path}: recording {rec_path} not found (set --data-root or $HAD_TRACKER_REAL_DATA)")
    if verify and (digest := sha256_file(rec_path)) != doc["sha256"]:
        raise DatasetError(f"{rec_path}: sha256 {digest} differs from the label file's {doc['sha256']}")
    rec = load_recording(rec_path)
    t = label_times(doc)
    boxes = label_boxes(doc)
    width, height = rec.events.width, rec.events.height
    meta = {"source": "real", "path": str(path), "recording": str(rec_path), "rgb": rec.frames is not None}
    if rec.frames is not None:
        ft = rec.frame_t_ns
        index = nearest_index(ft, t)
        if np.any(np.abs(ft[index] - t) > 1_000):  # labels at APS times: the frame of each label time
            raise DatasetError(f"{path}: label times do not match the recording's APS frame times")
        frames: Any = GreyFrames(rec.frames, index)
        start, end = rec.exposure_start_ns[index], rec.exposure_end_ns[index]
        height, width = rec.frames.shape[1:3]
    else:
        frames = BlankFrames(len(t), width, height)
        period = np.diff(t, prepend=t[0] - (t[1] - t[0] if len(t) > 1 else 10_000_000))
        start, end = t - period // 2, t + period // 2
    return TrackingSequence(
        name=str(doc["name"]),
        frames=frames,
        frame_t_ns=t,
        exposure_start_ns=np.asarray(start, np.int64),
        exposure_end_ns=np.asarray(end, np.int64),
        gt_boxes=boxes,
        absent=np.zeros(len(t), bool),
        width=int(width),
        height=int(height),
        events=rec.events,
        attributes=dict(doc.get("attributes", {})),
        meta=meta,
    )
