"""Shared pytest fixtures and paths."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI (HYPOTHESIS_PROFILE=ci, set by .ci/run) draws the same examples every run, so a landing never depends on
# luck; everywhere else the property tests explore new examples each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# launch_testing's pytest plugin (active wherever launch_testing is installed) imports every test module itself
# and lets a module-level pytest.skip escape, which would skip this whole directory. So where launch_testing is
# installed, a launch test whose ROS packages are missing is not collected (the report header says why);
# without launch_testing the tests' own importorskip reports the skip.
LAUNCH_TEST_NEEDS = {  # had_msgs.msg._track: the generated module (this repository's had_msgs/ folder has only .msg)
    "test_launch_tracking_pipeline.py": (
        "rclpy",
        "event_camera_msgs",
        "sensor_msgs",
        "vision_msgs",
        "had_msgs.msg._track",
    ),
    "test_launch_replay_eval.py": ("rclpy", "event_camera_msgs"),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a dotted name whose parent package is missing
        return False


NOT_COLLECTED: dict[str, list[str]] = {}
if _installed("launch_testing"):
    for _name, _needs in LAUNCH_TEST_NEEDS.items():
        _missing = [module for module in _needs if not _installed(module)]
        if _missing:
            NOT_COLLECTED[_name] = _missing
collect_ignore = list(NOT_COLLECTED)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"{name} not collected: {', '.join(missing)} not installed" for name, missing in NOT_COLLECTED.items()]


REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """Path under ../shared/data, skipping the test when the recording is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real recording {path} is absent (see ../shared/data/README.md)")
    return path
