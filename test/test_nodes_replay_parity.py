"""The ROS replay path writes the report ``had-tracker replay`` writes, with the same numbers, for the same bag.

The ROS path is emulated message by message with the functions the nodes call (synchronizer_node: add_event_packet /
add_image / poll, flush when the bag goes quiet; EventWindow and Track messages through CDR; tracker_node: the
TrackingSession and its ground-truth start; replay_evaluator: ReplayCollector). Under ROS the same code runs over
DDS (replay_eval.launch.py), where message timing may differ but the computation does not.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from had_tracker.evaluation.replay import replay_bag
from had_tracker.evaluation.sequence_bag import EVENTS_TOPIC, GT_TOPIC, IMAGE_TOPIC, write_sequence_bag
from had_tracker.nodes.replay_collector import ReplayCollector
from had_tracker.nodes.session import TrackingSession
from had_tracker.ros_io.bag import read_bag
from had_tracker.ros_io.event_window import result_to_track_msg, sample_to_window_msg, window_msg_to_sample
from had_tracker.ros_io.image import image_to_numpy, to_rgb8
from had_tracker.ros_io.msgs import default_msg, time_to_ns
from had_tracker.ros_io.typestore import get_typestore
from had_tracker.sync.synchronizer import SyncConfig, Synchronizer
from had_tracker.tracking.result import TrackResult, TrackState

HOST_EPOCH = 1_700_000_000_000_000_000


class BrightBoxTracker:
    """Deterministic stand-in: the bounding box of the non-background pixels of the newest RGB frame (+1.5 px)."""

    def push(self, sample):
        pass

    def reset(self):
        pass

    def initialize(self, sample, box_xywh, target_id=0):
        self.box = np.asarray(box_xywh, float)
        self.target_id = target_id
        return self.update(sample)

    def update(self, sample):
        if sample.image is not None:
            ys, xs = np.nonzero((sample.image != 40).any(axis=2))
            if len(xs):
                self.box = np.array([xs.min() + 1.5, ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], float)
        return TrackResult(
            self.box.copy(), 1.0, TrackState.TRACKING, sample.window_start_ns, sample.window_end_ns,
            len(sample.events), 0.01, self.target_id,
        )  # fmt: skip


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    from test.test_eval_harness import moving_square_sequence

    seq = moving_square_sequence()
    seq.frame_t_ns = seq.frame_t_ns + HOST_EPOCH
    seq.exposure_start_ns = seq.exposure_start_ns + HOST_EPOCH
    seq.exposure_end_ns = seq.exposure_end_ns + HOST_EPOCH
    seq.events = seq.events.shift_time(HOST_EPOCH)
    return write_sequence_bag(seq, tmp_path_factory.mktemp("parity") / "square")


def _round_trip(store, msg, msgtype):
    return store.deserialize_cdr(store.serialize_cdr(msg, msgtype), msgtype)


def ros_replay(bag, tracker, out_dir) -> dict:
    """replay_eval.launch.py without DDS: bag play -> synchronizer_node -> tracker_node -> replay_evaluator."""
    store = get_typestore()
    synchronizer = Synchronizer(SyncConfig())  # synchronizer_node's defaults (see test_parameters_schema)
    session = TrackingSession(tracker)
    collector = ReplayCollector()

    def publish_windows(samples):
        for sample in samples:
            window = sample_to_window_msg(sample, default_msg(store, "had_msgs/msg/EventWindow"), include_image=True)
            window = _round_trip(store, window, "had_msgs/msg/EventWindow")
            for result in session.process(window_msg_to_sample(window)):  # tracker_node
                track = result_to_track_msg(result, default_msg(store, "had_msgs/msg/Track"), window.header.frame_id)
                collector.add_track(_round_trip(store, track, "had_msgs/msg/Track"))  # evaluator

    for message in read_bag(bag, topics=[EVENTS_TOPIC, IMAGE_TOPIC, GT_TOPIC]):
        msg = message.msg
        if message.topic == EVENTS_TOPIC:
            synchronizer.add_event_packet(msg, stream=message.topic)
            publish_windows(synchronizer.poll())
        elif message.topic == IMAGE_TOPIC:
            rgb = to_rgb8(image_to_numpy(msg), msg.encoding)
            synchronizer.add_image(rgb, time_to_ns(msg.header.stamp), msg.header.frame_id)
            collector.add_image(time_to_ns(msg.header.stamp), rgb)  # evaluator: frames for the strip
            publish_windows(synchronizer.poll())
        else:
            collector.add_ground_truth(msg)  # evaluator
            box = (msg.box.x, msg.box.y, msg.box.width, msg.box.height)
            session.offer_ground_truth(msg.present, box, msg.target_id, time_to_ns(msg.header.stamp))  # tracker_node
    publish_windows(synchronizer.flush())  # synchronizer_node: no packet for flush_idle_s
    return collector.write_report(out_dir, bag.name, {"bag": str(bag)})


def _predictions(path):
    """Rows without the wall-time latency; the score rounded to float32, as had_msgs/Track carries it."""
    with open(path) as f:
        rows = [{k: v for k, v in row.items() if k != "latency_ms"} for row in csv.DictReader(f)]
    for row in rows:
        row["score"] = float(np.float32(float(row["score"])))
    return rows


@pytest.mark.parametrize("tracker_kind", ["bright_box", "tiny_student"])
def test_ros_replay_report_matches_offline_replay(bag, tmp_path, tracker_kind):
    if tracker_kind == "bright_box":
        make = BrightBoxTracker
    else:
        from test.test_eval_replay import tiny_student as make
    offline = replay_bag(bag, tmp_path / "offline", trackers={"HAD student": make()})
    ros = ros_replay(bag, make(), tmp_path / "ros")

    off, on = offline["trackers"]["HAD student"], ros["trackers"]["HAD student"]
    assert offline["metrics_available"] and ros["metrics_available"]
    assert on["overall"] == off["overall"]
    assert on["per_sequence"] == off["per_sequence"]
    assert on["curves"] == off["curves"]
    assert on["files"]["predictions"] == off["files"]["predictions"]
    assert _predictions(tmp_path / "ros" / on["files"]["predictions"]) == _predictions(
        tmp_path / "offline" / off["files"]["predictions"]
    )
    assert (tmp_path / "ros" / "gt.csv").read_text() == (tmp_path / "offline" / "gt.csv").read_text()
    # the same annotated frames (same sampled stamps, ground truth and estimates), pixel for pixel
    assert ros["files"]["frames"] == offline["files"]["frames"] == "frames.png"
    assert (tmp_path / "ros" / "frames.png").read_bytes() == (tmp_path / "offline" / "frames.png").read_bytes()
    assert ros["title"] == offline["title"] and ros["convention"] == offline["convention"]
    assert (
        json.loads((tmp_path / "ros" / "report.json").read_text())["trackers"]["HAD student"]["overall"]
        == json.loads((tmp_path / "offline" / "report.json").read_text())["trackers"]["HAD student"]["overall"]
    )
