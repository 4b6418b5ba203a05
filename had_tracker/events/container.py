"""Columnar event container: ``t`` (int64 ns), ``x``/``y`` (uint16), ``p`` (uint8 0/1) + sensor size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

T_DTYPE = np.int64
XY_DTYPE = np.uint16
P_DTYPE = np.uint8


@dataclass(frozen=True)
class Events:
    """A time-ordered batch of change-detection events from one sensor.

    ``t`` is in nanoseconds (the clock is the caller's: sensor time after decoding, host/RGB time
    after synchronization). Arrays share one length; ``width``/``height`` give the sensor geometry.
    """

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    width: int
    height: int

    def __post_init__(self) -> None:
        n = len(self.t)
        if not (len(self.x) == len(self.y) == len(self.p) == n):
            raise ValueError(
                f"Events arrays differ in length: t={n}, x={len(self.x)}, y={len(self.y)}, p={len(self.p)}"
            )
        if self.width < 0 or self.height < 0:
            raise ValueError(f"Events geometry must be non-negative, got {self.width}x{self.height}")

    @classmethod
    def from_arrays(cls, t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray, width: int, height: int) -> Events:
        """Build from any array-likes, casting to the canonical dtypes (no copy when already right)."""
        return cls(
            np.asarray(t, dtype=T_DTYPE),
            np.asarray(x, dtype=XY_DTYPE),
            np.asarray(y, dtype=XY_DTYPE),
            np.asarray(p, dtype=P_DTYPE),
            int(width),
            int(height),
        )

    @classmethod
    def empty(cls, width: int = 0, height: int = 0) -> Events:
        """An empty batch with the given geometry."""
        return cls(
            np.empty(0, T_DTYPE), np.empty(0, XY_DTYPE), np.empty(0, XY_DTYPE), np.empty(0, P_DTYPE), width, height
        )

    def __len__(self) -> int:
        return len(self.t)

    @property
    def t_start_ns(self) -> int | None:
        """First time stamp, or None when empty."""
        return int(self.t[0]) if len(self.t) else None

    @property
    def t_end_ns(self) -> int | None:
        """Last time stamp, or None when empty."""
        return int(self.t[-1]) if len(self.t) else None

    def __getitem__(self, index: slice | np.ndarray) -> Events:
        """Select events by a slice, a boolean mask or an index array."""
        return Events(self.t[index], self.x[index], self.y[index], self.p[index], self.width, self.height)

    def slice_time(self, t_start_ns: int, t_end_ns: int) -> Events:
        """Events with ``t_start_ns <= t < t_end_ns`` (O(log n); requires time order); a view, no copy."""
        i0, i1 = np.searchsorted(self.t, [t_start_ns, t_end_ns], side="left")
        return self[int(i0) : int(i1)]

    def shift_time(self, offset_ns: int) -> Events:
        """The same events with ``offset_ns`` added to every time stamp."""
        return Events(self.t + np.int64(offset_ns), self.x, self.y, self.p, self.width, self.height)

    @staticmethod
    def concatenate(parts: list[Events]) -> Events:
        """Concatenate batches of one sensor (geometry of the first non-empty part wins)."""
        if not parts:
            return Events.empty()
        geometry = next(((e.width, e.height) for e in parts if len(e)), (parts[0].width, parts[0].height))
        if len(parts) == 1:
            return parts[0]
        return Events(
            np.concatenate([e.t for e in parts]),
            np.concatenate([e.x for e in parts]),
            np.concatenate([e.y for e in parts]),
            np.concatenate([e.p for e in parts]),
            *geometry,
        )

    def is_time_ordered(self) -> bool:
        """True when ``t`` never decreases."""
        return bool(len(self.t) < 2 or np.all(self.t[1:] >= self.t[:-1]))

    def to_dict(self) -> dict[str, np.ndarray]:
        """Arrays for ``np.savez`` (``t``, ``x``, ``y``, ``p``, ``width``, ``height``)."""
        return {
            "t": self.t,
            "x": self.x,
            "y": self.y,
            "p": self.p,
            "width": np.asarray(self.width),
            "height": np.asarray(self.height),
        }


@dataclass(frozen=True)
class Triggers:
    """External-trigger events: time (ns, same clock as the CD events), edge (0 falling / 1 rising), id."""

    t: np.ndarray
    edge: np.ndarray
    id: np.ndarray

    @classmethod
    def empty(cls) -> Triggers:
        return cls(np.empty(0, np.int64), np.empty(0, np.uint8), np.empty(0, np.uint8))

    def __len__(self) -> int:
        return len(self.t)

    def __getitem__(self, index: slice | np.ndarray) -> Triggers:
        """Select triggers by a slice, a boolean mask or an index array."""
        return Triggers(self.t[index], self.edge[index], self.id[index])

    @staticmethod
    def concatenate(parts: list[Triggers]) -> Triggers:
        if not parts:
            return Triggers.empty()
        return Triggers(
            np.concatenate([p.t for p in parts]),
            np.concatenate([p.edge for p in parts]),
            np.concatenate([p.id for p in parts]),
        )
