"""``had-tracker events info`` / ``events dump`` on a RAW file and on bags."""

from __future__ import annotations

import json

import numpy as np
import pytest

from had_tracker.cli import main
from test.conftest import shared_data


def test_events_info_raw_reports_counts_and_rate(capsys):
    raw = shared_data("prophesee_evt3", "evt3_sample.raw")
    assert main(["events", "info", str(raw), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)["evt3_sample.raw"]
    assert info["events"] == 219_596 and info["on_events"] == 115_532
    assert (info["width"], info["height"], info["encoding"]) == (1280, 720, "evt3")
    assert info["first_t_ns"] == 11_718_656_000 and info["last_t_ns"] == 11_727_457_000


def test_events_dump_raw_writes_npz(tmp_path):
    raw = shared_data("prophesee_evt3", "evt3_sample.raw")
    out = tmp_path / "ev.npz"
    assert main(["events", "dump", str(raw), "--out", str(out)]) == 0
    d = np.load(out)
    assert d["t"].dtype == np.int64 and int((d["t"] // 1000).sum()) == 2_574_324_900_467
    assert int(d["x"].sum(dtype=np.int64)) == 159_113_225 and "trigger_t" not in d


def test_events_info_and_dump_mono_bag(tmp_path, capsys):
    bag = shared_data("rosbag_mono_cd")
    assert main(["events", "info", str(bag)]) == 0
    text = capsys.readouterr().out
    assert "/event_camera/events" in text and "mono" in text and "100" in text
    out = tmp_path / "mono.npz"
    assert main(["events", "dump", str(bag), "--topic", "/event_camera/events", "--out", str(out)]) == 0
    d = np.load(out)
    assert int(d["t"].sum()) == 4_950_000 and int(d["y"].sum(dtype=np.int64)) == 26_450


def test_events_dump_evt3_bag_with_triggers_round_trips(tmp_path):
    """A bag written with Evt3Encoder decodes back to the same events and triggers."""
    from had_tracker.events.container import Events, Triggers
    from had_tracker.events.encoders import Evt3Encoder
    from had_tracker.ros_io.bag import BagWriter
    from had_tracker.ros_io.msgs import make_header, make_msg
    from had_tracker.ros_io.typestore import get_typestore

    store = get_typestore()
    rng = np.random.default_rng(1)
    n = 5000
    t = np.sort(rng.integers(0, 3_000_000, n)) * 1000
    events = Events.from_arrays(t, rng.integers(0, 640, n), rng.integers(0, 480, n), rng.integers(0, 2, n), 640, 480)
    triggers = Triggers(np.array([1000, 2_000_000_000]), np.array([1, 0], np.uint8), np.array([0, 0], np.uint8))
    enc = Evt3Encoder()
    bag = tmp_path / "bag"
    topic = "/event_camera/events"
    with BagWriter(bag, storage="sqlite3") as writer:
        writer.add_topic(topic, "event_camera_msgs/msg/EventPacket")
        prev_last = -1
        for seq, (a, b) in enumerate([(0, 1000), (1000, 4000), (4000, n)]):
            part = events[a:b]
            last = int(part.t[-1]) if b < n else 1 << 62
            trig = triggers[(triggers.t > prev_last) & (triggers.t <= last)]
            prev_last = last
            payload = enc.encode(part, trig)
            msg = make_msg(store, "event_camera_msgs/msg/EventPacket", header=make_header(store, 10**18 + seq),
                           width=640, height=480, seq=seq, encoding="evt3", events=payload)  # fmt: skip
            writer.write(topic, 10**18 + seq, msg)
    out = tmp_path / "evt3.npz"
    assert main(["events", "dump", str(bag), "--out", str(out)]) == 0
    d = np.load(out)
    for name in "txyp":
        np.testing.assert_array_equal(d[name], getattr(events, name))
    assert d["trigger_t"].tolist() == [1000, 2_000_000_000] and d["trigger_edge"].tolist() == [1, 0]


def test_events_info_missing_source_is_a_one_line_error(tmp_path, capsys):
    assert main(["events", "info", str(tmp_path / "nope.raw")]) == 2
    err = capsys.readouterr().err
    assert "error" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["events", "dump", "x.raw"]])
def test_events_dump_requires_out(args):
    with pytest.raises(SystemExit):
        main(args)


def test_events_dump_dvs_struct_array_bag(tmp_path):
    """dvs_msgs/EventArray bags (mcap) go through the CDR numpy view; out-of-geometry events are dropped."""
    from had_tracker.ros_io.bag import BagWriter
    from had_tracker.ros_io.msgs import make_header, make_msg, ns_to_time
    from had_tracker.ros_io.typestore import get_typestore

    store = get_typestore()
    event_type = store.types["dvs_msgs/msg/Event"]
    bag = tmp_path / "dvs"
    expect = []
    with BagWriter(bag, storage="mcap") as writer:
        writer.add_topic("/dvs/events", "dvs_msgs/msg/EventArray")
        for k in range(2):
            evs = []
            for i in range(50):
                t_ns, x, y, p = 10**18 + k * 10**6 + i * 1000, (7 * i) % 400, (3 * i) % 260, i % 2
                evs.append(event_type(x=x, y=y, ts=ns_to_time(store, t_ns), polarity=bool(p)))
                if x < 346:
                    expect.append((t_ns, x, y, p))
            msg = make_msg(store, "dvs_msgs/msg/EventArray", header=make_header(store, 10**18 + k * 10**6),
                           width=346, height=260, events=evs)  # fmt: skip
            writer.write("/dvs/events", 10**18 + k * 10**6, msg)
    out = tmp_path / "dvs.npz"
    assert main(["events", "dump", str(bag), "--out", str(out)]) == 0
    d = np.load(out)
    got = list(zip(d["t"].tolist(), d["x"].tolist(), d["y"].tolist(), d["p"].tolist(), strict=True))
    assert got == expect and int(d["width"]) == 346
