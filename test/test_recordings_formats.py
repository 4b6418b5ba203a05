"""Real recordings beyond aedat4 and bags: Prophesee RAW (EVT 3.0) files and event .npz dumps (labels, eval real)."""

import logging

import numpy as np
import pytest

from had_tracker.data.datasets.common import DatasetError
from had_tracker.data.labels.recordings import load_recording
from had_tracker.events.container import Events
from had_tracker.events.encoders import Evt3Encoder


def _events(n: int = 500, width: int = 64, height: int = 48, seed: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 50_000, n)) * 1000  # whole microseconds (what evt3 holds)
    return Events.from_arrays(
        t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n), width, height
    )


def test_a_prophesee_raw_file_is_read_with_the_geometry_of_its_header(tmp_path):
    events = _events()
    payload = Evt3Encoder(self_contained_packets=False).encode(events).tobytes()
    path = tmp_path / "rec.raw"
    path.write_bytes(b"% camera_integrator_name Prophesee\n% evt 3.0\n% geometry 64x48\n% end\n" + payload)
    rec = load_recording(path)
    assert rec.kind == "raw" and rec.frames is None
    assert (rec.events.width, rec.events.height) == (64, 48)
    for k in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(getattr(rec.events, k), getattr(events, k))


def test_an_event_npz_is_read_and_sorted_by_time_with_a_warning(tmp_path, caplog):
    events = _events()
    path = tmp_path / "rec.npz"
    np.savez(path, **events.to_dict())
    rec = load_recording(path)
    assert rec.kind == "npz" and len(rec.events) == len(events)
    np.testing.assert_array_equal(rec.events.t, events.t)
    shuffled = {**events.to_dict(), "t": events.t[::-1].copy()}
    np.savez(tmp_path / "rev.npz", **shuffled)
    with caplog.at_level(logging.WARNING):
        rec = load_recording(tmp_path / "rev.npz")
    assert np.all(np.diff(rec.events.t) >= 0) and "sorted by time" in caplog.text


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("width"), "missing"),
        (lambda d: d.update(x=d["x"] + 64), "outside"),
        (lambda d: d.update(p=d["p"][:-1]), "different lengths"),
        (lambda d: d.update(width=np.asarray(0)), "must be > 0"),
    ],
)
def test_a_bad_event_npz_is_refused_with_the_reason(tmp_path, change, message):
    arrays = _events().to_dict()
    change(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=message):
        load_recording(tmp_path / "bad.npz")


def _moving_square_raw(path, width: int = 96, height: int = 72) -> None:
    """A 12x12 px square of events moving right at 200 px/s over 0.2 s, plus sparse noise, as a RAW file."""
    rng = np.random.default_rng(1)
    ts, xs, ys = [], [], []
    for ms in range(200):
        x0, y0 = 20 + 0.2 * ms, 30
        n = 30
        ts.append(np.full(n, ms * 1000) + rng.integers(0, 1000, n))
        xs.append(x0 + rng.uniform(0, 12, n))
        ys.append(y0 + rng.uniform(0, 12, n))
    noise = 200
    ts.append(rng.integers(0, 200_000, noise))
    xs.append(rng.uniform(0, width, noise))
    ys.append(rng.uniform(0, height, noise))
    t = np.concatenate(ts)
    order = np.argsort(t, kind="stable")
    events = Events.from_arrays(
        t[order] * 1000,
        np.concatenate(xs)[order].astype(int),
        np.concatenate(ys)[order].astype(int),
        rng.integers(0, 2, len(t)),
        width,
        height,
    )
    payload = Evt3Encoder(self_contained_packets=False).encode(events).tobytes()
    path.write_bytes(b"% evt 3.0\n% geometry 96x72\n% end\n" + payload)


def test_a_raw_recording_is_labelled_and_evaluated_like_the_others(tmp_path, monkeypatch):
    from had_tracker.cli import main
    from had_tracker.data.labels.label_file import read_label_sequence

    _moving_square_raw(tmp_path / "square.raw")
    labels = tmp_path / "square.json"
    args = ["label", "blob", "--recording", "square.raw", "--data-root", str(tmp_path), "--name", "square"]
    args += ["--seed-box", "20", "30", "12", "12", "--times", "50", "--start-ms", "20", "--out", str(labels)]
    assert main(args) == 0
    seq = read_label_sequence(labels, data_root=tmp_path)
    assert seq.meta["rgb"] is False and len(seq.frame_t_ns) >= 8
    # the labelled square moves right with the events (200 px/s: ~30 px over the labelled 0.15 s)
    assert seq.gt_boxes[-1, 0] - seq.gt_boxes[0, 0] > 20
    monkeypatch.setenv("HAD_TRACKER_REAL_DATA", str(tmp_path))  # where eval dataset finds the recording
    out = tmp_path / "eval"
    args = ["eval", "dataset", "--root", str(labels), "--format", "real", "--tracker", "mil-events"]
    assert main([*args, "--out", str(out), "--workers", "1"]) == 0
    assert (out / "predictions" / "square.txt").exists()
