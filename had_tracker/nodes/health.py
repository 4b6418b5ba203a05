"""What keeps the nodes alive and honest, without rclpy: guarded callbacks, drop-rate levels, lost packets, logs.

- :class:`CallbackGuard` runs a callback body so that no exception leaves it: each error is counted per kind
  (``errors_<kind>`` and ``errors_<kind>_<ExceptionType>`` in diagnostics) and logged at most once per
  ``period_s`` per kind, so one odd message costs one dropped message, never the node.
- :class:`DropRates` turns cumulative counters into the drop ratio of the last diagnostics interval and a
  level (ok / warn / error against two thresholds).
- :func:`lost_packets` merges the two ways a lost event packet shows: the rmw "message lost" event (transport)
  and gaps in ``EventPacket.seq`` (also the subscription queue overwrites that the rmw event never counts).
- :class:`CoreLogBridge` forwards the core's Python ``logging`` records (``had_tracker.*``) to a node's logger.
- :func:`topic_name_problem` explains why a topic name is invalid (the rules of ``rcl_validate_topic_name``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

Result = TypeVar("Result")
LEVELS = ("ok", "warn", "error")
MAX_ERROR_TYPES = 64  # distinct (kind, exception type) counters kept; later ones count under their kind only


class CallbackGuard:
    """Runs callback bodies; every exception is counted per kind and logged (throttled per kind), never raised."""

    def __init__(
        self, log: Callable[[str], None], period_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log = log
        self.period_s = float(period_s)
        self._clock = clock
        self.counts: dict[str, int] = {}
        self.by_type: dict[tuple[str, str], int] = {}
        self.last_error = ""
        self._last_logged: dict[str, float] = {}

    def run(self, kind: str, body: Callable[[], Result], default: Any = None) -> Result | Any:
        """``body()``, or ``default`` when it raised (counted under ``kind``, logged at most once per period)."""
        try:
            return body()
        except Exception as exc:  # noqa: BLE001 - the point: a message must never kill the node
            self.record(kind, exc)
            return default

    def wrap(self, kind: str, callback: Callable[..., Any]) -> Callable[..., Any]:
        """``callback`` guarded under ``kind`` (for subscriptions and timers: the return value is dropped)."""

        def guarded(*args: Any) -> None:
            self.run(kind, lambda: callback(*args))

        return guarded

    def service(self, kind: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        """A service callback that always returns the response (``success`` False and the error as ``message``)."""

        def guarded(request: Any, response: Any) -> Any:
            try:
                return handler(request, response)
            except Exception as exc:  # noqa: BLE001 - the client must get an answer, the node must live
                self.record(kind, exc)
                if hasattr(response, "success"):
                    response.success = False
                if hasattr(response, "message"):
                    response.message = f"error: {type(exc).__name__}: {exc}"
                return response

        return guarded

    def record(self, kind: str, exc: BaseException) -> bool:
        """Count ``exc`` under ``kind``; True when it was logged (the first one, then once per period)."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        key = (kind, type(exc).__name__)
        if key in self.by_type or len(self.by_type) < MAX_ERROR_TYPES:
            self.by_type[key] = self.by_type.get(key, 0) + 1
        self.last_error = f"{kind}: {type(exc).__name__}: {exc}"
        now = self._clock()
        if now - self._last_logged.get(kind, -float("inf")) < self.period_s:
            return False
        self._last_logged[kind] = now
        self._log(f"{self.last_error} ({self.counts[kind]} {kind} error(s) so far; the message was dropped)")
        return True

    @property
    def total(self) -> int:
        """Errors of every kind."""
        return sum(self.counts.values())

    def values(self) -> dict[str, str]:
        """Diagnostic values: ``errors_total``, ``errors_<kind>``, ``errors_<kind>_<ExceptionType>``."""
        values = {"errors_total": str(self.total)}
        values.update({f"errors_{kind}": str(count) for kind, count in sorted(self.counts.items())})
        values.update({f"errors_{kind}_{name}": str(count) for (kind, name), count in sorted(self.by_type.items())})
        return values


def ratio_level(ratio: float, warn_ratio: float, error_ratio: float) -> str:
    """``ok``, ``warn`` (ratio > warn_ratio) or ``error`` (ratio > error_ratio); a threshold of 0 is never hit."""
    if error_ratio > 0 and ratio > error_ratio:
        return "error"
    if warn_ratio > 0 and ratio > warn_ratio:
        return "warn"
    return "ok"


def worse(level: str, other: str) -> str:
    """The more severe of two levels."""
    return max(level, other, key=LEVELS.index)


