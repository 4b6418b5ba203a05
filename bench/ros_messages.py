"""What the two-node ROS path adds per window: EventWindow build/parse and its serialisation (+ Track, debug image).

Run:  python bench/ros_messages.py [--rates 5,20,50] [--sensors 346x260,1280x720] [--repeats 30]

Per 200 Hz (5 ms) window of the pipeline benchmark's scene (30 % of the events on a 24 px target, 70 %
uniform over the sensor), at each rate and sensor size, with the full sensor and with the region of interest
the tracker sets (its search crop + margin, ``Tracker.search_roi``; the synchronizer then keeps only those
events), times:

* ``build``   ``sample_to_window_msg`` into array.array containers (what rclpy messages hold);
* ``parse``   ``window_msg_to_sample`` from those containers (the tracker node's input side);
* ``ser``/``deser``  rosbags CDR serialize / deserialize of the same window (the no-ROS stand-in for the DDS
              copy; rclpy's own serializer is C code and not measured here: no ROS on this machine);
* ``two-node`` = build + ser + deser + parse: what the two-process launch adds per window over the
              single-process one (which hands the AlignedSample over in memory), and that per second of
              stream (x 200 windows/s, one core);
* ``track``   ``result_to_track_msg`` + ``fill_detection`` (rosbags objects), ``debug`` ``render_debug_image``
              + ``fill_image_msg`` (bgr8): the same in both launch modes (full-sensor rows only).

No RGB frame attached (event-only windows). Medians over ``--repeats`` runs, in milliseconds; thread CPU time.
"""

from __future__ import annotations

import argparse
import array
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from had_tracker.events.container import Events  # noqa: E402
from had_tracker.geometry import CropWindow  # noqa: E402
from had_tracker.nodes.debug_view import render_debug_image  # noqa: E402
from had_tracker.ros_io.event_window import (  # noqa: E402
    make_track_msg,
    sample_to_window_msg,
    window_msg_to_sample,
)
from had_tracker.ros_io.image import fill_image_msg  # noqa: E402
from had_tracker.ros_io.msgs import default_msg, make_msg  # noqa: E402
from had_tracker.ros_io.track_outputs import fill_detection  # noqa: E402
from had_tracker.ros_io.typestore import get_typestore  # noqa: E402
from had_tracker.sync.roi import Roi, filter_events, roi_around  # noqa: E402
from had_tracker.sync.synchronizer import AlignedSample  # noqa: E402
from had_tracker.tracking.result import TrackResult, TrackState  # noqa: E402

WINDOW_NS = 5_000_000
TARGET = 24.0


def _rclpy_like_window() -> SimpleNamespace:
    """An EventWindow-shaped object with the containers rclpy gives a fresh message."""
    stamp = lambda: SimpleNamespace(sec=0, nanosec=0)  # noqa: E731
    image = SimpleNamespace(
        header=SimpleNamespace(stamp=stamp(), frame_id=""), height=0, width=0, encoding="", is_bigendian=0, step=0,
        data=array.array("B"),
    )  # fmt: skip
    return SimpleNamespace(
        header=SimpleNamespace(stamp=stamp(), frame_id=""), seq=0, window_start=stamp(), window_end=stamp(),
        width=0, height=0, dt_ns=array.array("I"), x=array.array("H"), y=array.array("H"),
        polarity=array.array("B"), dropped_events=0, has_image=False, image=image, image_offset_ns=0,
    )  # fmt: skip


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.thread_time()
        fn()
        times.append(time.thread_time() - t0)
    return 1e3 * float(np.median(times))


