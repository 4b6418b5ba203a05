"""Every config/synthetic/*.yaml applies cleanly on top of the presets (as ``synth --config`` reads it)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from had_tracker.commands.synth import _overrides
from had_tracker.data.synthetic import SyntheticConfig

FILES = sorted((Path(__file__).resolve().parents[1] / "config" / "synthetic").glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
@pytest.mark.parametrize("preset", ["easy", "photoreal", "photoreal-egomotion"])
def test_synthetic_config_file_applies_to_the_presets(path, preset):
    values = _overrides(argparse.Namespace(config=str(path), duration=None, assets=None))
    cfg = SyntheticConfig.from_preset(preset, **values)
    for key, value in values.items():
        assert getattr(cfg, key) == value


def test_sensor_geometries_are_shipped():
    sizes = set()
    for path in FILES:
        values = _overrides(argparse.Namespace(config=str(path), duration=None, assets=None))
        sizes.add((values.get("width", 346), values.get("height", 260)))
    assert {(346, 260), (640, 480), (1280, 720)} <= sizes