class DropRates:
    """Drop ratios over the interval since the previous :meth:`update` of each counter pair."""

    def __init__(self, warn_ratio: float, error_ratio: float) -> None:
        self.warn_ratio = float(warn_ratio)
        self.error_ratio = float(error_ratio)
        self._previous: dict[str, tuple[int, int]] = {}
        self.ratios: dict[str, float] = {}

    def update(self, name: str, dropped_total: int, offered_total: int) -> float:
        """Record the cumulative ``dropped`` of ``offered`` items; the dropped fraction since the last call.

        ``offered`` counts what arrived including what was then dropped; a counter that went back (a restart)
        starts a new interval. The ratio is clamped to [0, 1].
        """
        dropped_total, offered_total = int(dropped_total), int(offered_total)
        last_dropped, last_offered = self._previous.get(name, (0, 0))
        if dropped_total < last_dropped or offered_total < last_offered:
            last_dropped, last_offered = 0, 0
        self._previous[name] = (dropped_total, offered_total)
        dropped, offered = dropped_total - last_dropped, offered_total - last_offered
        ratio = 0.0 if dropped <= 0 else min(1.0, dropped / max(offered, dropped))
        self.ratios[name] = ratio
        return ratio

    def level(self) -> tuple[str, str]:
        """The level of the worst ratio of the last updates and a message naming it ("" when ok)."""
        if not self.ratios:
            return "ok", ""
        name, ratio = max(self.ratios.items(), key=lambda item: item[1])
        level = ratio_level(ratio, self.warn_ratio, self.error_ratio)
        if level == "ok":
            return "ok", ""
        limit = self.error_ratio if level == "error" else self.warn_ratio
        return level, f"{ratio:.1%} of {name} dropped in the last interval (> {limit:.1%})"

    def values(self) -> dict[str, str]:
        """``drop_ratio_<name>`` of the last interval, 3 decimals."""
        return {f"drop_ratio_{name}": f"{ratio:.3f}" for name, ratio in self.ratios.items()}


def lost_packets(rmw_lost: int | None, seq_missing: int) -> int:
    """Event packets lost before decoding: the larger of the rmw count and the ``seq`` gaps.

    A packet the transport lost also leaves a seq gap, so the two are not added; a queue overwrite (a callback
    slower than the stream, e.g. ``single_process``) shows only as a gap; ``rmw_lost`` None = not reported.
    """
    return max(int(rmw_lost or 0), int(seq_missing))


class CoreLogBridge(logging.Handler):
    """A ``logging.Handler`` forwarding records to ``sink(levelno, text)`` (a node's logger, one call per level).

    :meth:`install` attaches one bridge to the ``had_tracker`` logger (the core's loggers are its children) and
    stops propagation, so core warnings such as "evt3 stream: seq jumped" reach the ROS log instead of stderr.
    """

    _installed: CoreLogBridge | None = None

    def __init__(self, sink: Callable[[int, str], None], level: int = logging.INFO) -> None:
        super().__init__(level)
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102
        try:
            self._sink(record.levelno, f"[{record.name}] {record.getMessage()}")
        except Exception:  # noqa: BLE001 - logging must never raise into the core
            self.handleError(record)

    @classmethod
    def install(cls, sink: Callable[[int, str], None], logger_name: str = "had_tracker") -> CoreLogBridge:
        """Attach a bridge to ``sink`` unless one is installed already (one process, several nodes: the first)."""
        if cls._installed is not None:
            return cls._installed
        bridge = cls(sink)
        logger = logging.getLogger(logger_name)
        logger.addHandler(bridge)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.propagate = False
        cls._installed = bridge
        return bridge

    @classmethod
    def uninstall(cls, logger_name: str = "had_tracker") -> None:
        """Remove the installed bridge and restore propagation."""
        if cls._installed is None:
            return
        logger = logging.getLogger(logger_name)
        logger.removeHandler(cls._installed)
        logger.propagate = True
        cls._installed = None


_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\}")


def topic_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid ROS 2 topic name (rcl_validate_topic_name's rules), or None when it is."""
    if not isinstance(name, str) or not name:
        return "a topic name must not be empty"
    if name.endswith("/") and name != "/":
        return "a topic name must not end with '/'"
    if name == "/":
        return "'/' alone is not a topic name"
    if "//" in name:
        return "a topic name must not contain '//'"
    if "~" in name[1:] or (name.startswith("~") and len(name) > 1 and name[1] != "/"):
        return "'~' may only appear as the first character, followed by '/'"
    body = name[2:] if name.startswith("~/") else name.lstrip("/") if name.startswith("/") else name
    if name == "~":
        return None
    for token in body.split("/"):
        if not _TOKEN.fullmatch(token):
            if token[:1].isdigit():
                return f"the token {token!r} starts with a digit"
            return f"the token {token!r} holds characters other than letters, digits, '_' and '{{name}}'"
    return None
