"""Event-image datasets: pseudo-events from event images, the FE240hz reader, COESOT's trimmed exposures."""

from __future__ import annotations

import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from had_tracker.data.datasets import load_dataset, pseudo_event_stream, pseudo_events

W, H = 24, 16


def _grey(value: int = 128) -> np.ndarray:
    return np.full((H, W, 3), value, np.uint8)


def test_grey_event_image_polarity_counts_and_times():
    img = _grey(128)
    img[2, 3] = 255  # strong ON
    img[5, 6] = 0  # strong OFF
    img[7, 8] = 160  # weak ON
    img[9, 9] = 131  # below the threshold: compression noise
    ev = pseudo_events(img, 1_000, 11_000, max_per_pixel=4)
    per_pixel = {(int(x), int(y)): [] for x, y in zip(ev.x, ev.y, strict=True)}
    for x, y, p in zip(ev.x, ev.y, ev.p, strict=True):
        per_pixel[(int(x), int(y))].append(int(p))
    assert per_pixel[(3, 2)] == [1] * 4 and per_pixel[(6, 5)] == [0] * 4  # |d| 127 and 128: the maximum
    assert per_pixel[(8, 7)] == [1] * 1  # ceil(4 * 32 / 128)
    assert (9, 9) not in per_pixel
    assert ev.t.min() >= 1_000 and ev.t.max() < 11_000 and np.all(np.diff(ev.t) >= 0)
    t_strong = np.sort(ev.t[(ev.x == 3) & (ev.y == 2)])
    assert np.all(np.diff(t_strong) > 1_500)  # spread over the interval, not bunched


def test_neutral_level_is_the_background_white_and_colour_renderings():
    white = _grey(255)
    white[4, 4] = 0
    ev = pseudo_events(white, 0, 100)
    assert set(ev.p.tolist()) == {0} and len(ev) == 4  # darker than a white background: OFF
    colour = np.zeros((H, W, 3), np.uint8)
    colour[1, 1] = (255, 0, 0)  # red (RGB)
    colour[2, 2] = (0, 0, 255)  # blue
    ev = pseudo_events(colour, 0, 100)
    red = ev.p[(ev.x == 1) & (ev.y == 1)]
    blue = ev.p[(ev.x == 2) & (ev.y == 2)]
    assert red.tolist() == [1] * len(red) and blue.tolist() == [0] * len(blue) and len(red) and len(blue)
    flipped = pseudo_events(colour, 0, 100, red_is_on=False)
    assert flipped.p[(flipped.x == 1) & (flipped.y == 1)].tolist() == [0] * len(red)


def test_stream_intervals_follow_the_frame_times():
    imgs = [_grey(128) for _ in range(3)]
    for i, img in enumerate(imgs):
        img[i, i] = 255
    ev = pseudo_event_stream(imgs, np.array([10, 20, 30]) * 1_000_000)
    for i in range(3):
        t = ev.t[(ev.x == i) & (ev.y == i)]
        assert t.min() >= i * 10_000_000 and t.max() < (i + 1) * 10_000_000


def _write(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def _fe240(root: Path) -> Path:
    """img/ at 40 Hz (2 APS images), stack240/ at 240 Hz (12 event frames), one box per event frame."""
    seq = root / "airplane_mul222"
    for i in range(2):
        _write(seq / "img" / f"{i:04d}.jpg", _grey(40 + 100 * i))
    for k in range(12):
        frame = _grey(128)
        frame[4:8, 2 + k : 6 + k] = 255
        _write(seq / "stack240" / f"{k:04d}.png", frame)
    (seq / "groundtruth_rect.txt").write_text("\n".join(f"{2 + k},4,4,4" for k in range(12)) + "\n")
    return seq


def test_fe240hz_reader_runs_at_the_event_frame_rate(tmp_path):
    _fe240(tmp_path)
    (s,) = load_dataset(tmp_path, "fe240hz")
    assert len(s) == 12 and s.meta["source"] == "fe240hz"
    np.testing.assert_allclose(np.diff(s.frame_t_ns), 1e9 / 240, atol=1)
    assert s.gt_boxes[5].tolist() == [7.0, 4.0, 4.0, 4.0]
    aps = [int(np.asarray(s.frames[k])[0, 0, 0]) for k in (0, 5, 6, 11)]
    assert [abs(a - v) <= 2 for a, v in zip(aps, (40, 40, 140, 140), strict=True)] == [True] * 4  # 6 per APS image
    assert s.events is None and len(s.event_frames) == 12
    (p,) = load_dataset(tmp_path, "fe240hz", pseudo_events=True)
    assert p.meta["events"].startswith("pseudo") and len(p.events) > 0
    k = 5  # the events of event frame k lie on that frame's square
    sel = (p.events.t >= p.frame_t_ns[k - 1]) & (p.events.t < p.frame_t_ns[k])
    assert p.events.x[sel].min() == 2 + k and p.events.x[sel].max() == 5 + k


def test_training_spec_and_detection_find_fe240hz(tmp_path):
    from had_tracker.data.datasets import detect_format
    from had_tracker.training.data import load_sequences

    _fe240(tmp_path)
    assert detect_format(tmp_path) == "fe240hz"
    (s,) = load_sequences(f"fe240hz:root={tmp_path}")
    assert s.events is not None and len(s.events) > 0  # pseudo-events by default for training
    (r,) = load_sequences(f"fe240hz:root={tmp_path},pseudo_events=0")
    assert r.events is None


def test_coesot_exposures_are_trimmed_with_the_frames(tmp_path):
    """start_end_index trims the frames; the aedat4 holds every frame's exposure and must be trimmed the same."""
    dv = pytest.importorskip("dv_processing", reason="dv_processing is not installed (pip install '.[aedat]')")
    name = "dvSave-2022_03_01"
    seq = tmp_path / name
    for i in range(6):
        _write(seq / f"{name}_aps" / f"frame{i:04d}.png", _grey(20 * i))
        _write(seq / f"{name}_dvs" / f"frame{i:04d}.png", _grey(128))
    (seq / "groundtruth.txt").write_text("\n".join("1,2,5,4" for _ in range(4)))
    (seq / "absent.txt").write_text("1\n1\n1\n1\n")
    (seq / "start_end_index.txt").write_text("2,5\n")
    writer = dv.io.MonoCameraWriter(str(seq / f"{name}.aedat4"), dv.io.MonoCameraWriter.DAVISConfig("DAVIS346", (W, H)))
    store = dv.EventStore()
    for i in range(60):
        store.push_back(1_000_000 + 1000 * i, i % W, (3 * i) % H, bool(i % 2))
    writer.writeEvents(store)
    for k in range(6):
        frame = dv.Frame(1_000_000 + 10_000 * k, np.zeros((H, W), np.uint8))
        frame.exposure = datetime.timedelta(microseconds=2000)
        writer.writeFrame(frame)
    del writer
    (s,) = load_dataset(tmp_path, "coesot")
    assert s.meta["timing"] == "aedat4"
    np.testing.assert_array_equal(s.exposure_start_ns, [1_010_000_000 + 10_000_000 * k for k in range(4)])


def test_eval_dataset_runs_the_student_on_event_images_only(tmp_path):
    from had_tracker.evaluation.dataset_eval import evaluate_dataset

    _fe240(tmp_path / "data")
    report = evaluate_dataset(tmp_path / "data", "fe240hz", tmp_path / "out", tracker="student", workers=1)
    assert report["trackers"]["HAD student"]["per_sequence"][0]["name"] == "airplane_mul222"
    assert (tmp_path / "out" / "predictions" / "airplane_mul222.txt").read_text().count("\n") == 12
