"""Bag replay: a rosbag2 bag through exactly the nodes' core (Synchronizer -> TrackingSession -> Tracker).

Messages are fed in receive order, as the synchronizer node would get them: event packets to
``Synchronizer.add_event_packet``, images (converted by ``ros_io.image``) to ``add_image``, CameraInfo to
``add_camera_info``; every window ``poll`` returns goes to one :class:`TrackingSession` per tracker (our
tracker and the OpenCV baselines see the same windows). The target starts from the first ground-truth
message with ``present`` set (``had_msgs/GroundTruth``), or from ``init_box`` when the bag has no ground
truth. Ground truth is scored against the estimate in force at each GT stamp (an estimate is in force from
:func:`~had_tracker.evaluation.harness.estimate_time_ns` of its window on).

Outputs in ``out_dir``: ``predictions_<tracker>.csv`` (``t_ns,x,y,w,h,score,state,latency_ms,num_events``,
floats at full precision), ``gt.csv`` when there is ground truth, ``success.png``/``precision.png``,
``frames.png`` (annotated RGB frames) and ``event_frames.png`` (annotated event windows), ``report.json`` and
``report.md``. Without ground truth the report says that metrics are unavailable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from had_tracker.errors import BagError, ConfigError, HadTrackerError
from had_tracker.evaluation.harness import TrackLog, estimate_time_ns
from had_tracker.evaluation.metrics import DEFAULT_CONVENTION, evaluate_sequence, headline, summarize

log = logging.getLogger(__name__)

GT_TYPE = "had_msgs/msg/GroundTruth"
IMAGE_TYPE = "sensor_msgs/msg/Image"
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
MAX_WARNINGS = 5  # per kind of dropped input; all drops are counted in report["replay"]


@dataclass
class ReplayTopics:
    """The topics a replay reads (None = not used)."""

    events: str
    image: str | None = None
    camera_info: str | None = None
    gt: str | None = None


@dataclass
class GroundTruthTrack:
    """Ground-truth messages of one target, in stamp order."""

    t_ns: list[int] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)
    present: list[bool] = field(default_factory=list)

    def add(self, msg: Any) -> None:
        """Append one had_msgs/GroundTruth (rosbags or rclpy object)."""
        from had_tracker.ros_io.msgs import time_to_ns

        self.t_ns.append(time_to_ns(msg.header.stamp))
        self.present.append(bool(msg.present))
        b = msg.box
        box = [float(b.x), float(b.y), float(b.width), float(b.height)]
        self.boxes.append(box if msg.present else [0.0, 0.0, 0.0, 0.0])

    def first_present_ns(self) -> int | None:
        """Stamp of the first message (in arrival order) with the target present: where a GT start happens."""
        return next((t for t, p in zip(self.t_ns, self.present, strict=True) if p), None)

    def arrays(self, start_ns: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(t_ns, boxes (N, 4), absent)`` sorted by time, from ``start_ns`` on."""
        t = np.asarray(self.t_ns, np.int64)
        order = np.argsort(t, kind="stable")
        t, boxes = t[order], np.asarray(self.boxes, np.float64).reshape(-1, 4)[order]
        absent = ~np.asarray(self.present, bool)[order]
        keep = t >= start_ns if start_ns is not None else np.ones(len(t), bool)
        return t[keep], boxes[keep], absent[keep]


