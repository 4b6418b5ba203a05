"""Packaging: both ROS packages are discoverable, package.xml/setup.py are complete, lint is clean."""

from __future__ import annotations

import shutil
import subprocess
from xml.etree import ElementTree

import pytest

from .conftest import REPO_ROOT

# The discovery command the README gives for a colcon workspace (run from the repository root here).
COLCON_LIST = ["colcon", "list", "--base-paths", ".", "had_msgs"]

REQUIRED_EXEC_DEPENDS = {
    "rclpy", "launch", "launch_ros", "std_msgs", "sensor_msgs", "geometry_msgs", "vision_msgs",
    "visualization_msgs", "cv_bridge", "event_camera_msgs", "had_msgs", "python3-numpy", "python3-opencv",
    "python3-yaml", "ros2bag", "rosbag2_storage_mcap",
}  # fmt: skip
REQUIRED_TEST_DEPENDS = {
    "ament_copyright", "ament_flake8", "ament_pep257", "python3-pytest", "launch_testing", "launch_testing_ros",
}  # fmt: skip


def _readme_text() -> str:
    return (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_colcon_discovers_both_packages():
    if shutil.which("colcon") is None:
        pytest.skip("colcon is not installed (pip install colcon-core colcon-ros colcon-package-information)")
    result = subprocess.run(COLCON_LIST, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found = {line.split()[0]: line.split()[2] for line in result.stdout.splitlines() if line.strip()}
    assert found == {"had_tracker": "(ros.ament_python)", "had_msgs": "(ros.ament_cmake)"}


def test_readme_gives_the_tested_colcon_commands():
    text = _readme_text()
    assert " ".join(COLCON_LIST) in text
    assert "--base-paths src/had_tracker src/had_tracker/had_msgs" in text


def test_package_xml_dependencies():
    root = ElementTree.parse(REPO_ROOT / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == "had_tracker"
    assert root.find("export/build_type").text == "ament_python"
    assert REQUIRED_EXEC_DEPENDS <= {e.text for e in root.findall("exec_depend")}
    assert REQUIRED_TEST_DEPENDS <= {e.text for e in root.findall("test_depend")}


def test_had_msgs_package_is_an_interface_package():
    root = ElementTree.parse(REPO_ROOT / "had_msgs" / "package.xml").getroot()
    assert root.find("export/build_type").text == "ament_cmake"
    assert root.findtext("member_of_group") == "rosidl_interface_packages"
    cmake = (REPO_ROOT / "had_msgs" / "CMakeLists.txt").read_text()
    for path in sorted((REPO_ROOT / "had_msgs").glob("*/*.*")):
        if path.suffix in (".msg", ".srv"):
            assert f'"{path.parent.name}/{path.name}"' in cmake, f"{path.name} missing from rosidl_generate_interfaces"


def test_setup_cfg_puts_scripts_where_ros2_run_looks():
    text = (REPO_ROOT / "setup.cfg").read_text()
    assert "script_dir=$base/lib/had_tracker" in text and "install_scripts=$base/lib/had_tracker" in text
    assert (REPO_ROOT / "resource" / "had_tracker").exists()


def test_colcon_build_writes_node_scripts_that_start_the_python_on_path(tmp_path):
    """colcon runs setup.py under its own interpreter (/usr/bin/python3 for the apt colcon); without
    ``build_scripts.executable`` the installed nodes would start that one, which cannot see a venv's torch."""
    pytest.importorskip("colcon_ros", reason="colcon-ros is not installed (pip install '.[test]')")
    import sys

    command = [sys.executable, "-m", "colcon", "--log-base", str(tmp_path / "log"), "build", "--base-paths", ".",
               "--packages-select", "had_tracker", "--build-base", str(tmp_path / "build"),
               "--install-base", str(tmp_path / "install")]  # fmt: skip
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    scripts = tmp_path / "install" / "had_tracker" / "lib" / "had_tracker"
    for name in ("tracker_node", "synchronizer_node", "replay_evaluator", "tracker_pipeline"):
        first_line = (scripts / name).read_text().splitlines()[0]
        assert first_line == "#!/usr/bin/env python3", (name, first_line)


def test_ruff_lint_is_clean():
    """ruff covers what ament_flake8 and ament_pep257 check (see ruff.toml)."""
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install '.[test]')")
    result = subprocess.run([ruff, "check", "."], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:]


def test_every_config_file_and_interface_is_installed_into_share(monkeypatch):
    """Presets are found in <prefix>/share/had_tracker after a non-editable pip or colcon install."""
    import runpy

    import setuptools

    captured: dict = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: captured.update(kwargs))
    monkeypatch.chdir(REPO_ROOT)
    runpy.run_path("setup.py")
    installed = {src: dest for dest, sources in captured["data_files"] for src in sources}
    for path in sorted((REPO_ROOT / "config").rglob("*")):
        if path.suffix in (".yaml", ".rviz"):
            rel = path.relative_to(REPO_ROOT).as_posix()
            assert installed.get(rel) == f"share/had_tracker/{path.parent.relative_to(REPO_ROOT).as_posix()}", rel
    for path in sorted((REPO_ROOT / "had_msgs").glob("*/*.*")):
        if path.suffix in (".msg", ".srv"):
            assert path.relative_to(REPO_ROOT).as_posix() in installed
    assert installed["package.xml"] == "share/had_tracker"


def test_every_resource_file_is_package_data(monkeypatch):
    """Weights and the synthetic asset pack (sub-folders too) are in a non-editable install, not only in the tree."""
    import fnmatch
    import runpy

    import setuptools

    captured: dict = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: captured.update(kwargs))
    monkeypatch.chdir(REPO_ROOT)
    runpy.run_path("setup.py")
    resources = REPO_ROOT / "had_tracker" / "resources"
    files = [p for p in resources.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert any(p.suffix == ".pt" for p in files)
    for path in files:
        package = ".".join(path.parent.relative_to(REPO_ROOT).parts)
        patterns = captured["package_data"].get(package, [])
        assert package in captured["packages"], package
        assert any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns), path.relative_to(REPO_ROOT)


def test_imports_satisfy_pep8_naming():
    """ament_flake8 runs pep8-naming where it is installed (many ROS machines): N812/N817 (``import x as F``,
    ``import x.y as ET``) failed ``colcon test`` there."""
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install '.[test]')")
    result = subprocess.run(
        [ruff, "check", "--select", "N811,N812,N813,N814,N817", "--no-cache", "."],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-4000:]
