"""Small things a new user meets: closed pipes, packaging warnings, .gitignore, one colour palette, skip messages."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from test.conftest import REPO_ROOT


def test_closed_stdout_ends_quietly_without_a_broken_pipe_traceback(tmp_path):
    boxes = "\n".join("10,10,20,20" for _ in range(50)) + "\n"
    (tmp_path / "p.txt").write_text(boxes)
    (tmp_path / "g.txt").write_text(boxes)
    cmd = [sys.executable, "-m", "had_tracker.cli", "eval", "metrics", "--curves"]
    cmd += ["--pred", str(tmp_path / "p.txt"), "--gt", str(tmp_path / "g.txt")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # what `| head` does once it has its lines (here: before any)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err.decode() and "BrokenPipeError" not in err.decode()
    assert proc.returncode == 141


def test_build_has_no_undeclared_package_warning(tmp_path):
    result = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "-d", str(tmp_path / "lib")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "absent from the `packages` configuration" not in result.stderr
    assert (tmp_path / "lib" / "had_tracker" / "resources" / "weights" / "student_cpu_tiny.pt").is_file()


def test_demo_output_folder_is_ignored_by_git():
    default_out = "had_tracker_demo"
    from had_tracker.cli import build_parser

    demo = build_parser()._subparsers._group_actions[0].choices["demo"]
    assert demo.get_default("out") == default_out
    lines = (REPO_ROOT / ".gitignore").read_text().split()
    assert f"{default_out}/" in lines or f"/{default_out}/" in lines


def test_plots_and_frame_strips_use_the_same_colour_per_tracker(tmp_path, monkeypatch):
    import cv2
    from matplotlib.axes import Axes

    from had_tracker.evaluation.metrics import evaluate_sequence, summarize
    from had_tracker.evaluation.palette import mpl_color, tracker_color
    from had_tracker.evaluation.plots import draw_boxes, plot_success

    gt = np.tile([10.0, 10.0, 20.0, 20.0], (20, 1))
    good, bad = gt.copy(), gt + [15.0, 0, 0, 0]
    summaries = {
        name: summarize([evaluate_sequence(pred, gt, None)], "pytracking")
        for name, pred in (("MIL (rgb)", bad), ("HAD student", good))
    }
    drawn: dict[str, tuple] = {}
    original = Axes.plot

    def spy(self, *args, **kwargs):
        drawn[kwargs["label"].split(" [")[0]] = kwargs.get("color")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Axes, "plot", spy)
    plot_success(summaries, tmp_path / "s.png")  # ranked: the student first, yet it keeps its own colour
    rectangles = []
    real_rectangle = cv2.rectangle
    monkeypatch.setattr(
        cv2,
        "rectangle",
        lambda img, p0, p1, color, *a: rectangles.append(color) or real_rectangle(img, p0, p1, color, *a),
    )
    boxes = {name: np.array([10.0, 10, 30, 30]) for name in reversed(summaries)}  # the strip's order differs
    draw_boxes(np.full((60, 60, 3), 255, np.uint8), None, boxes)
    for name, strip_color in zip(boxes, rectangles, strict=True):
        assert drawn[name] == mpl_color(tracker_color(name))
        assert tuple(strip_color) == tracker_color(name)
    assert tracker_color("HAD student") != tracker_color("MIL (rgb)")


def test_missing_recording_skip_says_what_it_is_and_where_it_comes_from(monkeypatch, tmp_path):
    import test.conftest as conftest

    monkeypatch.setattr(conftest, "SHARED_DATA", tmp_path / "nowhere")
    with pytest.raises(pytest.skip.Exception) as info:
        conftest.shared_data("ros2_davis346_apriltag_libcaer_cmp")
    message = str(info.value)
    assert "README" not in message
    assert "libcaer_driver" in message and "event_camera_py" in message and "HAD_TRACKER_TEST_DATA" in message
