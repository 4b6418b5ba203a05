"""Replay evaluation through ROS: ros2 bag play --clock + synchronizer_node + tracker_node + replay_evaluator.

    ros2 launch had_tracker replay_eval.launch.py bag:=/path/to/bag output_dir:=/tmp/replay_eval

The tracker starts from the first present ground-truth box (as the offline ``had-tracker replay`` does); the
evaluator writes the same report (JSON + Markdown + predictions.csv) once no track arrived for its
``idle_timeout_s`` after the bag ended, then the launch shuts down. Latency is measured in wall time by the
tracker, not from header stamps (which stay in the bag's clock). The nodes use ``use_sim_time`` and the bag
player publishes /clock at ``clock_hz``.

Defaults sized for a 2-core machine (issue 18, measured in ROS 2 Jazzy on a synthetic bag; SR, 63.2 offline:
rate 1 + clock 1 kHz -> 5.7, rate 0.5 -> 31.7, clock 100 Hz -> 49.5, rate 0.5 + clock 100 Hz -> 63.2): every
sim-time Python node pays one callback per /clock message, so the clock ticks at 100 Hz of wall time, which at
half speed is one tick per 5 ms of bag time (the 200 Hz window rate), and the bag plays at half speed. Raise
``rate`` only where /diagnostics stays OK (no drops) at that pace. The report includes the synchronizer's and
the tracker's drops (their last /diagnostics) under "sync" and "replay".
"""

import contextlib
import os
import tempfile

import yaml
from ament_index_python.packages import get_package_share_directory
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
    TimerAction,
)
from launch.event_handlers import OnProcessExit, OnShutdown
from launch.events import Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = "had_tracker"
TRUE_VALUES = ("true", "1", "yes", "on")
FALSE_VALUES = ("false", "0", "no", "off")
CAMERAS = ("default", "metavision", "libcaer", "dv_ros2", "dvs")

ARGUMENTS = (
    ("bag", "", "bag to replay (folder or file; sqlite3 or mcap) - required"),
    ("output_dir", "replay_eval", "folder for the report, plots and predictions"),
    ("sequence_name", "", "sequence name in the report; empty = the bag's folder name"),
    ("ground_truth_topic", "/ground_truth", "had_msgs/GroundTruth topic in the bag"),
    ("event_topic", "", "event packets in the bag; empty = from the params files (default /event_camera/events)"),
    ("event_msg_type", "", "message type on event_topic; empty = from the params files"),
    ("image_topic", "", "RGB frames in the bag; empty = from the params files (default /camera/image_raw)"),
    ("camera_info_topic", "", "CameraInfo in the bag; empty = from the params files"),
    ("use_rgb", "true", "false = event-only: no image or camera_info subscription"),
    ("camera", "default", "camera recipe the bag was recorded with: default, metavision, libcaer, dv_ros2, dvs"),
    ("params_file", "", "your node parameters (YAML), applied over tracker.yaml and the recipe"),
    ("model", "", "student checkpoint (.pt); empty = the params file value (default: the shipped student)"),
    ("device", "", "torch device; empty = the params file value (default: cpu)"),
    ("namespace", "", "namespace of the nodes"),
    ("use_sim_time", "true", "nodes follow the /clock the bag player publishes"),
    ("rate", "0.5", "bag playback rate (0.5 keeps a 2-core machine at the offline numbers; see the module doc)"),
    ("clock_hz", "100", "/clock messages per second of wall time (each costs every sim-time node a callback)"),
    ("start_delay_s", "5.0", "wall time to wait for the nodes (model loading) before playing the bag"),
    ("idle_timeout_s", "5.0", "evaluator: write the report after this long without tracks"),
    ("shutdown_grace_s", "60.0", "after the bag ends, stop everything after this long even without a report"),
    ("shutdown_when_done", "true", "end the launch when the evaluator has written its report (false: keep running)"),
)


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


def _flag(name: str, value: str) -> bool:
    """A boolean launch argument; anything but a clear true/false ends the launch with one line."""
    text = value.strip().lower()
    if text not in TRUE_VALUES + FALSE_VALUES:
        raise RuntimeError(f"launch argument {name}:={value!r} must be true or false")
    return text in TRUE_VALUES


def _params_files(arg: dict) -> list:
    """tracker.yaml, the camera recipe, then the user's params_file (later files win)."""
    files = [_default_params_file()]
    camera = arg["camera"].strip()
    if camera not in CAMERAS:
        raise RuntimeError(f"camera:={camera!r} is not a recipe; choose one of: {', '.join(CAMERAS)}")
    if camera != "default":
        files.append(os.path.join(get_package_share_directory(PACKAGE), "config", "cameras", f"{camera}.yaml"))
    if arg["params_file"]:
        files.append(os.path.abspath(os.path.expanduser(arg["params_file"])))
    return files


