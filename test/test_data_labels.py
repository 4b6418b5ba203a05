"""Semi-automatic labels of real recordings: the event-blob procedure, label files, the committed labels."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest

from had_tracker.data.datasets.common import DatasetError
from had_tracker.data.labels.event_blob import BlobParams, event_blob_boxes
from had_tracker.data.labels.label_file import read_label_file, write_label_file
from had_tracker.data.labels.recordings import default_data_root
from had_tracker.events.container import Events

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO / "data" / "labels"
DATA = default_data_root()
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"real recordings not found at {DATA} (../shared/data)")


def _blob_events(rng: np.random.Generator) -> tuple[Events, np.ndarray, np.ndarray]:
    """A 20x12 px target moving right at 2 px/step, a distractor blob below it moving left, uniform noise."""
    parts, truth = [], []
    times = np.arange(20) * 10_000_000
    for i, t in enumerate(times):
        tx, ty = 30 + 2 * i, 40
        dx, dy = 120 - 3 * i, 75  # 23 px below the target's bottom edge: inside the gate, outside the target
        for x0, y0, n in ((tx, ty, 300), (dx, dy, 300)):
            xs = rng.integers(x0, x0 + 20, n)
            ys = rng.integers(y0, y0 + 12, n)
            ts = rng.integers(t - 5_000_000, t + 5_000_000, n)
            parts.append((ts, xs, ys))
        truth.append([tx, ty, 20, 12])
        parts.append(
            (rng.integers(t - 5_000_000, t + 5_000_000, 30), rng.integers(0, 160, 30), rng.integers(0, 120, 30))
        )
    t = np.concatenate([p[0] for p in parts])
    order = np.argsort(t, kind="stable")
    x = np.concatenate([p[1] for p in parts])[order]
    y = np.concatenate([p[2] for p in parts])[order]
    ev = Events.from_arrays(t[order].astype(np.int64), x.astype(np.uint16), y.astype(np.uint16),
                            np.zeros(len(t), np.uint8), 160, 120)  # fmt: skip
    return ev, times, np.asarray(truth, float)


def test_event_blob_follows_the_seeded_target_not_the_distractor_or_noise():
    ev, times, truth = _blob_events(np.random.default_rng(0))
    labels = event_blob_boxes(ev, times, truth[0], BlobParams(window_ns=10_000_000, gate=0.5))
    err = np.abs(labels.boxes - truth)
    assert err.max() <= 2.0, err.max()
    assert not labels.held.any()


def test_event_blob_holds_the_predicted_box_without_events():
    ev, times, truth = _blob_events(np.random.default_rng(1))
    keep = ev.t < times[10] - 5_000_000  # the target (and everything else) stops firing from step 10 on
    cut = Events.from_arrays(ev.t[keep], ev.x[keep], ev.y[keep], ev.p[keep], 160, 120)
    labels = event_blob_boxes(cut, times, truth[0], BlobParams(window_ns=10_000_000))
    assert labels.held[10:].all() and not labels.held[1:10].any()
    # held boxes continue the last velocity (2 px/step to the right) with the last size
    np.testing.assert_allclose(np.diff(labels.boxes[10:, 0]), 2.0, atol=1.0)


def test_label_file_round_trip_keeps_exact_nanoseconds(tmp_path):
    t = np.array([1589163147365215000, 1589163147405215001], np.int64)
    boxes = np.array([[1.234, 2, 3, 4], [5, 6, 7, 8]], float)
    path = write_label_file(tmp_path / "a.json", {"name": "a", "recording": "r", "sha256": "0"}, t, boxes,
                            np.array([5, 6]), np.array([False, True]))  # fmt: skip
    doc = read_label_file(path)
    assert [r[0] for r in doc["labels"]] == t.tolist()
    assert doc["labels"][0][1] == 1.23 and doc["labels"][1][6] == 1


def test_label_file_missing_key_is_a_dataset_error(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"name": "x"}))
    with pytest.raises(DatasetError, match="lacks"):
        read_label_file(tmp_path / "bad.json")


@needs_data
@pytest.mark.parametrize("name", ["traffic_car", "traffic_far_car", "traffic_dark_car", "apriltag_board"])
def test_committed_labels_are_reproduced_by_their_recorded_command(tmp_path, name):
    from had_tracker.cli import main

    doc = read_label_file(LABELS / f"{name}.json")
    argv = shlex.split(doc["command"])[1:]
    out = tmp_path / f"{name}.json"
    argv[argv.index("--out") + 1] = str(out)
    assert main([*argv, "--data-root", str(DATA)]) == 0
    assert read_label_file(out)["labels"] == doc["labels"]


@needs_data
def test_real_sequences_load_with_frames_or_flagged_event_only():
    from had_tracker.data.datasets import load_dataset

    seqs = {s.name: s for s in load_dataset(LABELS, "real")}
    car, board = seqs["traffic_car"], seqs["apriltag_board"]
    assert car.meta["rgb"] and len(car) == 49 and car.frames[0].shape == (260, 346, 3)
    assert not board.meta["rgb"] and len(board) == 99
    assert np.all(np.diff(board.frame_t_ns) == 10_000_000)  # >= 50 Hz labels
    for seq in (car, board):
        assert len(seq.events) > 10_000 and (seq.gt_boxes[:, 2:] > 10).all()
    far, dark = seqs["traffic_far_car"], seqs["traffic_dark_car"]
    assert far.meta["rgb"] and len(far) == 59 and dark.meta["rgb"] and len(dark) == 15
    assert (far.gt_boxes[:, 2:] > 10).all() and (far.gt_boxes[:, 2] < 40).all()  # a small target
    assert dark.gt_boxes[-1, 2] > 1.25 * dark.gt_boxes[0, 2]  # it approaches: the box grows


@needs_data
def test_a_changed_recording_is_refused(tmp_path):
    from had_tracker.data.labels.label_file import read_label_sequence

    doc = json.loads((LABELS / "traffic_car.json").read_text())
    doc["sha256"] = "0" * 64
    (tmp_path / "x.json").write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match="sha256"):
        read_label_sequence(tmp_path / "x.json", DATA)


@needs_data
def test_rgb_baseline_refuses_an_event_only_recording(tmp_path):
    from had_tracker.errors import ConfigError
    from had_tracker.evaluation.dataset_eval import evaluate_dataset

    with pytest.raises(ConfigError, match="no RGB"):
        evaluate_dataset(LABELS / "apriltag_board.json", "real", tmp_path, tracker="mil-rgb", workers=1)


def test_nearest_index_looks_on_both_sides():
    from had_tracker.data.labels.label_file import nearest_index

    ft = np.array([0, 1_000_000, 2_000_000], np.int64)
    t = np.array([-5, 500, 999_000, 1_000_400, 2_000_900], np.int64)
    assert nearest_index(ft, t).tolist() == [0, 0, 1, 1, 2]


@needs_data
def test_label_times_a_little_after_their_frames_match_them(tmp_path):
    """The 1 us tolerance holds on both sides of a frame time (it was checked only against the next frame)."""
    from had_tracker.data.labels.label_file import read_label_sequence

    exact = read_label_sequence(LABELS / "traffic_car.json", DATA)
    doc = json.loads((LABELS / "traffic_car.json").read_text())
    for row in doc["labels"]:
        row[0] = int(row[0]) + 500
    (tmp_path / "x.json").write_text(json.dumps(doc))
    shifted = read_label_sequence(tmp_path / "x.json", DATA)
    assert np.array_equal(shifted.exposure_start_ns, exact.exposure_start_ns)
