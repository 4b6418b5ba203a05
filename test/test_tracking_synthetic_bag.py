"""A synthetic evt3 + RGB bag, read back with read_bag, through Synchronizer + Tracker: the target is tracked.

The bag carries what the sensors publish: evt3 packets stamped with host arrival time (sensor clock +
unknown offset + latency + jitter), RGB frames on their own clock, CameraInfo and ground truth. So this
pins the whole online path: decoding, the offset estimate, windows, registration, the tracker's crops
and box decoding. The network is the transparent stand-in of ``standin_models`` (a broken clock or
registration moves its boxes off the target: 0.1 s of clock error or a 15 px registration shift fails
the thresholds below); with the shipped student checkpoint, a second test checks the learned tracker.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from had_tracker.sync.synchronizer import SyncConfig, Synchronizer
from had_tracker.tracking.tracker import Tracker, TrackerConfig, TrackState
from test.standin_models import DensityModel

synthetic = pytest.importorskip("had_tracker.data.synthetic", reason="synthetic engine not installed")
writers = pytest.importorskip("had_tracker.data.writers", reason="synthetic bag writer not installed")


@pytest.fixture(scope="module")
def bag(tmp_path_factory) -> Path:
    config = synthetic.SyntheticConfig.from_preset("easy", duration_s=1.5)
    recording = synthetic.generate_sequence(config, seed=3)
    return writers.write_bag(recording, tmp_path_factory.mktemp("bags") / "easy", storage="mcap")


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def replay(bag: Path, sync: Synchronizer, tracker: Tracker) -> tuple[list, dict]:
    """Feed the bag in receive order; start the tracker with the ground truth at the first window it covers."""
    from had_tracker.ros_io.bag import read_bag
    from had_tracker.ros_io.msgs import time_to_ns

    gt_t, gt_box, results, info = [], [], [], {"images": 0, "windows_with_image": 0}

    def gt_at(t_ns: int) -> np.ndarray | None:
        i = int(np.searchsorted(gt_t, t_ns))
        if not gt_t or i >= len(gt_t) or abs(gt_t[i] - t_ns) > 1_000_000:
            return None
        return gt_box[i]

    def feed(samples: list) -> None:
        for sample in samples:
            info["windows_with_image"] += sample.image is not None
            if not tracker.initialized:
                box = gt_at(sample.window_end_ns)
                if box is None or box[2] <= 0:
                    tracker.push(sample)
                    continue
                tracker.initialize(sample, box)
                continue
            results.append(tracker.update(sample))

    for bm in read_bag(bag):
        msg = bm.msg
        if bm.topic == "/event_camera/events":
            sync.add_event_packet(msg, stream=bm.topic)
        elif bm.topic == "/camera/image_raw":
            assert msg.encoding == "rgb8"
            image = np.asarray(msg.data, np.uint8).reshape(msg.height, msg.step)[:, : msg.width * 3]
            sync.add_image(image.reshape(msg.height, msg.width, 3), time_to_ns(msg.header.stamp), msg.header.frame_id)
            info["images"] += 1
        elif bm.topic == "/camera/camera_info":
            sync.add_camera_info(msg, camera="rgb")
        elif bm.topic == "/ground_truth_hr":
            if msg.present:
                gt_t.append(time_to_ns(msg.header.stamp))
                gt_box.append(np.array([msg.box.x, msg.box.y, msg.box.width, msg.box.height]))
        feed(sync.poll())
    feed(sync.flush())
    info["gt_at"] = gt_at
    return results, info


def score(results: list, info: dict) -> tuple[float, float, int]:
    ious, errors = [], []
    for r in results:
        box = info["gt_at"](r.window_end_ns)
        if box is None or box[2] <= 0:
            continue
        ious.append(iou(r.box_xywh, box))
        errors.append(np.hypot(*(np.array(r.center_xy) - [box[0] + box[2] / 2, box[1] + box[3] / 2])))
    return float(np.mean(ious)), float(np.median(errors)), len(ious)


def test_synthetic_bag_through_synchronizer_and_tracker_tracks_the_target(bag):
    sync = Synchronizer(SyncConfig(policy="fixed_rate", rate_hz=100))
    tracker = Tracker(TrackerConfig(), model=DensityModel())
    results, info = replay(bag, sync, tracker)
    mean_iou, median_error, n = score(results, info)
    assert n >= 120  # ~1.4 s of 100 Hz windows with ground truth
    # Measured: IoU 0.79, error 3.0 px; with 0.1 s of clock error 0.67 / 7.4 px; 15 px misregistration 0.52 / 14.5 px.
    assert mean_iou >= 0.7, f"mean IoU {mean_iou:.3f}"
    assert median_error <= 5.0, f"median centre error {median_error:.1f} px"
    assert all(r.state == TrackState.TRACKING for r in results)
    assert sync.stats.dropped_events == 0 and sync.stats.stream_restarts == 0
    assert info["windows_with_image"] == info["images"]  # every frame attached to one window


def test_synthetic_bag_per_frame_windows_carry_every_frame(bag):
    sync = Synchronizer(SyncConfig(policy="per_frame", frame_window="interval"))
    tracker = Tracker(TrackerConfig(), model=DensityModel())
    results, info = replay(bag, sync, tracker)
    assert sync.stats.windows == info["images"] and info["windows_with_image"] == info["images"]
    mean_iou, _, n = score(results, info)
    assert n >= 30 and mean_iou >= 0.5, f"mean IoU {mean_iou:.3f} over {n} frames"


def test_synthetic_bag_with_the_shipped_student(bag):
    from had_tracker.models.builder import default_student_checkpoint

    if not default_student_checkpoint().exists():
        pytest.skip(f"no shipped student checkpoint at {default_student_checkpoint()}")
    sync = Synchronizer(SyncConfig(policy="fixed_rate", rate_hz=100))
    results, info = replay(bag, sync, Tracker(TrackerConfig()))
    mean_iou, median_error, n = score(results, info)
    assert n >= 120
    assert mean_iou >= 0.3, f"shipped student: mean IoU {mean_iou:.3f}, median centre error {median_error:.1f} px"
