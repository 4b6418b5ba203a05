"""Dataset readers -> TrackingSequence, and pseudo-events from event images.

Formats: FE108 (raw and processed), FE240hz, VisEvent, COESOT, synthetic folders, labelled real recordings.
"""

from had_tracker.data.datasets.aedat import aedat_available
from had_tracker.data.datasets.common import DatasetError, LazyImages
from had_tracker.data.datasets.event_images import pseudo_event_stream, pseudo_events, with_pseudo_events
from had_tracker.data.datasets.readers import (
    FORMATS,
    detect_format,
    find_sequences,
    load_dataset,
    read_coesot,
    read_fe108,
    read_fe240hz,
    read_synthetic_folder,
    read_visevent,
)

__all__ = [
    "FORMATS",
    "DatasetError",
    "LazyImages",
    "aedat_available",
    "detect_format",
    "find_sequences",
    "load_dataset",
    "read_coesot",
    "read_fe108",
    "read_fe240hz",
    "read_synthetic_folder",
    "read_visevent",
    "pseudo_event_stream",
    "pseudo_events",
    "with_pseudo_events",
]
