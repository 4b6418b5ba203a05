"""Dataset readers -> TrackingSequence: FE108 (raw and processed), VisEvent, COESOT, synthetic folders."""

from had_tracker.data.datasets.aedat import aedat_available
from had_tracker.data.datasets.common import DatasetError, LazyImages
from had_tracker.data.datasets.readers import (
    FORMATS,
    detect_format,
    find_sequences,
    load_dataset,
    read_coesot,
    read_fe108,
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
    "read_synthetic_folder",
    "read_visevent",
]
