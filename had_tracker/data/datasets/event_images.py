"""Pseudo-events from event images, for datasets that ship only those.

Such datasets: VisEvent ``event_imgs/``, COESOT ``<seq>_dvs/``, FE108 processed ``dvs/``, FE240hz ``stack240/``.

The conversion, per image covering the interval ``[t0, t1)``:

1. a signed deviation per pixel from the image's *neutral* level (the background, where nothing fired):
   grey images (channels equal): ``d = grey - neutral`` with ``neutral`` the most frequent grey value
   (e.g. 127/128 on a grey background, 0 on black, 255 on white) unless given; colour-coded images
   (red/blue renderings): ``d = (R - B) - (R - B)_neutral``, red = ON by default (``red_is_on``);
2. polarity = sign of ``d`` (ON where brighter/redder than neutral);
3. ``|d| < threshold`` is no event (compression noise); otherwise ``ceil(max_per_pixel * |d| / max|d|)``
   events, so the strongest pixel of the image gets ``max_per_pixel``;
4. times spread evenly over ``[t0, t1)`` (event k of n at ``t0 + (k + u) / n * (t1 - t0)``, ``u`` a seeded
   uniform draw per pixel), then sorted.

An event *count* image loses the order of events inside its interval: the pseudo-events reproduce the
image's event counts and polarities, not the original timing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from had_tracker.events.container import Events


def signed_deviation(image: np.ndarray, neutral: float | None = None, red_is_on: bool = True) -> np.ndarray:
    """``(H, W)`` float32 deviation from the neutral level (positive = ON), see the module docstring."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    img = img.astype(np.int16)
    colour = img.shape[-1] >= 3 and (np.abs(img[..., 0] - img[..., 2]).mean() > 1.0)
    if colour:
        value = img[..., 0] - img[..., 2] if red_is_on else img[..., 2] - img[..., 0]
    else:
        value = img.mean(axis=-1)
    value = value.astype(np.float32)
    if neutral is None:
        levels, counts = np.unique(np.rint(value).astype(np.int32), return_counts=True)
        neutral = float(levels[np.argmax(counts)])
    return value - np.float32(neutral)


def pseudo_events(
    image: np.ndarray,
    t0_ns: int,
    t1_ns: int,
    neutral: float | None = None,
    threshold: float = 8.0,
    max_per_pixel: int = 4,
    red_is_on: bool = True,
    seed: int = 0,
) -> Events:
    """The pseudo-events of one event image covering ``[t0_ns, t1_ns)`` (see the module docstring)."""
    d = signed_deviation(image, neutral, red_is_on)
    height, width = d.shape
    mag = np.abs(d)
    ys, xs = np.nonzero(mag >= threshold)
    if len(xs) == 0:
        return Events.empty(width, height)
    strength = mag[ys, xs]
    n = np.ceil(max_per_pixel * strength / strength.max()).astype(np.int64).clip(1, max_per_pixel)
    pol = (d[ys, xs] > 0).astype(np.uint8)
    rng = np.random.default_rng([seed, int(t0_ns) & 0x7FFFFFFF])
    u = rng.random(len(xs))
    rep = np.repeat(np.arange(len(xs)), n)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(n) - n, n)  # index of the event within its pixel
    frac = (k + np.repeat(u, n)) / np.repeat(n, n)
    span = max(int(t1_ns) - int(t0_ns), 1)
    t = int(t0_ns) + np.minimum((frac * span).astype(np.int64), span - 1)
    order = np.argsort(t, kind="stable")
    return Events.from_arrays(
        t[order], xs[rep][order].astype(np.uint16), ys[rep][order].astype(np.uint16), pol[rep][order], width, height
    )


def pseudo_event_stream(
    images: Sequence[np.ndarray], end_ns: np.ndarray, first_start_ns: int | None = None, **kwargs
) -> Events:
    """Pseudo-events of consecutive event images; image ``i`` covers ``[end_ns[i-1], end_ns[i])``.

    The first image covers one interval before ``end_ns[0]`` unless ``first_start_ns`` is given.
    ``kwargs`` go to :func:`pseudo_events`.
    """
    end_ns = np.asarray(end_ns, np.int64)
    if len(images) != len(end_ns):
        raise ValueError(f"{len(images)} images but {len(end_ns)} interval ends")
    if len(end_ns) == 0:
        raise ValueError("no event images")
    period = int(end_ns[1] - end_ns[0]) if len(end_ns) > 1 else 50_000_000
    starts = np.concatenate([[first_start_ns if first_start_ns is not None else end_ns[0] - period], end_ns[:-1]])
    parts = [pseudo_events(images[i], int(starts[i]), int(end_ns[i]), **kwargs) for i in range(len(end_ns))]
    return Events.concatenate(parts)


def with_pseudo_events(sequence, **kwargs):  # noqa: ANN001, ANN201 - TrackingSequence in, TrackingSequence out
    """``sequence`` itself when it has raw events; else a copy whose events come from its event images.

    Image ``i`` covers the interval since the previous frame (``frame_t_ns``); ``meta["events"]`` says
    ``"pseudo"``. A sequence with neither raw events nor event images comes back unchanged.
    """
    import dataclasses

    if sequence.events is not None or sequence.event_frames is None:
        return sequence
    events = pseudo_event_stream(sequence.event_frames, sequence.frame_t_ns, **kwargs)
    events = Events.from_arrays(events.t, events.x, events.y, events.p, sequence.width, sequence.height)
    meta = {**sequence.meta, "events": "pseudo (from event images, had_tracker.data.datasets.event_images)"}
    return dataclasses.replace(sequence, events=events, meta=meta)
