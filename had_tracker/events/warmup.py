"""Load (or compile, on a cold cache) every compiled kernel of the events layer up front.

The first call of a numba kernel in a process costs about a second (numba import and cache load;
several seconds when the on-disk cache is cold). Nodes call :func:`warm_up` at start-up so the first
packet does not pay it.
"""

from __future__ import annotations

import time

import numpy as np


def warm_up() -> float:
    """Run every decoder, encoder and representation kernel once on tiny inputs; returns seconds spent."""
    from had_tracker.events.buffer import EventBuffer
    from had_tracker.events.container import Events
    from had_tracker.events.decoders import SUPPORTED_ENCODINGS, make_decoder
    from had_tracker.events.encoders import Evt3Encoder
    from had_tracker.events.representations import count_frame, count_in_rect, time_surface, voxel_grid

    t0 = time.perf_counter()
    events = Events.from_arrays([0, 1000], [1, 2], [1, 2], [0, 1], 4, 4)
    payload = Evt3Encoder().encode(events)
    for encoding in SUPPORTED_ENCODINGS:
        make_decoder(encoding, 4, 4).decode_bytes(payload if encoding == "evt3" else np.zeros(8, np.uint8))
    EventBuffer(10**9, 16).append(events)  # also the time-order scan the synchronizer uses
    count_frame(events)
    voxel_grid(events, 2)
    voxel_grid(events, 2, crop=(0.0, 0.0, 4.0, 4.0), out_hw=(2, 2))  # the general (crop-and-resize) kernel
    time_surface(events, 1000, 1000.0)
    count_in_rect(events.x, events.y, 0, 2, 0, 2)
    _warm_tracking_kernels(events)
    return time.perf_counter() - t0


def _warm_tracking_kernels(events: object) -> None:
    """The synchronizer's region-of-interest filter and the tracker's search-input kernels."""
    from types import SimpleNamespace

    from had_tracker.geometry import CropWindow
    from had_tracker.sync.roi import Roi, filter_events
    from had_tracker.tracking.crop_input import CropInputBuilder

    filter_events(events, Roi(0, 2, 0, 2))
    cfg = SimpleNamespace(events=SimpleNamespace(num_bins=2, polarity_channels=True))
    builder = CropInputBuilder()
    for end in (2000, 2000, 1500):  # whole chunks (moments, then per-cell sums: same crop), a partial one
        builder.build([(0, 2000, events)], CropWindow(0.0, 0.0, 4.0, 4), 0, end, cfg)
