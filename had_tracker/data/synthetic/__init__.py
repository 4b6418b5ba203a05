"""Synthetic RGB+event data engine: scene generator, ESIM-style event model, RGB exposure model, ground truth.

Entry points: :class:`SyntheticConfig` (``from_preset``), :func:`generate_sequence` ->
:class:`SyntheticRecording` (raw sensor view; ``.aligned()`` -> TrackingSequence).
"""

from had_tracker.data.synthetic.config import ATTRIBUTE_BUNDLES, PRESET_NAMES, PRESETS, SyntheticConfig
from had_tracker.data.synthetic.generator import generate_sequence
from had_tracker.data.synthetic.recording import CameraIntrinsics, SyntheticRecording, register_events

__all__ = [
    "ATTRIBUTE_BUNDLES",
    "PRESETS",
    "PRESET_NAMES",
    "CameraIntrinsics",
    "SyntheticConfig",
    "SyntheticRecording",
    "generate_sequence",
    "register_events",
]