def detect_topics(
    info: dict[str, Any],
    events_topic: str | None = None,
    image_topic: str | None = None,
    gt_topic: str | None = None,
    camera_info_topic: str | None = None,
) -> ReplayTopics:
    """Pick the replay's topics from ``bag_info``: given names are checked, missing ones found by type.

    Raises BagError for an empty bag, an unknown topic, a topic of the wrong type, no event topic, or several
    candidates where one is needed (the message lists them). Among several ground-truth topics the one named
    ``.../ground_truth`` is taken when there is exactly one (synthetic bags also carry ``/ground_truth_hr``).
    """
    from had_tracker.events.bag_events import EVENT_TYPES

    path = info.get("path", "bag")
    if not info.get("message_count"):
        raise BagError(f"bag {path} is empty (no messages): nothing to replay")
    types = {t["topic"]: t["msgtype"] for t in info["topics"]}

    def pick(given: str | None, wanted: Sequence[str], what: str, required: bool) -> str | None:
        if given:
            if given not in types:
                raise BagError(f"bag {path} has no topic {given!r}; its topics: {sorted(types)}")
            if types[given] not in wanted:
                raise BagError(f"{what} topic {given!r} has type {types[given]}, expected one of {list(wanted)}")
            return given
        found = sorted(t for t, m in types.items() if m in wanted)
        if len(found) > 1 and what == "gt" and sum(t.endswith("/ground_truth") for t in found) == 1:
            return next(t for t in found if t.endswith("/ground_truth"))  # frame-rate GT beside e.g. *_hr
        if len(found) > 1:
            raise BagError(f"bag {path} has several {what} topics {found}: choose one with --{what}-topic")
        if not found and required:
            raise BagError(f"bag {path} has no {what} topic (types {list(wanted)}); its topics: {sorted(types)}")
        return found[0] if found else None

    return ReplayTopics(
        events=pick(events_topic, EVENT_TYPES, "events", True),
        image=pick(image_topic, (IMAGE_TYPE,), "image", False),
        camera_info=pick(camera_info_topic, (CAMERA_INFO_TYPE,), "camera-info", False),
        gt=pick(gt_topic, (GT_TYPE,), "gt", False),
    )


def write_frame_strip(
    kept: list[tuple[int, np.ndarray]],
    gt: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    logs: dict[str, TrackLog],
    path: Path,
) -> Path:
    """Save the annotated frames ``(stamp_ns, image)`` as one strip; returns its path.

    Each frame shows the ground truth in force at its stamp (``gt`` = sorted ``(t_ns, boxes, absent)``, or
    None) and every tracker's estimate at that time.
    """
    from had_tracker.evaluation.plots import frame_strip

    stamps = np.asarray([s for s, _ in kept], np.int64)
    gt_at: list[np.ndarray | None] = [None] * len(kept)
    if gt is not None and len(gt[0]):
        gt_t, gt_boxes, gt_absent = gt
        idx = np.clip(np.searchsorted(gt_t, stamps, side="right") - 1, 0, len(gt_t) - 1)
        gt_at = [None if gt_absent[i] else gt_boxes[i] for i in idx]
    preds = {name: list(lg.boxes_at(stamps)) for name, lg in logs.items() if len(lg)}
    labels = [f"t={(s - stamps[0]) / 1e9:.2f}s" for s in stamps]
    return frame_strip([im for _, im in kept], gt_at, preds, path, labels)


def _count_dropped_input(counters: dict[str, int], key: str, what: str, recv_ns: int, exc: Exception) -> None:
    counters[key] = counters.get(key, 0) + 1
    if counters[key] <= MAX_WARNINGS:
        log.warning("dropped %s at %d ns: %s", what, recv_ns, exc)


