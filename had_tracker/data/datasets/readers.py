"""Readers of FE108 (raw, processed), FE240hz, VisEvent, COESOT, synthetic and labelled real recordings.

Each sequence becomes a TrackingSequence.

Frames load lazily. Without ``dv_processing`` the readers return the datasets' event images
(``event_frames``) and no raw events; with it (FE108 raw, VisEvent, COESOT) the aedat4 events are
read too. None of these datasets ships per-frame time stamps in its image layout, so frame times
are assumed at ``fps`` (``meta["timing"] == "assumed"``) unless an aedat4 file is decoded.

Conventions (from the datasets' own loaders and toolkits, see the reference digest section 5):
- FE108 raw: ``img/0001.jpg`` 1-based, ``groundtruth_rect.txt`` one box per APS image; the index of
  the first aedat4 APS frame matching ``img/0001`` comes from ``pair.txt`` / ``start_frame_idx_FE108.txt``
  (``meta["aedat_first_frame_index"]``). No absent labels: absent = invalid box.
- FE108 processed (HDETrack/HAD): ``aps/`` + ``dvs/`` frameNNNN, boxes per ``aps`` frame.
- VisEvent: ``vis_imgs/`` + ``event_imgs/``, first index 0 or 1 (taken from the file names);
  ``absent_label.txt`` 1 = present (the toolkit inverts it). Some sequences start absent:
  ``meta["first_present_index"]`` says where trackers usually start.
- COESOT: ``<seq>_aps/`` + ``<seq>_dvs/``, ``absent.txt`` 1 = present, ``start_end_index.txt``
  "first,last" (1-based, inclusive) selects the annotated frames when the folder holds more.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from had_tracker.data.datasets.aedat import aedat_available, read_aedat4
from had_tracker.data.datasets.common import (
    DatasetError,
    LazyImages,
    assumed_timing,
    invalid_box,
    list_images,
    read_boxes,
    read_flags,
    read_name_list,
)
from had_tracker.data.sequence import TrackingSequence
from had_tracker.events.container import Events

log = logging.getLogger(__name__)

FORMATS = ("fe108", "fe240hz", "visevent", "coesot", "synthetic", "real")
DAVIS_FPS = 20.0  # assumed APS rate when a dataset gives no time stamps


def _image_size(frames: LazyImages) -> tuple[int, int]:
    first = frames[0]
    return first.shape[1], first.shape[0]


def _fit(name: str, frames: LazyImages, boxes: np.ndarray, extra: dict[str, np.ndarray]) -> tuple:
    """Trim frames/boxes/flags to a common length, logging (and recording) any mismatch."""
    n = min(len(frames), len(boxes), *(len(v) for v in extra.values()))
    lengths = {"frames": len(frames), "boxes": len(boxes), **{k: len(v) for k, v in extra.items()}}
    if len(set(lengths.values())) > 1:
        log.warning("sequence %s: lengths differ %s; using the first %d", name, lengths, n)
    return LazyImages(frames.paths[:n]), boxes[:n], {k: v[:n] for k, v in extra.items()}, lengths


def _sequence(
    name: str,
    frames: LazyImages,
    boxes: np.ndarray,
    absent: np.ndarray,
    event_frames: LazyImages | None,
    meta: dict,
    fps: float,
    events: Events | None = None,
    exposure: tuple[np.ndarray, np.ndarray] | None = None,
) -> TrackingSequence:
    width, height = _image_size(frames)
    if exposure is not None and len(exposure[0]) >= len(frames):
        start, end = exposure[0][: len(frames)], exposure[1][: len(frames)]
        t = (start + end) // 2
        meta["timing"] = "aedat4"
    else:
        t, start, end = assumed_timing(len(frames), fps)
        meta["timing"] = "assumed"
        meta["assumed_fps"] = fps
    return TrackingSequence(
        name=name,
        frames=frames,
        frame_t_ns=t,
        exposure_start_ns=start,
        exposure_end_ns=end,
        gt_boxes=boxes,
        absent=absent.astype(bool),
        width=width,
        height=height,
        events=events,
        event_frames=event_frames,
        meta=meta,
    )


def _first_index(paths: list[Path]) -> int:
    from had_tracker.data.datasets.common import frame_number

    return frame_number(paths[0])


# ---------------------------------------------------------------------- FE108
def _fe108_offsets(root: Path) -> dict[str, int]:
    """Per-sequence first aedat4 APS frame index from ``pair.txt`` or ``start_frame_idx_FE108.txt`` if present."""
    out: dict[str, int] = {}
    for name in ("pair.txt", "start_frame_idx_FE108.txt"):
        for base in (root, root.parent):
            path = base / name
            if path.is_file():
                for line in read_name_list(path):
                    tokens = line.replace(",", " ").split()
                    if len(tokens) >= 2 and tokens[-1].lstrip("-").isdigit():
                        out.setdefault(tokens[0], int(tokens[-1]))
    return out


def read_fe108(seq_dir: Path, fps: float = DAVIS_FPS, offsets: dict[str, int] | None = None) -> TrackingSequence:
    """One FE108 sequence, raw (``img/`` + ``events.aedat4``) or processed (``aps/`` + ``dvs/``) layout."""
    name = seq_dir.name
    boxes = read_boxes(seq_dir / "groundtruth_rect.txt")
    meta: dict = {"source": "fe108", "path": str(seq_dir)}
    events = exposure = None
    if (seq_dir / "aps").is_dir():
        meta["layout"] = "processed"
        frames = LazyImages(list_images(seq_dir / "aps"))
        event_paths = list_images(seq_dir / "dvs") if (seq_dir / "dvs").is_dir() else None
    elif (seq_dir / "img").is_dir():
        meta["layout"] = "raw"
        frames = LazyImages(list_images(seq_dir / "img"))
        stack = seq_dir / "inter3_stack"
        # FENet's three sub-window stacks per frame; the last one ends at the next APS frame.
        event_paths = list_images(stack, r"_3$") if stack.is_dir() else None
        if offsets and name in offsets:
            meta["aedat_first_frame_index"] = offsets[name]
        aedat = seq_dir / "events.aedat4"
        if aedat.is_file() and aedat_available():
            ev, starts, ends = read_aedat4(aedat)
            first = offsets.get(name, 0) if offsets else 0
            exposure = (starts[first:], ends[first:])
            events = ev
        elif aedat.is_file():
            meta["events"] = "aedat4 present, dv_processing not installed: no raw events"
    else:
        raise DatasetError(f"{seq_dir} is not an FE108 sequence (no img/ or aps/ folder)")
    extra = {"event_frames": np.arange(len(event_paths))} if event_paths else {}
    frames, boxes, _, meta["lengths"] = _fit(name, frames, boxes, extra)
    event_frames = LazyImages(event_paths[: len(frames)]) if event_paths else None
    meta["first_frame_number"] = _first_index(frames.paths)
    return _sequence(name, frames, boxes, invalid_box(boxes), event_frames, meta, fps, events, exposure)


def _is_fe108(path: Path) -> bool:
    return (path / "groundtruth_rect.txt").is_file() and ((path / "img").is_dir() or (path / "aps").is_dir())


# ---------------------------------------------------------------------- VisEvent
def read_visevent(seq_dir: Path, fps: float = DAVIS_FPS) -> TrackingSequence:
    """One VisEvent sequence (``vis_imgs/``, ``event_imgs/``, ``groundtruth.txt``, ``absent_label.txt``)."""
    name = seq_dir.name
    frames = LazyImages(list_images(seq_dir / "vis_imgs"))
    boxes = read_boxes(seq_dir / "groundtruth.txt")
    extra: dict[str, np.ndarray] = {}
    if (seq_dir / "absent_label.txt").is_file():
        extra["present"] = read_flags(seq_dir / "absent_label.txt")
    event_paths = list_images(seq_dir / "event_imgs") if (seq_dir / "event_imgs").is_dir() else None
    if event_paths:
        extra["event_frames"] = np.arange(len(event_paths))
    meta: dict = {"source": "visevent", "path": str(seq_dir)}
    frames, boxes, extra, meta["lengths"] = _fit(name, frames, boxes, extra)
    absent = (extra["present"] == 0) if "present" in extra else invalid_box(boxes)
    present_idx = np.flatnonzero(~absent)
    meta["first_present_index"] = int(present_idx[0]) if len(present_idx) else None
    meta["first_frame_number"] = _first_index(frames.paths)
    events = exposure = None
    aedat = seq_dir / f"{name}.aedat4"
    if aedat.is_file() and aedat_available():
        events, starts, ends = read_aedat4(aedat)
        exposure = (starts, ends)
    event_frames = LazyImages(event_paths[: len(frames)]) if event_paths else None
    return _sequence(name, frames, boxes, absent, event_frames, meta, fps, events, exposure)


def _is_visevent(path: Path) -> bool:
    return (path / "vis_imgs").is_dir() and (path / "groundtruth.txt").is_file()


# ---------------------------------------------------------------------- COESOT
def read_coesot(seq_dir: Path, fps: float = DAVIS_FPS) -> TrackingSequence:
    """One COESOT sequence (``<seq>_aps/``, ``<seq>_dvs/``, ``groundtruth.txt``, ``absent.txt``, ...)."""
    name = seq_dir.name
    paths = list_images(seq_dir / f"{name}_aps")
    boxes = read_boxes(seq_dir / "groundtruth.txt")
    dvs_dir = seq_dir / f"{name}_dvs"
    event_paths = list_images(dvs_dir) if dvs_dir.is_dir() else None
    meta: dict = {"source": "coesot", "path": str(seq_dir)}
    se_file = seq_dir / "start_end_index.txt"
    trim: slice | None = None
    if se_file.is_file():
        first, last = (int(float(v)) for v in se_file.read_text().replace(",", " ").split()[:2])
        meta["start_end_index"] = (first, last)
        if len(paths) > len(boxes) and last - first + 1 == len(boxes) and last <= len(paths):
            trim = slice(first - 1, last)
            paths = paths[trim]
            if event_paths and len(event_paths) >= last:
                event_paths = event_paths[trim]
    extra: dict[str, np.ndarray] = {}
    if (seq_dir / "absent.txt").is_file():
        extra["present"] = read_flags(seq_dir / "absent.txt")
    if event_paths:
        extra["event_frames"] = np.arange(len(event_paths))
    frames, boxes, extra, meta["lengths"] = _fit(name, LazyImages(paths), boxes, extra)
    absent = (extra["present"] == 0) if "present" in extra else invalid_box(boxes)
    meta["first_frame_number"] = _first_index(frames.paths)
    events = exposure = None
    aedat = seq_dir / f"{name}.aedat4"
    if aedat.is_file() and aedat_available():
        events, starts, ends = read_aedat4(aedat)
        # the aedat4 holds every APS frame of the folder: keep the exposures of the frames kept
        exposure = (starts[trim], ends[trim]) if trim is not None and len(starts) >= trim.stop else (starts, ends)
    event_frames = LazyImages(event_paths[: len(frames)]) if event_paths else None
    return _sequence(name, frames, boxes, absent, event_frames, meta, fps, events, exposure)


def _is_coesot(path: Path) -> bool:
    return (path / f"{path.name}_aps").is_dir() and (path / "groundtruth.txt").is_file()


# ---------------------------------------------------------------------- FE240hz
FE240_APS_FPS = 40.0  # img/
FE240_EVENT_FPS = 240.0  # stack240/: one event frame (and one ground-truth box) per 1/240 s


def read_fe240hz(seq_dir: Path, fps: float = FE240_EVENT_FPS, aps_fps: float = FE240_APS_FPS) -> TrackingSequence:
    """One FE240hz sequence: ``img/`` (APS, 40 Hz), ``stack240/`` (event frames, 240 Hz), ``groundtruth_rect.txt``.

    The sequence runs at the event-frame rate: frame ``k`` is event image ``k`` (covering the 1/240 s before
    its time), its box is ground-truth row ``k``, and its RGB frame is the newest APS image at that time
    (``img`` index ``floor(k * aps_fps / fps)``). No time stamps ship: times are assumed at ``fps``. Raw events
    do not ship either: :func:`~had_tracker.data.datasets.event_images.with_pseudo_events` makes them.
    """
    name = seq_dir.name
    aps = list_images(seq_dir / "img")
    stack = list_images(seq_dir / "stack240")
    boxes = read_boxes(seq_dir / "groundtruth_rect.txt")
    meta: dict = {"source": "fe240hz", "path": str(seq_dir), "aps_fps": aps_fps}
    n = min(len(stack), len(boxes))
    lengths = {"stack240": len(stack), "boxes": len(boxes), "img": len(aps)}
    if len(stack) != len(boxes):
        log.warning("sequence %s: lengths differ %s; using the first %d", name, lengths, n)
    meta["lengths"] = lengths
    aps_index = np.minimum(np.floor(np.arange(n) * aps_fps / fps).astype(np.int64), len(aps) - 1)
    frames = LazyImages([aps[i] for i in aps_index])
    event_frames = LazyImages(stack[:n])
    meta["first_frame_number"] = _first_index(stack)
    boxes = boxes[:n]
    return _sequence(name, frames, boxes, invalid_box(boxes), event_frames, meta, fps)


def _is_fe240hz(path: Path) -> bool:
    return (path / "stack240").is_dir() and (path / "img").is_dir() and (path / "groundtruth_rect.txt").is_file()


# ---------------------------------------------------------------------- synthetic folder
def read_synthetic_folder(seq_dir: Path) -> TrackingSequence:
    """One sequence written by :func:`had_tracker.data.writers.write_folder` (aligned events, real times)."""
    name = seq_dir.name
    frames = LazyImages(list_images(seq_dir / f"{name}_aps"))
    event_paths = list_images(seq_dir / f"{name}_dvs") if (seq_dir / f"{name}_dvs").is_dir() else None
    boxes = read_boxes(seq_dir / "groundtruth.txt")
    present = read_flags(seq_dir / "absent.txt")
    times = _int_table(seq_dir / "frame_times.txt", 3)
    meta_file = seq_dir / "metadata.json"
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    with np.load(seq_dir / "events.npz") as z:
        events = Events.from_arrays(z["t"], z["x"], z["y"], z["p"], int(z["width"]), int(z["height"]))
    if not (len(frames) == len(boxes) == len(present) == len(times)):
        raise DatasetError(
            f"{seq_dir}: {len(frames)} frames, {len(boxes)} boxes, {len(present)} flags, {len(times)} time rows"
        )
    hr_t = hr_boxes = hr_absent = None
    hr_file = seq_dir / "groundtruth_hr.txt"
    if hr_file.is_file():
        rows = [line.split(",") for line in hr_file.read_text().splitlines() if line.strip()]
        hr_t = np.array([int(r[0]) for r in rows], np.int64)  # exact ns: no float round trip
        hr = np.array([[float(v) for v in r[1:6]] for r in rows], np.float64).reshape(-1, 5)
        hr_boxes, hr_absent = hr[:, :4], hr[:, 4] == 0
    width, height = _image_size(frames)
    dropped = int(meta.get("stats", {}).get("dropped_buffer", 0) or 0)
    if dropped:
        log.warning(
            "%s: the engine's max_events cap dropped %d events; its event stream ends at %.3f s of %.3f s, the frames "
            "after it have boxes and no events (leave it out of an evaluation, or regenerate with a larger max_events)",
            seq_dir,
            dropped,
            (int(events.t[-1]) - int(times[0, 0])) / 1e9 if len(events) else 0.0,
            (int(times[-1, 0]) - int(times[0, 0])) / 1e9,
        )
    return TrackingSequence(
        name=name,
        frames=frames,
        frame_t_ns=times[:, 0],
        exposure_start_ns=times[:, 1],
        exposure_end_ns=times[:, 2],
        gt_boxes=boxes,
        absent=present == 0,
        width=width,
        height=height,
        events=events,
        event_frames=LazyImages(event_paths) if event_paths else None,
        attributes=dict(meta.get("attributes", {})),
        gt_hr_t_ns=hr_t,
        gt_hr_boxes=hr_boxes,
        gt_hr_absent=hr_absent,
        meta={
            **{k: meta[k] for k in ("seed", "event_to_rgb_offset_ns") if k in meta},
            "source": "synthetic",
            "path": str(seq_dir),
            "dropped_events": dropped,
        },
    )


def _int_table(path: Path, columns: int) -> np.ndarray:
    """Comma-separated integer rows parsed exactly (int64 ns values exceed float precision)."""
    if not path.is_file():
        raise DatasetError(f"missing file {path}")
    try:
        rows = [[int(v) for v in line.split(",")] for line in path.read_text().splitlines() if line.strip()]
    except ValueError as exc:
        raise DatasetError(f"{path}: expected integers: {exc}") from exc
    if any(len(r) != columns for r in rows):
        raise DatasetError(f"{path}: expected {columns} columns per row")
    return np.asarray(rows, np.int64).reshape(-1, columns)


def _is_synthetic(path: Path) -> bool:
    return (path / "events.npz").is_file() and (path / f"{path.name}_aps").is_dir()


# ---------------------------------------------------------------------- real recordings (label files)
def _read_real(label_file: Path) -> TrackingSequence:
    """One labelled real recording (``data/labels/*.json``, see :mod:`had_tracker.data.labels`)."""
    from had_tracker.data.labels.label_file import read_label_sequence

    return read_label_sequence(label_file)


# ---------------------------------------------------------------------- discovery
_READERS: dict[str, tuple[Callable[[Path], bool], Callable[..., TrackingSequence]]] = {
    "fe108": (_is_fe108, read_fe108),
    "fe240hz": (_is_fe240hz, read_fe240hz),
    "visevent": (_is_visevent, read_visevent),
    "coesot": (_is_coesot, read_coesot),
    "synthetic": (_is_synthetic, read_synthetic_folder),
    "real": (lambda p: p.suffix == ".json", _read_real),
}
_LIST_FILES = ("list.txt", "testlist.txt", "trainlist.txt")


def find_sequences(root: Path, fmt: str) -> list[Path]:
    """Sequence folders of ``fmt`` under ``root`` (itself, its children, or grandchildren such as train/test).

    A ``list.txt`` (or ``testlist.txt``/``trainlist.txt``) in the folder that holds the sequences
    selects and orders them. Format ``real``: label files (``*.json``), ``root`` itself or those in it.
    """
    root = Path(root)
    if fmt == "real":
        return [root] if root.is_file() else sorted(root.glob("*.json"))
    is_seq = _READERS[fmt][0]
    if is_seq(root):
        return [root]
    found: list[Path] = []
    for parent in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        children = sorted(p for p in parent.iterdir() if p.is_dir()) if parent.is_dir() else []
        seqs = [p for p in children if is_seq(p)]
        if not seqs:
            continue
        list_file = next((parent / n for n in _LIST_FILES if (parent / n).is_file()), None)
        if list_file is not None:
            by_name = {p.name: p for p in seqs}
            names = read_name_list(list_file)
            missing = [n for n in names if n not in by_name]
            if missing:
                raise DatasetError(f"{list_file} lists {len(missing)} sequence(s) not found, e.g. {missing[0]!r}")
            seqs = [by_name[n] for n in names]
        found.extend(seqs)
        if parent == root:
            break
    return found


def detect_format(root: str | Path) -> str:
    """The dataset format of the sequences under ``root``: the most specific layout that finds any.

    Synthetic folders are tried first: they also have COESOT's ``<seq>_aps``/``<seq>_dvs`` layout, plus raw events.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset root {root} is not a folder")
    for fmt in ("synthetic", "fe240hz", "fe108", "visevent", "coesot"):
        if find_sequences(root, fmt):
            return fmt
    raise DatasetError(f"no {', '.join(FORMATS)} sequences found under {root}")


def _split_filter(root: Path, split: str) -> tuple[Path, list[str] | None]:
    """Resolve ``split``: a sub-folder (``train``, ``test_subset``, ...) or a list file in ``root``."""
    for name in (split, f"{split}_subset", f"{split}ing_subset", f"{split}ingset"):
        if (root / name).is_dir():
            return root / name, None
    for name in (f"{split}.txt", f"{split}list.txt", f"{split}_list.txt", f"COESOT_{split}.txt"):
        if (root / name).is_file():
            return root, read_name_list(root / name)
    raise DatasetError(f"split {split!r} not found under {root}: no such sub-folder or list file")


def load_dataset(
    root: str | Path, fmt: str, split: str | None = None, fps: float | None = None, pseudo_events: bool = False
) -> list[TrackingSequence]:
    """All sequences of a dataset in format ``fmt`` (fe108, visevent, coesot, synthetic) under ``root``.

    ``split`` picks a sub-folder (``train``, ``test``, ``test_subset``, ...) or a list file in ``root``
    (``test.txt``, ``testlist.txt``, ``COESOT_test.txt``). ``fps`` overrides the assumed frame rate of
    datasets without time stamps (default 20 Hz; FE240hz 240 Hz). ``pseudo_events``: sequences without raw
    events get pseudo-events from their event images (:mod:`had_tracker.data.datasets.event_images`).
    """
    fmt = fmt.lower()
    if fmt not in _READERS:
        raise DatasetError(f"unknown dataset format {fmt!r}; choose one of {', '.join(FORMATS)}")
    root = Path(root)
    if fmt == "real" and root.is_file():
        return [_read_real(root)]
    if not root.is_dir():
        raise DatasetError(f"dataset root {root} is not a folder")
    names = None
    if split:
        root, names = _split_filter(root, split)
    seq_dirs = find_sequences(root, fmt)
    if names is not None:
        by_name = {d.name: d for d in seq_dirs}
        if missing := [n for n in names if n not in by_name]:
            raise DatasetError(f"split {split!r} lists {len(missing)} sequence(s) not found, e.g. {missing[0]!r}")
        seq_dirs = [by_name[n] for n in names]
    if not seq_dirs:
        raise DatasetError(f"no {fmt} sequences found under {root}")
    reader = _READERS[fmt][1]
    kwargs: dict = {}
    if fmt not in ("synthetic", "real") and fps is not None:
        kwargs["fps"] = fps
    if fmt == "fe108":
        kwargs["offsets"] = _fe108_offsets(root)
    sequences = [reader(d, **kwargs) for d in seq_dirs]
    if pseudo_events:
        from had_tracker.data.datasets.event_images import with_pseudo_events

        sequences = [with_pseudo_events(s) for s in sequences]
    return sequences
