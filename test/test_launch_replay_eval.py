"""launch_testing: replay_eval.launch.py under ROS 2 - a synthetic bag played with --clock, the report written.

Writes a small sqlite3 bag (readable by Humble and Jazzy) of a textured square moving over a 160x120 sensor
(evt3 packets, rgb8 frames, had_msgs/GroundTruth), plays it through the launch file with an untrained
cpu-tiny student (temporary checkpoint), and checks the evaluator's report: metrics available, one scored
sequence, predictions written. Accuracy is not asserted (untrained weights). Skips where ROS 2 is absent.
"""

from __future__ import annotations

import json
import tempfile
import time
import unittest
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="rclpy is not installed: this test needs a sourced ROS 2 (Humble/Jazzy) install")
pytest.importorskip("launch_testing", reason="launch_testing is not installed (ros-$ROS_DISTRO-launch-testing)")
pytest.importorskip(
    "event_camera_msgs", reason="event_camera_msgs is not installed (ros-$ROS_DISTRO-event-camera-msgs)"
)

import launch_testing  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402

from had_tracker.data.sequence import TrackingSequence  # noqa: E402
from had_tracker.evaluation.sequence_bag import write_sequence_bag  # noqa: E402
from had_tracker.events.container import Events  # noqa: E402
from launch import LaunchDescription  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parents[1] / "launch" / "replay_eval.launch.py"
WORKDIR = Path(tempfile.mkdtemp(prefix="had_tracker_replay_launch_test_"))
OUTPUT_DIR = WORKDIR / "report"
WIDTH, HEIGHT, SIDE, FRAMES = 160, 120, 20, 45
HOST_EPOCH = 1_700_000_000_000_000_000


def _square_sequence() -> TrackingSequence:
    """1.5 s at 30 fps: a textured square moving right at 40 px/s, edge events every 0.5 ms between frames."""
    rng = np.random.default_rng(0)
    texture = rng.integers(60, 255, (SIDE, SIDE, 3), dtype=np.uint8)
    frame_t = HOST_EPOCH + 100_000_000 + np.arange(FRAMES, dtype=np.int64) * 33_333_333
    left = lambda t: 20.0 + 40.0 * (t - HOST_EPOCH) * 1e-9  # noqa: E731
    frames, boxes = [], []
    for t in frame_t:
        image = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
        x = int(left(t))
        image[50 : 50 + SIDE, x : x + SIDE] = texture
        frames.append(image)
        boxes.append([float(x), 50.0, float(SIDE), float(SIDE)])
    times = np.arange(HOST_EPOCH + 1_000_000, int(frame_t[-1]), 500_000, dtype=np.int64)
    per_step = 10
    t = np.repeat(times, 2 * per_step)
    x = np.clip(left(t).astype(np.int64) + np.tile(np.repeat([0, SIDE - 1], per_step), len(times)), 0, WIDTH - 1)
    y = rng.integers(50, 50 + SIDE, size=len(t))
    p = np.tile(np.repeat([0, 1], per_step), len(times))
    return TrackingSequence(
        name="square",
        frames=frames,
        frame_t_ns=frame_t,
        exposure_start_ns=frame_t - 5_000_000,
        exposure_end_ns=frame_t + 5_000_000,
        gt_boxes=np.asarray(boxes, float),
        absent=np.zeros(FRAMES, bool),
        width=WIDTH,
        height=HEIGHT,
        events=Events.from_arrays(t, x, y, p, WIDTH, HEIGHT),
    )


def _student_checkpoint() -> str:
    import torch

    from had_tracker.models.builder import build_model, save_checkpoint
    from had_tracker.models.config import ModelConfig

    torch.manual_seed(0)
    config = ModelConfig()
    return str(save_checkpoint(WORKDIR / "student.pt", build_model(config), config))


@pytest.mark.launch_test
def generate_test_description():
    bag = write_sequence_bag(_square_sequence(), WORKDIR / "square_bag", storage="sqlite3")
    replay = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
        launch_arguments={
            "bag": str(bag),
            "output_dir": str(OUTPUT_DIR),
            "model": _student_checkpoint(),
            "rate": "0.5",
            "start_delay_s": "10.0",
            "idle_timeout_s": "4.0",
            "shutdown_when_done": "false",  # launch_testing ends the launch once the test below is done
        }.items(),
    )
    return LaunchDescription([replay, launch_testing.actions.ReadyToTest()])


class TestReplayEvaluation(unittest.TestCase):
    def test_report_is_written_with_metrics(self):
        report_path = OUTPUT_DIR / "report.json"
        deadline = time.monotonic() + 240.0
        while not report_path.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        self.assertTrue(report_path.exists(), "replay_evaluator wrote no report")
        time.sleep(1.0)  # report.md and plots are written right after report.json
        report = json.loads(report_path.read_text())
        self.assertTrue(report["metrics_available"], report.get("notes"))
        entry = report["trackers"]["HAD student"]
        self.assertEqual(len(entry["per_sequence"]), 1)
        self.assertEqual(entry["per_sequence"][0]["name"], "square_bag")
        self.assertGreater(entry["overall"]["n_frames"], 10)
        for key in ("success_auc", "precision_20", "norm_precision_20"):
            self.assertTrue(0.0 <= entry["overall"][key] <= 100.0, key)
        predictions = (OUTPUT_DIR / entry["files"]["predictions"]).read_text().splitlines()
        self.assertGreater(len(predictions), 20)
        self.assertTrue((OUTPUT_DIR / "report.md").exists() and (OUTPUT_DIR / "gt.csv").exists())


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_processes_exit_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info, allowable_exit_codes=[0, -2, -15])