def add_sensor_message(
    sync: Any, bm: Any, topics: ReplayTopics, counters: dict[str, int]
) -> tuple[int, np.ndarray] | None:
    """Hand one bag message of the events, image or camera-info topic to ``sync``, as the synchronizer node does.

    Undecodable packets and images are counted in ``counters`` (``packet_errors``, ``image_errors``; the
    first few logged) and skipped; a corrupt bag raises BagError. Returns ``(stamp_ns, rgb)`` for an image
    that was added, else None.
    """
    from had_tracker.events.event_arrays import EVENT_ARRAY_TYPES, parse_event_array_cdr
    from had_tracker.ros_io.image import image_to_numpy, to_rgb8
    from had_tracker.ros_io.msgs import time_to_ns

    if bm.topic == topics.events:
        try:
            if bm.msgtype in EVENT_ARRAY_TYPES:  # event structs: parsed from the CDR bytes, no per-event objects
                sync.add_event_array(parse_event_array_cdr(bm.raw))
            else:
                sync.add_event_packet(bm.msg, stream=bm.topic)
        except BagError:
            raise
        except HadTrackerError as exc:
            _count_dropped_input(counters, "packet_errors", "an event packet", bm.recv_ns, exc)
    elif bm.topic == topics.image:
        msg = bm.msg
        try:
            rgb = to_rgb8(image_to_numpy(msg), msg.encoding)
            stamp = time_to_ns(msg.header.stamp)
            sync.add_image(rgb, stamp, msg.header.frame_id)
        except BagError:
            raise
        except HadTrackerError as exc:
            _count_dropped_input(counters, "image_errors", "an image", bm.recv_ns, exc)
        else:
            counters["images"] = counters.get("images", 0) + 1
            return stamp, rgb
    elif bm.topic == topics.camera_info:
        try:
            sync.add_camera_info(bm.msg, camera="rgb")
        except (HadTrackerError, ValueError) as exc:
            log.warning("ignored a CameraInfo: %s", exc)
    return None


class _Recorder:
    """Pass-through tracker wrapper that logs every initialize/update result into a TrackLog."""

    def __init__(self, tracker: Any, track_log: TrackLog) -> None:
        self.tracker, self.log = tracker, track_log

    def push(self, sample: Any) -> None:
        self.tracker.push(sample)

    def initialize(self, sample: Any, box_xywh: Any, target_id: int = 0) -> Any:
        result = self.tracker.initialize(sample, box_xywh, target_id)
        self.log.add(result, estimate_time_ns(sample, self.tracker))
        return result

    def update(self, sample: Any) -> Any:
        result = self.tracker.update(sample)
        self.log.add(result, estimate_time_ns(sample, self.tracker))
        return result

    def reset(self) -> None:
        self.tracker.reset()


