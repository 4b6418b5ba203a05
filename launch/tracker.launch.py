"""Online tracking: synchronizer_node + tracker_node (two processes, or one with single_process:=true), rviz.

    ros2 launch had_tracker tracker.launch.py camera:=metavision               # a camera recipe
    ros2 launch had_tracker tracker.launch.py use_rgb:=false                   # event-only
    ros2 service call /tracker_node/start_tracking had_msgs/srv/StartTracking "{box: {x: 100.0, y: 80.0, width: 40.0, height: 40.0}, target_id: 1}"

Parameters are layered, later files winning: the installed config/tracker.yaml, the camera recipe
(config/cameras/<camera>.yaml), ``params_file``, then the launch arguments that were given. Topic, message-type,
model and device arguments default to "" = "keep what the files say", so a params file can set topics; use_rgb
false empties image_topic and camera_info_topic. If a required node exits (e.g. an invalid topic name, a
missing checkpoint), the whole launch shuts down.
"""

import contextlib
import os
import tempfile

import yaml
from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, EmitEvent, LogInfo, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessExit, OnShutdown
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = "had_tracker"
TRUE_VALUES = ("true", "1", "yes", "on")
FALSE_VALUES = ("false", "0", "no", "off")
CAMERAS = ("default", "metavision", "libcaer", "dv_ros2", "dvs")
EVENT_MSG_TYPES = (
    "event_camera_msgs/msg/EventPacket",
    "event_array_msgs/msg/EventArray",
    "dvs_msgs/msg/EventArray",
    "dv_ros2_msgs/msg/EventArray",
    "prophesee_event_msgs/msg/EventArray",
)

ARGUMENTS = (
    ("namespace", "", "namespace of the nodes (outputs become /<namespace>/tracker_node/...)"),
    (
        "camera",
        "default",
        "camera recipe: default (config/tracker.yaml: /event_camera/events + /camera/image_raw), metavision, "
        "libcaer, dv_ros2, dvs (config/cameras/<camera>.yaml: topics, message type, clock, frames)",
    ),
    ("use_rgb", "true", "false = event-only: no image or camera_info subscription, whatever the files say"),
    ("event_topic", "", "event topic; empty = from the params files (default /event_camera/events)"),
    ("event_msg_type", "", "message type on event_topic (e.g. dvs_msgs/msg/EventArray); empty = from the files"),
    ("image_topic", "", "RGB frames (sensor_msgs/Image); empty = from the params files (event-only: use_rgb:=false)"),
    ("camera_info_topic", "", "CameraInfo of the RGB camera; empty = from the params files"),
    ("params_file", "", "your node parameters (YAML, /**: ros__parameters:), applied over tracker.yaml and the recipe"),
    ("model", "", "student checkpoint (.pt); empty = the params file value (default: the shipped student)"),
    ("device", "", "torch device (cpu, cuda, cuda:0); empty = the params file value (default: cpu)"),
    ("use_rviz", "false", "start rviz2 with config/tracker.rviz (debug image, markers, click to start a target)"),
    ("single_process", "false", "run both nodes in one process (tracker_pipeline, one MultiThreadedExecutor)"),
    ("use_sim_time", "false", "use /clock (bag replay)"),
    ("log_level", "info", "ROS log level of the nodes"),
)


def _is_true(value: str) -> bool:
    return value.strip().lower() in TRUE_VALUES


def _flag(name: str, value: str) -> bool:
    """A boolean launch argument; anything but a clear true/false ends the launch with one line."""
    text = value.strip().lower()
    if text not in TRUE_VALUES + FALSE_VALUES:
        raise RuntimeError(f"launch argument {name}:={value!r} must be true or false")
    return text in TRUE_VALUES


def _overrides_file(values: dict, created: list) -> str:
    """Parameter overrides as a params file (applied after params_file).

    Not a launch_ros parameter dict: it YAML-parses string values, so "" (event-only image_topic) would be
    rejected and a name like "123" would become an integer; yaml.safe_dump quotes them as strings. The path is
    appended to ``created``, whose files :func:`_remove_on_shutdown` deletes.
    """
    handle, path = tempfile.mkstemp(prefix="had_tracker_overrides_", suffix=".yaml")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        yaml.safe_dump({"/**": {"ros__parameters": values}}, stream)
    created.append(path)
    return path


def _remove_on_shutdown(paths: list) -> RegisterEventHandler:
    """Delete the override files when the launch shuts down (each node read its files when it started)."""

    def remove(event, context):
        for path in paths:
            with contextlib.suppress(OSError):
                os.unlink(path)

    return RegisterEventHandler(OnShutdown(on_shutdown=remove))


