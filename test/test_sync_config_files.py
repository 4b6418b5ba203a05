"""config/sync.yaml and config/tracking.yaml list every option with the code's defaults."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from had_tracker.sync.synchronizer import SyncConfig
from had_tracker.tracking.tracker import TrackerConfig

CONFIG = Path(__file__).resolve().parents[1] / "config"


def test_sync_yaml_matches_syncconfig_key_by_key():
    data = yaml.safe_load((CONFIG / "sync.yaml").read_text())["sync"]
    assert set(data) == {f.name for f in dataclasses.fields(SyncConfig)}
    assert SyncConfig.from_yaml(str(CONFIG / "sync.yaml")) == SyncConfig()


def test_tracking_yaml_matches_trackerconfig_key_by_key():
    data = yaml.safe_load((CONFIG / "tracking.yaml").read_text())["tracker"]
    assert set(data) == {f.name for f in dataclasses.fields(TrackerConfig)}
    assert TrackerConfig.from_yaml(CONFIG / "tracking.yaml") == TrackerConfig()