def safe_name(name: str) -> str:
    """A file-name friendly version of a tracker name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_").lower()


def make_trackers(names: Sequence[str], model: str | None = None, tracker_config: Any = None) -> dict[str, Any]:
    """Build trackers by name: ``student`` (our Tracker) or an OpenCV baseline (``mil``, ``kcf-events``, ...).

    ``model`` is the student checkpoint (default: the shipped one). Baselines missing from this OpenCV build
    are skipped with a warning; everything else that fails raises.
    """
    from had_tracker.evaluation.baselines import OpenCVBaseline, available_baselines, parse_baseline_name

    trackers: dict[str, Any] = {}
    for name in names:
        if name in ("student", "had", "tracker", "teacher"):
            from had_tracker.tracking.tracker import Tracker, TrackerConfig

            if name == "teacher" and not model:
                raise ConfigError("the teacher tracker needs its checkpoint (--model TEACHER.pt)")
            cfg = tracker_config if tracker_config is not None else TrackerConfig()
            tracker = Tracker(cfg, checkpoint=model)
            kind = getattr(tracker.model_config, "kind", "student")
            trackers[f"HAD {kind}"] = tracker
            continue
        kind, modality = parse_baseline_name(name)
        if kind not in available_baselines():
            log.warning("skipping baseline %s: not in this OpenCV build (needs opencv-contrib-python-headless)", name)
            continue
        baseline = OpenCVBaseline(kind, modality)
        trackers[baseline.name] = baseline
    if not trackers:
        raise ConfigError(f"no tracker to run from {list(names)}")
    return trackers


def _select_indices(count: int, k: int) -> set[int]:
    if count <= 0 or k <= 0:
        return set()
    return {int(round(v)) for v in np.linspace(0, count - 1, min(k, count))}


def replay_bag(
    bag: str | Path,
    out_dir: str | Path,
    trackers: dict[str, Any] | None = None,
    tracker_names: Sequence[str] = ("student", "mil"),
    model: str | None = None,
    sync_config: Any = None,
    tracker_config: Any = None,
    events_topic: str | None = None,
    image_topic: str | None = None,
    gt_topic: str | None = None,
    camera_info_topic: str | None = None,
    init_box: Sequence[float] | None = None,
    init_time_ns: int = 0,
    convention: str = DEFAULT_CONVENTION,
    strip_frames: int = 8,
    title: str | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Replay ``bag`` through the Synchronizer and each tracker; write predictions, plots and the report.

    ``trackers`` (name -> tracker object) overrides ``tracker_names``/``model``. ``init_box`` starts the
    trackers even when the bag has ground truth (which is then used for scoring only). ``progress``: a bar
    over the bag's messages on stderr. Returns the report dict (per tracker: ``started``, ``init_source``,
    ``init_error``).
    Raises BagError (missing/empty/corrupt bag, unknown topic), ConfigError (no way to start the target).
    """
    from had_tracker.evaluation.plots import event_frame_image, plot_precision, plot_success
    from had_tracker.evaluation.report import new_report, write_report
    from had_tracker.nodes.session import InitRequest, TrackingSession
    from had_tracker.ros_io.bag import bag_info, read_bag
    from had_tracker.sync.synchronizer import SyncConfig, Synchronizer

    bag = Path(bag)
    out_dir = Path(out_dir)
    info = bag_info(bag)
    topics = detect_topics(info, events_topic, image_topic, gt_topic, camera_info_topic)
    if topics.gt is None and init_box is None:
        raise ConfigError(f"bag {bag} has no ground-truth topic: give the initial box (--init-box x,y,w,h)")
    if trackers is None:
        trackers = make_trackers(tracker_names, model, tracker_config)
    out_dir.mkdir(parents=True, exist_ok=True)

    sync = Synchronizer(sync_config if sync_config is not None else SyncConfig())
    logs = {name: TrackLog(name) for name in trackers}
    sessions = {name: TrackingSession(_Recorder(t, logs[name])) for name, t in trackers.items()}
    gt = GroundTruthTrack()
    if init_box is not None:  # explicit beats ground truth: a pending or active session ignores GT offers
        for s in sessions.values():
            s.request_init(InitRequest(tuple(float(v) for v in init_box), 0, int(init_time_ns), "parameter"))

    image_count = next((t["count"] for t in info["topics"] if t["topic"] == topics.image), 0)
    keep_images = _select_indices(image_count, strip_frames)
    kept_rgb: list[tuple[int, np.ndarray]] = []  # (stamp, image)
    kept_events: list[tuple[int, np.ndarray]] = []  # (window end, event picture)
    want_event_pictures = 0
    counters = {"windows": 0, "images": 0, "image_errors": 0, "packet_errors": 0, "gt_messages": 0}
    n_images_seen = 0

    def feed(samples: list[Any]) -> None:
        nonlocal want_event_pictures
        for sample in samples:
            counters["windows"] += 1
            for session in sessions.values():
                session.process(sample)
            if want_event_pictures and len(sample.events):
                picture = event_frame_image(sample.events, sample.width, sample.height)
                kept_events.append((int(sample.window_end_ns), picture))
                want_event_pictures -= 1

    wanted = [t for t in (topics.events, topics.image, topics.camera_info, topics.gt) if t]
    from had_tracker.progress import progress_bar

    total = sum(t["count"] for t in info["topics"] if t["topic"] in wanted)
    bar = progress_bar(read_bag(bag, topics=wanted), total=total, desc="replay", unit="msg", enabled=progress)
    for bm in bar:
        if bm.topic == topics.gt:
            counters["gt_messages"] += 1
            gt.add(bm.msg)
            for s in sessions.values():  # as the tracker node does: the first present GT box starts the target
                s.offer_ground_truth(gt.present[-1], gt.boxes[-1], int(bm.msg.target_id), gt.t_ns[-1])
        else:
            added = add_sensor_message(sync, bm, topics, counters)
            if added is not None:
                if n_images_seen in keep_images:
                    kept_rgb.append(added)
                    want_event_pictures += 1
                n_images_seen += 1
        feed(sync.poll())
    feed(sync.flush())
    bar.close()

    if counters["windows"] == 0:
        raise BagError(f"bag {bag}: the synchronizer produced no event window (no decodable events?)")

    source = {"bag": str(bag), "events_topic": topics.events, "image_topic": topics.image, "gt_topic": topics.gt}
    report = new_report(title or f"Replay of {bag.name}", convention, source)
    report["sync"] = sync.stats.as_dict()
    for name, t in trackers.items():  # events the tracker's own bounded history pushed out (counted, not silent)
        history = getattr(t, "history", None)
        if history is not None and hasattr(history, "dropped"):
            counters[f"history_dropped_{safe_name(name)}"] = int(history.dropped)
    report["replay"] = counters
    files: dict[str, str] = {}
    # Scoring starts at the GT frame the trackers were started from (the OPE "first frame").
    gt_t, gt_boxes, gt_absent = gt.arrays(gt.first_present_ns())
    if topics.gt is not None and len(gt_t):
        save_gt = out_dir / "gt.csv"
        rows = ["t_ns,x,y,w,h,present"] + [
            f"{t},{','.join(repr(float(v)) for v in b)},{int(not a)}"
            for t, b, a in zip(gt_t, gt_boxes, gt_absent, strict=True)
        ]
        save_gt.write_text("\n".join(rows) + "\n")
        files["ground_truth"] = save_gt.name
    metrics_ok = topics.gt is not None and len(gt_t) > 0
    summaries = {}
    for name, lg in logs.items():
        entry: dict[str, Any] = {"timing": lg.timing(), "overall": None, "per_sequence": []}
        entry["started"] = bool(len(lg))
        entry["init_source"] = sessions[name].init_source
        entry["init_error"] = sessions[name].last_error
        pred_path = lg.save(out_dir / f"predictions_{safe_name(name)}.csv")
        entry["files"] = {"predictions": pred_path.name}
        if lg.t_ns and sessions[name].failed_inits:
            entry["init_errors"] = sessions[name].failed_inits
        if not len(lg):
            report["notes"].append(f"{name}: never started (init failed: {sessions[name].last_error or 'no window'})")
        elif metrics_ok:
            result = evaluate_sequence(lg.boxes_at(gt_t), gt_boxes, gt_absent, convention=convention, name=bag.name)
            summary = summarize([result], convention)
            summaries[name] = summary
            entry["overall"] = headline(summary)
            entry["per_sequence"] = [{"name": bag.name, **result.scalars()}]
            entry["curves"] = {k: v for k, v in summary.items() if isinstance(v, list)}
        report["trackers"][name] = entry
    report["metrics_available"] = bool(summaries)
    # Data age (Track.data_age_ms) needs a host clock pacing the stream; offline nothing is paced or shed.
    report["notes"].append("data age: not measured offline (no host clock); the ROS replay report (replay_eval) has it")
    if init_box is not None and topics.gt is not None:
        report["notes"].append("--init-box started the trackers; the bag's ground truth is used for scoring only.")
    if not metrics_ok:
        why = "the bag has no ground-truth topic" if topics.gt is None else "no ground truth after the start"
        report["notes"].append(f"Metrics unavailable: {why}; predictions and timing only.")
    if summaries:
        files["success_plot"] = plot_success(summaries, out_dir / "success.png", f"Success — {bag.name}").name
        files["precision_plot"] = plot_precision(summaries, out_dir / "precision.png", f"Precision — {bag.name}").name
    strips = {"frames": kept_rgb, "event_frames": kept_events}
    for key, kept in strips.items():
        if kept:
            gt = (gt_t, gt_boxes, gt_absent) if metrics_ok else None
            files[key] = write_frame_strip(kept, gt, logs, out_dir / f"{key}.png").name
    report["files"] = files
    write_report(report, out_dir)
    return report
