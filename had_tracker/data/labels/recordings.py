"""Real recordings for labelling and evaluation.

An aedat4 file (events + APS frames), a rosbag2 bag, a Prophesee RAW file (EVT 3.0) or an ``.npz`` of ``t`` (ns),
``x``, ``y``, ``p``, ``width``, ``height`` as ``had-tracker events dump`` writes it (the way in for any other format).

Recordings stay where they are (``../shared/data`` by default, ``HAD_TRACKER_REAL_DATA`` or an explicit
root otherwise); label files name them relative to that root and pin their sha256.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from had_tracker.data.datasets.common import DatasetError
from had_tracker.errors import BagError
from had_tracker.events.container import Events

ENV_ROOTS = ("HAD_TRACKER_REAL_DATA", "HAD_TRACKER_TEST_DATA")
log = logging.getLogger(__name__)


@dataclass
class Recording:
    """Decoded events (ns, sensor clock) and, for aedat4, the grey APS frames with their exposure windows."""

    path: Path
    kind: str  # "aedat4" | "bag" | "raw" | "npz"
    events: Events
    frames: np.ndarray | None = None  # (N, H, W) uint8 grey
    exposure_start_ns: np.ndarray | None = None
    exposure_end_ns: np.ndarray | None = None

    @property
    def frame_t_ns(self) -> np.ndarray | None:
        """Mid-exposure time of each APS frame (None without frames)."""
        if self.exposure_start_ns is None:
            return None
        return (self.exposure_start_ns + self.exposure_end_ns) // 2


def default_data_root() -> Path:
    """The real-data root: ``$HAD_TRACKER_REAL_DATA``, ``$HAD_TRACKER_TEST_DATA``, else ``../shared/data``.

    ``../shared/data`` is looked for beside the repository, then beside the working directory.
    """
    for name in ENV_ROOTS:
        if os.environ.get(name):
            return Path(os.environ[name])
    repo = Path(__file__).resolve().parents[3]
    for base in (repo, Path.cwd()):
        candidate = (base / ".." / "shared" / "data").resolve()
        if candidate.is_dir():
            return candidate
    return (repo / ".." / "shared" / "data").resolve()


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file (for a bag folder: of its single .mcap/.db3 file)."""
    path = storage_file(Path(path))
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def storage_file(path: Path) -> Path:
    """The file that holds the data: the path itself, or a bag folder's only .mcap/.db3 file."""
    if path.is_file():
        return path
    files = sorted([*path.glob("*.mcap"), *path.glob("*.db3")]) if path.is_dir() else []
    if len(files) != 1:
        raise DatasetError(f"{path}: expected a file or a bag folder with one .mcap/.db3 file, found {len(files)}")
    return files[0]


def load_recording(path: str | Path) -> Recording:
    """Read a recording into a :class:`Recording`.

    ``.aedat4``; a Prophesee ``.raw`` (EVT 3.0, geometry from its header); an ``.npz`` with ``t`` (ns), ``x``, ``y``,
    ``p``, ``width``, ``height`` (``had-tracker events dump``); otherwise a rosbag2 bag folder (or its .mcap/.db3).
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"no recording at {path}")
    suffix = path.suffix.lower()
    if suffix == ".aedat4":
        return _load_aedat4(path)
    if suffix == ".raw":
        from had_tracker.events.raw_file import read_raw

        decoded, _, _ = read_raw(path)
        return Recording(path, "raw", _time_ordered(decoded.events, path))
    if suffix == ".npz":
        return Recording(path, "npz", _load_npz(path))
    return Recording(path, "bag", _load_bag_events(path.parent if path.is_file() else path))


def _load_aedat4(path: Path) -> Recording:
    from had_tracker.data.datasets.aedat import read_aedat4

    events, starts, ends = read_aedat4(path)
    import dv_processing as dv

    reader = dv.io.MonoCameraRecording(str(path))
    frames = []
    if reader.isFrameStreamAvailable():
        while (frame := reader.getNextFrame()) is not None:
            image = np.asarray(frame.image)
            frames.append(image if image.ndim == 2 else image[..., 0])
    stack = np.stack(frames) if frames else None
    if stack is None:
        return Recording(path, "aedat4", events)
    return Recording(path, "aedat4", events, stack, starts, ends)


def _load_npz(path: Path) -> Events:
    with np.load(path) as data:
        missing = [k for k in ("t", "x", "y", "p", "width", "height") if k not in data.files]
        if missing:
            raise DatasetError(f"{path}: an event .npz needs t (ns), x, y, p, width, height; missing {missing}")
        arrays = {k: data[k] for k in ("t", "x", "y", "p")}
        width, height = int(data["width"]), int(data["height"])
    if width <= 0 or height <= 0:
        raise DatasetError(f"{path}: width and height must be > 0, got {width}x{height}")
    n = {len(a) for a in arrays.values()}
    if len(n) != 1:
        raise DatasetError(f"{path}: t, x, y, p have different lengths {sorted(n)}")
    if len(arrays["t"]) and (
        arrays["x"].min() < 0 or arrays["y"].min() < 0 or arrays["x"].max() >= width or arrays["y"].max() >= height
    ):
        raise DatasetError(f"{path}: event coordinates outside the {width}x{height} sensor")
    events = Events.from_arrays(arrays["t"], arrays["x"], arrays["y"], arrays["p"], width, height)
    return _time_ordered(events, path)


def _time_ordered(events: Events, path: Path) -> Events:
    """``events`` sorted by time (stable) when they are not; logged, since readers slice by time."""
    if len(events) > 1 and np.any(np.diff(events.t) < 0):
        log.warning("%s: event times decrease in places; sorted by time", path)
        order = np.argsort(events.t, kind="stable")
        events = Events.from_arrays(
            events.t[order], events.x[order], events.y[order], events.p[order], events.width, events.height
        )
    return events


def _load_bag_events(bag: Path) -> Events:
    from had_tracker.events.bag_events import iter_bag_events

    try:
        chunks = list(iter_bag_events(bag))
    except BagError as exc:
        if "Storage plugin" not in str(exc):
            raise
        chunks = _read_unnamed_storage(bag)
    if not chunks:
        raise DatasetError(f"{bag}: no event messages")
    events = Events.concatenate([c.decoded.events for c in chunks])
    return events


def _read_unnamed_storage(bag: Path) -> list:
    """Events of a v5 bag whose metadata says ``storage_identifier: ""``.

    Read through a temporary copy of the metadata that names the storage after the data file's extension
    (the recording itself is untouched).
    """
    import yaml

    from had_tracker.events.bag_events import iter_bag_events

    data_file = storage_file(bag)
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())
    info = meta["rosbag2_bagfile_information"]
    info["storage_identifier"] = "mcap" if data_file.suffix == ".mcap" else "sqlite3"
    tmp = Path(tempfile.mkdtemp(prefix="had_bag_"))
    try:
        (tmp / "metadata.yaml").write_text(yaml.safe_dump(meta))
        (tmp / data_file.name).symlink_to(data_file.resolve())
        return list(iter_bag_events(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
