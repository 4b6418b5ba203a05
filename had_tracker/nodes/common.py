"""rclpy plumbing shared by the had_tracker nodes: schema parameters, QoS profiles, diagnostics, spinning.

Works on Humble and Jazzy: only APIs present in both are used (``declare_parameter`` with a descriptor,
``QoSProfile`` with policy enums, ``add_on_set_parameters_callback``, ``rclpy.try_shutdown``; the subscription
event callbacks come from ``rclpy.event_handler``, or ``rclpy.qos_event`` on Humble).
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import InvalidTopicNameException, ParameterException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.validate_topic_name import validate_topic_name

try:  # Iron and later
    from rclpy.event_handler import SubscriptionEventCallbacks, UnsupportedEventTypeError
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks, UnsupportedEventTypeError

from had_tracker import parameters as schema
from had_tracker.errors import ConfigError
from had_tracker.nodes.health import CoreLogBridge, topic_name_problem
from had_tracker.ros_io.diagnostics import DiagnosticReport

_ROS_TYPES = {
    "bool": ParameterType.PARAMETER_BOOL,
    "int": ParameterType.PARAMETER_INTEGER,
    "double": ParameterType.PARAMETER_DOUBLE,
    "string": ParameterType.PARAMETER_STRING,
    "double_array": ParameterType.PARAMETER_DOUBLE_ARRAY,
}
_RELIABILITY = {
    "best_effort": ReliabilityPolicy.BEST_EFFORT,
    "reliable": ReliabilityPolicy.RELIABLE,
    "system_default": ReliabilityPolicy.SYSTEM_DEFAULT,
}
OUTPUT_DEPTH = 10


# --- parameters ------------------------------------------------------------------------------------------------------
def descriptor(spec: schema.ParamSpec) -> ParameterDescriptor:
    """The ROS parameter descriptor of a schema entry (type, description, constraints, range, read-only)."""
    desc = ParameterDescriptor()
    desc.name = spec.name
    desc.type = _ROS_TYPES[spec.type]
    desc.description = spec.description
    desc.additional_constraints = spec.constraints
    desc.read_only = spec.read_only
    if spec.value_range is not None and spec.type == "int":
        low, high = spec.value_range
        desc.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
    elif spec.value_range is not None and spec.type == "double":
        low, high = spec.value_range
        desc.floating_point_range = [FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)]
    return desc


def declare_schema_parameters(node: Node, node_kind: str) -> dict[str, Any]:
    """Declare every schema parameter of ``node_kind`` on ``node``; the validated values, or ConfigError.

    rclpy itself rejects a wrong type or an out-of-range number from a params file while declaring; we turn
    that into a ConfigError naming the parameter, then validate what rclpy cannot (choices, lengths, patterns).
    """
    values: dict[str, Any] = {}
    for spec in schema.specs_for(node_kind):
        try:
            values[spec.name] = node.declare_parameter(spec.name, spec.default, descriptor(spec)).value
        except ParameterException as exc:
            raise ConfigError(
                f"{node_kind}: parameter {spec.name!r} ({spec.constraints or spec.type}): {exc}"
            ) from None
    return schema.validate(node_kind, values)


def parameter_change_guard(node_kind: str, apply: Callable[[str, Any], str | None]) -> Callable[[list], Any]:
    """An on-set-parameters callback: validate run-time changes against the schema, then ``apply(name, value)``.

    ``apply`` returns None when it took the value, or the reason to refuse it (the change is then rejected).
    Read-only parameters are refused here too (whatever order rclpy checks descriptors and callbacks in).
    """

    def on_set(params: list) -> SetParametersResult:
        checked = []
        for param in params:
            try:
                spec = schema.spec(node_kind, param.name)
            except KeyError:
                continue  # use_sim_time and other rclpy-owned parameters
            if spec.read_only:
                return SetParametersResult(successful=False, reason=f"parameter {param.name!r} is read-only")
            try:
                checked.append((param.name, spec.validate(param.value)))
            except ConfigError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        for name, value in checked:
            if (reason := apply(name, value)) is not None:
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    return on_set


def check_topic_names(node: Node, params: dict[str, Any], names: Sequence[str]) -> None:
    """Raise a ConfigError naming the parameter when a topic parameter of ``names`` is not a valid topic name.

    An empty value means "off" and passes. Checked before any subscription is made, so a typo (or the literal
    ``''`` a shell passes for ``image_topic:="''"``) is one clear start-up error and the process exits 1.
    """
    for name in names:
        value = params.get(name, "")
        if not value:
            continue
        problem = topic_name_problem(value)
        if problem is None:
            try:
                validate_topic_name(value)
            except InvalidTopicNameException as exc:
                problem = str(exc)
        if problem is not None:
            raise ConfigError(f"{node.get_name()}: parameter {name!r} = {value!r} is not a valid topic name: {problem}")


def bridge_core_logging(node: Node) -> None:
    """Forward the core's Python ``logging`` (``had_tracker.*``) to ``node``'s logger, once per process.

    One call site per severity: rclpy refuses a call site whose severity changes between calls.
    """
    logger = node.get_logger()

    def sink(level: int, text: str) -> None:
        if level >= logging.ERROR:
            logger.error(text)
        elif level >= logging.WARNING:
            logger.warning(text)
        elif level >= logging.INFO:
            logger.info(text)
        else:
            logger.debug(text)

    CoreLogBridge.install(sink)


# --- QoS ---------------------------------------------------------------------------------------------------------------
def event_qos(depth: int) -> QoSProfile:
    """Best-effort, volatile, keep-last ``depth``: what the event drivers publish (a reliable sub never connects)."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=int(depth),
        reliability=ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.VOLATILE,
    )


