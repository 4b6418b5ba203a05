"""Training pairs (template frame, search frame) for the teacher and the student, with jitter.

One crop geometry serves both modalities (the RGB crop and the event crop of a frame are the same
window). The temporal support is asymmetric, as in HAD:

- teacher: events of the RGB exposure window of the frame (widened about its centre to at least
  ``window_ms``), i.e. what the RGB frame saw;
- student: the window of the same length ending at the frame time (what an event-only tracker has
  at that instant), plus K consecutive sub-windows of it for the temporal aligner.

Every sample is a pure function of ``(seed, index)``, so training is reproducible and resumable.

Negative search crops (so that the score means something when the target is gone): with probability
``negative_absent`` the search crop lies next to the target, not containing it (target absent); with
``negative_distractor`` it is centred on the target of *another* sequence (a different object: a
distractor). A negative's ``search_box`` is all zeros (w = h = 0): the task loss then asks for a score map
that is low everywhere and skips the box terms. With ``wide_search`` the search crop is
``wide_search_factor`` (drawn uniformly in the range) times larger, so the target appears 2-4x smaller, as
in the tracker's widened and global re-acquisition searches.

Event thinning (real sensors are sparser than the synthetic engine): with probability ``event_thinning`` the
student's events of a pair (template, search and the aligner's sub-windows) keep each event independently
with one probability ``q``, drawn log-uniformly in ``event_keep_range``. The labelled real DAVIS346 targets
(``data/labels``) have a median of 0.18-0.57 events per pixel of their box in 20 ms, the synthetic validation
targets 0.23-3.8. The teacher's inputs are not thinned.

Event shading (real targets are unevenly lit and textured: a dark car's rear gives dense events, its front
few): with probability ``event_shading`` the student's events of a pair are kept with a probability that falls
linearly across the target, from 1 on one side of its box to ``floor`` on the other, along a direction drawn
uniformly; beyond the box it stays at 1 or ``floor``. ``floor`` is drawn log-uniformly in
``shading_floor_range``; the direction and the floor are the pair's (template and search lit alike), each
window's ramp is placed on its own frame's target box. The box labels stay the whole target, so the network
learns to cover the sparse side too. The teacher's inputs are not shaded.

Window jitter (the tracker's input window is not always the model's ``window_ms``: it shortens it where a crop
holds too many events, ``tracker.max_input_events``, and real targets move at other speeds than the training
data's): with probability ``window_jitter`` the student's template window and, independently, its search window
get a length drawn log-uniformly in ``window_ms_range`` (each still ending at its frame time). The teacher's
windows keep theirs.

Frames after the end of a sequence's event stream (an event simulation cut by its ``max_events`` cap, a recording
whose events stop before its labels) are not drawn: their windows hold no events, and a pair made from them would
teach the network a box where nothing is seen. They are counted (``frames_after_events``) and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from had_tracker.data.sequence import TrackingSequence
from had_tracker.errors import ConfigError
from had_tracker.events.container import Events
from had_tracker.geometry import CropWindow
from had_tracker.models.config import ModelConfig
from had_tracker.models.inputs import event_tensor, event_tensor_bins, rgb_tensor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplerConfig:
    """Pair sampling and jitter (OSTrack conventions: centre jitter in units of sqrt(w*h), log-normal scale)."""

    max_gap: int = 30
    search_center_jitter: float = 3.0
    search_scale_jitter: float = 0.25
    template_center_jitter: float = 0.0
    template_scale_jitter: float = 0.0
    causal: bool = True
    negative_absent: float = 0.0  # probability of a search crop beside the target, without it
    negative_distractor: float = 0.0  # probability of a search crop on another sequence's target
    wide_search: float = 0.0  # probability of a search crop wide_search_factor x larger (smaller target)
    wide_search_factor: tuple[float, float] = (2.0, 4.0)
    event_thinning: float = 0.0  # probability that the student's events of a pair are thinned
    event_keep_range: tuple[float, float] = (0.05, 1.0)  # keep fraction of a thinned pair, drawn log-uniformly
    event_shading: float = 0.0  # probability that the student's events of a pair fade across the target
    shading_floor_range: tuple[float, float] = (0.05, 0.5)  # keep factor on the dim side, drawn log-uniformly
    window_jitter: float = 0.0  # probability that the student's window lengths of a pair are drawn
    window_ms_range: tuple[float, float] = (10.0, 40.0)  # their lengths [ms], each drawn log-uniformly

    def __post_init__(self) -> None:
        if self.max_gap < 0 or min(self.search_center_jitter, self.search_scale_jitter) < 0:
            raise ValueError("sampler: max_gap and jitters must be >= 0")
        probs = (self.negative_absent, self.negative_distractor, self.wide_search)
        if min(probs) < 0 or self.negative_absent + self.negative_distractor > 1 or self.wide_search > 1:
            raise ValueError("sampler: negative_absent + negative_distractor and wide_search must be in [0, 1]")
        lo, hi = (float(v) for v in self.wide_search_factor)
        if not 1.0 <= lo <= hi:
            raise ValueError("sampler: wide_search_factor must be (lo, hi) with 1 <= lo <= hi")
        _check_share_and_range("event_thinning", self.event_thinning, "event_keep_range", self.event_keep_range)
        _check_share_and_range("event_shading", self.event_shading, "shading_floor_range", self.shading_floor_range)
        bounds = tuple(self.window_ms_range)
        if not 0.0 <= self.window_jitter <= 1.0 or len(bounds) != 2 or not 0.0 < float(bounds[0]) <= float(bounds[1]):
            raise ValueError(
                "sampler: window_jitter must be in [0, 1], window_ms_range (lo, hi) with 0 < lo <= hi, got "
                f"window_jitter={self.window_jitter}, window_ms_range={bounds}"
            )


def _check_share_and_range(share_name: str, share: float, range_name: str, bounds: Sequence[float]) -> None:
    """A probability in [0, 1] and a ``(lo, hi)`` range with ``0 < lo <= hi <= 1``, or a ValueError naming both."""
    message = f"sampler: {share_name} must be in [0, 1], {range_name} (lo, hi) with 0 < lo <= hi <= 1"
    if len(bounds) != 2 or not 0.0 <= share <= 1.0 or not 0.0 < float(bounds[0]) <= float(bounds[1]) <= 1.0:
        raise ValueError(f"{message}, got {share_name}={share}, {range_name}={tuple(bounds)}")


def _log_uniform(rng: np.random.Generator, bounds: Sequence[float]) -> float:
    """A draw log-uniform in ``[lo, hi]``."""
    lo, hi = (float(v) for v in bounds)
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def jitter_box(box_xywh: np.ndarray, center_jitter: float, scale_jitter: float, rng: np.random.Generator) -> np.ndarray:
    """Jitter as OSTrack does it: size x exp(N(0, scale_jitter)), centre moved uniformly within +-sqrt(w*h)*center_jitter/2."""
    x, y, w, h = box_xywh
    size = np.array([w, h]) * np.exp(rng.standard_normal(2) * scale_jitter)
    max_offset = np.sqrt(size.prod()) * center_jitter
    center = np.array([x + w / 2, y + h / 2]) + max_offset * (rng.random(2) - 0.5)
    return np.array([center[0] - size[0] / 2, center[1] - size[1] / 2, size[0], size[1]])


def event_windows(sequence: TrackingSequence, frame: int, window_ms: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(teacher_window, student_window)`` in ns for a frame: the exposure (widened), and the same length ending at the frame time."""
    start, end = int(sequence.exposure_start_ns[frame]), int(sequence.exposure_end_ns[frame])
    length = max(end - start, int(window_ms * 1e6))
    mid = (start + end) // 2
    teacher = (mid - length // 2, mid - length // 2 + length)
    t = int(sequence.frame_t_ns[frame])
    return teacher, (t - length, t)


def frames_with_events(sequence: TrackingSequence, window_ms: float) -> np.ndarray:
    """True for the frames whose student window (``window_ms`` ending at the frame time) starts before the last event.

    False for every frame after the end of the event stream, and for all frames of a sequence without events.
    """
    events = sequence.events
    if events is None or not len(events):
        return np.zeros(len(sequence), dtype=bool)
    last_ns = int(events.t[-1])
    return np.asarray(sequence.frame_t_ns, dtype=np.int64) - int(window_ms * 1e6) <= last_ns


def draw_keep_fraction(sampler_cfg: SamplerConfig, rng: np.random.Generator) -> float:
    """A pair's event keep fraction: 1, or with probability ``event_thinning`` log-uniform in ``event_keep_range``."""
    if rng.random() >= sampler_cfg.event_thinning:
        return 1.0
    return _log_uniform(rng, sampler_cfg.event_keep_range)


def draw_shading(sampler_cfg: SamplerConfig, rng: np.random.Generator) -> tuple[float, float] | None:
    """A pair's shading ``(angle_rad, floor)``, or None; drawn with probability ``event_shading``.

    The direction is uniform, the floor log-uniform in ``shading_floor_range``.
    """
    if rng.random() >= sampler_cfg.event_shading:
        return None
    angle = float(rng.uniform(0.0, 2.0 * np.pi))
    return angle, _log_uniform(rng, sampler_cfg.shading_floor_range)


def draw_window_lengths(sampler_cfg: SamplerConfig, rng: np.random.Generator) -> tuple[int, int] | None:
    """A pair's student window lengths ``(template_ns, search_ns)``, or None (the model's window).

    Drawn with probability ``window_jitter``; each length log-uniform in ``window_ms_range``, independently.
    """
    if rng.random() >= sampler_cfg.window_jitter:
        return None
    return tuple(int(_log_uniform(rng, sampler_cfg.window_ms_range) * 1e6) for _ in range(2))


def shading_keep(x: np.ndarray, y: np.ndarray, box_xywh: np.ndarray, angle: float, floor: float) -> np.ndarray:
    """Keep probability of events at pixels ``(x, y)``: 1 on the box's bright side, ``floor`` on its dim side.

    Linear in the projection of the pixel centre on ``(cos angle, sin angle)`` across the box's extent along
    that direction (``|w cos| + |h sin|``), constant beyond it; the dim side is where the direction points.
    """
    bx, by, bw, bh = (float(v) for v in box_xywh)
    c, s = np.cos(angle), np.sin(angle)
    extent = max(abs(bw * c) + abs(bh * s), 1e-6)
    along = (x.astype(np.float32) + 0.5 - (bx + 0.5 * bw)) * c + (y.astype(np.float32) + 0.5 - (by + 0.5 * bh)) * s
    ramp = np.clip(along / extent + 0.5, 0.0, 1.0)
    return 1.0 - (1.0 - floor) * ramp


def shade_events(
    events: Events, box_xywh: np.ndarray, shading: tuple[float, float] | None, rng: np.random.Generator
) -> Events:
    """Each event kept independently with probability :func:`shading_keep` (``None``: the events as they are)."""
    if shading is None or not len(events):
        return events
    return events[rng.random(len(events)) < shading_keep(events.x, events.y, box_xywh, *shading)]


def thin_events(events: Events, keep: float, rng: np.random.Generator) -> Events:
    """Each event kept independently with probability ``keep`` (``keep >= 1``: the events as they are)."""
    if keep >= 1.0 or not len(events):
        return events
    return events[rng.random(len(events)) < keep]


class PairSampler:
    """``sampler[index] -> dict`` of float32 arrays (see :meth:`__getitem__`); ``len`` is the epoch size."""

    def __init__(
        self,
        sequences: Sequence[TrackingSequence],
        cfg: ModelConfig,
        sampler_cfg: SamplerConfig | None = None,
        seed: int = 0,
        epoch_size: int = 1000,
        with_teacher_inputs: bool = True,
        with_bins: bool = False,
    ) -> None:
        self.cfg = cfg
        self.sampler_cfg = sampler_cfg or SamplerConfig()
        self.seed = int(seed)
        self.epoch_size = int(epoch_size)
        self.with_teacher_inputs = with_teacher_inputs
        self.with_bins = with_bins
        self.sequences = []
        self.frames_after_events = 0  # frames past the end of their sequence's event stream: never drawn
        cut: list[str] = []
        for seq in sequences:
            if seq.events is None:
                raise ConfigError(f"sequence {seq.name!r} has no raw events; the pair sampler needs them")
            covered = frames_with_events(seq, cfg.events.window_ms)
            n_after = int((~covered).sum())
            if n_after:
                self.frames_after_events += n_after
                cut.append(f"{seq.name} ({n_after} of {len(seq)})")
            visible = np.flatnonzero(~np.asarray(seq.absent, dtype=bool) & covered)
            if len(visible) >= 2:
                self.sequences.append((seq, visible))
        if cut:
            log.warning(
                "%d frames lie after the end of their event stream and are not used for pairs: %s",
                self.frames_after_events,
                ", ".join(cut),
            )
        if not self.sequences:
            raise ConfigError(
                "no sequence with at least two frames where the target is visible and events are recorded"
            )
        lengths = np.array([len(v) for _, v in self.sequences], dtype=np.float64)
        self.weights = lengths / lengths.sum()

    def __len__(self) -> int:
        return self.epoch_size

    def _frames(self, rng: np.random.Generator) -> tuple[TrackingSequence, int, int]:
        seq, visible = self.sequences[rng.choice(len(self.sequences), p=self.weights)]
        gap = self.sampler_cfg.max_gap
        i = int(rng.integers(len(visible)))
        template = int(visible[i])
        lo = template if self.sampler_cfg.causal else template - gap
        candidates = visible[(visible >= lo) & (visible <= template + gap) & (visible != template)]
        if len(candidates) == 0:
            candidates = visible[visible != template]
        return seq, template, int(rng.choice(candidates))

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        """The pair number ``index`` of this sampler's stream.

        Keys: ``template_events``, ``search_events``, ``search_box`` (cx, cy, w, h normalised to the search crop);
        with teacher inputs ``template_rgb``, ``search_rgb``, ``template_events_teacher``, ``search_events_teacher``;
        with bins ``search_bins`` ``(K, C, S, S)``.
        """
        rng = np.random.default_rng([self.seed, int(index)])
        seq, t_idx, s_idx = self._frames(rng)
        c, sc = self.cfg, self.sampler_cfg
        factor = c.search_factor
        if sc.wide_search > 0 and rng.random() < sc.wide_search:
            factor *= float(rng.uniform(*sc.wide_search_factor))
        for _ in range(10):  # re-draw jitter that would put the target centre outside the search crop
            template_box = jitter_box(seq.gt_boxes[t_idx], sc.template_center_jitter, sc.template_scale_jitter, rng)
            search_box = jitter_box(seq.gt_boxes[s_idx], sc.search_center_jitter, sc.search_scale_jitter, rng)
            template_crop = CropWindow.around(template_box, c.template_factor, c.template_size)
            search_crop = CropWindow.around(search_box, factor, c.search_size)
            box = search_crop.box_to_crop(seq.gt_boxes[s_idx]) / c.search_size
            center = box[:2] + box[2:] / 2
            if np.all((center > 0) & (center < 1)):
                break
        target = np.array([center[0], center[1], min(box[2], 1.0), min(box[3], 1.0)], dtype=np.float32)
        search_seq = seq
        draw = rng.random()
        if draw < sc.negative_absent + sc.negative_distractor:
            negative = None
            if draw >= sc.negative_absent and len(self.sequences) > 1:
                negative = self._distractor_crop(seq, search_box, factor, rng)
            if negative is None:
                negative = self._absent_crop(seq, s_idx, search_box, factor, rng)
            if negative is not None:
                search_seq, s_idx, search_crop = negative
                target = np.zeros(4, np.float32)
        window = c.events.window_ms
        (tt0, tt1), (ts0, ts1) = event_windows(seq, t_idx, window)
        (st0, st1), (ss0, ss1) = event_windows(search_seq, s_idx, window)
        # Drawn last, and only when on: with thinning, shading and window jitter off, earlier pairs stay bit-identical.
        keep = draw_keep_fraction(sc, rng) if sc.event_thinning > 0 else 1.0
        shading = draw_shading(sc, rng) if sc.event_shading > 0 else None
        lengths = draw_window_lengths(sc, rng) if sc.window_jitter > 0 else None
        if lengths is not None:
            ts0, ss0 = ts1 - lengths[0], ss1 - lengths[1]
        template_window = thin_events(seq.events.slice_time(ts0, ts1), keep, rng)
        search_window = thin_events(search_seq.events.slice_time(ss0, ss1), keep, rng)
        if shading is not None:
            template_window = shade_events(template_window, seq.gt_boxes[t_idx], shading, rng)
            search_window = shade_events(search_window, search_seq.gt_boxes[s_idx], shading, rng)
        sample = {
            "template_events": event_tensor(template_window, template_crop, ts0, ts1, c),
            "search_events": event_tensor(search_window, search_crop, ss0, ss1, c),
            "search_box": target,
        }
        if self.with_teacher_inputs:
            sample["template_rgb"] = rgb_tensor(np.asarray(seq.frames[t_idx]), template_crop, c)
            sample["search_rgb"] = rgb_tensor(np.asarray(search_seq.frames[s_idx]), search_crop, c)
            sample["template_events_teacher"] = event_tensor(seq.events, template_crop, tt0, tt1, c)
            sample["search_events_teacher"] = event_tensor(search_seq.events, search_crop, st0, st1, c)
        if self.with_bins:
            sample["search_bins"] = event_tensor_bins(search_window, search_crop, ss0, ss1, c, c.events.temporal_bins)
        return sample

    def _absent_crop(
        self, seq: TrackingSequence, s_idx: int, search_box: np.ndarray, factor: float, rng: np.random.Generator
    ) -> tuple[TrackingSequence, int, CropWindow] | None:
        """A search crop of the same size in the same frame that does not overlap the target's box."""
        c = self.cfg
        x, y, w, h = (float(v) for v in seq.gt_boxes[s_idx])
        side = CropWindow.around(search_box, factor, c.search_size).side
        for _ in range(10):
            angle = rng.uniform(0, 2 * np.pi)
            reach = 0.5 * side + 0.5 * max(w, h) + float(rng.uniform(1.0, 0.5 * side))
            cx = x + 0.5 * w + reach * np.cos(angle)
            cy = y + 0.5 * h + reach * np.sin(angle)
            cx, cy = np.clip(cx, 0, seq.width), np.clip(cy, 0, seq.height)
            crop = CropWindow(float(round(cx - 0.5 * side)), float(round(cy - 0.5 * side)), side, c.search_size)
            gx0, gy0 = crop.x0, crop.y0
            if x >= gx0 + side or x + w <= gx0 or y >= gy0 + side or y + h <= gy0:  # no overlap with the target
                return seq, s_idx, crop
        return None

    def _distractor_crop(
        self, seq: TrackingSequence, search_box: np.ndarray, factor: float, rng: np.random.Generator
    ) -> tuple[TrackingSequence, int, CropWindow] | None:
        """A search crop on the target of another sequence (another object), at the same crop side."""
        others = [i for i, (s, _) in enumerate(self.sequences) if s is not seq]
        other, visible = self.sequences[int(rng.choice(others))]
        frame = int(rng.choice(visible))
        side = CropWindow.around(search_box, factor, self.cfg.search_size).side
        x, y, w, h = (float(v) for v in other.gt_boxes[frame])
        x0, y0 = float(round(x + 0.5 * w - 0.5 * side)), float(round(y + 0.5 * h - 0.5 * side))
        crop = CropWindow(x0, y0, side, self.cfg.search_size)
        return other, frame, crop


def collate(samples: Sequence[dict[str, np.ndarray]]) -> dict:
    """Stack a list of samples into ``{key: torch.Tensor (B, ...)}``."""
    import torch

    return {k: torch.from_numpy(np.stack([s[k] for s in samples])) for k in samples[0]}
