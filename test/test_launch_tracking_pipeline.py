"""launch_testing: tracker.launch.py under ROS 2 - a synthetic EventPacket stream in, boxes out.

Starts the launch file (two processes, and the single-process pipeline), publishes evt3 packets of a moving
square best-effort on a remapped event topic with host-time header stamps (as the metavision driver does),
asks ``/tracker_node/start_tracking`` for a box, and checks the tracks, detections and debug image that come
back. The network is an untrained cpu-tiny student written to a temporary checkpoint, so the test pins the
plumbing and the init protocol, not tracking accuracy. Runs under ``colcon test`` / ``launch_test``; skips
where rclpy or launch_testing is absent.
"""

from __future__ import annotations

import array
import math
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
import rclpy  # noqa: E402
from event_camera_msgs.msg import EventPacket  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from vision_msgs.msg import Detection2DArray  # noqa: E402

from had_msgs.msg import Track  # noqa: E402
from had_msgs.srv import StartTracking  # noqa: E402
from had_tracker.events.container import Events  # noqa: E402
from had_tracker.events.encoders import Evt3Encoder  # noqa: E402
from launch import LaunchDescription  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parents[1] / "launch" / "tracker.launch.py"
EVENT_TOPIC = "/had_test/events"
WIDTH, HEIGHT, SIDE = 160, 120, 20
INIT_BOX = (30.0, 48.0, 22.0, 24.0)
TARGET_ID = 5


def _student_checkpoint() -> str:
    import torch

    from had_tracker.models.builder import build_model, save_checkpoint
    from had_tracker.models.config import ModelConfig

    torch.manual_seed(0)
    config = ModelConfig()
    path = Path(tempfile.mkdtemp(prefix="had_tracker_launch_test_")) / "student.pt"
    save_checkpoint(path, build_model(config), config)
    return str(path)


@pytest.mark.launch_test
@launch_testing.parametrize("single_process", ["false", "true"])
def generate_test_description(single_process):
    tracker = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
        launch_arguments={
            "event_topic": EVENT_TOPIC,
            "use_rgb": "false",  # event-only (an empty image_topic argument means "from the params files")
            "model": _student_checkpoint(),
            "device": "cpu",
            "single_process": single_process,
        }.items(),
    )
    return LaunchDescription([tracker, launch_testing.actions.ReadyToTest()])


class MovingSquare:
    """evt3 packets of a square's vertical edges moving right at 100 px/s, sensor time from 0, real time."""

    def __init__(self) -> None:
        self.encoder = Evt3Encoder()
        self.rng = np.random.default_rng(1)
        self.start = time.monotonic()
        self.sensor_t_ns = 0
        self.seq = 0

    def left_edge(self, t_ns: int) -> float:
        return 30.0 + 100.0 * t_ns * 1e-9

    def packet(self, stamp) -> EventPacket | None:
        now_ns = int((time.monotonic() - self.start) * 1e9)
        times = np.arange(self.sensor_t_ns, now_ns, 250_000, dtype=np.int64)
        if not len(times):
            return None
        self.sensor_t_ns = int(times[-1]) + 250_000
        per_step = 8
        t = np.repeat(times, 2 * per_step)
        left = np.clip(self.left_edge(t), 0, WIDTH - SIDE - 1).astype(np.int64)
        x = left + np.tile(np.repeat([0, SIDE], per_step), len(times))
        y = self.rng.integers(50, 50 + SIDE, size=len(t))
        p = np.tile(np.repeat([0, 1], per_step), len(times))
        payload = self.encoder.encode(Events.from_arrays(t, x, y, p, WIDTH, HEIGHT))
        msg = EventPacket()
        msg.header.stamp = stamp
        msg.header.frame_id = "event_camera"
        msg.width, msg.height, msg.seq, msg.time_base = WIDTH, HEIGHT, self.seq, 0
        msg.encoding = "evt3"
        msg.is_bigendian = False
        msg.events = array.array("B", np.asarray(payload, np.uint8).tobytes())
        self.seq += 1
        return msg


class TestTrackerPipeline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node("had_tracker_launch_test")

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def _spin_publishing(self, publisher, stream, seconds, until=None):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = stream.packet(self.node.get_clock().now().to_msg())
            if msg is not None:
                publisher.publish(msg)
            rclpy.spin_once(self.node, timeout_sec=0.002)
            if until is not None and until():
                return True
        return until() if until is not None else True

    def test_start_tracking_then_boxes_flow(self):
        reliable = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=1000,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.VOLATILE,
        )
        driver_qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=1000,
            reliability=ReliabilityPolicy.BEST_EFFORT,
            durability=DurabilityPolicy.VOLATILE,
        )
        tracks, detections, images = [], [], []
        self.node.create_subscription(Track, "/tracker_node/track", tracks.append, reliable)
        self.node.create_subscription(Detection2DArray, "/tracker_node/detections", detections.append, reliable)
        self.node.create_subscription(Image, "/tracker_node/debug_image", images.append, reliable)
        publisher = self.node.create_publisher(EventPacket, EVENT_TOPIC, driver_qos)
        client = self.node.create_client(StartTracking, "/tracker_node/start_tracking")
        self.assertTrue(client.wait_for_service(timeout_sec=120.0), "tracker_node did not offer start_tracking")

        stream = MovingSquare()
        self._spin_publishing(publisher, stream, 1.0)  # windows flow; no target yet
        self.assertEqual(tracks, [], "tracks before any start request")

        request = StartTracking.Request()
        request.box.x, request.box.y, request.box.width, request.box.height = INIT_BOX
        request.target_id = TARGET_ID
        future = client.call_async(request)
        self.assertTrue(self._spin_publishing(publisher, stream, 30.0, until=future.done), "no service response")
        self.assertTrue(future.result().success, future.result().message)
        self.assertTrue(self._spin_publishing(publisher, stream, 60.0, until=lambda: len(tracks) >= 40))

        first = tracks[0]
        self.assertEqual((first.box.x, first.box.y, first.box.width, first.box.height), INIT_BOX)
        self.assertEqual(first.header.frame_id, "event_camera")
        stamps = [t.header.stamp.sec * 10**9 + t.header.stamp.nanosec for t in tracks]
        self.assertEqual(stamps, sorted(stamps))
        for track in tracks:
            box = (track.box.x, track.box.y, track.box.width, track.box.height)
            self.assertTrue(all(math.isfinite(v) for v in box), box)
            self.assertTrue(box[2] > 0 and box[3] > 0 and box[0] < WIDTH and box[1] < HEIGHT, box)
            self.assertEqual(track.target_id, TARGET_ID)
            self.assertIn(track.state, (Track.STATE_INITIALIZING, Track.STATE_TRACKING, Track.STATE_LOST))
        self.assertGreaterEqual(len(detections), 1)
        for array_msg in detections:
            for detection in array_msg.detections:
                self.assertEqual(detection.id, str(TARGET_ID))
                self.assertTrue(0.0 <= detection.bbox.center.position.x <= WIDTH + detection.bbox.size_x)
        self._spin_publishing(publisher, stream, 20.0, until=lambda: len(images) > 0)
        self.assertTrue(images, "no debug image although a subscriber exists")
        self.assertEqual((images[-1].encoding, images[-1].width, images[-1].height), ("bgr8", WIDTH, HEIGHT))


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_nodes_exit_cleanly(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info, allowable_exit_codes=[0, -2, -15])