def sensor_qos(reliability: str, depth: int) -> QoSProfile:
    """The sensor-data profile (keep-last, volatile) with a configurable reliability for images and camera info."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=int(depth),
        reliability=_RELIABILITY[reliability],
        durability=DurabilityPolicy.VOLATILE,
    )


def output_qos(depth: int = OUTPUT_DEPTH) -> QoSProfile:
    """Reliable, volatile, keep-last 10: every output of the package."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=int(depth),
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )


class LostMessages:
    """Subscriptions that count the messages the middleware lost before they reached the node.

    :meth:`subscribe` registers the rmw "message lost" event (a best-effort reader that missed samples, a full
    history), as ``ros2 topic echo`` does; where the rmw implementation does not support that event, the
    subscription is made without it, a warning says so once, and the counts read "unknown".
    """

    def __init__(self, node: Node) -> None:
        self._node = node
        self.counts: dict[str, int] = {}
        self.supported = True
        self._warn = Throttle(5.0)

    def subscribe(
        self, name: str, msg_type: Any, topic: str, callback: Callable[[Any], None], qos: QoSProfile, raw: bool = False
    ) -> Any:
        """``node.create_subscription`` whose lost messages are counted under ``name``."""
        self.counts.setdefault(name, 0)
        events = SubscriptionEventCallbacks(message_lost=lambda info: self._on_lost(name, topic, info))
        try:
            return self._node.create_subscription(msg_type, topic, callback, qos, event_callbacks=events, raw=raw)
        except UnsupportedEventTypeError:
            if self.supported:
                self._node.get_logger().warning(
                    "this rmw implementation does not report lost messages: transport losses are not counted"
                )
            self.supported = False
            return self._node.create_subscription(msg_type, topic, callback, qos, raw=raw)

    def _on_lost(self, name: str, topic: str, info: Any) -> None:
        self.counts[name] += int(info.total_count_change)
        if self._warn.ready():
            self._node.get_logger().warning(
                f"{topic}: the middleware lost {int(info.total_count_change)} message(s) "
                f"({self.counts[name]} {name} lost so far; raise the QoS depth or lower the publish rate)"
            )

    def values(self) -> dict[str, str]:
        """Diagnostic values ``lost_<name>``: the count, or "unknown" where the rmw does not report losses."""
        return {f"lost_{name}": str(count) if self.supported else "unknown" for name, count in self.counts.items()}


# --- messages ---------------------------------------------------------------------------------------------------------
def import_message(type_name: str) -> type:
    """The rclpy class of ``pkg/msg/Name``; ConfigError saying which package to install when it is missing."""
    package, kind, name = type_name.split("/")
    try:
        module = importlib.import_module(f"{package}.{kind}")
        return getattr(module, name)
    except (ImportError, AttributeError):
        raise ConfigError(
            f"message type {type_name} is not available: install ros-$ROS_DISTRO-{package.replace('_', '-')} "
            f"(or build {package} in your workspace) and source it"
        ) from None


