"""Bag replay end to end: a small bag written from a hand-made sequence, through Synchronizer + trackers."""

import json

import numpy as np
import pytest

from had_tracker.cli import main
from had_tracker.errors import BagError, ConfigError
from had_tracker.evaluation.baselines import OpenCVBaseline
from had_tracker.evaluation.harness import run_tracker, score_log, sequence_samples
from had_tracker.evaluation.replay import replay_bag
from had_tracker.evaluation.sequence_bag import write_sequence_bag
from had_tracker.ros_io.bag import BagWriter
from had_tracker.tracking.result import TrackResult, TrackState
from test.test_eval_harness import moving_square_sequence

HOST_EPOCH = 1_700_000_000_000_000_000


def host_clock_sequence():
    seq = moving_square_sequence()
    seq.frame_t_ns = seq.frame_t_ns + HOST_EPOCH
    seq.exposure_start_ns = seq.exposure_start_ns + HOST_EPOCH
    seq.exposure_end_ns = seq.exposure_end_ns + HOST_EPOCH
    seq.events = seq.events.shift_time(HOST_EPOCH)
    return seq


@pytest.fixture(scope="module")
def bags(tmp_path_factory):
    root = tmp_path_factory.mktemp("bags")
    seq = host_clock_sequence()
    return {
        "seq": seq,
        "gt": write_sequence_bag(seq, root / "with_gt"),
        "no_gt": write_sequence_bag(seq, root / "no_gt", ground_truth=False),
    }


def tiny_student():
    import torch

    from had_tracker.models.builder import build_model
    from had_tracker.models.config import ModelConfig
    from had_tracker.tracking.tracker import Tracker, TrackerConfig

    torch.manual_seed(0)
    cfg = ModelConfig.from_yaml("cpu-tiny")
    return Tracker(TrackerConfig(num_threads=1), model=build_model(cfg), model_config=cfg)


class TextureBoxTracker:
    """Deterministic RGB "tracker": the bounding box of the non-background pixels of the newest frame."""

    scored_at_image_stamp = True

    def push(self, sample):
        pass

    def reset(self):
        pass

    def initialize(self, sample, box_xywh, target_id=0):
        self.box = np.asarray(box_xywh, float)
        return self.update(sample)

    def update(self, sample):
        if sample.image is not None:
            ys, xs = np.nonzero((sample.image != 40).any(axis=2))
            self.box = np.array([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], float)
            self.box[0] += 1.5  # a fixed offset so the score is not trivially 100
        state = TrackState.TRACKING
        return TrackResult(self.box.copy(), 1.0, state, sample.window_start_ns, sample.window_end_ns, 0, 0.01)


def test_replay_writes_predictions_metrics_plots_and_report(bags, tmp_path):
    seq = bags["seq"]
    trackers = {
        "student (untrained)": tiny_student(),
        "MIL (rgb)": OpenCVBaseline("mil", "rgb"),
        "texture": TextureBoxTracker(),
    }
    report = replay_bag(bags["gt"], tmp_path, trackers=trackers)
    assert report["metrics_available"]
    assert report["replay"]["gt_messages"] == len(seq) and report["sync"]["images"] == len(seq)
    for name in trackers:
        entry = report["trackers"][name]
        assert entry["overall"]["n_frames"] == len(seq)
        assert 0 <= entry["overall"]["success_auc"] <= 100
        assert entry["timing"]["n_updates"] > 0
    # a deterministic RGB tracker scored through the bag gives exactly what the harness gives on the sequence
    direct = run_tracker(TextureBoxTracker(), sequence_samples(seq), seq.gt_boxes[0])
    expected = score_log(direct, seq.frame_t_ns, seq.gt_boxes).scalars()
    assert 0 < expected["success_auc"] < 100
    for key in ("success_auc", "precision_20", "norm_precision_20", "n_frames"):
        assert report["trackers"]["texture"]["overall"][key] == pytest.approx(expected[key])
    # predictions: header + float boxes with time stamps
    lines = (tmp_path / "predictions_mil_rgb.csv").read_text().splitlines()
    assert lines[0] == "t_ns,x,y,w,h,score,state,latency_ms,num_events"
    t, x = lines[1].split(",")[:2]
    assert int(t) >= HOST_EPOCH and "." in x
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["files"]["success_plot"] == "success.png"
    for f in ("success.png", "precision.png", "frames.png", "report.md", "gt.csv"):
        assert (tmp_path / f).stat().st_size > 0
    assert "| MIL (rgb) |" in (tmp_path / "report.md").read_text()


def test_bag_without_ground_truth_still_gives_predictions_and_says_metrics_unavailable(bags, tmp_path):
    seq = bags["seq"]
    with pytest.raises(ConfigError, match="--init-box"):
        replay_bag(bags["no_gt"], tmp_path, trackers={"MIL (rgb)": OpenCVBaseline()})
    report = replay_bag(
        bags["no_gt"], tmp_path, trackers={"MIL (rgb)": OpenCVBaseline()}, init_box=list(seq.gt_boxes[0])
    )
    assert not report["metrics_available"] and report["trackers"]["MIL (rgb)"]["overall"] is None
    assert any("Metrics unavailable" in n for n in report["notes"])
    assert "Metrics unavailable" in (tmp_path / "report.md").read_text()
    assert len((tmp_path / "predictions_mil_rgb.csv").read_text().splitlines()) > len(seq)
    assert not (tmp_path / "success.png").exists()


