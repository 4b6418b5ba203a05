"""Write an aligned :class:`TrackingSequence` as a rosbag2 bag that looks like a real recording.

Topics (as the ROS 2 drivers publish them):

* ``/event_camera/events`` — ``event_camera_msgs/EventPacket``, ``evt3`` payload, one packet per
  ``packet_ns``; events carry *sensor* time (starting at ``sensor_start_ns``), the header stamp is the
  host time of the packet's first event (sensor time + a fixed offset), so the synchronizer's ``header``
  clock recovers the RGB clock exactly;
* ``/camera/image_raw`` — ``sensor_msgs/Image`` ``rgb8`` stamped at the frame time (RGB clock);
* ``/ground_truth`` — ``had_msgs/GroundTruth`` per frame (``present`` false where the target is absent).

Receive times follow the stamps (packets when their last event is over, images at their stamp), so a
replay meets the same message order a live system would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from had_tracker.errors import ConfigError

EVENTS_TOPIC = "/event_camera/events"
IMAGE_TOPIC = "/camera/image_raw"
GT_TOPIC = "/ground_truth"


def write_sequence_bag(
    sequence: object,
    path: str | Path,
    packet_ns: int = 1_000_000,
    sensor_start_ns: int = 1_000_000_000,
    storage: str = "mcap",
    frame_id: str = "camera",
    ground_truth: bool = True,
) -> Path:
    """Write ``sequence`` (events, RGB frames, ground truth) into a new bag at ``path``; return the path.

    Raises ConfigError when the sequence has no raw events (only event images) or is too long for evt3's
    24-bit microsecond clock from ``sensor_start_ns``.
    """
    from had_tracker.events.container import Events
    from had_tracker.events.encoders import Evt3Encoder
    from had_tracker.ros_io.bag import BagWriter
    from had_tracker.ros_io.image import image_fields
    from had_tracker.ros_io.msgs import make_header, make_msg
    from had_tracker.ros_io.typestore import get_typestore

    events = sequence.events
    if events is None:
        raise ConfigError(f"sequence {sequence.name!r} has no raw events; a bag needs them")
    frame_t = np.asarray(sequence.frame_t_ns, np.int64)
    t_first = int(min(frame_t[0], events.t[0] if len(events) else frame_t[0]))
    offset = t_first - int(sensor_start_ns)  # RGB/host clock minus sensor clock
    # evt3 carries whole microseconds of sensor time
    sensor_t = (np.asarray(events.t, np.int64) - offset) // 1000 * 1000
    if len(sensor_t) and sensor_t[-1] >= (1 << 24) * 1000 + sensor_start_ns:
        raise ConfigError("sequence too long for one evt3 stream (16.7 s of sensor time)")
    sensor_events = Events.from_arrays(sensor_t, events.x, events.y, events.p, events.width, events.height)

    store = get_typestore()
    encoder = Evt3Encoder()
    messages: list[tuple[int, str, object]] = []
    start = int(sensor_t[0]) // packet_ns * packet_ns if len(sensor_t) else sensor_start_ns
    end = int(frame_t[-1] - offset) + 1
    for seq, a in enumerate(range(start, end, packet_ns)):
        chunk = sensor_events.slice_time(a, a + packet_ns)
        stamp = (int(chunk.t[0]) if len(chunk) else a) + offset
        msg = make_msg(
            store,
            "event_camera_msgs/msg/EventPacket",
            header=make_header(store, stamp, frame_id),
            width=events.width,
            height=events.height,
            seq=seq,
            time_base=0,
            encoding="evt3",
            is_bigendian=False,
            events=np.asarray(encoder.encode(chunk), np.uint8),
        )
        messages.append((a + packet_ns + offset, EVENTS_TOPIC, msg))
    for i, t in enumerate(frame_t):
        rgb = np.ascontiguousarray(np.asarray(sequence.frames[i], np.uint8))
        fields = image_fields(rgb, "rgb8")
        fields["data"] = np.frombuffer(fields["data"], np.uint8)  # rosbags serializes numpy arrays
        header = make_header(store, int(t), frame_id)
        messages.append((int(t), IMAGE_TOPIC, make_msg(store, "sensor_msgs/msg/Image", header=header, **fields)))
        if ground_truth:
            x, y, w, h = (float(v) for v in sequence.gt_boxes[i])
            present = not bool(sequence.absent[i])
            box = make_msg(store, "had_msgs/msg/Box", x=x, y=y, width=w, height=h)
            gt = make_msg(
                store,
                "had_msgs/msg/GroundTruth",
                header=make_header(store, int(t), frame_id),
                target_id=0,
                present=present,
                box=box,
            )
            messages.append((int(t), GT_TOPIC, gt))
    messages.sort(key=lambda m: m[0])
    path = Path(path)
    with BagWriter(path, storage=storage, typestore=store) as bag:
        bag.add_topic(EVENTS_TOPIC, "event_camera_msgs/msg/EventPacket")
        bag.add_topic(IMAGE_TOPIC, "sensor_msgs/msg/Image")
        if ground_truth:
            bag.add_topic(GT_TOPIC, "had_msgs/msg/GroundTruth")
        for recv_ns, topic, msg in messages:
            bag.write(topic, recv_ns, msg)
    return path