def stamp_to_ns(stamp: Any) -> int:
    """Nanoseconds of a builtin_interfaces/Time."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def fill_time(stamp: Any, ns: int) -> Any:
    """Write ``ns`` into a builtin_interfaces/Time in place (floor division for negative times) and return it."""
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    stamp.sec, stamp.nanosec = int(sec), int(nanosec)
    return stamp


class DiagnosticsPublisher:
    """Publishes one DiagnosticStatus per node on /diagnostics (reliable, depth 10) from a DiagnosticReport."""

    _LEVELS = {"ok": DiagnosticStatus.OK, "warn": DiagnosticStatus.WARN, "error": DiagnosticStatus.ERROR}

    def __init__(self, node: Node, hardware_id: str = "had_tracker") -> None:
        self._node = node
        self._hardware_id = hardware_id
        self._publisher = node.create_publisher(DiagnosticArray, "/diagnostics", output_qos())

    def publish(self, report: DiagnosticReport) -> None:
        """Send ``report`` (level, message, key/values) stamped with the node clock."""
        status = DiagnosticStatus()
        status.level = self._LEVELS[report.level]  # a bytes constant in rclpy (``byte`` field)
        namespace = self._node.get_namespace().rstrip("/")
        status.name = f"{namespace}/{self._node.get_name()}: {report.name}"
        status.message = report.message
        status.hardware_id = self._hardware_id
        status.values = [KeyValue(key=key, value=value) for key, value in report.values.items()]
        array_msg = DiagnosticArray()
        array_msg.header.stamp = self._node.get_clock().now().to_msg()
        array_msg.status = [status]
        self._publisher.publish(array_msg)


# --- running ------------------------------------------------------------------------------------------------------------
def run_nodes(factories: Sequence[Callable[[], Node]], args: list[str] | None = None, threads: int = 0) -> int:
    """Init rclpy, build the nodes, spin until shutdown, clean up; 0 on a normal stop, 1 on a start-up error.

    One node spins in a SingleThreadedExecutor; several share a MultiThreadedExecutor (each node's callbacks stay
    mutually exclusive, so the core objects need no locks, while different nodes run in parallel). Before the
    nodes are destroyed, each node's ``close()`` (if any) runs, e.g. to write a report.
    """
    rclpy.init(args=args if args is not None else sys.argv)
    nodes: list[Node] = []
    executor = None
    try:
        try:
            for factory in factories:
                nodes.append(factory())
        except Exception as exc:  # noqa: BLE001 - any start-up failure ends the process with 1 and one clear line
            # Mostly errors a user can fix (bad parameter or topic name, missing checkpoint or message package);
            # the launch files end the whole launch when a required node exits this way.
            print(f"[had_tracker] error: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            return 1
        if len(nodes) == 1:
            executor = SingleThreadedExecutor()
        else:
            executor = MultiThreadedExecutor(num_threads=threads or max(2, len(nodes) + 1))
        for node in nodes:
            executor.add_node(node)
        try:
            # A node that sets ``finished = True`` (the replay evaluator, once its report is written) ends the run.
            while rclpy.ok() and not any(getattr(node, "finished", False) for node in nodes):
                executor.spin_once(timeout_sec=0.2)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        except RuntimeError:
            # a signal can shut the context down between rclpy.ok() and the wait set's creation ("failed to
            # initialize wait set: context is not valid", ros2/rclpy#1166): a normal stop, not an error
            if rclpy.ok():
                raise
        return 0
    finally:
        if executor is not None:
            try:
                executor.shutdown()  # no callback may still run (other threads) while the nodes are destroyed
            except Exception as exc:  # noqa: BLE001 - the nodes must still be destroyed and rclpy shut down
                print(f"[had_tracker] error while stopping the executor: {exc}", file=sys.stderr, flush=True)
        for node in nodes:
            close = getattr(node, "close", None)
            try:
                if callable(close):
                    close()
            except Exception as exc:  # noqa: BLE001 - one node's failed clean-up must not skip the others'
                print(f"[had_tracker] error while closing {node.get_name()}: {exc}", file=sys.stderr, flush=True)
            finally:
                node.destroy_node()
        CoreLogBridge.uninstall()
        rclpy.try_shutdown()


def wall_timer(node: Node, period_s: float, callback: Callable[[], None]) -> Any:
    """A timer on the steady (wall) clock: it keeps firing under ``use_sim_time`` when /clock stops (bag ended)."""
    return node.create_timer(float(period_s), callback, clock=Clock(clock_type=ClockType.STEADY_TIME))


class Throttle:
    """True at most once per ``period_s`` of wall time (log and debug-image throttling)."""

    def __init__(self, period_s: float) -> None:
        self.period_s = float(period_s)
        self._last = -float("inf")

    def ready(self) -> bool:
        """True when at least ``period_s`` passed since the last True."""
        now = time.monotonic()
        if now - self._last >= self.period_s:
            self._last = now
            return True
        return False