def test_unknown_topic_empty_and_corrupt_bags_are_clear_errors(bags, tmp_path):
    with pytest.raises(BagError, match="no topic '/nope'"):
        replay_bag(bags["gt"], tmp_path / "a", trackers={"m": OpenCVBaseline()}, gt_topic="/nope")
    with pytest.raises(BagError, match="expected one of"):
        replay_bag(bags["gt"], tmp_path / "a", trackers={"m": OpenCVBaseline()}, gt_topic="/camera/image_raw")
    empty = tmp_path / "empty"
    with BagWriter(empty) as bag:
        bag.add_topic("/event_camera/events", "event_camera_msgs/msg/EventPacket")
    with pytest.raises(BagError, match="empty"):
        replay_bag(empty, tmp_path / "b", trackers={"m": OpenCVBaseline()}, init_box=[1, 1, 5, 5])
    with pytest.raises(BagError, match="no bag"):
        replay_bag(tmp_path / "missing", tmp_path / "c", trackers={"m": OpenCVBaseline()})
    # corrupt: the storage file cut in half
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for f in bags["gt"].iterdir():
        data = f.read_bytes()
        (corrupt / f.name).write_bytes(data if f.name == "metadata.yaml" else data[: len(data) // 2])
    with pytest.raises(BagError):
        replay_bag(corrupt, tmp_path / "d", trackers={"m": OpenCVBaseline()})


def test_replay_cli_errors_are_one_line(bags, tmp_path, capsys):
    code = main(["replay", str(tmp_path / "missing"), "--out", str(tmp_path / "o")])
    assert code == 2 and "no bag" in capsys.readouterr().err
    code = main(["replay", str(bags["no_gt"]), "--out", str(tmp_path / "o"), "--trackers", "mil"])
    assert code == 2 and "--init-box" in capsys.readouterr().err


def test_replay_cli_runs_a_baseline(bags, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["replay", str(bags["gt"]), "--out", str(out), "--trackers", "mil-events"]) == 0
    printed = capsys.readouterr().out
    assert "MIL (events)" in printed and (out / "report.json").exists()
    assert np.isfinite(
        json.loads((out / "report.json").read_text())["trackers"]["MIL (events)"]["overall"]["success_auc"]
    )


def test_real_event_bag_without_ground_truth_replays_from_an_init_box(tmp_path):
    from test.conftest import shared_data

    bag = shared_data("rosbag_mono_cd")  # 2 mono EventArray messages from event_camera_codecs' test data
    report = replay_bag(
        bag, tmp_path, trackers={"MIL (events)": OpenCVBaseline("mil", "events")}, init_box=[10, 10, 20, 20]
    )
    assert not report["metrics_available"] and report["sync"]["events"] == 100
    rows = (tmp_path / "predictions_mil_events.csv").read_text().splitlines()[1:]
    assert len(rows) >= 1 and rows[0].split(",")[1:5] == ["10.0", "10.0", "20.0", "20.0"]
    assert "Metrics unavailable" in (tmp_path / "report.md").read_text()


def test_topic_detection_by_type_and_name():
    from had_tracker.evaluation.replay import detect_topics

    info = {
        "path": "b",
        "message_count": 10,
        "topics": [
            {"topic": "/event_camera/events", "msgtype": "event_camera_msgs/msg/EventPacket", "count": 5},
            {"topic": "/camera/image_raw", "msgtype": "sensor_msgs/msg/Image", "count": 2},
            {"topic": "/ground_truth", "msgtype": "had_msgs/msg/GroundTruth", "count": 2},
            {"topic": "/ground_truth_hr", "msgtype": "had_msgs/msg/GroundTruth", "count": 1},
        ],
    }
    topics = detect_topics(info)
    assert (topics.events, topics.image, topics.gt, topics.camera_info) == (
        "/event_camera/events",
        "/camera/image_raw",
        "/ground_truth",
        None,
    )
    assert detect_topics(info, gt_topic="/ground_truth_hr").gt == "/ground_truth_hr"
    info["topics"].append({"topic": "/other/ground_truth", "msgtype": "had_msgs/msg/GroundTruth", "count": 1})
    with pytest.raises(BagError, match="several gt topics"):
        detect_topics(info)
    info["topics"] = info["topics"][1:2]
    with pytest.raises(BagError, match="no events topic"):
        detect_topics(info)


def test_a_recorded_bag_reads_back_as_the_sequence_it_was_written_from(bags):
    from had_tracker.evaluation.sequence_bag import read_sequence_bag
    from had_tracker.training.data import load_sequences

    seq = bags["seq"]
    back = read_sequence_bag(bags["gt"])
    np.testing.assert_array_equal(back.frame_t_ns, seq.frame_t_ns)
    np.testing.assert_allclose(back.gt_boxes, seq.gt_boxes)
    np.testing.assert_array_equal(back.absent, seq.absent)
    for i in (0, len(seq) - 1):
        np.testing.assert_array_equal(back.frames[i], seq.frames[i])
    # evt3 keeps whole microseconds; every event the synchronizer saw is in the sequence, on the RGB clock
    assert len(back.events) == len(seq.events)
    np.testing.assert_array_equal(back.events.t, seq.events.t // 1000 * 1000)
    np.testing.assert_array_equal(back.events.x, seq.events.x)
    assert back.meta["source"] == "bag" and back.meta["sync"]["windows"] >= len(seq)
    # default exposure (SyncConfig.exposure_ns, stamp in the middle)
    np.testing.assert_array_equal(back.exposure_start_ns, seq.frame_t_ns - 5_000_000)
    np.testing.assert_array_equal(back.exposure_end_ns, seq.frame_t_ns + 5_000_000)
    assert [s.name for s in load_sequences(f"bag:{bags['gt']}")] == ["with_gt"]
    with pytest.raises(BagError, match="GroundTruth"):
        read_sequence_bag(bags["no_gt"])
