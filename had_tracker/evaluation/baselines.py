"""Classic OpenCV trackers as baselines, behind the same ``initialize(sample, box)`` / ``update(sample)`` API.

MIL ships with the main ``opencv-python(-headless)`` package; CSRT and KCF need the optional
``opencv-contrib-python-headless`` extra and are reported as unavailable without it (the DNN trackers
need weights that are never downloaded). Each runs on one modality of an aligned sample:

* ``rgb``: the sample's RGB frame (the latest one seen when a window carries none);
* ``events``: an event count image (grey: 0 = no event, brighter = more events) of the events since the
  previous update, made every ``event_frame_ns`` (default 20 ms, i.e. 50 Hz): the simplest "event frame"
  a user would feed to a frame tracker.

An RGB baseline updates only on windows that carry a new frame, an event baseline once its event frame is
complete; other windows repeat the last box (marked ``search_mode="reused"``, left out of FPS and latency).
Boxes go to OpenCV as integer rectangles (its API) and come back as floats; when OpenCV reports a failure
the previous box is kept and the confidence is 0. MIL draws its samples from OpenCV-internal random state, so two
runs in one process can differ slightly (the first run of a process is repeatable).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from had_tracker.errors import ConfigError
from had_tracker.geometry import validate_box
from had_tracker.tracking.result import TrackResult, TrackState

KINDS = ("mil", "kcf", "csrt")
MODALITIES = ("rgb", "events")
REUSED = "reused"  # search_mode of a result that repeats the last box (RGB baseline, window without a frame)


def _factory(kind: str) -> Any | None:
    import cv2

    names = {"mil": "TrackerMIL", "kcf": "TrackerKCF", "csrt": "TrackerCSRT"}
    name = names[kind]
    for owner in (cv2, getattr(cv2, "legacy", None)):
        if owner is None:
            continue
        cls = getattr(owner, name, None)
        if cls is not None and hasattr(cls, "create"):
            return cls.create
        fn = getattr(owner, f"{name}_create", None)
        if fn is not None:
            return fn
    return None


def available_baselines() -> list[str]:
    """Baseline kinds this OpenCV build provides (``mil`` always; ``kcf``/``csrt`` with opencv-contrib)."""
    return [k for k in KINDS if _factory(k) is not None]


def parse_baseline_name(name: str) -> tuple[str, str]:
    """``"mil"`` -> (mil, rgb); ``"csrt-events"`` -> (csrt, events). ConfigError for anything else."""
    kind, _, modality = name.lower().partition("-")
    modality = modality or "rgb"
    if kind not in KINDS or modality not in MODALITIES:
        raise ConfigError(f"unknown baseline {name!r}: use one of {KINDS} with an optional -rgb or -events suffix")
    return kind, modality


def event_count_image(events: Any, width: int, height: int, gain: float = 64.0) -> np.ndarray:
    """``(H, W, 3)`` uint8: events per pixel (both polarities) times ``gain``, clipped at 255."""
    counts = np.zeros(height * width, np.float32)
    if events is not None and len(events):
        x = np.asarray(events.x, np.intp)
        y = np.asarray(events.y, np.intp)
        inside = (x < width) & (y < height)
        np.add.at(counts, y[inside] * width + x[inside], 1.0)
    grey = np.clip(counts * gain, 0, 255).astype(np.uint8).reshape(height, width)
    return np.repeat(grey[..., None], 3, axis=2)


class OpenCVBaseline:
    """One OpenCV single-object tracker on RGB frames or event count images (see the module docstring)."""

    def __init__(self, kind: str = "mil", modality: str = "rgb", event_frame_ns: int = 20_000_000) -> None:
        if kind not in KINDS or modality not in MODALITIES:
            raise ConfigError(f"baseline kind must be one of {KINDS} and modality one of {MODALITIES}")
        factory = _factory(kind)
        if factory is None:
            raise ConfigError(
                f"OpenCV tracker {kind.upper()} is not in this OpenCV build: "
                "pip install opencv-contrib-python-headless (the optional extra) to get KCF and CSRT"
            )
        self.kind, self.modality = kind, modality
        self.scored_at_image_stamp = modality == "rgb"  # see harness.estimate_time_ns
        self.name = f"{kind.upper()} ({modality})"
        self._factory = factory
        self._tracker: Any = None
        self._box: np.ndarray | None = None
        self._last_rgb: np.ndarray | None = None
        self._pending = False  # initialized, waiting for a first RGB frame
        self.event_frame_ns = int(event_frame_ns)
        self._chunks: list[Any] = []  # events since the last event frame (bounded by event_frame_ns)
        self._frame_start_ns: int | None = None
        self.state = TrackState.INITIALIZING

    def _image(self, sample: Any, force: bool = False) -> np.ndarray | None:
        """The image to track on now, or None (RGB: no frame seen yet; events: frame not complete)."""
        import cv2

        if self.modality == "events":
            return self._event_frame(sample, force)
        if sample.image is not None:
            self._last_rgb = cv2.cvtColor(np.ascontiguousarray(sample.image), cv2.COLOR_RGB2BGR)
        return self._last_rgb

    def _event_frame(self, sample: Any, force: bool) -> np.ndarray | None:
        from had_tracker.events.container import Events

        end = int(sample.window_end_ns)
        if self._frame_start_ns is None:
            self._frame_start_ns = int(sample.window_start_ns)
        if sample.events is not None and len(sample.events):
            self._chunks.append(sample.events)
        if not force and end - self._frame_start_ns < self.event_frame_ns:
            return None
        events = Events.concatenate(self._chunks).slice_time(end - self.event_frame_ns, end)
        self._chunks, self._frame_start_ns = [], end
        return event_count_image(events, sample.width, sample.height)

    def push(self, sample: Any) -> None:
        """See a window without tracking (keeps the latest RGB frame / recent events for the start)."""
        if self.modality == "rgb":
            self._image(sample)
            return
        if sample.events is not None and len(sample.events):
            self._chunks.append(sample.events)
        # keep only what the first event frame can use
        cutoff = int(sample.window_end_ns) - self.event_frame_ns
        self._chunks = [c for c in self._chunks if len(c) and int(c.t[-1]) >= cutoff]
        self._frame_start_ns = None

    def reset(self) -> None:
        """Forget the target."""
        self._tracker, self._box, self._pending = None, None, False
        self._chunks, self._frame_start_ns = [], None
        self.state = TrackState.INITIALIZING

    def initialize(self, sample: Any, box_xywh: Any, target_id: int = 0) -> TrackResult:
        """Start at ``box_xywh`` on ``sample``'s image.

        An RGB baseline whose window carries no frame uses the latest frame it has seen; with none yet it
        stays INITIALIZING (box held) and starts on the first window that brings a frame.
        """
        t0 = time.perf_counter()
        box = validate_box(box_xywh)
        w, h = int(getattr(sample, "width", 0) or 0), int(getattr(sample, "height", 0) or 0)
        if w > 0 and h > 0 and (box[0] >= w or box[1] >= h or box[0] + box[2] <= 0 or box[1] + box[3] <= 0):
            raise ValueError(f"box {box.tolist()} lies outside the {w}x{h} image")  # OpenCV would assert instead
        self._tracker, self._box, self._pending = None, box, True
        self.state = TrackState.INITIALIZING
        image = self._image(sample, force=True)
        if image is not None:
            self._start(image, box)
        return self._result(sample, 1.0 if self.state == TrackState.TRACKING else 0.0, t0)

    def _start(self, image: np.ndarray, box: np.ndarray) -> None:
        self._tracker = self._factory()
        rect = tuple(int(round(v)) for v in box)
        self._tracker.init(image, (rect[0], rect[1], max(rect[2], 1), max(rect[3], 1)))
        self._pending = False
        self.state = TrackState.TRACKING

    def update(self, sample: Any) -> TrackResult:
        """Track into the next window (a window without a new RGB frame reuses the last one)."""
        if self._box is None:
            raise RuntimeError(f"{self.name}: update called before initialize")
        t0 = time.perf_counter()
        if self._pending:
            image = self._image(sample, force=True)
            if image is not None:
                self._start(image, self._box)
            return self._result(sample, 1.0 if self.state == TrackState.TRACKING else 0.0, t0)
        image = None if self.modality == "rgb" and sample.image is None else self._image(sample)
        if image is None:  # no new frame / event frame not complete: nothing new to look at
            return self._result(sample, 1.0 if self.state == TrackState.TRACKING else 0.0, t0, mode=REUSED)
        ok, rect = self._tracker.update(image)
        if ok and rect[2] > 0 and rect[3] > 0:
            self._box = np.asarray(rect, dtype=np.float64)
            self.state = TrackState.TRACKING
            return self._result(sample, 1.0, t0)
        self.state = TrackState.LOST
        return self._result(sample, 0.0, t0)

    def _result(self, sample: Any, score: float, t0: float, mode: str = "local") -> TrackResult:
        return TrackResult(
            box_xywh=self._box.copy(),
            score=score,
            state=self.state,
            window_start_ns=int(sample.window_start_ns),
            window_end_ns=int(sample.window_end_ns),
            num_events=len(sample.events) if sample.events is not None else 0,
            latency_ms=1e3 * (time.perf_counter() - t0),
            search_mode=mode,
        )
