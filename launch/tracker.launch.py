"""Online tracking: synchronizer_node + tracker_node (two processes, or one with single_process:=true), rviz.

    ros2 launch had_tracker tracker.launch.py event_topic:=/event_camera/events image_topic:=/camera/image_raw
    ros2 service call /tracker_node/start_tracking had_msgs/srv/StartTracking "{box: {x: 100, y: 80, width: 40, height: 40}, target_id: 1}"

Topic arguments override the params file; model and device override it only when given (non-empty).
"""

import contextlib
import os
import tempfile

import yaml
from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnShutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = "had_tracker"
TRUE_VALUES = ("true", "1", "yes", "on")

ARGUMENTS = (
    ("namespace", "", "namespace of the nodes (outputs become /<namespace>/tracker_node/...)"),
    (
        "event_topic",
        "/event_camera/events",
        "event packets (event_camera_msgs/EventPacket, or the type in event_msg_type)",
    ),
    ("image_topic", "/camera/image_raw", "RGB frames (sensor_msgs/Image); empty = event-only"),
    ("camera_info_topic", "/camera/camera_info", "CameraInfo of the RGB camera; empty = do not subscribe"),
    ("params_file", None, "node parameters (YAML, /**: ros__parameters:); default: the installed config/tracker.yaml"),
    ("model", "", "student checkpoint (.pt); empty = the params file value (default: the shipped student)"),
    ("device", "", "torch device (cpu, cuda, cuda:0); empty = the params file value (default: cpu)"),
    ("use_rviz", "false", "start rviz2 with config/tracker.rviz (debug image + markers)"),
    ("single_process", "false", "run both nodes in one process (tracker_pipeline, one MultiThreadedExecutor)"),
    ("use_sim_time", "false", "use /clock (bag replay)"),
    ("log_level", "info", "ROS log level of the nodes"),
)


def _is_true(value: str) -> bool:
    return value.strip().lower() in TRUE_VALUES


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


def _launch_setup(context, *args, **kwargs):
    arg = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    share = get_package_share_directory(PACKAGE)
    params_file = arg["params_file"] or _default_params_file()
    namespace = arg["namespace"].strip("/")
    common = {"use_sim_time": _is_true(arg["use_sim_time"])}
    created: list = []  # override files, deleted at shutdown
    sync_overrides = {
        "event_topic": arg["event_topic"],
        "image_topic": arg["image_topic"],
        "camera_info_topic": arg["camera_info_topic"],
    }
    tracker_overrides = {key: arg[key] for key in ("model", "device") if arg[key]}
    node_options = {
        "package": PACKAGE,
        "output": "screen",
        "emulate_tty": True,
        "arguments": ["--ros-args", "--log-level", arg["log_level"]],
    }
    if namespace:
        node_options["namespace"] = namespace
    if _is_true(arg["single_process"]):
        # No `name=`: a name remap would rename both nodes of the process to the same name.
        nodes = [
            Node(
                executable="tracker_pipeline",
                parameters=[params_file, _overrides_file({**common, **sync_overrides, **tracker_overrides}, created)],
                **node_options,
            )
        ]
    else:
        nodes = [
            Node(
                executable="synchronizer_node",
                name="synchronizer_node",
                parameters=[params_file, _overrides_file({**common, **sync_overrides}, created)],
                **node_options,
            ),
            Node(
                executable="tracker_node",
                name="tracker_node",
                parameters=[params_file, _overrides_file({**common, **tracker_overrides}, created)],
                **node_options,
            ),
        ]
    if _is_true(arg["use_rviz"]):
        prefix = f"/{namespace}" if namespace else ""
        nodes.append(
            Node(
                package="rviz2",
                executable="rviz2",
                name="had_tracker_rviz",
                arguments=["-d", os.path.join(share, "config", "tracker.rviz")],
                # The rviz config names the un-namespaced topics; follow the namespace by remapping.
                remappings=[
                    ("/tracker_node/debug_image", f"{prefix}/tracker_node/debug_image"),
                    ("/tracker_node/markers", f"{prefix}/tracker_node/markers"),
                ],
                parameters=[common],
                output="screen",
            )
        )
    return [*nodes, _remove_on_shutdown(created)]


def generate_launch_description():
    declared = [
        DeclareLaunchArgument(
            name, default_value=_default_params_file() if default is None else default, description=description
        )
        for name, default, description in ARGUMENTS
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=_launch_setup)])
