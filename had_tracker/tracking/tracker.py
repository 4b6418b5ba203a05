"""Single-object tracking runtime over aligned event windows: ``initialize(sample, box)`` / ``update(sample)``.

One interface for the student (events only) and the teacher (RGB + events, used when a teacher checkpoint
is given and the window carries, or recently carried, an RGB frame). At initialisation, with
``init_adapt_steps`` > 0 (off by default: not shown to help, README "Measured, not shipped"), a copy of the
loaded student is fine-tuned on the first window's own target (``had_tracker.tracking.adapt``) and tracks in
its place; each initialisation starts again from the loaded student. Per update:

1. the window is added to a short event history (the model's trained time support, ``window_ms``); at high
   event rates the input uses only the newest part of it, about ``max_input_events`` events in the crop
   (the model was trained at moderate densities; a saturated input loses the target);
2. a square search crop (``search_factor`` x the box's geometric-mean side, OSTrack style) around the
   last box; the event representation is built only inside it (``had_tracker.models.inputs``);
3. the model gives a score map; a Hann window favours small motions; the peak's size/offset cells decode
   the box back to image pixels; confidence = the raw score at the peak;
4. the box's width and height change by at most ``max_scale_rate`` per second of *sensor* time since the
   box was last set (and ``max_scale_change`` per window), its aspect ratio by at most ``max_aspect_rate``
   (2x and 2x per second for the shipped student, chosen on validation; 1 = held suits a size head biased
   towards square, as the previous shipped student's was), except on an axis where the box touches the
   image border (a target crossing it changes its visible extent as fast as it moves), and a box never
   grows beyond the extent of the events in the search crop (the evidence): a box that fills the image
   needs events that fill it;
5. state machine: TRACKING while confident; LOST after ``lost_patience`` consecutive windows below
   ``lost_threshold`` -- the crop holds events but none look like the target, i.e. the evidence says it
   is elsewhere or gone; while LOST the search widens (``widen_factor``) for ``widen_windows`` windows,
   then covers the whole image (global re-acquisition, no Hann window; with ``global_tiles`` every other
   window a training-scale tile instead, nearest the last box first) until a peak reaches
   ``reacquire_threshold``;
6. *unobserved*: a target that stops moving produces no events. A window whose search crop holds fewer
   than ``max(min_search_events, unobserved_fraction x the crop's event count while tracked)`` events
   skips the model: the box is held, the result is flagged ``unobserved`` (had_msgs/Track ``unobserved``),
   the confidence decays (``empty_decay``: the estimate ages) but the state does not turn LOST. After
   ``unobserved_search_after_ms`` of sensor time unobserved, each such window also searches the whole image, and a
   peak of at least ``reacquire_threshold`` there moves the box (the target moved on unseen);
7. optional template update from confident estimates.

The thresholds (``lost_threshold``, ``reacquire_threshold``, ``unobserved_fraction``) are meant to be set
on a validation set (``had_tracker.training.ladder`` picks them on validation sequences, never on test).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from had_tracker.errors import ConfigError
from had_tracker.events.container import Events
from had_tracker.geometry import CropWindow, clip_box, validate_box
from had_tracker.parameters import STUDENT_RUNTIMES
from had_tracker.sync.roi import DEFAULT_MARGIN_FRACTION, DEFAULT_MIN_MARGIN_PX, Roi, roi_around
from had_tracker.sync.synchronizer import AlignedSample
from had_tracker.tracking.crop_input import CropInputBuilder
from had_tracker.tracking.history import EventHistory
from had_tracker.tracking.postprocess import decode_peak, limit_scale_change
from had_tracker.tracking.result import TrackResult, TrackState

log = logging.getLogger(__name__)


@dataclass
class TrackerConfig:
    """Tracking runtime settings (YAML: ``config/tracking.yaml``); crop sizes come from the model config."""

    checkpoint: str | None = None  # student (or teacher) checkpoint; None = the shipped student
    teacher_checkpoint: str | None = None  # optional teacher, used on windows with RGB
    device: str = "cpu"
    num_threads: int = 1  # torch intra-op threads (0 = leave torch's default; 1 is fastest for cpu-tiny)
    freeze_student: bool = True  # run the loaded student as a traced, frozen TorchScript graph (same outputs)
    student_runtime: str = "auto"  # auto | onnxruntime | torch (auto: onnxruntime when onnx + onnxruntime import)
    event_window_ns: int = 0  # event time support of the model input; 0 = the model's window_ms
    max_input_events: int = 40_000  # more events than this in a crop over the input window: shorten it (0 = off)
    min_event_window_ns: int = 1_000_000  # the shortened input window's floor
    hann_weight: float = 1.0  # 1 = OSTrack (score x Hann); 0 = no motion prior
    min_template_events: int = 20  # events needed in the template crop to start tracking
    min_search_events: int = 5  # fewer events in the search crop: skip the model, keep the box
    empty_decay: float = 0.9  # confidence factor per skipped (empty) window
    lost_threshold: float = 0.25  # below this the window counts as low confidence
    lost_patience: int = 20  # consecutive low-confidence windows before LOST
    reacquire_threshold: float = 0.45  # a peak at least this high ends LOST
    box_update_threshold: float = 0.1  # below this the box is not moved (TRACKING)
    widen_factor: float = 2.0  # LOST: search crop side multiplier
    widen_windows: int = 20  # LOST: windows of widened search before global search
    max_scale_change: float = 1.25  # per-window limit on width/height change
    max_scale_rate: float = 2.0  # limit on width/height change per second of sensor time (factor per s)
    max_aspect_rate: float = 2.0  # limit on aspect-ratio (w/h) change per second of sensor time (1 = held, 0 = off)
    cell_centred_search: bool = True  # search crop shifted half a score cell: the box centre mid-cell, not a corner
    peak_refine: bool = True  # centre = score-weighted mean of the peak's 3x3 cell centres (>= half the peak)
    global_tiles: bool = False  # global search: alternate the whole image with training-scale tiles near the box
    unobserved_fraction: float = 0.2  # crop events below this share of the tracked level: unobserved, box held
    unobserved_search_after_ms: float = 200.0  # unobserved this long (sensor time): also search the whole image
    min_box_size: float = 2.0  # px
    template_update_interval: int = 0  # windows between template updates (0 = never)
    template_update_threshold: float = 0.7  # min confidence for a template update
    max_image_age_ns: int = 200_000_000  # teacher: newest RGB frame older than this is not used
    history_max_events: int = 5_000_000  # bound of the event history
    init_adapt_steps: int = 0  # test-time adaptation at initialisation (tracking/adapt.py): fine-tuning steps, 0 = off

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> TrackerConfig:
        """Build from a mapping (e.g. a YAML section); unknown keys and bad values raise ConfigError."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(values) - known):
            raise ConfigError(f"unknown tracker option(s) {unknown}; known: {sorted(known)}")
        from had_tracker.config_values import check_values

        cfg = cls(**check_values(cls, values, "tracker config"))
        cfg.validate()
        return cfg

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrackerConfig:
        """Load from a YAML file (top level, or under a ``tracker:`` key); ConfigError when it is missing."""
        import yaml

        if not Path(path).is_file():
            raise ConfigError(f"tracker config file {path} not found")
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        return cls.from_dict(data.get("tracker", data))

    def validate(self) -> None:
        """Raise ConfigError for an invalid value."""
        checks = [
            (0.0 <= self.hann_weight <= 1.0, "hann_weight must be in [0, 1]"),
            (0.0 < self.empty_decay <= 1.0, "empty_decay must be in (0, 1]"),
            (0.0 <= self.lost_threshold <= 1.0, "lost_threshold must be in [0, 1]"),
            (0.0 <= self.reacquire_threshold <= 1.0, "reacquire_threshold must be in [0, 1]"),
            (0.0 <= self.box_update_threshold <= 1.0, "box_update_threshold must be in [0, 1]"),
            (0.0 <= self.template_update_threshold <= 1.0, "template_update_threshold must be in [0, 1]"),
            (self.lost_patience >= 1 and self.widen_windows >= 0, "lost_patience >= 1, widen_windows >= 0"),
            (self.widen_factor >= 1.0 and self.max_scale_change >= 1.0, "widen_factor and max_scale_change >= 1"),
            (self.max_scale_rate >= 1.0, "max_scale_rate must be >= 1 (a factor per second)"),
            (
                self.max_aspect_rate == 0.0 or self.max_aspect_rate >= 1.0,
                "max_aspect_rate must be 0 (off) or >= 1 (a factor per second)",
            ),
            (0.0 <= self.unobserved_fraction <= 1.0, "unobserved_fraction must be in [0, 1]"),
            (self.unobserved_search_after_ms >= 0, "unobserved_search_after_ms must be >= 0"),
            (self.min_template_events >= 0 and self.min_search_events >= 0, "min_*_events must be >= 0"),
            (self.event_window_ns >= 0 and self.template_update_interval >= 0, "event_window_ns, interval >= 0"),
            (
                self.max_input_events >= 0 and self.min_event_window_ns > 0,
                "max_input_events >= 0, min_event_window_ns > 0",
            ),
            (self.min_box_size > 0 and self.max_image_age_ns > 0, "min_box_size, max_image_age_ns must be > 0"),
            (self.history_max_events > 0 and self.num_threads >= 0, "history_max_events > 0, num_threads >= 0"),
            (self.init_adapt_steps >= 0, "init_adapt_steps must be >= 0"),
            (self.student_runtime in STUDENT_RUNTIMES, f"student_runtime must be one of {', '.join(STUDENT_RUNTIMES)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"tracker config: {message}")


class _Runner:
    """One network with its config and its current template inputs."""

    def __init__(
        self, model: Any, cfg: Any, device: str, freeze: bool = False, runtime: str = "torch", threads: int = 1
    ) -> None:
        self.model, self.cfg, self.device = model, cfg, device
        self.template_events = None  # torch tensor (1, C, S, S)
        self.template_rgb = None
        self._freeze = freeze and not self.is_teacher
        self._frozen: Any = None  # the traced + frozen student, built on its first call
        # onnxruntime: the student exported in memory on its first call (a CPU student only)
        self._use_onnx = runtime == "onnxruntime" and not self.is_teacher and str(device) == "cpu"
        self._threads = threads
        self.onnx: Any = None
        self._template_numpy: tuple[Any, np.ndarray] | None = None  # (template tensor, its numpy view) for onnx
        self.base_model = model  # the loaded network; ``model`` may be a copy adapted to the current target
        self._loaded: tuple[Any, Any, Any] | None = None  # (model, frozen, onnx) of the loaded one while adapted
        self.task_weights: Any = None  # the checkpoint's task-loss settings (test-time adaptation), when loaded

    def use_model(self, model: Any, onnx: Any = None) -> None:
        """Run ``model`` (same config) from now on; its traced / exported forms are built on the next call.

        ``onnx``: its onnxruntime session, where it was built already. The loaded network's forms are kept.
        """
        if self._loaded is None:
            self._loaded = (self.model, self._frozen, self.onnx)
        self.model, self._frozen, self.onnx, self._template_numpy = model, None, onnx, None

    def restore_loaded(self) -> None:
        """Run the loaded network again (with its traced / exported forms), after :meth:`use_model`."""
        if self._loaded is not None:
            (self.model, self._frozen, self.onnx), self._loaded = self._loaded, None
            self._template_numpy = None

    @property
    def onnx_threads(self) -> int:
        """The intra-op threads of this network's onnxruntime session."""
        return self._threads

    @property
    def uses_onnx(self) -> bool:
        """True when onnxruntime runs this (student) network."""
        return self._use_onnx

    @property
    def runtime(self) -> str:
        """What runs the network: "onnxruntime", "torchscript" or "torch" (eager); decided on the first call."""
        if self._use_onnx:
            return "onnxruntime"
        return "torchscript" if self._freeze else "torch"

    def _onnx_network(self) -> Any:
        """The onnxruntime session, built on the first call; None (torch runs) where building it fails."""
        if self.onnx is None and self._use_onnx:
            from had_tracker.models.onnx_student import OnnxStudent

            try:
                self.onnx = OnnxStudent(self.model, self.cfg, self._threads)
            except Exception as exc:  # noqa: BLE001 - any export/session failure: the torch network is correct
                log.warning("student not run by onnxruntime (%s: %s); running it in torch", type(exc).__name__, exc)
                self._use_onnx = False
        return self.onnx

    @property
    def is_teacher(self) -> bool:
        return getattr(self.cfg, "kind", "student") == "teacher"

    def tensor(self, array: np.ndarray) -> Any:
        import torch

        return torch.from_numpy(np.ascontiguousarray(array))[None].to(self.device)

    def student_network(self, template: Any, search: Any) -> Any:
        """The student's forward; with ``freeze``, a TorchScript graph traced on the first call and frozen.

        Freezing folds the weights into the graph as constants and fuses operators: the outputs are the
        eager ones (tested), a window costs ~15 % less CPU. The input shapes are fixed by the model config.
        """
        if self._freeze and self._frozen is None:
            import warnings

            import torch

            # torch 2.13 marks torch.jit deprecated (torch.compile needs a C++ compiler at run time, which a robot
            # may lack); where tracing fails, the eager network runs, with one warning.
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks on the fixed input sizes
                warnings.simplefilter("ignore", DeprecationWarning)
                try:
                    traced = torch.jit.trace(self.model, (template, search), strict=False, check_trace=False)
                    self._frozen = torch.jit.freeze(traced.eval())
                except Exception as exc:  # noqa: BLE001 - any tracing failure: the eager network is correct
                    log.warning("student not frozen (%s: %s); running it eagerly", type(exc).__name__, exc)
                    self._freeze = False
        network = self._frozen if self._frozen is not None else self.model
        return network(template, search)

    def student_maps(self, template: Any, search: Any) -> dict[str, Any]:
        """The student's score, size and offset maps for torch inputs, by whichever runtime runs it."""
        import torch

        onnx = self._onnx_network()
        if onnx is not None:
            return {k: torch.from_numpy(v) for k, v in onnx(template.cpu().numpy(), search.cpu().numpy()).items()}
        return self.student_network(template, search)

    def forward(self, search_events: np.ndarray, search_rgb: np.ndarray | None) -> dict[str, np.ndarray]:
        import torch

        if not self.is_teacher:
            onnx = self._onnx_network()
            if onnx is not None:  # numpy in and out: no torch call at all
                template = self.template_events
                if self._template_numpy is None or self._template_numpy[0] is not template:
                    self._template_numpy = (template, template.numpy())
                out = onnx(self._template_numpy[1], search_events[None])
                return {k: out[k][0] for k in ("score_map", "size_map", "offset_map")}
        with torch.inference_mode():
            if self.is_teacher:
                out = self.model(
                    self.template_rgb, self.template_events, self.tensor(search_rgb), self.tensor(search_events)
                )
            else:
                out = self.student_network(self.template_events, self.tensor(search_events))
        return {k: out[k][0].detach().float().cpu().numpy() for k in ("score_map", "size_map", "offset_map")}


class Tracker:
    """Single-object tracker over aligned samples (see module docstring)."""

    def __init__(
        self,
        config: TrackerConfig | None = None,
        model: Any = None,
        checkpoint: str | Path | None = None,
        device: str | None = None,
        model_config: Any = None,
        teacher: Any = None,
        teacher_config: Any = None,
        adapt_in_background: bool = False,
    ) -> None:
        """A tracker of ``config``'s settings; the network from ``model`` or a checkpoint (the shipped student).

        ``adapt_in_background``: the initialisation's adaptation (``init_adapt_steps``) runs on a worker thread
        while the loaded student tracks, and its copy takes over at the first update after it is ready (a live
        node must not stall for it); False: ``initialize`` waits for it (deterministic, as evaluation needs).
        """
        self.config = config or TrackerConfig()
        self._adapt_in_background = adapt_in_background
        self._adapt_job: Any = None  # the pending background adaptation (a Future)
        self.config.validate()
        c = self.config
        self.device = device or c.device
        if c.num_threads:
            import torch

            torch.set_num_threads(int(c.num_threads))
        self.student = self._make_runner(model, model_config, checkpoint or c.checkpoint, default=True)
        self.teacher = None
        if teacher is not None or c.teacher_checkpoint:
            self.teacher = self._make_runner(teacher, teacher_config, c.teacher_checkpoint, default=False)
            if not self.teacher.is_teacher:
                raise ConfigError("teacher_checkpoint holds a student; give a teacher checkpoint")
        window_ms = max(r.cfg.events.window_ms for r in self._runners())
        self.event_window_ns = int(c.event_window_ns or round(window_ms * 1e6))
        self.history = EventHistory(self.event_window_ns, c.history_max_events)
        self._crop_input = CropInputBuilder()  # search inputs from per-chunk moments (crop_input.py)
        self.state = TrackState.INITIALIZING
        self.target_id = 0
        self._initialized = False
        self._box: np.ndarray | None = None  # last estimate
        self._score = 0.0
        self._low = 0  # consecutive low-confidence windows
        self._lost_windows = 0
        self._updates = 0
        self._image: tuple[np.ndarray, int] | None = None  # newest RGB frame and stamp
        self._mode = "local"  # search region of the last estimate
        # sensor time the box was last set: the scale limit is per second since then, so a box held while the
        # target was lost or unobserved may change as much as that time allows when it is found again
        self._last_end_ns: int | None = None
        self._ref_events = 0.0  # events in the search crop while tracked (EMA): the unobserved test's level
        self._unobserved = 0  # consecutive unobserved windows (0 = observed)
        self._unobserved_since_ns = 0  # sensor time of the first of them
        self._global_searches = 0  # global-search windows so far (global_tiles: which crop comes next)
        self.stats = {
            "updates": 0,
            "empty_windows": 0,
            "model_runs": 0,
            "teacher_runs": 0,
            "lost_events": 0,
            "template_updates": 0,
            "unobserved_windows": 0,
            "unobserved_reacquired": 0,
            "adaptations": 0,
            "adaptation_failures": 0,
        }

    # ------------------------------------------------------------------ setup

    def _make_runner(self, model: Any, model_config: Any, checkpoint: str | Path | None, default: bool) -> _Runner:
        if model is None:
            import torch

            from had_tracker.models.builder import default_student_checkpoint, load_model
            from had_tracker.models.heads import fuse_for_inference

            path = checkpoint if checkpoint is not None else (default_student_checkpoint() if default else None)
            model, cfg = load_model(path, map_location=self.device)
            unfused = copy.deepcopy(model) if self.config.init_adapt_steps else None  # adaptation trains this form
            # our own copy: the inference-only head, without box decoding (update() decodes its own peak)
            fuse_for_inference(model, decode_boxes=False)
            threads = self.config.num_threads or torch.get_num_threads()  # onnxruntime: as many as torch uses
            runner = _Runner(model, cfg, self.device, self.config.freeze_student, self._student_runtime(), threads)
            if self.config.init_adapt_steps and not runner.is_teacher:
                from had_tracker.distill.config import TaskConfig
                from had_tracker.models.builder import load_checkpoint

                task = load_checkpoint(path).get("distill_config", {}).get("task", {})
                runner.task_weights, runner.base_model = TaskConfig(**task), unfused
            return runner
        else:
            cfg = model_config if model_config is not None else getattr(model, "cfg", None)
            if cfg is None:
                raise ConfigError("a model passed to Tracker needs its ModelConfig (model_config= or model.cfg)")
            if hasattr(model, "eval"):
                model.eval()
        return _Runner(model, cfg, self.device)

    def _student_runtime(self) -> str:
        """The runtime of a loaded student, "onnxruntime" or "torch" (``student_runtime``; auto: onnxruntime where installed)."""
        from had_tracker.models.onnx_student import onnxruntime_available

        wanted = self.config.student_runtime
        if wanted == "torch" or str(self.device) != "cpu":
            return "torch"
        if onnxruntime_available():
            return "onnxruntime"
        if wanted == "onnxruntime":
            raise ConfigError("student_runtime onnxruntime needs onnx and onnxruntime: pip install onnx onnxruntime")
        return "torch"

    def warm_up(self) -> float:
        """Load the compiled event kernels and run each network once on zeros; returns seconds spent.

        The first call of each costs a second or more (numba cache load, torch's first-call set-up); a node
        pays it at start-up instead of on its first window. The tracker's state and counters are untouched.
        """
        import torch

        from had_tracker.events.warmup import warm_up as warm_up_kernels

        t0 = time.perf_counter()
        warm_up_kernels()
        for runner in self._runners():
            if not isinstance(runner.model, torch.nn.Module):
                continue  # not a torch network: nothing to warm
            cfg = runner.cfg
            events = [
                torch.zeros(1, cfg.events.channels, n, n, device=self.device)
                for n in (cfg.template_size, cfg.search_size)
            ]
            with torch.inference_mode():
                if runner.is_teacher:
                    rgb = [torch.zeros(1, 3, n, n, device=self.device) for n in (cfg.template_size, cfg.search_size)]
                    runner.model(rgb[0], events[0], rgb[1], events[1])
                else:
                    runner.student_maps(*events)  # also exports (onnxruntime) or traces and freezes the student
        return time.perf_counter() - t0

    def _runners(self) -> list[_Runner]:
        return [r for r in (self.student, self.teacher) if r is not None]

    @property
    def model_config(self) -> Any:
        """The student's (or single model's) ModelConfig."""
        return self.student.cfg

    @property
    def initialized(self) -> bool:
        """True between ``initialize`` and ``reset`` (the state may still be INITIALIZING: template pending)."""
        return self._initialized

    @property
    def box_xywh(self) -> np.ndarray | None:
        return None if self._box is None else self._box.copy()

    def search_roi(
        self, margin_fraction: float = DEFAULT_MARGIN_FRACTION, min_margin_px: float = DEFAULT_MIN_MARGIN_PX
    ) -> Roi | None:
        """Where the next windows' search can look, for ``Synchronizer.set_roi``.

        The search crop around the current box widened by a margin (``had_tracker.sync.roi.roi_around``);
        None (the whole sensor) unless TRACKING an observed target (initialising, lost, re-acquiring, or
        unobserved: its whole-image search needs every event).
        """
        if not self._initialized or self.state != TrackState.TRACKING or self._box is None or self._unobserved:
            return None
        crops = [self._crop_around_box(r.cfg, r.cfg.search_factor) for r in self._runners()]
        crop = max(crops, key=lambda cw: cw.side)
        return roi_around(crop.x0, crop.y0, crop.side, margin_fraction, min_margin_px)

    # ------------------------------------------------------------------ public API

    def reset(self) -> None:
        """Forget the target (the history is kept); ``initialize`` starts again."""
        self.state = TrackState.INITIALIZING
        self._initialized = False
        self._box = None
        self._score = 0.0
        self._low = self._lost_windows = self._updates = 0
        self._mode = "local"
        self._last_end_ns, self._ref_events, self._unobserved = None, 0.0, 0
        self._global_searches = 0
        self._adapt_job = None  # a running adaptation finishes on its thread and is dropped
        for r in self._runners():
            r.template_events = r.template_rgb = None
            r.restore_loaded()

    def push(self, sample: AlignedSample) -> None:
        """Record a window without tracking (keeps the history warm before ``initialize``)."""
        self.history.push(sample.window_start_ns, sample.window_end_ns, sample.events)
        if sample.image is not None:
            self._image = (
                sample.image,
                int(sample.image_stamp_ns if sample.image_stamp_ns is not None else sample.window_end_ns),
            )

    def initialize(self, sample: AlignedSample, box_xywh: Any, target_id: int = 0) -> TrackResult:
        """Start tracking the box (image pixels, x y w h) valid at the end of ``sample``.

        Raises ValueError for a non-finite or non-positive box, or one entirely outside the image. When
        the template crop holds fewer than ``min_template_events`` events, the state stays INITIALIZING
        and the next updates retry at the same box.
        """
        box = validate_box(box_xywh)
        w, h = sample.events.width, sample.events.height
        if w > 0 and h > 0 and (box[0] >= w or box[1] >= h or box[0] + box[2] <= 0 or box[1] + box[3] <= 0):
            raise ValueError(f"box {box.tolist()} lies outside the {w}x{h} image")
        if self.teacher is not None and sample.image is None and self._image is None:
            log.info("teacher loaded but no RGB frame yet: the student runs until one arrives")
        self.reset()
        self.target_id = int(target_id)
        self._box = clip_box(box, w, h, self.config.min_box_size) if w > 0 and h > 0 else box
        self._initialized = True
        self.push(sample)
        t0 = time.perf_counter()
        built = self._build_templates(sample.window_end_ns)
        if built:
            self._maybe_adapt(sample)
            self._start_tracking(sample.window_end_ns)
        return self._result(sample, time.perf_counter() - t0)

    def update(self, sample: AlignedSample) -> TrackResult:
        """Track into one more window; RuntimeError before ``initialize``."""
        if not self._initialized:
            raise RuntimeError("Tracker.update called before initialize(sample, box)")
        t0 = time.perf_counter()
        self.push(sample)
        self.stats["updates"] += 1
        self._updates += 1
        self._take_adapted()
        if self.state == TrackState.INITIALIZING:
            if self._build_templates(sample.window_end_ns):
                self._maybe_adapt(sample)
                self._start_tracking(sample.window_end_ns)
            return self._result(sample, time.perf_counter() - t0)
        self._step(sample)
        return self._result(sample, time.perf_counter() - t0)

    # ------------------------------------------------------------------ internals

    def _start_tracking(self, end_ns: int) -> None:
        """TRACKING from a new template; the search crop's event count now is the unobserved test's level."""
        self.state, self._score, self._last_end_ns = TrackState.TRACKING, 1.0, int(end_ns)
        cfg = self.student.cfg
        crop = CropWindow.around(self._box, cfg.search_factor, cfg.search_size)
        t0, t1 = self._input_window(end_ns, crop)
        self._ref_events = float(_count_in_crop(self.history.window(t0, t1, crop_region(crop)), crop))

    def _maybe_adapt(self, sample: AlignedSample) -> None:
        """Adapt when on (``init_adapt_steps``) and possible (a loaded student checkpoint, whose loss settings it uses)."""
        if self.config.init_adapt_steps and self.student.task_weights is not None:
            self._adapt(sample)

    def _adapt(self, sample: AlignedSample) -> None:
        """Fine-tune a copy of the loaded student on the initial window's target (``init_adapt_steps``)."""
        from had_tracker.tracking.adapt import AdaptSettings, adapt_for_inference

        r, end_ns = self.student, int(sample.window_end_ns)
        t0, t1 = self._input_window(end_ns, CropWindow.around(self._box, r.cfg.search_factor, r.cfg.search_size))
        width, height = sample.events.width or self.history.width, sample.events.height or self.history.height
        args = (r.base_model, r.cfg, r.template_events, self.history.window(t0, t1), t0, t1, self._box.copy())
        kwargs = {
            "width": width,
            "height": height,
            "task_weights": r.task_weights,
            "settings": AdaptSettings(steps=self.config.init_adapt_steps),
            "onnx_threads": r.onnx_threads if r.uses_onnx else 0,
        }
        if self._adapt_in_background:
            self._adapt_job = _adapt_executor().submit(adapt_for_inference, *args, **kwargs)
            return
        from concurrent.futures import Future

        self._adapt_job = Future()  # the same hand-over as a background job's, at once
        try:
            self._adapt_job.set_result(adapt_for_inference(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - reported by _take_adapted; the loaded student tracks
            self._adapt_job.set_exception(exc)
        self._take_adapted()

    def _take_adapted(self) -> None:
        """The adapted copy takes over once it is ready; a failed adaptation is logged and counted."""
        job = self._adapt_job
        if job is None or not job.done():
            return
        self._adapt_job = None
        try:
            model, onnx = job.result()
        except Exception as exc:  # noqa: BLE001 - the loaded student keeps tracking; the failure is reported
            self.stats["adaptation_failures"] += 1
            log.warning("test-time adaptation failed (%s: %s); the loaded student tracks", type(exc).__name__, exc)
            return
        self.student.use_model(model, onnx)
        self.stats["adaptations"] += 1

    def _input_window(self, end_ns: int, crop: CropWindow) -> tuple[int, int]:
        """The model input's time window ending at ``end_ns`` for ``crop``.

        ``event_window_ns`` long; shorter at high event rates, so that the crop holds about ``max_input_events``
        (``CropInputBuilder.window_start``).
        """
        t0, c = end_ns - self.event_window_ns, self.config
        if c.max_input_events:
            chunks = self.history.chunks()
            t0 = self._crop_input.window_start(chunks, crop, t0, end_ns, c.max_input_events, c.min_event_window_ns)
        return t0, end_ns

    def _build_templates(self, end_ns: int) -> bool:
        """(Re)build every runner's template at the current box; True when the student's (main) one was built."""
        return [self._build_template(r, end_ns) for r in self._runners()][0]

    def _build_template(self, runner: _Runner, end_ns: int) -> bool:
        from had_tracker.models.inputs import event_tensor, rgb_tensor

        # the template shares the time window of a search around the same box (same events per output cell)
        t0, t1 = self._input_window(
            end_ns, CropWindow.around(self._box, runner.cfg.search_factor, runner.cfg.search_size)
        )
        crop = CropWindow.around(self._box, runner.cfg.template_factor, runner.cfg.template_size)
        events = self.history.window(t0, t1, crop_region(crop))
        if _count_in_crop(events, crop) < self.config.min_template_events:
            return False
        if runner.is_teacher:
            if self._image is None:
                return False
            runner.template_rgb = runner.tensor(rgb_tensor(self._image[0], crop, runner.cfg))
        runner.template_events = runner.tensor(event_tensor(events, crop, t0, t1, runner.cfg))
        return True

    def _crop_around_box(self, cfg: Any, factor: float) -> CropWindow:
        """The search crop of ``factor`` around the box; with ``cell_centred_search`` shifted by half a score cell.

        Centred on the box, the box centre maps to the corner of four score cells (an even number of cells),
        where the centre offsets must reach 0 or 1 (sigmoid extremes): the peak then alternates between two
        cells from window to window. Half a cell up and left, it maps to the middle of cell ``F // 2``.
        """
        crop = CropWindow.around(self._box, factor, cfg.search_size)
        cells = cfg.search_size // cfg.patch_size
        if not self.config.cell_centred_search or cells % 2:
            return crop
        half = 0.5 * crop.side / cells
        x, y, w, h = (float(v) for v in self._box)
        cx, cy = x + 0.5 * w - half, y + 0.5 * h - half
        return CropWindow(
            float(round(cx - 0.5 * crop.side)), float(round(cy - 0.5 * crop.side)), crop.side, crop.out_size
        )

    def _search_crop(self, cfg: Any, width: int, height: int) -> tuple[CropWindow, str]:
        if self.state != TrackState.LOST:
            return self._crop_around_box(cfg, cfg.search_factor), "local"
        if self._lost_windows <= self.config.widen_windows:
            return self._crop_around_box(cfg, cfg.search_factor * self.config.widen_factor), "widened"
        return self._global_crop(cfg, width, height), "global"

    def _global_crop(self, cfg: Any, width: int, height: int) -> CropWindow:
        """The whole image; with ``global_tiles`` every other global search a crop at the training scale instead.

        In the whole-image crop a small target shrinks far below the sizes the network was trained on (a 24 px
        target in a 346 px image is ~7 px of the 96 px input). The tiles are search crops of ``search_factor``
        around the box's size, overlapping by a quarter, visited nearest the last box first.
        """
        side = float(max(width, height, 1))
        whole = CropWindow(round(0.5 * (width - side)), round(0.5 * (height - side)), side, cfg.search_size)
        self._global_searches += 1
        if not self.config.global_tiles or self._global_searches % 2:
            return whole
        tile = CropWindow.around(self._box, cfg.search_factor, cfg.search_size).side
        if tile >= 0.75 * side:
            return whole
        stride = 0.75 * tile
        xs = np.linspace(0.0, max(width - tile, 0.0), max(math.ceil(max(width - tile, 0.0) / stride) + 1, 1))
        ys = np.linspace(0.0, max(height - tile, 0.0), max(math.ceil(max(height - tile, 0.0) / stride) + 1, 1))
        x, y, w, h = (float(v) for v in self._box)
        corners = sorted(
            ((float(a), float(b)) for a in xs for b in ys),
            key=lambda xy: (xy[0] + 0.5 * tile - x - 0.5 * w) ** 2 + (xy[1] + 0.5 * tile - y - 0.5 * h) ** 2,
        )
        x0, y0 = corners[(self._global_searches // 2 - 1) % len(corners)]
        return CropWindow(float(round(x0)), float(round(y0)), tile, cfg.search_size)

    def _choose_runner(self, end_ns: int) -> _Runner:
        t = self.teacher
        if t is not None and t.template_events is not None and self._image is not None:
            if end_ns - self._image[1] <= self.config.max_image_age_ns:
                return t
        return self.student

    def _step(self, sample: AlignedSample) -> None:
        from had_tracker.models.inputs import rgb_tensor

        c = self.config
        width, height = sample.events.width or self.history.width, sample.events.height or self.history.height
        end_ns = int(sample.window_end_ns)
        dt_s = max(end_ns - (self._last_end_ns if self._last_end_ns is not None else end_ns), 0) * 1e-9
        max_change = min(c.max_scale_change, c.max_scale_rate**dt_s)
        max_aspect = c.max_aspect_rate**dt_s if c.max_aspect_rate > 0 else math.inf
        if self.state == TrackState.LOST:
            self._lost_windows += 1
        elif self.teacher is not None and self.teacher.template_events is None and self._image is not None:
            self._build_template(self.teacher, sample.window_end_ns)  # RGB arrived after initialisation
        runner = self._choose_runner(sample.window_end_ns)
        crop, mode = self._search_crop(runner.cfg, width, height)
        self._mode = mode
        t0, t1 = self._input_window(sample.window_end_ns, crop)
        search, n_crop, extent = self._crop_input.build(self.history.chunks(), crop, t0, t1, runner.cfg)
        if self.state == TrackState.LOST:
            if n_crop < c.min_search_events:
                self.stats["empty_windows"] += 1
                self._score *= c.empty_decay
                return
        elif n_crop < max(c.min_search_events, c.unobserved_fraction * self._ref_events):
            self.stats["empty_windows"] += 1
            self.stats["unobserved_windows"] += 1
            if self._unobserved == 0:
                self._unobserved_since_ns = end_ns
            self._unobserved += 1
            self._score *= c.empty_decay
            if end_ns - self._unobserved_since_ns >= c.unobserved_search_after_ms * 1e6:
                self._search_unobserved(runner, sample, width, height, max_change)
            return
        self._unobserved = 0
        if self.state == TrackState.TRACKING:
            self._global_searches = 0  # the next global search starts again at the whole image, then the nearest tile
        rgb = rgb_tensor(self._image[0], crop, runner.cfg) if runner.is_teacher else None
        out = runner.forward(search, rgb)
        self.stats["model_runs"] += 1
        self.stats["teacher_runs"] += int(runner.is_teacher)
        hann = c.hann_weight if mode == "local" else (0.5 * c.hann_weight if mode == "widened" else 0.0)
        centred = c.cell_centred_search and mode != "global"
        peak = decode_peak(out["score_map"], out["size_map"], out["offset_map"], crop, hann, centred, c.peak_refine)
        box = limit_scale_change(peak.box_xywh, self._box, max_change, (width, height), max_aspect_change=max_aspect)
        box = limit_growth_to_extent(box, self._box, extent)
        if width > 0 and height > 0:
            box = clip_box(box, width, height, c.min_box_size)
        if not (math.isfinite(peak.score) and np.isfinite(box).all()):  # a diverged network: low, never TRACKING at NaN
            self._score, box = 0.0, None
        else:
            self._score = peak.score
            if mode == "local" and peak.score >= c.lost_threshold:
                self._ref_events += 0.1 * (n_crop - self._ref_events)  # the level follows the target's activity
        self._after_score(self._score, box, end_ns)
        if (
            c.template_update_interval
            and self.state == TrackState.TRACKING
            and peak.score >= c.template_update_threshold
            and self._updates % c.template_update_interval == 0
            and self._build_templates(sample.window_end_ns)
        ):
            self.stats["template_updates"] += 1

    def _search_unobserved(
        self, runner: _Runner, sample: AlignedSample, width: int, height: int, max_change: float
    ) -> None:
        """Unobserved for a while: look at the whole image; a confident peak there moves the box."""
        from had_tracker.models.inputs import event_tensor, rgb_tensor

        c = self.config
        crop = self._global_crop(runner.cfg, width, height)
        t0, t1 = self._input_window(sample.window_end_ns, crop)
        events = self.history.window(t0, t1, crop_region(crop))
        if _count_in_crop(events, crop) < c.min_search_events:
            return
        rgb = rgb_tensor(self._image[0], crop, runner.cfg) if runner.is_teacher else None
        out = runner.forward(event_tensor(events, crop, t0, t1, runner.cfg), rgb)
        self.stats["model_runs"] += 1
        peak = decode_peak(out["score_map"], out["size_map"], out["offset_map"], crop, 0.0)
        if not math.isfinite(peak.score) or peak.score < c.reacquire_threshold:
            return
        box = limit_scale_change(peak.box_xywh, self._box, max_change, (width, height))
        self._box = clip_box(box, width, height, c.min_box_size) if width > 0 and height > 0 else box
        self._score, self._unobserved, self._low, self._mode = peak.score, 0, 0, "global"
        self._last_end_ns = max(int(sample.window_end_ns), self._last_end_ns or 0)
        self.stats["unobserved_reacquired"] += 1

    def _after_score(self, score: float, box: np.ndarray | None, end_ns: int) -> None:
        c = self.config
        if self.state == TrackState.LOST:
            if box is not None and score >= c.reacquire_threshold:
                self.state, self._box, self._low, self._lost_windows = TrackState.TRACKING, box, 0, 0
                self._last_end_ns = max(end_ns, self._last_end_ns or 0)
            return
        if box is not None and score >= c.box_update_threshold:
            self._box = box
            self._last_end_ns = max(end_ns, self._last_end_ns or 0)
        self._low = self._low + 1 if score < c.lost_threshold else 0
        if self._low >= c.lost_patience:
            self.state, self._lost_windows = TrackState.LOST, 0
            self.stats["lost_events"] += 1

    def _result(self, sample: AlignedSample, seconds: float) -> TrackResult:
        return TrackResult(
            box_xywh=self._box.copy(),
            score=float(self._score) if self.state != TrackState.INITIALIZING else 0.0,
            state=self.state,
            window_start_ns=int(sample.window_start_ns),
            window_end_ns=int(sample.window_end_ns),
            num_events=len(sample.events),
            latency_ms=seconds * 1e3,
            target_id=self.target_id,
            search_mode=self._mode,
            unobserved=self._unobserved > 0,
        )


_ADAPT_EXECUTOR: Any = None


def _adapt_executor() -> Any:
    """One worker thread for background adaptation, shared by the process's trackers (created on first use)."""
    global _ADAPT_EXECUTOR
    if _ADAPT_EXECUTOR is None:
        from concurrent.futures import ThreadPoolExecutor

        _ADAPT_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="had_adapt")
    return _ADAPT_EXECUTOR


def crop_region(crop: CropWindow, margin_px: float = 1.0) -> tuple[int, int, int, int]:
    """Integer pixel bounds ``(x_lo, x_hi, y_lo, y_hi)`` of the events that can land in ``crop``.

    A pixel lands in the crop when its centre does; ``margin_px`` (plus one output pixel in input pixels)
    keeps events that bilinear splatting spreads over the border, so pre-filtering never changes the
    representation.
    """
    pad = margin_px + 1.0 / crop.scale
    lo_x, lo_y = math.floor(crop.x0 - pad), math.floor(crop.y0 - pad)
    hi_x, hi_y = math.ceil(crop.x0 + crop.side + pad), math.ceil(crop.y0 + crop.side + pad)
    clamp = lambda v: int(min(max(v, 0), 65535))  # noqa: E731 - uint16 coordinates
    return clamp(lo_x), clamp(hi_x), clamp(lo_y), clamp(hi_y)


def limit_growth_to_extent(
    box_xywh: np.ndarray, previous_xywh: np.ndarray, extent: tuple[int, int, int, int] | None
) -> np.ndarray:
    """Keep the centre; a side may grow beyond the previous one only up to the events' extent in the crop.

    The evidence for a box size is the events: the extent ``(x_min, x_max, y_min, y_max)`` of the window's
    events inside the search crop (``CropInputBuilder.build``; None: no events) bounds how large the target
    can be (max - min + 1 px); a side already above it is not shrunk here.
    """
    x, y, w, h = (float(v) for v in box_xywh)
    pw, ph = float(previous_xywh[2]), float(previous_xywh[3])
    if not (w > pw or h > ph):
        return box_xywh
    extent_w = extent_h = 0.0
    if extent is not None:
        extent_w, extent_h = float(extent[1] - extent[0] + 1), float(extent[3] - extent[2] + 1)
    nw = min(w, max(pw, extent_w)) if w > pw else w
    nh = min(h, max(ph, extent_h)) if h > ph else h
    cx, cy = x + 0.5 * w, y + 0.5 * h
    return np.array([cx - 0.5 * nw, cy - 0.5 * nh, nw, nh])


def _count_in_crop(events: Events, crop: CropWindow) -> int:
    """Events whose pixel centre lies inside the crop square (``x0 <= x + 0.5 < x0 + side``, same for y)."""
    if not len(events):
        return 0
    # x + 0.5 >= x0  <=>  x >= ceil(x0 - 0.5);  x + 0.5 < x1  <=>  x < ceil(x1 - 0.5)  (x integer)
    x_lo, y_lo = math.ceil(crop.x0 - 0.5), math.ceil(crop.y0 - 0.5)
    x_hi, y_hi = math.ceil(crop.x0 + crop.side - 0.5), math.ceil(crop.y0 + crop.side - 0.5)
    x_lo, y_lo = max(x_lo, 0), max(y_lo, 0)
    if x_hi <= x_lo or y_hi <= y_lo:
        return 0
    # uint16 wrap-around: (x - lo) < (hi - lo) tests lo <= x < hi in one comparison, without a wider copy.
    inside = np.ones(len(events), bool)
    for values, lo, hi in ((events.x, x_lo, x_hi), (events.y, y_lo, y_hi)):
        if lo > 0 or hi <= 65535:
            if lo > 65535:
                return 0
            inside &= (values - np.uint16(lo)) < np.uint16(min(hi - lo, 65535))
    return int(np.count_nonzero(inside))


__all__ = ["TrackResult", "TrackState", "Tracker", "TrackerConfig"]
