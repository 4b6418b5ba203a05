"""The evaluation harness: run a tracker over aligned samples, log every estimate, score the log.

Any tracker with ``initialize(sample, box)`` / ``update(sample)`` qualifies; every estimate is logged with
its time stamp and latency.

Used for our tracker, the OpenCV baselines, bag replay and dataset evaluation alike, so every number in a
report comes from the same code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from had_tracker.evaluation.metrics import DEFAULT_CONVENTION, SequenceResult, evaluate_sequence


class SampleTracker(Protocol):
    """What the harness drives: :class:`had_tracker.tracking.tracker.Tracker` and the OpenCV baselines."""

    def initialize(self, sample: Any, box_xywh: Any, target_id: int = 0) -> Any: ...  # noqa: D102

    def update(self, sample: Any) -> Any: ...  # noqa: D102


@dataclass
class TrackLog:
    """Every estimate of one run: window end time [ns], box (float x y w h), score, state, latency [ms]."""

    name: str
    t_ns: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    states: list[int] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    num_events: list[int] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)  # search mode; "reused" = no new computation (not timed)
    wall_s: float = 0.0  # wall time of the whole run (initialize + updates)

    def add(self, result: Any, t_ns: int | None = None) -> None:
        """Append one result (a TrackResult or alike), valid at ``t_ns`` (default: its window end)."""
        self.t_ns.append(int(result.window_end_ns if t_ns is None else t_ns))
        self.boxes.append(np.asarray(result.box_xywh, dtype=np.float64).reshape(4))
        self.scores.append(float(result.score))
        self.states.append(int(result.state))
        self.latency_ms.append(float(result.latency_ms))
        self.num_events.append(int(result.num_events))
        self.modes.append(str(getattr(result, "search_mode", "local")))

    def __len__(self) -> int:
        return len(self.t_ns)

    @property
    def box_array(self) -> np.ndarray:
        """``(N, 4)`` float64 boxes."""
        return np.stack(self.boxes) if self.boxes else np.zeros((0, 4))

    def timing(self) -> dict[str, float]:
        """FPS (updates per second of update time) and latency statistics [ms].

        The first (init) call and results marked ``reused`` (nothing computed) are left out.
        """
        timed = [lat for lat, mode in zip(self.latency_ms[1:], self.modes[1:], strict=True) if mode != "reused"]
        lat = np.asarray(timed, dtype=np.float64)
        if lat.size == 0:
            return {"n_updates": 0, "fps": float("nan")}
        out = {
            "n_updates": int(lat.size),
            "fps": float(1e3 * lat.size / max(lat.sum(), 1e-9)),
            "latency_ms_mean": float(lat.mean()),
            "latency_ms_p50": float(np.percentile(lat, 50)),
            "latency_ms_p95": float(np.percentile(lat, 95)),
            "latency_ms_max": float(lat.max()),
            "init_ms": float(self.latency_ms[0]),
        }
        if self.wall_s > 0:
            out["wall_s"] = float(self.wall_s)
        return out

    def boxes_at(self, t_ns: np.ndarray) -> np.ndarray:
        """The estimate in force at each time: the latest one valid at or before ``t`` (the first before any).

        Among estimates valid at the same time the later one wins; the log need not be time ordered.
        """
        if not self.t_ns:
            return np.zeros((len(t_ns), 4))
        times = np.asarray(self.t_ns, np.int64)
        order = np.lexsort((np.arange(len(times)), times))
        idx = np.searchsorted(times[order], np.asarray(t_ns, np.int64), side="right") - 1
        return self.box_array[order[np.clip(idx, 0, len(times) - 1)]]

    def save(self, path: str | Path) -> Path:
        """CSV ``t_ns,x,y,w,h,score,state,latency_ms,num_events`` with full float precision."""
        lines = ["t_ns,x,y,w,h,score,state,latency_ms,num_events"]
        for t, b, s, st, lat, n in zip(
            self.t_ns, self.boxes, self.scores, self.states, self.latency_ms, self.num_events, strict=True
        ):
            lines.append(f"{t},{','.join(repr(float(v)) for v in b)},{s!r},{st},{lat!r},{n}")
        path = Path(path)
        path.write_text("\n".join(lines) + "\n")
        return path


def estimate_time_ns(sample: Any, tracker: Any = None) -> int:
    """The time an estimate from ``sample`` is scored at: the window end (causal: nothing later was seen).

    Frame trackers (``tracker.scored_at_image_stamp`` true, e.g. the RGB OpenCV baselines) are scored at the
    stamp of the frame the window carries: that frame is all they look at. Event trackers keep the window
    end, which is also what the ROS path (``had_msgs/Track``) reports, so both give the same numbers.
    """
    stamp = getattr(sample, "image_stamp_ns", None)
    if getattr(tracker, "scored_at_image_stamp", False) and getattr(sample, "image", None) is not None:
        if stamp is not None:
            return int(stamp)
    return int(sample.window_end_ns)


def run_tracker(
    tracker: SampleTracker,
    samples: Iterable[Any],
    init_box: Any,
    name: str = "tracker",
    on_result: Any = None,
) -> TrackLog:
    """Initialize on the first sample with ``init_box``, update on every later one; log everything.

    ``on_result(index, sample, result)`` is called after each step (e.g. to keep frames for a strip).
    """
    log = TrackLog(name)
    t0 = time.perf_counter()
    for i, sample in enumerate(samples):
        result = tracker.initialize(sample, init_box) if i == 0 else tracker.update(sample)
        log.add(result, estimate_time_ns(sample, tracker))
        if on_result is not None:
            on_result(i, sample, result)
    log.wall_s = time.perf_counter() - t0
    return log


def sequence_samples(
    sequence: Any, first_window_ns: int | None = None, window_ns: int | None = None, start: int = 0
) -> Iterator[Any]:
    """Aligned samples of a :class:`TrackingSequence` from frame ``start`` on: the events since the previous frame.

    Frame ``start`` gets the events since the frame before it (frame 0: the ``first_window_ns`` before it, default
    the first frame interval); each sample carries its RGB frame. With ``window_ns``, every later frame interval
    is cut into equal windows of at most ``window_ns`` (as the live node's ``sync.rate_hz`` does), the last one
    ending at the frame and carrying its image, the others without one.

    Sequences are already aligned (output frame, RGB clock), so no Synchronizer is involved.
    """
    from had_tracker.events.container import Events
    from had_tracker.sync.synchronizer import AlignedSample

    t = np.asarray(sequence.frame_t_ns, np.int64)
    if window_ns is not None and window_ns <= 0:
        raise ValueError(f"window_ns must be > 0, got {window_ns}")
    if first_window_ns is None:
        first_window_ns = int(t[1] - t[0]) if len(t) > 1 else 10_000_000
    events = sequence.events
    index = start  # = the frame index without window_ns
    for i in range(start, len(t)):
        frame_start = int(t[i - 1]) if i else int(t[0]) - int(first_window_ns)
        end = int(t[i])
        parts = 1 if window_ns is None or i == start else max(math.ceil((end - frame_start) / window_ns), 1)
        edges = frame_start + (np.arange(parts + 1, dtype=np.int64) * (end - frame_start)) // parts  # exact in int64
        for k in range(parts):
            a, b = int(edges[k]), int(edges[k + 1])
            last = k == parts - 1
            window = events.slice_time(a, b) if events is not None else Events.empty(sequence.width, sequence.height)
            yield AlignedSample(
                seq=index,
                window_start_ns=a,
                window_end_ns=b,
                events=window,
                image=np.asarray(sequence.frames[i]) if last else None,
                image_stamp_ns=end if last else None,
            )
            index += 1


def score_log(
    log: TrackLog,
    gt_t_ns: np.ndarray,
    gt_boxes: np.ndarray,
    absent: np.ndarray | None = None,
    convention: str = DEFAULT_CONVENTION,
    name: str = "",
    attributes: dict[str, bool] | None = None,
) -> SequenceResult:
    """Metrics of a log against ground truth at ``gt_t_ns``: each GT frame takes the estimate in force then."""
    pred = log.boxes_at(np.asarray(gt_t_ns, np.int64))
    return evaluate_sequence(pred, gt_boxes, absent, convention=convention, name=name, attributes=attributes)
