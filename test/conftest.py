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
# Small real recordings kept next to the repository (never inside it); HAD_TRACKER_TEST_DATA points elsewhere.
SHARED_DATA = Path(os.environ.get("HAD_TRACKER_TEST_DATA", REPO_ROOT.parent / "shared" / "data"))

# What each recording is and where it comes from, so a skip says what is missing without any other file.
SHARED_RECORDINGS = {
    "prophesee_evt3": "a Prophesee EVT 3.0 RAW file (Gen4.1, 1280x720) and its reference decoding, "
    "from the test samples of the expelliarmus decoder (open-neuromorphic/expelliarmus)",
    "rosbag_mono_cd": "a ROS 2 sqlite3 bag with 2 event_array_msgs/EventArray messages (encoding mono), "
    "from the unit-test data of ros-event-camera/event_camera_codecs",
    "davis346_traffic_aedat4": "a DAVIS346 AEDAT 4.0 recording (traffic.aedat4), "
    "from the tests of the aedat Python package (sdist 2.3.0, tests/data/test_data.aedat4)",
    "ros2_davis346_apriltag_libcaer_cmp": "a ROS 2 mcap bag (metadata version 5, storage_identifier '', ros2idl "
    "schemas) of a DAVIS346 through libcaer_driver, from ros-event-camera/event_camera_py tests/test_events_2/",
    "ros2_evt3_640x480_triggers": "a ROS 2 sqlite3 bag of metavision_driver EventPackets (evt3, 640x480, "
    "with trigger events), from ros-event-camera/event_camera_py tests/test_events_1/",
}


def shared_data(*parts: str) -> Path:
    """Path of a real recording under SHARED_DATA, skipping the test (with what and where from) when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        what = SHARED_RECORDINGS.get(parts[0] if parts else "", "a real event-camera recording")
        pytest.skip(
            f"real recording {path} is absent: {what}; put that folder under {SHARED_DATA} "
            "(or set HAD_TRACKER_TEST_DATA to the folder holding it)"
        )
    return path