def _default_params_file() -> str:
    return os.path.join(get_package_share_directory(PACKAGE), "config", "tracker.yaml")


def _camera_params_file(camera: str) -> str | None:
    """The recipe of ``camera`` (None for default); an unknown name ends the launch with the list of recipes."""
    if camera not in CAMERAS:
        raise RuntimeError(f"camera:={camera!r} is not a recipe; choose one of: {', '.join(CAMERAS)}")
    if camera == "default":
        return None
    return os.path.join(get_package_share_directory(PACKAGE), "config", "cameras", f"{camera}.yaml")


def synchronizer_overrides(arg: dict) -> dict:
    """The synchronizer parameters the launch arguments set: only those given (non-empty), and use_rgb."""
    values = {
        key: arg[key] for key in ("event_topic", "event_msg_type", "image_topic", "camera_info_topic") if arg[key]
    }
    if values.get("event_msg_type") and values["event_msg_type"] not in EVENT_MSG_TYPES:
        raise RuntimeError(f"event_msg_type:={values['event_msg_type']!r}; choose one of: {', '.join(EVENT_MSG_TYPES)}")
    if not _flag("use_rgb", arg["use_rgb"]):
        values["image_topic"] = values["camera_info_topic"] = ""
    return values


def _shutdown_when_exits(node: Node, what: str) -> RegisterEventHandler:
    """A required node that exits (start-up error, crash) ends the launch instead of leaving the rest running."""

    def on_exit(event, context):
        code = event.returncode
        why = "stopped" if code == 0 else f"failed (exit code {code}; its error is above)"
        return [
            LogInfo(msg=f"{what} {why}: stopping the launch"),
            EmitEvent(event=Shutdown(reason=f"{what} exited with {code}")),
        ]

    return RegisterEventHandler(OnProcessExit(target_action=node, on_exit=on_exit))


def _launch_setup(context, *args, **kwargs):
    arg = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    share = get_package_share_directory(PACKAGE)
    params_files = [_default_params_file()]
    camera_file = _camera_params_file(arg["camera"].strip())
    if camera_file:
        params_files.append(camera_file)
    if arg["params_file"]:
        params_files.append(os.path.abspath(os.path.expanduser(arg["params_file"])))
    namespace = arg["namespace"].strip("/")
    common = {"use_sim_time": _flag("use_sim_time", arg["use_sim_time"])}
    created: list = []  # override files, deleted at shutdown
    sync_overrides = synchronizer_overrides(arg)
    tracker_overrides = {key: arg[key] for key in ("model", "device") if arg[key]}
    node_options = {
        "package": PACKAGE,
        "output": "screen",
        "emulate_tty": True,
        "arguments": ["--ros-args", "--log-level", arg["log_level"]],
    }
    if namespace:
        node_options["namespace"] = namespace
    if _flag("single_process", arg["single_process"]):
        # No `name=`: a name remap would rename both nodes of the process to the same name.
        pipeline = Node(
            executable="tracker_pipeline",
            parameters=[*params_files, _overrides_file({**common, **sync_overrides, **tracker_overrides}, created)],
            **node_options,
        )
        actions = [pipeline, _shutdown_when_exits(pipeline, "tracker_pipeline")]
    else:
        synchronizer = Node(
            executable="synchronizer_node",
            name="synchronizer_node",
            parameters=[*params_files, _overrides_file({**common, **sync_overrides}, created)],
            **node_options,
        )
        tracker = Node(
            executable="tracker_node",
            name="tracker_node",
            parameters=[*params_files, _overrides_file({**common, **tracker_overrides}, created)],
            **node_options,
        )
        actions = [
            synchronizer,
            tracker,
            _shutdown_when_exits(synchronizer, "synchronizer_node"),
            _shutdown_when_exits(tracker, "tracker_node"),
        ]
    if _flag("use_rviz", arg["use_rviz"]):
        prefix = f"/{namespace}" if namespace else ""
        actions.append(
            Node(
                package="rviz2",
                executable="rviz2",
                name="had_tracker_rviz",
                arguments=["-d", os.path.join(share, "config", "tracker.rviz")],
                # The rviz config names the un-namespaced topics; follow the namespace by remapping.
                remappings=[
                    (topic, f"{prefix}{topic}")
                    for topic in (
                        "/tracker_node/debug_image",
                        "/tracker_node/markers",
                        "/tracker_node/init_point",
                        "/tracker_node/init_pose",
                    )
                ],
                parameters=[common],
                output="screen",
            )
        )
    return [*actions, _remove_on_shutdown(created)]


def generate_launch_description():
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=text) for name, default, text in ARGUMENTS
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=_launch_setup)])
