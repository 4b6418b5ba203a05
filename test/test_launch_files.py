"""Launch files, node modules and the rviz config, checked at the source level (no ROS install needed).

They run for real in a ROS 2 install (test_launch_tracking_pipeline.py); here we pin what can be pinned
without one: they parse, declare the documented arguments, start executables that exist, and the ROS imports
stay inside had_tracker/nodes and launch/.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from had_tracker import parameters as schema

from .conftest import REPO_ROOT

LAUNCH = REPO_ROOT / "launch"
NODES = REPO_ROOT / "had_tracker" / "nodes"
ROS_ONLY_MODULES = ("rclpy", "launch", "launch_ros", "launch_testing", "cv_bridge", "message_filters")
ROS_MESSAGE_PACKAGES = (
    "had_msgs", "sensor_msgs", "std_msgs", "vision_msgs", "visualization_msgs", "diagnostic_msgs", "geometry_msgs",
    "builtin_interfaces", "rcl_interfaces",
)  # fmt: skip
TRACKER_ARGS = {
    "namespace", "event_topic", "image_topic", "camera_info_topic", "params_file", "model", "device", "use_rviz",
    "single_process", "use_rgb", "camera", "event_msg_type",
}  # fmt: skip
REPLAY_ARGS = {"bag", "use_sim_time", "clock_hz", "params_file", "model", "device", "output_dir", "ground_truth_topic"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _launch_arguments(path: Path) -> dict[str, object]:
    """``{name: default}`` from the module-level ARGUMENTS table the launch file declares its arguments from."""
    for node in _tree(path).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "ARGUMENTS" for t in node.targets):
            return {name: default for name, default, _ in ast.literal_eval(node.value)}
    raise AssertionError(f"{path.name} has no ARGUMENTS table")


def _string_constants(tree: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _keyword_values(tree: ast.AST, keyword: str) -> set[str]:
    found = set()
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        for kw in call.keywords:
            if kw.arg == keyword and isinstance(kw.value, ast.Constant):
                found.add(kw.value.value)
    return found


def _console_scripts() -> dict[str, str]:
    setup = (REPO_ROOT / "setup.py").read_text(encoding="utf-8")
    return dict(re.findall(r'"([\w-]+) = ([\w.]+:\w+)"', setup))


def _imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("name", ["tracker.launch.py", "replay_eval.launch.py"])
def test_launch_file_parses_and_defines_generate_launch_description(name):
    tree = _tree(LAUNCH / name)
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    assert "DeclareLaunchArgument" in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def test_tracker_launch_declares_the_documented_arguments():
    arguments = _launch_arguments(LAUNCH / "tracker.launch.py")
    assert TRACKER_ARGS <= set(arguments)
    # "" = keep what the params files say: a params file can set topics (issue 18.3)
    for name in ("event_topic", "event_msg_type", "image_topic", "camera_info_topic", "params_file", "model"):
        assert arguments[name] == "", name
    assert arguments["single_process"] == "false" and arguments["use_rviz"] == "false"
    assert arguments["use_rgb"] == "true" and arguments["camera"] == "default"


def _launch_helpers(name: str, functions: tuple[str, ...]) -> dict:
    """Run the module-level constants and the named helper functions of a launch file (they need no ROS)."""
    tree = _tree(LAUNCH / name)
    body = [
        n
        for n in tree.body
        if (isinstance(n, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper() for t in n.targets))
        or (isinstance(n, ast.FunctionDef) and n.name in functions)
    ]
    namespace: dict = {}
    exec(compile(ast.Module(body=body, type_ignores=[]), name, "exec"), namespace)  # noqa: S102
    return namespace


def test_tracker_launch_passes_only_the_topic_arguments_that_were_given():
    helpers = _launch_helpers("tracker.launch.py", ("_is_true", "_flag", "synchronizer_overrides"))
    overrides = helpers["synchronizer_overrides"]
    empty = {"event_topic": "", "event_msg_type": "", "image_topic": "", "camera_info_topic": "", "use_rgb": "true"}
    assert overrides(empty) == {}  # the params files decide
    assert overrides({**empty, "event_topic": "/dvs/events", "event_msg_type": "dvs_msgs/msg/EventArray"}) == {
        "event_topic": "/dvs/events",
        "event_msg_type": "dvs_msgs/msg/EventArray",
    }
    event_only = overrides({**empty, "use_rgb": "false"})
    assert event_only == {"image_topic": "", "camera_info_topic": ""}
    assert overrides({**empty, "image_topic": "''"}) == {"image_topic": "''"}  # the node refuses it at start-up
    with pytest.raises(RuntimeError, match="event_msg_type"):
        overrides({**empty, "event_msg_type": "my_msgs/msg/Events"})
    with pytest.raises(RuntimeError, match="use_rgb"):
        overrides({**empty, "use_rgb": "maybe"})
    assert tuple(helpers["EVENT_MSG_TYPES"]) == schema.EVENT_MSG_TYPES


def test_camera_recipes_exist_and_hold_valid_parameters():
    helpers = _launch_helpers("tracker.launch.py", ())
    recipes = {path.stem: path for path in (REPO_ROOT / "config" / "cameras").glob("*.yaml")}
    assert set(helpers["CAMERAS"]) == {"default", *recipes}
    assert {"metavision", "libcaer", "dv_ros2", "dvs"} <= set(recipes)
    expected_types = {
        "metavision": "event_camera_msgs/msg/EventPacket",
        "libcaer": "event_camera_msgs/msg/EventPacket",
        "dv_ros2": "dv_ros2_msgs/msg/EventArray",
        "dvs": "dvs_msgs/msg/EventArray",
    }
    for camera, path in recipes.items():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert list(data) == ["/**"] and list(data["/**"]) == ["ros__parameters"], camera
        values = schema.flatten(data["/**"]["ros__parameters"])
        for node in (schema.SYNCHRONIZER, schema.TRACKER):
            mine = {k: v for k, v in values.items() if k in {s.name for s in schema.specs_for(node)}}
            schema.validate(node, mine)  # ConfigError if a recipe holds a bad value
        unknown = set(values) - {s.name for s in schema.SCHEMA}
        assert not unknown, (camera, unknown)
        assert values["event_msg_type"] == expected_types[camera]
        assert {"event_topic", "image_topic", "camera_info_topic", "sync.clock", "marker_frame_id"} <= set(values)
        text = path.read_text(encoding="utf-8")
        assert f"camera:={camera}" in text, f"{camera}: the recipe shows its launch command"


def test_tracker_launch_ends_when_a_required_node_exits():
    tree = _tree(LAUNCH / "tracker.launch.py")
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert {"OnProcessExit", "Shutdown", "EmitEvent"} <= names
    calls = [
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "_shutdown_when_exits"
    ]
    assert {c.args[1].value for c in calls} == {"tracker_pipeline", "synchronizer_node", "tracker_node"}


@pytest.mark.parametrize("name", ["tracker.launch.py", "replay_eval.launch.py"])
def test_every_boolean_launch_argument_is_read_with_flag(name):
    """A typo such as shutdown_when_done:=ture must end the launch with one line, not silently mean false."""
    tree = _tree(LAUNCH / name)
    booleans = {key for key, default in _launch_arguments(LAUNCH / name).items() if default in ("true", "false")}
    flagged = {
        call.args[0].value
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        and getattr(call.func, "id", "") == "_flag"
        and call.args
        and isinstance(call.args[0], ast.Constant)
    }
    assert booleans and booleans <= flagged, sorted(booleans - flagged)


def test_replay_launch_declares_the_documented_arguments():
    arguments = _launch_arguments(LAUNCH / "replay_eval.launch.py")
    assert REPLAY_ARGS <= set(arguments)
    assert arguments["use_sim_time"] == "true"
    # issue 18.4: rate 1 with a 1 kHz /clock scored SR 5.7 on 2 cores (every sim-time node pays each tick);
    # rate 0.5 with 100 Hz matched offline. Still one tick per window of bag time at the default 200 Hz windows.
    rate, clock_hz = float(arguments["rate"]), float(arguments["clock_hz"])
    assert rate <= 0.5 and clock_hz <= 100
    assert clock_hz / rate >= schema.defaults(schema.SYNCHRONIZER)["sync.rate_hz"]
    for name in ("event_topic", "image_topic", "camera_info_topic", "params_file"):
        assert arguments[name] == "", name  # the params files decide unless given
    helpers = _launch_helpers("replay_eval.launch.py", ("_flag", "_topic_overrides"))
    empty = {"event_topic": "", "event_msg_type": "", "image_topic": "", "camera_info_topic": "", "use_rgb": "true"}
    assert helpers["_topic_overrides"](empty) == {}
    assert helpers["_topic_overrides"]({**empty, "use_rgb": "false"}) == {"image_topic": "", "camera_info_topic": ""}
    assert tuple(helpers["CAMERAS"]) == tuple(_launch_helpers("tracker.launch.py", ())["CAMERAS"])
    text = (LAUNCH / "replay_eval.launch.py").read_text(encoding="utf-8")
    assert "_shutdown_when_exits(synchronizer" in text and "_shutdown_when_exits(tracker" in text


@pytest.mark.parametrize("name", ["tracker.launch.py", "replay_eval.launch.py"])
def test_params_file_defaults_to_the_installed_config(name):
    text = (LAUNCH / name).read_text(encoding="utf-8")
    assert 'get_package_share_directory(PACKAGE), "config", "tracker.yaml"' in text
    assert (REPO_ROOT / "config" / "tracker.yaml").is_file()


@pytest.mark.parametrize("name", ["tracker.launch.py", "replay_eval.launch.py"])
def test_launched_executables_are_console_scripts_of_the_package(name):
    tree = _tree(LAUNCH / name)
    executables = _keyword_values(tree, "executable") - {"rviz2"}
    assert executables, name
    assert executables <= set(_console_scripts()), executables - set(_console_scripts())


def test_replay_launch_plays_the_bag_with_a_clock_and_sim_time():
    tree = _tree(LAUNCH / "replay_eval.launch.py")
    strings = _string_constants(tree)
    assert {"ros2", "bag", "play", "--clock"} <= strings
    assert "use_sim_time" in strings and "init_ground_truth_topic" in strings
    assert {"OnProcessExit", "Shutdown"} <= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def test_tracker_launch_offers_single_process_and_rviz():
    tree = _tree(LAUNCH / "tracker.launch.py")
    executables = _keyword_values(tree, "executable")
    assert {"synchronizer_node", "tracker_node", "tracker_pipeline", "rviz2"} <= executables
    strings = _string_constants(tree)
    assert "tracker.rviz" in strings


def test_console_scripts_point_at_node_mains():
    scripts = _console_scripts()
    for script in ("synchronizer_node", "tracker_node", "tracker_pipeline", "replay_evaluator"):
        module, function = scripts[script].split(":")
        path = REPO_ROOT / Path(*module.split(".")).with_suffix(".py")
        assert path.is_file(), path
        assert function in {n.name for n in _tree(path).body if isinstance(n, ast.FunctionDef)}, path


def test_ros_imports_stay_in_nodes_and_launch():
    for path in sorted((REPO_ROOT / "had_tracker").rglob("*.py")):
        if NODES in path.parents:
            continue
        roots = _imported_roots(_tree(path))
        assert not roots & set(ROS_ONLY_MODULES), (
            f"{path.relative_to(REPO_ROOT)} imports {roots & set(ROS_ONLY_MODULES)}"
        )
        assert not roots & set(ROS_MESSAGE_PACKAGES), f"{path.relative_to(REPO_ROOT)} imports ROS message packages"


def test_node_helpers_import_without_ros():
    """The node logic lives in plain modules (tested directly); only the *_node.py/common.py files need rclpy."""
    pure = ("session", "debug_view", "replay_collector", "health", "synchronizer_core", "tracker_core", "targets")
    for module in pure:
        roots = _imported_roots(_tree(NODES / f"{module}.py"))
        assert not roots & set(ROS_ONLY_MODULES + ROS_MESSAGE_PACKAGES), module
    import importlib

    for module in pure:
        importlib.import_module(f"had_tracker.nodes.{module}")


def test_nodes_declare_parameters_only_through_the_schema():
    for path in sorted(NODES.glob("*.py")):
        calls = {
            n.func.attr for n in ast.walk(_tree(path)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        }
        if path.name != "common.py":
            assert not calls & {"declare_parameter", "declare_parameters"}, path.name


def test_nodes_offer_the_documented_topics_and_services():
    tracker = _string_constants(_tree(NODES / "tracker_node.py"))
    assert {"~/track", "~/detections", "~/debug_image", "~/markers", "~/init_box"} <= tracker
    assert {"~/start_tracking", "~/reset"} <= tracker
    assert "~/windows" in _string_constants(_tree(NODES / "synchronizer_node.py"))
    assert "/diagnostics" in _string_constants(_tree(NODES / "common.py"))


def test_rviz_config_shows_the_tracker_outputs_and_launch_follows_the_namespace():
    rviz = yaml.safe_load((REPO_ROOT / "config" / "tracker.rviz").read_text(encoding="utf-8"))
    displays = {d["Class"]: d["Topic"]["Value"] for d in rviz["Visualization Manager"]["Displays"]}
    assert displays["rviz_default_plugins/Image"] == "/tracker_node/debug_image"
    assert displays["rviz_default_plugins/MarkerArray"] == "/tracker_node/markers"
    strings = _string_constants(_tree(LAUNCH / "tracker.launch.py"))
    topics = {
        "/tracker_node/debug_image",
        "/tracker_node/markers",
        "/tracker_node/init_point",
        "/tracker_node/init_pose",
    }
    assert topics <= strings
    tools = {tool["Class"]: tool for tool in rviz["Visualization Manager"]["Tools"]}
    # the rviz tools that start a target publish where tracker_node listens by default (~/init_point, ~/init_pose)
    assert tools["rviz_default_plugins/PublishPoint"]["Topic"]["Value"] == "/tracker_node/init_point"
    assert tools["rviz_default_plugins/SetGoal"]["Topic"]["Value"] == "/tracker_node/init_pose"
    defaults = schema.defaults(schema.TRACKER)
    assert (defaults["init_point_topic"], defaults["init_pose_topic"]) == ("~/init_point", "~/init_pose")


@pytest.mark.parametrize("name", ["tracker.launch.py", "replay_eval.launch.py"])
def test_parameter_overrides_keep_empty_and_numeric_looking_strings_as_strings(name, tmp_path, monkeypatch):
    """launch_ros YAML-parses string values of parameter dicts ("" fails, "123" turns int); the launch files
    write overrides to a params file instead. Run that helper alone (it needs no ROS) and read the file back."""
    import os
    import tempfile

    tree = _tree(LAUNCH / name)
    helper = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_overrides_file")
    namespace = {"os": os, "tempfile": tempfile, "yaml": yaml}
    exec(compile(ast.Module(body=[helper], type_ignores=[]), name, "exec"), namespace)  # noqa: S102
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    values = {"image_topic": "", "sequence_name": "123", "use_sim_time": True, "idle_timeout_s": 5.0}
    created = []
    path = namespace["_overrides_file"](values, created)
    assert Path(path).parent == tmp_path
    assert created == [path]  # what the launch deletes at shutdown (_remove_on_shutdown)
    assert yaml.safe_load(Path(path).read_text()) == {"/**": {"ros__parameters": values}}
