"""Folder and bag writers: round trips, topics, time stamps, atomic failure behaviour, the synth CLI."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.data.datasets import load_dataset
from had_tracker.data.synthetic import SyntheticConfig, generate_sequence
from had_tracker.data.writers import BAG_TOPICS, write_bag, write_folder
from had_tracker.errors import ConfigError

TINY = dict(duration_s=0.3, width=80, height=60, target_size_px=(16.0, 20.0), rgb_fps=20.0, gt_hr_rate_hz=200.0)


@pytest.fixture(scope="module")
def recording():
    # A different RGB geometry and a clock offset exercise the raw vs aligned distinction.
    h = (1.2, 0.0, 4.0, 0.0, 1.2, -3.0, 0.0, 0.0, 1.0)
    cfg = SyntheticConfig.from_preset("distractors", **TINY, rgb_width=96, rgb_height=72, homography=h)
    return generate_sequence(cfg, seed=21)


def test_folder_round_trip_through_the_synthetic_reader(recording, tmp_path):
    folder = write_folder(recording, tmp_path)
    assert folder == tmp_path / recording.name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    (seq,) = load_dataset(tmp_path, "synthetic")
    ref = recording.aligned()
    assert seq.name == ref.name and len(seq) == len(ref) and (seq.width, seq.height) == (96, 72)
    np.testing.assert_array_equal(seq.frames[3], ref.frames[3])
    np.testing.assert_allclose(seq.gt_boxes, ref.gt_boxes, atol=1e-4)
    np.testing.assert_array_equal(seq.absent, ref.absent)
    np.testing.assert_array_equal(seq.frame_t_ns, ref.frame_t_ns)
    np.testing.assert_array_equal(seq.exposure_end_ns, ref.exposure_end_ns)
    for name in ("t", "x", "y", "p"):
        np.testing.assert_array_equal(getattr(seq.events, name), getattr(ref.events, name))
    np.testing.assert_array_equal(seq.gt_hr_t_ns, ref.gt_hr_t_ns)
    np.testing.assert_array_equal(seq.gt_hr_absent, ref.gt_hr_absent)
    assert seq.attributes == ref.attributes
    assert len(seq.event_frames) == len(seq) and seq.event_frames[0].shape == (72, 96, 3)
    with pytest.raises(ConfigError, match="already exists"):
        write_folder(recording, tmp_path)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bag_round_trip_raw_streams_and_stamps(recording, tmp_path, storage):
    from had_tracker.events.decoders import Evt3Decoder
    from had_tracker.ros_io.bag import read_bag
    from had_tracker.ros_io.image import image_to_numpy
    from had_tracker.ros_io.msgs import time_to_ns

    path = write_bag(recording, tmp_path / "seq", storage=storage)
    cfg = recording.config
    by_topic: dict[str, list] = {t: [] for t in BAG_TOPICS}
    for m in read_bag(path):
        assert BAG_TOPICS[m.topic] == m.msgtype
        by_topic[m.topic].append(m)

    # Events: evt3 packets decode back to the raw sensor events; seq consecutive; ~1 ms packets.
    packets = by_topic["/event_camera/events"]
    decoder = Evt3Decoder(cfg.width, cfg.height)
    decoded = [decoder.decode(m.msg).events for m in packets]
    assert [int(m.msg.seq) for m in packets] == list(range(len(packets)))
    assert all(m.msg.encoding == "evt3" and int(m.msg.time_base) == 0 for m in packets)
    t = np.concatenate([d.t for d in decoded])
    np.testing.assert_array_equal(t, recording.events.t)
    np.testing.assert_array_equal(np.concatenate([d.x for d in decoded]), recording.events.x)
    np.testing.assert_array_equal(np.concatenate([d.p for d in decoded]), recording.events.p)
    spans = np.array([d.t[-1] - d.t[0] for d in decoded if len(d)])
    assert spans.max() < cfg.packet_duration_ns
    # header.stamp = host arrival = first event sensor time + offset + latency + |jitter|.
    stamps = np.array([time_to_ns(m.msg.header.stamp) for m in packets])
    firsts = np.array([d.t[0] for d in decoded])
    delay = stamps - firsts - recording.event_to_rgb_offset_ns
    assert np.all(delay >= cfg.host_latency_ns) and np.median(delay) < cfg.host_latency_ns + 3 * cfg.host_jitter_ns
    assert np.all(np.diff(stamps) >= 0)
    assert all(m.recv_ns >= time_to_ns(m.msg.header.stamp) for m in packets)

    # Images: rgb8, stamp = exposure midpoint on the RGB clock, received after the exposure end.
    images = by_topic["/camera/image_raw"]
    assert len(images) == len(recording) == len(by_topic["/camera/camera_info"])
    for i, m in enumerate(images):
        assert m.msg.encoding == "rgb8"
        assert time_to_ns(m.msg.header.stamp) == recording.frame_t_ns[i]
        assert m.recv_ns > recording.exposure_end_ns[i]
    np.testing.assert_array_equal(image_to_numpy(images[2].msg), recording.rgb_frames[2])
    info = by_topic["/camera/camera_info"][0].msg
    assert (int(info.width), int(info.height)) == (96, 72)

    # Ground truth per frame and at the high rate.
    gt = by_topic["/ground_truth"]
    assert [time_to_ns(m.msg.header.stamp) for m in gt] == recording.frame_t_ns.tolist()
    assert [not m.msg.present for m in gt] == recording.absent.tolist()
    assert np.isclose(gt[1].msg.box.width, recording.gt_boxes[1, 2])
    assert len(by_topic["/ground_truth_hr"]) == len(recording.gt_hr_t_ns)
    assert (path / "synthetic_metadata.json").is_file()


def test_failed_bag_write_leaves_nothing_behind(recording, tmp_path, monkeypatch):
    from had_tracker.events import encoders

    def boom(self, events, triggers=None):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(encoders.Evt3Encoder, "encode", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_bag(recording, tmp_path / "bad")
    assert list(tmp_path.iterdir()) == []


def test_failed_folder_write_leaves_nothing_behind(recording, tmp_path, monkeypatch):
    import had_tracker.data.writers as writers

    monkeypatch.setattr(writers.np, "savez", lambda *a, **k: (_ for _ in ()).throw(OSError("no space")))
    with pytest.raises(OSError, match="no space"):
        write_folder(recording, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_synth_cli_writes_bags_with_previews_and_rejects_bad_input(tmp_path, capsys):
    from had_tracker.cli import main

    out = tmp_path / "out"
    args = ["synth", "--out", str(out), "--sequences", "2", "--seed", "3", "--preset", "easy", "--duration", "0.25"]
    assert main([*args, "--format", "bag", "--preview"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["easy_000003", "easy_000004", "previews"]
    assert len(list((out / "previews").glob("*.png"))) == 6
    assert main([*args, "--format", "bag"]) == 2  # exists
    assert "already exists" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("contrast_threshold_pos: -1\n")
    assert main(["synth", "--out", str(tmp_path / "o2"), "--config", str(bad)]) == 2
    assert "contrast_threshold_pos" in capsys.readouterr().err


def test_shipped_example_config_is_valid_and_gives_a_separate_rgb_camera(tmp_path):
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parents[1] / "config" / "synthetic" / "example.yaml"
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in yaml.safe_load(path.read_text()).items()}
    cfg = SyntheticConfig.from_preset("easy", **{**values, "duration_s": 0.2})
    assert cfg.rgb_size == (480, 360) and cfg.event_to_rgb_offset_ns == 10_000_000_000
    seq = generate_sequence(cfg, seed=1).aligned()
    assert (seq.width, seq.height) == (480, 360) and len(seq.events) > 0


def test_a_sequence_cut_by_the_event_cap_reads_back_with_a_warning(tmp_path, caplog):
    cfg = SyntheticConfig.from_preset("distractors", **{**TINY, "max_events": 3000})
    recording = generate_sequence(cfg, seed=21)
    write_folder(recording, tmp_path)
    with caplog.at_level("WARNING", logger="had_tracker.data.datasets.readers"):
        (seq,) = load_dataset(tmp_path, "synthetic")
    assert len(seq.events) == 3000 and seq.meta["dropped_events"] > 0
    assert "max_events cap dropped" in caplog.text and recording.name in caplog.text
    assert int(seq.events.t[-1]) < int(seq.frame_t_ns[-1])  # the tail of the stream is missing


def test_a_whole_stream_reads_back_without_the_cap_warning(recording, tmp_path, caplog):
    write_folder(recording, tmp_path)
    with caplog.at_level("WARNING", logger="had_tracker.data.datasets.readers"):
        (seq,) = load_dataset(tmp_path, "synthetic")
    assert seq.meta["dropped_events"] == 0 and "max_events" not in caplog.text
