"""The had-tracker CLI skeleton and `bag info`."""

from __future__ import annotations

import json
import subprocess
import sys

from had_tracker.cli import main

from .conftest import shared_data


def test_help_lists_bag_command(capsys):
    assert main([]) == 0
    assert "bag" in capsys.readouterr().out


def test_bag_info_prints_topics(capsys):
    assert main(["bag", "info", str(shared_data("rosbag_mono_cd"))]) == 0
    out = capsys.readouterr().out
    assert "/event_camera/events" in out and "event_array_msgs/msg/EventArray" in out and "messages: 2" in out


def test_bag_info_json(capsys):
    assert main(["bag", "info", "--json", str(shared_data("rosbag_mono_cd"))]) == 0
    assert json.loads(capsys.readouterr().out)["message_count"] == 2


def test_unknown_bag_is_one_line_error():
    result = subprocess.run(
        [sys.executable, "-m", "had_tracker.cli", "bag", "info", "/definitely/not/here"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "had-tracker bag: error: no bag at /definitely/not/here"


def test_console_script_help_runs_in_a_fresh_interpreter():
    """The installed entry point (not `python -m`, which pre-imports importlib.util through runpy)."""
    code = "import sys; from had_tracker.cli import main; sys.exit(main(['--help']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "had-tracker" in result.stdout


def test_unreadable_metadata_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "metadata.yaml").write_text("rosbag2_bagfile_information:\n  version: [8\n  storage: {\n")
    assert main(["bag", "info", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"had-tracker bag: error: cannot open bag {tmp_path}") and "\n" not in err
