"""had_tracker.events: container, stream decoders/encoders, buffer, representations, RAW files.

Submodules load on first use (numba kernels come from the on-disk cache), so importing the package
stays cheap: ``from had_tracker.events import make_decoder`` imports only what it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

from had_tracker.events.container import Events, Triggers

_LAZY = {
    "make_decoder": "decoders",
    "StreamDecoder": "decoders",
    "DecodedPacket": "decoders",
    "DecodeUntilResult": "decoders",
    "DecoderRegistry": "decoders",
    "EventPacketData": "decoders",
    "SUPPORTED_ENCODINGS": "decoders",
    "Evt3Encoder": "encoders",
    "encode_mono": "encoders",
    "encode_trigger": "encoders",
    "EncodeError": "encoders",
    "EventBuffer": "buffer",
    "count_frame": "representations",
    "voxel_grid": "representations",
    "time_surface": "representations",
    "parse_event_array_cdr": "event_arrays",
    "events_from_event_array": "event_arrays",
    "EventArrayData": "event_arrays",
    "read_raw": "raw_file",
    "read_raw_header": "raw_file",
    "iter_raw_chunks": "raw_file",
    "iter_bag_events": "bag_events",
    "BagEventChunk": "bag_events",
    "warm_up": "warmup",
}

__all__ = ["Events", "Triggers", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'had_tracker.events' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"had_tracker.events.{module}"), name)
    globals()[name] = value
    return value