def _window_events(width: int, height: int, rate: float, rng: np.random.Generator) -> tuple[Events, Roi]:
    """One 5 ms window of the pipeline scene, and the ROI the tracker would set around its target."""
    n = int(rate * 1e6 * WINDOW_NS * 1e-9)
    t = np.sort(rng.integers(0, WINDOW_NS, n)).astype(np.int64) + 10**18
    cx, cy = width / 2 + 80, height / 2
    on = rng.random(n) < 0.3
    x = np.where(on, cx + rng.uniform(-TARGET / 2, TARGET / 2, n), rng.uniform(0, width, n))
    y = np.where(on, cy + rng.uniform(-TARGET / 2, TARGET / 2, n), rng.uniform(0, height, n))
    events = Events.from_arrays(
        t, np.clip(x, 0, width - 1), np.clip(y, 0, height - 1), rng.integers(0, 2, n), width, height
    )
    crop = CropWindow.around((cx - TARGET / 2, cy - TARGET / 2, TARGET, TARGET), 4.0, 96)
    return events, roi_around(crop.x0, crop.y0, crop.side)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="5,20,50", help="event rates [Mev/s], comma separated")
    parser.add_argument("--sensors", default="346x260,1280x720", help="sensor sizes WxH, comma separated")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    store = get_typestore("humble")
    rng = np.random.default_rng(0)
    rows = []
    for sensor in args.sensors.split(","):
        width, height = (int(v) for v in sensor.lower().split("x"))
        for rate in (float(r) for r in args.rates.split(",")):
            full, roi = _window_events(width, height, rate, rng)
            for use_roi in (False, True):
                events = filter_events(full, roi) if use_roi else full
                rows.append(_measure(store, sensor, rate, use_roi, events, args.repeats))
    print(f"EventWindow cost per 200 Hz window (event-only), median of {args.repeats} [ms]; "
          "'two-node' = build + ser + deser + parse\n")  # fmt: skip
    print("| sensor | Mev/s | ROI | events | build | parse | ser | deser | two-node ms | two-node CPU s / stream s "
          "| msg kB | track | debug |")  # fmt: skip
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        extra = "-" if r["track"] is None else f"{r['track']:.3f} | {r['debug']:.2f}"
        extra = extra if r["track"] is not None else "- | -"
        print(f"| {r['sensor']} | {r['rate']:g} | {'on' if r['roi'] else 'off'} | {r['events']} | {r['build']:.3f} | "
              f"{r['parse']:.3f} | {r['ser']:.3f} | {r['deser']:.3f} | {r['total']:.3f} | {r['total'] * 0.2:.3f} | "
              f"{r['kb']:.0f} | {extra} |")  # fmt: skip
    return 0


def _measure(store, sensor: str, rate: float, use_roi: bool, events: Events, repeats: int) -> dict:
    width, height = events.width, events.height
    sample = AlignedSample(0, 10**18, 10**18 + WINDOW_NS, events)
    msg = sample_to_window_msg(sample, _rclpy_like_window())
    rosbags_msg = sample_to_window_msg(sample, default_msg(store, "had_msgs/msg/EventWindow"))
    name = "had_msgs/msg/EventWindow"
    raw = store.serialize_cdr(rosbags_msg, name)
    row = {
        "sensor": sensor, "rate": rate, "roi": use_roi, "events": len(events), "kb": len(raw) / 1e3,
        "build": _median_ms(lambda: sample_to_window_msg(sample, _rclpy_like_window()), repeats),
        "parse": _median_ms(lambda: window_msg_to_sample(msg), repeats),
        "ser": _median_ms(lambda: store.serialize_cdr(rosbags_msg, name), repeats),
        "deser": _median_ms(lambda: store.deserialize_cdr(raw, name), repeats),
        "track": None, "debug": None,
    }  # fmt: skip
    row["total"] = row["build"] + row["parse"] + row["ser"] + row["deser"]
    if not use_roi:
        result = TrackResult(
            np.array([10.0, 20.0, 30.0, 40.0]),
            0.9,
            TrackState.TRACKING,
            10**18,
            10**18 + WINDOW_NS,
            len(events),
            1.0,
            1,
        )

        def track():
            msg_track = make_track_msg(store, result, "cam")
            fill_detection(
                make_msg(store, "vision_msgs/msg/Detection2D"),
                make_msg(store, "vision_msgs/msg/ObjectHypothesisWithPose"),
                msg_track,
            )

        def debug():
            canvas = render_debug_image(
                width, height, events.x, events.y, events.p, rgb=None, box_xywh=(10, 20, 30, 40), state=1, score=0.9
            )
            fill_image_msg(
                SimpleNamespace(height=0, width=0, encoding="", is_bigendian=0, step=0, data=array.array("B")),
                canvas,
                "bgr8",
            )

        row["track"], row["debug"] = _median_ms(track, repeats), _median_ms(debug, repeats)
    return row


if __name__ == "__main__":
    sys.exit(main())
