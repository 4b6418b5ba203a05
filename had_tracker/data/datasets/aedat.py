"""Optional aedat4 reading through ``dv_processing`` (the ``aedat`` extra); without it the readers use event images."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from had_tracker.data.datasets.common import DatasetError
from had_tracker.events.container import Events


def aedat_available() -> bool:
    """True when ``dv_processing`` can be imported."""
    return importlib.util.find_spec("dv_processing") is not None


def read_aedat4(path: Path) -> tuple[Events, np.ndarray, np.ndarray]:
    """Events and APS frame exposure windows of an aedat4 file, via dv_processing.

    Returns ``(events (sensor clock, ns), exposure_start_ns (N,), exposure_end_ns (N,))``; an unreadable file
    is a one-line DatasetError (dv_processing raises RuntimeErrors with C++ stack traces).
    """
    if not aedat_available():
        raise DatasetError("reading .aedat4 needs the optional 'aedat' extra (pip install dv-processing)")
    try:
        return _read_aedat4(path)
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = next((line for line in lines if "Error info" in line), lines[0] if lines else type(exc).__name__)
        raise DatasetError(f"cannot read {path}: {detail}") from None


def _read_aedat4(path: Path) -> tuple[Events, np.ndarray, np.ndarray]:
    import dv_processing as dv

    reader = dv.io.MonoCameraRecording(str(path))
    if not reader.isEventStreamAvailable():
        raise DatasetError(f"{path} has no event stream")
    width, height = reader.getEventResolution()
    parts = []
    while (batch := reader.getNextEventBatch()) is not None:
        arr = batch.numpy()
        if len(arr):
            parts.append(arr)
    starts, ends = [], []
    if reader.isFrameStreamAvailable():
        while (frame := reader.getNextFrame()) is not None:
            exposure = frame.exposure
            exposure_us = exposure.total_seconds() * 1e6 if hasattr(exposure, "total_seconds") else float(exposure)
            starts.append(int(frame.timestamp) * 1000)
            ends.append(int(frame.timestamp) * 1000 + round(exposure_us * 1000))  # integer ns: no float rounding
    if parts:
        arr = np.concatenate(parts)
        events = Events.from_arrays(
            arr["timestamp"].astype(np.int64) * 1000, arr["x"], arr["y"], arr["polarity"], width, height
        )
    else:
        events = Events.empty(width, height)
    return events, np.asarray(starts, np.int64), np.asarray(ends, np.int64)
