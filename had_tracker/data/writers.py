"""Write a SyntheticRecording as a dataset folder (COESOT/FE108-like) or as a ROS 2 bag of raw sensor streams.

Folder layout (one sub-folder per sequence; see docs/synthetic.md)::

    <out_dir>/<name>/
        <name>_aps/frame0000.png ...   RGB frames (8-bit RGB PNG), index 0 = first frame
        <name>_dvs/frame0000.png ...   event images of each frame's exposure window (white, ON red, OFF blue)
        events.npz                     aligned events: t (int64 ns, RGB clock), x, y (uint16, RGB pixels), p (uint8)
        groundtruth.txt                x,y,w,h per frame (comma, RGB pixels, edge coordinates)
        absent.txt                     one int per frame, 1 = present, 0 = absent (the COESOT convention)
        start_end_index.txt            "1,N" (COESOT)
        frame_times.txt                t_ns,exposure_start_ns,exposure_end_ns per frame (RGB clock)
        groundtruth_hr.txt             t_ns,x,y,w,h,present at the high rate
        metadata.json                  name, seed, config, attributes, cameras, homography, clock offset, stats

The bag holds what the sensors would publish (raw geometry and clocks); topics are in ``BAG_TOPICS``.
Both writers are atomic: everything goes to a temporary sibling, renamed into place on success.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from had_tracker.errors import ConfigError

if TYPE_CHECKING:
    from had_tracker.data.synthetic.recording import CameraIntrinsics, SyntheticRecording

BAG_TOPICS: dict[str, str] = {
    "/event_camera/events": "event_camera_msgs/msg/EventPacket",
    "/camera/image_raw": "sensor_msgs/msg/Image",
    "/camera/camera_info": "sensor_msgs/msg/CameraInfo",
    "/ground_truth": "had_msgs/msg/GroundTruth",
    "/ground_truth_hr": "had_msgs/msg/GroundTruth",
}
EVENT_FRAME_ID = "event_camera"
RGB_FRAME_ID = "camera"
TRANSPORT_NS = 100_000  # host arrival -> bag receive time of an event packet
METADATA_NAME = "synthetic_metadata.json"


def _metadata(recording: SyntheticRecording) -> dict:
    def cam(c: CameraIntrinsics) -> dict:
        return {
            "width": c.width,
            "height": c.height,
            "k": c.k.ravel().tolist(),
            "d": c.d.tolist(),
            "frame_id": c.frame_id,
        }

    return {
        "name": recording.name,
        "seed": recording.seed,
        "source": "had_tracker synthetic",
        "config": recording.config.to_dict(),
        "attributes": recording.attributes,
        "event_camera": cam(recording.event_camera),
        "rgb_camera": cam(recording.rgb_camera),
        "homography_event_to_rgb": recording.homography.ravel().tolist(),
        "event_to_rgb_offset_ns": int(recording.event_to_rgb_offset_ns),
        "stats": {k: v for k, v in recording.stats.items() if isinstance(v, int | float | str)},
        "bag_topics": BAG_TOPICS,
    }


def _replace_atomically(tmp: Path, final: Path, overwrite: bool) -> None:
    if final.exists():
        if not overwrite:
            raise ConfigError(f"{final} already exists (pass overwrite=True / --overwrite to replace it)")
        trash = final.with_name(f".{final.name}.old")
        shutil.rmtree(trash, ignore_errors=True)
        final.rename(trash)
        tmp.rename(final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        tmp.rename(final)


def write_folder(recording: SyntheticRecording, out_dir: str | Path, overwrite: bool = False) -> Path:
    """Write ``recording`` as ``out_dir/<name>/`` in the documented layout; returns that folder."""
    from had_tracker.data.synthetic.preview import event_frame

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / recording.name
    if final.exists() and not overwrite:
        raise ConfigError(f"{final} already exists (pass overwrite=True / --overwrite to replace it)")
    tmp = Path(tempfile.mkdtemp(prefix=f".{recording.name}.", dir=out_dir))
    tmp.chmod(0o755)
    try:
        seq = recording.aligned()
        aps, dvs = tmp / f"{recording.name}_aps", tmp / f"{recording.name}_dvs"
        aps.mkdir()
        dvs.mkdir()
        for i in range(len(seq)):
            cv2.imwrite(str(aps / f"frame{i:04d}.png"), cv2.cvtColor(np.asarray(seq.frames[i]), cv2.COLOR_RGB2BGR))
            window = int(seq.exposure_end_ns[i] - seq.exposure_start_ns[i])
            dvs_img = event_frame(seq, i, window_ns=window)
            cv2.imwrite(str(dvs / f"frame{i:04d}.png"), cv2.cvtColor(dvs_img, cv2.COLOR_RGB2BGR))
        ev = seq.events
        np.savez(tmp / "events.npz", t=ev.t, x=ev.x, y=ev.y, p=ev.p, width=ev.width, height=ev.height)
        np.savetxt(tmp / "groundtruth.txt", seq.gt_boxes, fmt="%.4f", delimiter=",")
        np.savetxt(tmp / "absent.txt", (~seq.absent).astype(int), fmt="%d")
        (tmp / "start_end_index.txt").write_text(f"1,{len(seq)}\n")
        times = np.stack([seq.frame_t_ns, seq.exposure_start_ns, seq.exposure_end_ns], axis=1)
        np.savetxt(tmp / "frame_times.txt", times, fmt="%d", delimiter=",")
        with open(tmp / "groundtruth_hr.txt", "w") as fh:
            for t, (x, y, w, h), absent in zip(seq.gt_hr_t_ns, seq.gt_hr_boxes, seq.gt_hr_absent, strict=True):
                fh.write(f"{int(t)},{x:.4f},{y:.4f},{w:.4f},{h:.4f},{int(not absent)}\n")
        (tmp / "metadata.json").write_text(json.dumps(_metadata(recording), indent=1))
        _replace_atomically(tmp, final, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _packet_bounds(t_ns: np.ndarray, packet_ns: int) -> np.ndarray:
    """Start indices of ~``packet_ns`` sensor-time packets (empty intervals produce no packet), plus the end."""
    if not len(t_ns):
        return np.zeros(1, np.int64)
    bins = (t_ns - t_ns[0]) // packet_ns
    starts = np.flatnonzero(np.diff(bins)) + 1
    return np.concatenate([[0], starts, [len(t_ns)]]).astype(np.int64)


def write_bag(recording: SyntheticRecording, path: str | Path, storage: str = "mcap", overwrite: bool = False) -> Path:
    """Write ``recording``'s raw sensor streams as a rosbag2 bag at ``path`` (a folder); returns it.

    Event packets: evt3 (time_base 0), about ``config.packet_duration_ns`` of sensor time each,
    ``seq`` consecutive, ``header.stamp`` = host arrival time = sensor time of the first event +
    sensor->host offset (``event_to_rgb_offset_ns``) + ``host_latency_ns`` + |jitter|; bag receive
    time = stamp + 0.1 ms. Images and CameraInfo: stamp = exposure midpoint (RGB clock), received
    ``image_latency_ns`` after the exposure end. Ground truth: stamp = receive time = the time it holds.
    A ``synthetic_metadata.json`` beside ``metadata.yaml`` holds homography, offset and cameras.
    """
    from had_tracker.events.encoders import Evt3Encoder
    from had_tracker.ros_io.bag import BagWriter
    from had_tracker.ros_io.image import image_fields
    from had_tracker.ros_io.msgs import make_header, make_msg
    from had_tracker.ros_io.typestore import get_typestore

    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} already exists (pass overwrite=True / --overwrite to replace it)")
    store = get_typestore()
    cfg = recording.config
    rng = np.random.default_rng(np.random.SeedSequence([int(recording.seed), 0xBA6]))
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent if path.parent.exists() else None))
    try:
        bag_path = staging / path.name
        with BagWriter(bag_path, storage=storage, typestore=store) as bag:
            for topic, msgtype in BAG_TOPICS.items():
                bag.add_topic(topic, msgtype)
            messages: list[tuple[int, str, object]] = []

            # Event packets.
            ev = recording.events
            bounds = _packet_bounds(ev.t, cfg.packet_duration_ns)
            starts = ev.t[bounds[:-1]] if len(ev) else np.empty(0, np.int64)
            jitter = np.abs(rng.normal(0.0, cfg.host_jitter_ns, len(starts))).astype(np.int64)
            stamps = starts + recording.event_to_rgb_offset_ns + cfg.host_latency_ns + jitter
            stamps = np.maximum.accumulate(stamps) if len(stamps) else stamps
            encoder = Evt3Encoder(self_contained_packets=True)
            for seq_no, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
                payload = encoder.encode(ev[int(a) : int(b)])
                msg = make_msg(
                    store,
                    BAG_TOPICS["/event_camera/events"],
                    header=make_header(store, int(stamps[seq_no]), EVENT_FRAME_ID),
                    height=ev.height,
                    width=ev.width,
                    seq=seq_no,
                    time_base=0,
                    encoding="evt3",
                    is_bigendian=False,
                    events=payload,
                )
                messages.append((int(stamps[seq_no]) + TRANSPORT_NS, "/event_camera/events", msg))

            # Images and camera info.
            cam = recording.rgb_camera
            p_mat = np.concatenate([cam.k, np.zeros((3, 1))], axis=1).ravel()
            for i in range(len(recording)):
                stamp = int(recording.frame_t_ns[i])
                recv = int(recording.exposure_end_ns[i]) + cfg.image_latency_ns
                header = make_header(store, stamp, RGB_FRAME_ID)
                fields = image_fields(recording.rgb_frames[i], "rgb8")
                fields["data"] = np.frombuffer(fields["data"], np.uint8)
                messages.append(
                    (
                        recv,
                        "/camera/image_raw",
                        make_msg(store, BAG_TOPICS["/camera/image_raw"], header=header, **fields),
                    )
                )
                info = make_msg(
                    store,
                    BAG_TOPICS["/camera/camera_info"],
                    header=make_header(store, stamp, RGB_FRAME_ID),
                    height=cam.height,
                    width=cam.width,
                    distortion_model=cam.distortion_model,
                    d=np.asarray(cam.d, np.float64),
                    k=cam.k.ravel().astype(np.float64),
                    r=np.eye(3).ravel(),
                    p=p_mat.astype(np.float64),
                )
                messages.append((recv, "/camera/camera_info", info))

            # Ground truth, per frame and at the high rate.
            def gt_msg(t_ns: int, box: np.ndarray, absent: bool) -> object:
                box_msg = make_msg(
                    store,
                    "had_msgs/msg/Box",
                    x=float(box[0]),
                    y=float(box[1]),
                    width=float(box[2]),
                    height=float(box[3]),
                )
                return make_msg(
                    store,
                    "had_msgs/msg/GroundTruth",
                    header=make_header(store, t_ns, RGB_FRAME_ID),
                    target_id=0,
                    present=not bool(absent),
                    box=box_msg,
                )

            for t, box, absent in zip(recording.frame_t_ns, recording.gt_boxes, recording.absent, strict=True):
                messages.append((int(t), "/ground_truth", gt_msg(int(t), box, absent)))
            for t, box, absent in zip(recording.gt_hr_t_ns, recording.gt_hr_boxes, recording.gt_hr_absent, strict=True):
                messages.append((int(t), "/ground_truth_hr", gt_msg(int(t), box, absent)))

            messages.sort(key=lambda m: m[0])
            for recv, topic, msg in messages:
                bag.write(topic, recv, msg)
        (bag_path / METADATA_NAME).write_text(json.dumps(_metadata(recording), indent=1))
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace_atomically(bag_path, path, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
