"""Dataset readers on tiny fixture trees built here: FE108 (raw, processed), VisEvent, COESOT."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from had_tracker.data.datasets import DatasetError, aedat_available, load_dataset
from had_tracker.errors import HadTrackerError

W, H = 24, 16


def _img(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 2] = value  # BGR red channel on disk -> RGB channel 0 after reading
    img[0, 0] = (value, 0, 0)
    assert cv2.imwrite(str(path), img)


def _boxes(n: int) -> np.ndarray:
    return np.array([[1.5 + i, 2.0, 5.0, 4.25] for i in range(n)])


def _write_boxes(path: Path, boxes: np.ndarray, sep: str = ",") -> None:
    path.write_text("\r\n".join(sep.join(f"{v:g}" for v in row) for row in boxes))  # CRLF, no final newline


def test_fe108_raw_layout_with_offsets_and_no_aedat_reader(tmp_path):
    seq = tmp_path / "airplane"
    for i in range(1, 6):
        _img(seq / "img" / f"{i:04d}.jpg", 40 * i)
    _write_boxes(seq / "groundtruth_rect.txt", _boxes(5))
    (seq / "events.aedat4").write_bytes(b"not really")
    (tmp_path / "pair.txt").write_text("airplane 105\r\nother 328")
    if aedat_available():  # with dv_processing, a broken aedat4 is a clear error
        with pytest.raises(DatasetError, match=r"cannot read .*events\.aedat4"):
            load_dataset(tmp_path, "fe108")
        (seq / "events.aedat4").unlink()
    (s,) = load_dataset(tmp_path, "fe108")
    assert s.name == "airplane" and len(s) == 5 and (s.width, s.height) == (W, H)
    assert s.meta["layout"] == "raw" and s.meta["first_frame_number"] == 1
    assert s.meta["aedat_first_frame_index"] == 105
    np.testing.assert_allclose(s.gt_boxes, _boxes(5))
    assert not s.absent.any()
    assert s.frames[2].shape == (H, W, 3) and abs(int(s.frames[2][5, 5, 0]) - 120) <= 8  # RGB order (JPEG is lossy)
    assert s.frames[2][5, 5, 2] < 20
    assert s.meta["timing"] == "assumed" and np.all(np.diff(s.frame_t_ns) == 50_000_000)
    assert s.events is None
    if not aedat_available():
        assert "dv_processing" in s.meta["events"]


def test_fe108_raw_layout_reads_events_and_exposures_from_aedat4(tmp_path):
    """A real aedat4 written by dv_processing (the 'aedat' extra, also in the test extra)."""
    dv = pytest.importorskip("dv_processing", reason="dv_processing is not installed (pip install '.[aedat]')")
    import datetime

    seq = tmp_path / "bottle"
    for i in range(1, 5):
        _img(seq / "img" / f"{i:04d}.jpg", 40 * i)
    _write_boxes(seq / "groundtruth_rect.txt", _boxes(4))
    writer = dv.io.MonoCameraWriter(str(seq / "events.aedat4"), dv.io.MonoCameraWriter.DAVISConfig("DAVIS346", (W, H)))
    store = dv.EventStore()
    for i in range(60):  # 1 ms apart, all inside the 24 x 16 sensor
        store.push_back(1_000_000 + 1000 * i, i % W, (3 * i) % H, bool(i % 2))
    writer.writeEvents(store)
    for k in range(5):  # one frame before the first annotated one (pair.txt offset 1)
        frame = dv.Frame(1_000_000 + 10_000 * k, np.zeros((H, W), np.uint8))
        frame.exposure = datetime.timedelta(microseconds=2000)
        writer.writeFrame(frame)
    del writer  # closes the file
    (tmp_path / "pair.txt").write_text("bottle 1\n")
    (s,) = load_dataset(tmp_path, "fe108")
    assert len(s.events) == 60 and s.events.t[0] == 1_000_000_000 and s.events.t[-1] == 1_059_000_000
    np.testing.assert_array_equal(s.events.x[:4], [0, 1, 2, 3])
    np.testing.assert_array_equal(s.events.p[:4], [0, 1, 0, 1])
    assert s.meta["timing"] == "aedat4"
    np.testing.assert_array_equal(s.exposure_start_ns, [1_010_000_000 + 10_000_000 * k for k in range(4)])
    np.testing.assert_array_equal(s.exposure_end_ns - s.exposure_start_ns, [2_000_000] * 4)


def test_fe108_processed_layout_in_a_split_folder_with_list(tmp_path):
    for name in ("bike", "cat"):
        seq = tmp_path / "train" / name
        for i in range(4):
            _img(seq / "aps" / f"frame{i:04d}.png", 10 * i)
            _img(seq / "dvs" / f"frame{i:04d}.png", 200)
        _write_boxes(seq / "groundtruth_rect.txt", _boxes(4), sep="\t")
    (tmp_path / "train" / "list.txt").write_text("cat\nbike\n")
    seqs = load_dataset(tmp_path, "fe108")
    assert [s.name for s in seqs] == ["cat", "bike"]
    assert [s.name for s in load_dataset(tmp_path, "fe108", split="train")] == ["cat", "bike"]
    (tmp_path / "train" / "val.txt").write_text("bike\n")
    assert [s.name for s in load_dataset(tmp_path / "train", "fe108", split="val")] == ["bike"]
    with pytest.raises(DatasetError, match="split 'test' not found"):
        load_dataset(tmp_path, "fe108", split="test")
    s = seqs[0]
    assert s.meta["layout"] == "processed" and s.meta["first_frame_number"] == 0
    assert len(s.event_frames) == 4 and s.event_frames[0][0, 1, 0] == 200
    np.testing.assert_allclose(s.gt_boxes, _boxes(4))


def test_visevent_absent_labels_one_means_present_and_first_present_index(tmp_path):
    seq = tmp_path / "test_subset" / "dvSave-2021"
    for i in range(1, 5):  # 1-based names
        _img(seq / "vis_imgs" / f"frame{i:04d}.bmp", i)
        _img(seq / "event_imgs" / f"frame{i:04d}.bmp", 255)
    boxes = _boxes(4)
    boxes[0] = 0
    _write_boxes(seq / "groundtruth.txt", boxes)
    (seq / "absent_label.txt").write_text("0\n1\n1\n0\n")
    (s,) = load_dataset(tmp_path, "visevent")
    assert s.absent.tolist() == [True, False, False, True]
    assert s.meta["first_present_index"] == 1 and s.meta["first_frame_number"] == 1
    assert len(s.event_frames) == 4 and s.events is None


def test_coesot_start_end_index_selects_the_annotated_frames(tmp_path):
    name = "dvSave-2022_02_25"
    seq = tmp_path / name
    for i in range(6):
        _img(seq / f"{name}_aps" / f"frame{i:04d}.png", 20 * i)
        _img(seq / f"{name}_dvs" / f"frame{i:04d}.png", 20 * i)
    _write_boxes(seq / "groundtruth.txt", _boxes(4))
    (seq / "absent.txt").write_text("1\n1\n0\n1\n")
    (seq / "start_end_index.txt").write_text("2,5\n")
    (s,) = load_dataset(tmp_path, "coesot")
    assert len(s) == 4 and s.meta["start_end_index"] == (2, 5)
    assert [p.name for p in s.frames.paths] == [f"frame{i:04d}.png" for i in range(1, 5)]
    assert s.absent.tolist() == [False, False, True, False]
    assert abs(int(s.event_frames[0][3, 3, 0]) - 20) <= 1


def test_length_mismatch_is_trimmed_and_recorded(tmp_path):
    seq = tmp_path / "short"
    for i in range(5):
        _img(seq / "vis_imgs" / f"frame{i:04d}.bmp", i)
    _write_boxes(seq / "groundtruth.txt", _boxes(3))
    (s,) = load_dataset(tmp_path, "visevent")
    assert len(s) == 3 and s.meta["lengths"] == {"frames": 5, "boxes": 3}


def test_bad_datasets_raise_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset format"):
        load_dataset(tmp_path, "got10k")
    with pytest.raises(DatasetError, match="no coesot sequences"):
        load_dataset(tmp_path, "coesot")
    with pytest.raises(DatasetError, match="not a folder"):
        load_dataset(tmp_path / "missing", "fe108")
    seq = tmp_path / "broken"
    _img(seq / "vis_imgs" / "frame0000.bmp", 1)
    (seq / "groundtruth.txt").write_text("1,2,three,4\n")
    with pytest.raises(DatasetError, match="not a number"):
        load_dataset(tmp_path, "visevent")
    (seq / "groundtruth.txt").write_text("1,2,3,4\n")
    (tmp_path / "list.txt").write_text("broken\nghost\n")
    with pytest.raises(HadTrackerError, match="ghost"):
        load_dataset(tmp_path, "visevent")
    (tmp_path / "list.txt").unlink()
    (seq / "vis_imgs" / "frame0000.bmp").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="cannot read image"):
        load_dataset(tmp_path, "visevent")
