"""The core imports without ROS: no module outside had_tracker.nodes pulls in rclpy and friends."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import had_tracker

ROS_MODULES = ("rclpy", "launch_ros", "cv_bridge", "message_filters", "launch")


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(had_tracker.__path__, prefix="had_tracker."):
        if info.name.startswith("had_tracker.nodes"):
            continue
        names.append(info.name)
    return names


def test_core_module_list_is_not_empty():
    assert "had_tracker.ros_io.bag" in core_modules()


def test_every_core_module_imports_without_ros():
    code = (
        "import importlib, sys\n"
        f"mods = {core_modules()!r}\n"
        "for m in mods:\n"
        "    importlib.import_module(m)\n"
        f"bad = [m for m in {ROS_MODULES!r} if m in sys.modules]\n"
        "print('ROS-MODULES:', bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_had_tracker_does_not_import_rclpy_or_torch():
    code = "import sys, had_tracker, had_tracker.cli; print(sorted(m for m in ('rclpy', 'torch') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