def _topic_overrides(arg: dict) -> dict:
    """Only the topic arguments that were given (non-empty); use_rgb false empties the image topics."""
    values = {
        key: arg[key] for key in ("event_topic", "event_msg_type", "image_topic", "camera_info_topic") if arg[key]
    }
    if not _flag("use_rgb", arg["use_rgb"]):
        values["image_topic"] = values["camera_info_topic"] = ""
    return values


def _shutdown_when_exits(node, what: str) -> RegisterEventHandler:
    """A pipeline node that exits (start-up error, crash) ends the replay instead of leaving it hanging."""

    def on_exit(event, context):
        return [
            LogInfo(msg=f"{what} exited with {event.returncode}: stopping the replay"),
            EmitEvent(event=Shutdown(reason=f"{what} exited")),
        ]

    return RegisterEventHandler(OnProcessExit(target_action=node, on_exit=on_exit))


def _launch_setup(context, *args, **kwargs):
    arg = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    if not arg["bag"]:
        raise RuntimeError("replay_eval.launch.py needs bag:=<path to a rosbag2 folder or file>")
    params_files = _params_files(arg)
    bag = os.path.abspath(os.path.expanduser(arg["bag"]))
    sequence_name = arg["sequence_name"] or os.path.basename(bag.rstrip("/")) or "ros_replay"
    namespace = arg["namespace"].strip("/")
    sim_time = {"use_sim_time": _flag("use_sim_time", arg["use_sim_time"])}
    topics = _topic_overrides(arg)
    node_options = {"package": PACKAGE, "output": "screen", "emulate_tty": True}
    created: list = []  # override files, deleted at shutdown
    if namespace:
        node_options["namespace"] = namespace

    synchronizer = Node(
        executable="synchronizer_node",
        name="synchronizer_node",
        parameters=[*params_files, _overrides_file({**sim_time, **topics}, created)],
        **node_options,
    )
    tracker_overrides = {key: arg[key] for key in ("model", "device") if arg[key]}
    tracker = Node(
        executable="tracker_node",
        name="tracker_node",
        parameters=[
            *params_files,
            _overrides_file(
                {**sim_time, **tracker_overrides, "init_ground_truth_topic": arg["ground_truth_topic"]}, created
            ),
        ],
        **node_options,
    )
    evaluator = Node(
        executable="replay_evaluator",
        name="replay_evaluator",
        parameters=[
            *params_files,
            _overrides_file(
                {
                    **sim_time,
                    "ground_truth_topic": arg["ground_truth_topic"],
                    **({"image_topic": topics["image_topic"]} if "image_topic" in topics else {}),  # frame strip
                    "output_dir": os.path.abspath(os.path.expanduser(arg["output_dir"])),
                    "sequence_name": sequence_name,
                    "bag": bag,
                    "idle_timeout_s": float(arg["idle_timeout_s"]),
                },
                created,
            ),
        ],
        **node_options,
    )
    play = ExecuteProcess(
        cmd=["ros2", "bag", "play", bag, "--clock", arg["clock_hz"], "--rate", arg["rate"]],
        output="screen",
        name="bag_play",
    )
    actions = [
        synchronizer,
        tracker,
        evaluator,
        _shutdown_when_exits(synchronizer, "synchronizer_node"),
        _shutdown_when_exits(tracker, "tracker_node"),
        TimerAction(period=float(arg["start_delay_s"]), actions=[play]),
        _remove_on_shutdown(created),
    ]
    if not _flag("shutdown_when_done", arg["shutdown_when_done"]):
        return actions
    return [
        *actions,
        # The evaluator exits after writing its report: that ends the replay.
        RegisterEventHandler(
            OnProcessExit(
                target_action=evaluator,
                on_exit=[EmitEvent(event=Shutdown(reason="replay evaluation finished"))],
            )
        ),
        # Safety net: never hang when no track ever arrives.
        RegisterEventHandler(
            OnProcessExit(
                target_action=play,
                on_exit=[
                    LogInfo(msg="bag finished; waiting for the evaluator's report"),
                    TimerAction(
                        period=float(arg["shutdown_grace_s"]),
                        actions=[EmitEvent(event=Shutdown(reason="no report after shutdown_grace_s"))],
                    ),
                ],
            )
        ),
    ]


def generate_launch_description():
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=text) for name, default, text in ARGUMENTS
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=_launch_setup)])
