"""Aligned :class:`TrackingSequence` <-> rosbag2 bag that looks like a real recording.

:func:`write_sequence_bag` writes one; :func:`read_sequence_bag` reads a recorded bag back as a sequence
(training on bags).

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


def read_sequence_bag(
    path: str | Path,
    events_topic: str | None = None,
    image_topic: str | None = None,
    gt_topic: str | None = None,
    camera_info_topic: str | None = None,
    sync_config: object | None = None,
    max_gt_offset_ns: int | None = None,
    target_id: int | None = None,
) -> object:
    """A bag with events, RGB images and had_msgs/GroundTruth as an aligned :class:`TrackingSequence`.

    The bag goes through the Synchronizer the nodes run (default: one window per RGB frame, covering the time
    since the previous frame, so every event is kept), so events end up on the RGB clock and in the image
    frame exactly as online. Exposure = ``sync_config.exposure_ns`` placed on each stamp by its
    ``stamp_position``. Each frame takes the ground-truth message of ``target_id`` (default: the first id in
    the bag) nearest in time within ``max_gt_offset_ns`` (default: half the median frame interval); frames
    without one are marked absent. Topics are found by type unless named. Raises BagError
    for a bag without images or ground truth, or whose frames none carry a ground-truth box.
    """
    from had_tracker.data.sequence import TrackingSequence
    from had_tracker.errors import BagError
    from had_tracker.evaluation.replay import GroundTruthTrack, add_sensor_message, detect_topics
    from had_tracker.events.container import Events
    from had_tracker.ros_io.bag import bag_info, read_bag
    from had_tracker.sync.synchronizer import SyncConfig, Synchronizer

    path = Path(path)
    topics = detect_topics(bag_info(path), events_topic, image_topic, gt_topic, camera_info_topic)
    if topics.image is None or topics.gt is None:
        raise BagError(f"bag {path} needs an image topic and a had_msgs/GroundTruth topic to become a sequence")
    config = sync_config if sync_config is not None else SyncConfig(policy="per_frame", frame_window="interval")
    sync = Synchronizer(config)
    gt = GroundTruthTrack()
    frames: dict[int, np.ndarray] = {}
    chunks = []
    counters: dict[str, int] = {}

    def collect(samples: list) -> None:
        for sample in samples:
            chunks.append(sample.events)
            if sample.image is not None:
                frames[int(sample.image_stamp_ns)] = sample.image

    for bm in read_bag(path, topics=[t for t in (topics.events, topics.image, topics.camera_info, topics.gt) if t]):
        if bm.topic == topics.gt:
            if target_id is None:
                target_id = int(bm.msg.target_id)
            if int(bm.msg.target_id) == target_id:
                gt.add(bm.msg)
        else:
            add_sensor_message(sync, bm, topics, counters)
        collect(sync.poll())
    collect(sync.flush())
    if not frames:
        raise BagError(f"bag {path}: no RGB frame reached the synchronizer (counters: {counters})")
    frame_t = np.array(sorted(frames), np.int64)
    images = [frames[int(t)] for t in frame_t]
    nonempty = [c for c in chunks if len(c)]
    events = Events.concatenate(nonempty) if nonempty else None
    if events is None:
        raise BagError(f"bag {path}: no events reached the synchronizer (counters: {counters})")

    gt_t, gt_boxes, gt_absent = gt.arrays()
    interval = int(np.median(np.diff(frame_t))) if len(frame_t) > 1 else 50_000_000
    tolerance = max_gt_offset_ns if max_gt_offset_ns is not None else interval // 2
    boxes = np.zeros((len(frame_t), 4))
    absent = np.ones(len(frame_t), bool)
    if len(gt_t):
        index = np.searchsorted(gt_t, frame_t)
        lower, upper = np.clip(index - 1, 0, len(gt_t) - 1), np.clip(index, 0, len(gt_t) - 1)
        pick = np.where(np.abs(gt_t[lower] - frame_t) <= np.abs(gt_t[upper] - frame_t), lower, upper)
        matched = np.abs(gt_t[pick] - frame_t) <= tolerance
        boxes[matched] = gt_boxes[pick[matched]]
        absent[matched] = gt_absent[pick[matched]]
    if absent.all():
        raise BagError(f"bag {path}: no frame has a present ground-truth box within {tolerance} ns of its stamp")
    exposure = int(config.exposure_ns)
    start = frame_t - {"start": 0, "middle": exposure // 2, "end": exposure}[config.stamp_position]
    height, width = images[0].shape[:2]
    return TrackingSequence(
        name=path.name,
        frames=images,
        frame_t_ns=frame_t,
        exposure_start_ns=start,
        exposure_end_ns=start + exposure,
        gt_boxes=boxes,
        absent=absent,
        width=int(width),
        height=int(height),
        events=events,
        meta={"source": "bag", "path": str(path), "sync": sync.stats.as_dict(), "input_errors": counters},
    )
