"""What the ROS layer adds per window: EventWindow build/parse (+ CDR), Track/Detection build, debug image.

Run:  python bench/ros_messages.py [--rates 1,5,20] [--repeats 50]

Per 200 Hz window at 1, 5 and 20 Mev/s (5 k, 25 k, 100 k events in 346x260), times:

* ``build``   ``sample_to_window_msg`` into array.array containers (what rclpy messages hold);
* ``parse``   ``window_msg_to_sample`` from those containers (the tracker node's input side);
* ``cdr``     rosbags CDR serialize + deserialize of the same window (a stand-in for the DDS copy; rclpy's
              own serializer is C code and not measured here: no ROS on this machine);
* ``track``   ``result_to_track_msg`` + ``fill_detection`` (rosbags objects);
* ``debug``   ``render_debug_image`` (overlay on an RGB frame) + ``fill_image_msg`` (bgr8, array.array).

Medians over ``--repeats`` runs, in milliseconds. Single thread.
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
from had_tracker.sync.synchronizer import AlignedSample  # noqa: E402
from had_tracker.tracking.result import TrackResult, TrackState  # noqa: E402

WIDTH, HEIGHT, WINDOW_NS = 346, 260, 5_000_000


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
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1,5,20", help="event rates [Mev/s], comma separated")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    store = get_typestore("humble")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    rows = []
    for rate in (float(r) for r in args.rates.split(",")):
        n = int(rate * 1e6 * WINDOW_NS * 1e-9)
        t = np.sort(rng.integers(0, WINDOW_NS, n)).astype(np.int64) + 10**18
        events = Events.from_arrays(
            t, rng.integers(0, WIDTH, n), rng.integers(0, HEIGHT, n), rng.integers(0, 2, n), WIDTH, HEIGHT
        )
        sample = AlignedSample(0, 10**18, 10**18 + WINDOW_NS, events, image=rgb, image_stamp_ns=10**18)
        msg = sample_to_window_msg(sample, _rclpy_like_window())
        rosbags_msg = sample_to_window_msg(sample, default_msg(store, "had_msgs/msg/EventWindow"))
        result = TrackResult(
            np.array([10.0, 20.0, 30.0, 40.0]), 0.9, TrackState.TRACKING, 10**18, 10**18 + WINDOW_NS, n, 1.0, 1
        )

        def cdr(m=rosbags_msg):
            store.deserialize_cdr(store.serialize_cdr(m, "had_msgs/msg/EventWindow"), "had_msgs/msg/EventWindow")

        def track(r=result):
            msg_track = make_track_msg(store, r, "cam")
            fill_detection(
                make_msg(store, "vision_msgs/msg/Detection2D"),
                make_msg(store, "vision_msgs/msg/ObjectHypothesisWithPose"),
                msg_track,
            )

        def debug(s=sample):
            canvas = render_debug_image(
                WIDTH,
                HEIGHT,
                s.events.x,
                s.events.y,
                s.events.p,
                rgb=s.image,
                box_xywh=(10, 20, 30, 40),
                state=1,
                score=0.9,
            )
            fill_image_msg(
                SimpleNamespace(height=0, width=0, encoding="", is_bigendian=0, step=0, data=array.array("B")),
                canvas,
                "bgr8",
            )

        rows.append(
            (
                rate,
                n,
                _median_ms(lambda s=sample: sample_to_window_msg(s, _rclpy_like_window()), args.repeats),
                _median_ms(lambda m=msg: window_msg_to_sample(m), args.repeats),
                _median_ms(cdr, args.repeats),
                _median_ms(track, args.repeats),
                _median_ms(debug, args.repeats),
                len(store.serialize_cdr(rosbags_msg, "had_msgs/msg/EventWindow")) / 1e3,
            )
        )
    print(
        f"ROS layer cost per 200 Hz window ({WIDTH}x{HEIGHT}, with an RGB frame attached), median of {args.repeats} [ms]"
    )
    print(f"{'Mev/s':>6} {'events':>8} {'build':>7} {'parse':>7} {'cdr':>7} {'track':>7} {'debug':>7} {'msg kB':>8}")
    for rate, n, build, parse, cdr_ms, track_ms, debug_ms, kb in rows:
        print(
            f"{rate:>6.0f} {n:>8d} {build:>7.3f} {parse:>7.3f} {cdr_ms:>7.3f} {track_ms:>7.3f} {debug_ms:>7.3f} {kb:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
