"""Configuration files: wrong types and nonsense are one-line errors naming the field; 1e7 is a number."""

from __future__ import annotations

import pytest
import yaml

from had_tracker.cli import main
from had_tracker.errors import ConfigError
from had_tracker.models.config import ModelConfig
from had_tracker.sync.synchronizer import SyncConfig
from had_tracker.tracking.tracker import TrackerConfig
from had_tracker.training.config import TrainConfig
from test.conftest import REPO_ROOT


def _yaml(tmp_path, text: str, name: str = "cfg.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _train_yaml(tmp_path, **changes):
    data = yaml.safe_load((REPO_ROOT / "config" / "train" / "cpu-tiny-student.yaml").read_text())
    data.update(changes)
    return _yaml(tmp_path, yaml.safe_dump(data), "train.yaml")


@pytest.mark.parametrize(
    ("loader", "text", "field"),
    [
        (SyncConfig.from_yaml, "rate_hz: fast\n", "rate_hz"),
        (SyncConfig.from_yaml, "rate_hz: .inf\n", "rate_hz"),
        (SyncConfig.from_yaml, "sync:\n  events_per_window: 0.5\n", "events_per_window"),
        (SyncConfig.from_yaml, "max_gap_windows: true\n", "max_gap_windows"),
        (SyncConfig.from_yaml, "policy: 3\n", "policy"),
        (TrackerConfig.from_yaml, "lost_patience: 2.5\n", "lost_patience"),
        (TrackerConfig.from_yaml, "tracker:\n  lost_threshold: .nan\n", "lost_threshold"),
        (TrackerConfig.from_yaml, "hann_weight: [1]\n", "hann_weight"),
    ],
)
def test_wrong_types_and_nonsense_are_one_line_errors_naming_the_field(tmp_path, loader, text, field):
    with pytest.raises(ConfigError, match=field) as info:
        loader(str(_yaml(tmp_path, text)))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"log_every": 0}, "log_every"), ({"batch_size": 2.5}, "batch_size"), ({"lr": "fast"}, "lr")],
)
def test_train_config_errors_name_the_field(tmp_path, changes, field):
    with pytest.raises(ConfigError, match=field):
        TrainConfig.from_yaml(_train_yaml(tmp_path, **changes))


def test_model_config_window_ms_nan_is_refused(tmp_path):
    data = yaml.safe_load((REPO_ROOT / "config" / "models" / "cpu-tiny.yaml").read_text())
    data["events"]["window_ms"] = float("nan")
    with pytest.raises(ConfigError, match="window_ms"):
        ModelConfig.from_yaml(_yaml(tmp_path, yaml.safe_dump(data), "model.yaml"), "student")


def test_1e7_is_a_number_and_infinity_only_where_the_default_is(tmp_path):
    assert yaml.safe_load("x: 1e7")["x"] == "1e7"  # why: PyYAML (YAML 1.1) reads it as a string
    cfg = SyncConfig.from_yaml(str(_yaml(tmp_path, "buffer_max_events: 1e7\nrate_hz: 1e3\nplane_depth_m: .inf\n")))
    assert cfg.buffer_max_events == 10_000_000 and isinstance(cfg.buffer_max_events, int)
    assert cfg.rate_hz == 1000.0 and cfg.plane_depth_m == float("inf")
    assert TrainConfig.from_yaml(_train_yaml(tmp_path, steps="1e3")).steps == 1000


def test_cli_config_errors_exit_2_with_one_line(tmp_path, capsys):
    bad_sync = _yaml(tmp_path, "rate_hz: fast\n", "sync.yaml")
    assert main(["replay", str(tmp_path / "nobag"), "--out", str(tmp_path / "o"), "--sync-config", str(bad_sync)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rate_hz" in err[0]
    bad_train = _train_yaml(tmp_path, log_every=0)
    assert (
        main(["train", "student", "--config", str(bad_train), "--out", str(tmp_path / "r"), "--distill", "none"]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "log_every" in err[0]


def test_shipped_configs_still_load():
    for name in ("cpu-tiny-student", "cpu-tiny-teacher"):
        TrainConfig.from_yaml(name)
    for name in ("cpu-tiny", "cpu-small", "gpu-base"):
        ModelConfig.from_yaml(name, "student")
    SyncConfig.from_yaml(str(REPO_ROOT / "config" / "sync.yaml"))
    TrackerConfig.from_yaml(str(REPO_ROOT / "config" / "tracking.yaml"))
