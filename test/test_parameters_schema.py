"""The parameter schema, config/tracker.yaml and the core configs agree; bad values are clear errors."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
import yaml

from had_tracker import parameters as schema
from had_tracker.errors import ConfigError

from .conftest import REPO_ROOT

CONFIG = REPO_ROOT / "config" / "tracker.yaml"
ROS_PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")


@pytest.fixture(scope="module")
def yaml_params() -> dict:
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert list(data) == ["/**"], "config/tracker.yaml must use the /**: ros__parameters: form"
    assert list(data["/**"]) == ["ros__parameters"]
    return schema.flatten(data["/**"]["ros__parameters"])


def test_yaml_and_schema_agree_key_by_key(yaml_params):
    names = {spec.name for spec in schema.SCHEMA}
    assert set(yaml_params) - names == set(), "keys in config/tracker.yaml that the schema does not know"
    assert names - set(yaml_params) == set(), "schema parameters missing from config/tracker.yaml"


def test_yaml_values_are_the_schema_defaults_with_the_declared_ros_type(yaml_params):
    """ROS 2 types a parameter from the YAML literal: 200 is an integer, 200.0 a double; a mismatch fails start-up."""
    python_types = {"bool": bool, "int": int, "double": float, "string": str, "double_array": list}
    for spec in schema.SCHEMA:
        value = yaml_params[spec.name]
        assert type(value) is python_types[spec.type], f"{spec.name}: YAML literal {value!r} is not a {spec.type}"
        if spec.type == "double_array":
            assert all(type(v) is float for v in value), f"{spec.name}: write every element with a decimal point"
        assert value == spec.default, f"{spec.name}: YAML {value!r} != schema default {spec.default!r}"


def test_every_yaml_entry_has_a_comment():
    lines = CONFIG.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.endswith(":") or stripped.startswith("/**"):
            continue
        assert lines[i - 1].strip().startswith("#"), f"config/tracker.yaml line {i + 1} has no comment: {line!r}"


def _yaml_comments_by_name() -> dict[str, str]:
    """Each parameter of config/tracker.yaml -> the comment lines right above it, joined."""
    out, path, comment = {}, [], []
    for line in CONFIG.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*):(.*)$", line)
        if match:
            depth = len(match.group(1)) // 2 - 2  # below "/**:" and "ros__parameters:"
            path = [*path[: max(depth, 0)], match.group(2)]
            if match.group(3).strip():
                out[".".join(path)] = " ".join(comment)
        comment = []
    return out


def test_yaml_comments_state_the_schema_limits():
    comments = _yaml_comments_by_name()
    specs = {s.name: s for s in schema.SCHEMA}
    assert set(comments) == set(specs)
    for name, text in comments.items():
        limits = specs[name].constraints
        if limits:
            assert text.endswith(f"[{limits}]"), f"config/tracker.yaml, {name}: comment should end [{limits}]: {text!r}"


def test_defaults_validate_and_sit_inside_their_ranges():
    for spec in schema.SCHEMA:
        assert spec.validate(spec.default) == spec.default
        if spec.value_range is not None and spec.type in ("int", "double"):
            low, high = spec.value_range
            assert low <= spec.default <= high, spec.name


def test_defaults_declare_cleanly_in_rclpy_terms():
    """rclpy infers the type from the default: no bools for ints, no ints for doubles, no empty arrays."""
    for spec in schema.SCHEMA:
        assert ROS_PARAM_NAME.match(spec.name), spec.name
        if spec.type == "int":
            assert type(spec.default) is int, spec.name
        if spec.type == "double":
            assert type(spec.default) is float and math.isfinite(spec.default), spec.name
        if spec.type == "double_array":
            assert spec.default, f"{spec.name}: rclpy types an empty list as a byte array"
        if spec.value_range is not None and spec.type == "int":
            assert -(2**63) <= spec.value_range[0] <= spec.value_range[1] <= schema.INT64_MAX, spec.name


def test_each_node_declares_each_name_once():
    for node in schema.NODES:
        names = [spec.name for spec in schema.specs_for(node)]
        assert len(names) == len(set(names)), node
        assert names, node


def test_sync_section_covers_every_sync_config_field_with_its_default():
    from had_tracker.sync.synchronizer import SyncConfig

    values = schema.defaults(schema.SYNCHRONIZER)
    assert {f.name for f in dataclasses.fields(SyncConfig)} == set(schema.section(values, "sync"))
    config = SyncConfig.from_dict(schema.sync_config_dict(values))
    reference = SyncConfig()
    # The three geometry lists are None in SyncConfig and identity/zero here; they are only read in their mode.
    lists = {"homography", "extrinsic_rotation", "extrinsic_translation_m"}
    for field in dataclasses.fields(SyncConfig):
        if field.name not in lists:
            assert getattr(config, field.name) == getattr(reference, field.name), field.name


def test_activity_section_is_the_activity_clock_config_with_its_defaults():
    from had_tracker.sync.clock import ActivityClockConfig
    from had_tracker.sync.synchronizer import CLOCKS

    values = schema.defaults(schema.SYNCHRONIZER)
    assert ActivityClockConfig(**schema.activity_config_dict(values)) == ActivityClockConfig()
    assert schema.spec(schema.SYNCHRONIZER, "sync.clock").choices == CLOCKS


def test_tracker_section_covers_every_tracker_config_field_with_its_default():
    from had_tracker.tracking.tracker import TrackerConfig

    values = schema.defaults(schema.TRACKER)
    top_level = {"checkpoint": "model", "teacher_checkpoint": "teacher_model", "device": "device"}
    tracker_fields = {f.name for f in dataclasses.fields(TrackerConfig)}
    assert tracker_fields - set(top_level) == set(schema.section(values, "tracker"))
    assert TrackerConfig.from_dict(schema.tracker_config_dict(values)) == TrackerConfig()
    custom = schema.tracker_config_dict({**values, "model": "/tmp/student.pt", "device": "cuda:1"})
    assert custom["checkpoint"] == "/tmp/student.pt" and custom["device"] == "cuda:1"


def test_sync_zero_means_automatic_or_infinite():
    values = schema.defaults(schema.SYNCHRONIZER)
    config = schema.sync_config_dict(values)
    assert config["output_width"] is None and config["output_height"] is None and config["plane_depth_m"] == math.inf
    config = schema.sync_config_dict({**values, "sync.output_width": 640, "sync.output_height": 480})
    assert (config["output_width"], config["output_height"]) == (640, 480)


@pytest.mark.parametrize(
    ("node", "name", "value", "message"),
    [
        (schema.SYNCHRONIZER, "event_qos_depth", 10, "outside"),
        (schema.SYNCHRONIZER, "event_qos_depth", 1000.0, "must be of type int"),
        (schema.SYNCHRONIZER, "reliability", "sometimes", "not one of"),
        (schema.SYNCHRONIZER, "sync.rate_hz", 0.0, "outside"),
        (schema.SYNCHRONIZER, "sync.homography", [1.0, 0.0], "exactly 9"),
        (schema.SYNCHRONIZER, "sync.track_drift", 1, "must be of type bool"),
        (schema.TRACKER, "device", "gpu", "does not match"),
        (schema.TRACKER, "init_box", [1.0, 2.0, float("nan"), 4.0], "finite"),
        (schema.TRACKER, "tracker.lost_threshold", 1.5, "outside"),
        (schema.EVALUATOR, "idle_timeout_s", -1.0, "outside"),
    ],
)
def test_invalid_values_are_clear_config_errors(node, name, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        schema.validate(node, {name: value})
    assert name in str(info.value) and node in str(info.value)


def test_validation_reports_every_problem_and_unknown_names():
    with pytest.raises(ConfigError) as info:
        schema.validate(schema.SYNCHRONIZER, {"sync.rate_hz": -1.0, "reliability": "x", "sync.rate": 1.0})
    text = str(info.value)
    assert "sync.rate_hz" in text and "reliability" in text and "unknown parameter 'sync.rate'" in text


def test_validation_widens_ints_for_doubles_and_reads_array_like_values():
    import array

    values = schema.validate(
        schema.TRACKER, {"debug_image_max_rate_hz": 10, "init_box": array.array("d", [1, 2, 3, 4])}
    )
    assert values["debug_image_max_rate_hz"] == 10.0 and type(values["debug_image_max_rate_hz"]) is float
    assert values["init_box"] == [1.0, 2.0, 3.0, 4.0]


def test_init_box_parameter_zero_size_means_no_box():
    assert schema.init_box_from_parameter([0.0, 0.0, 0.0, 0.0]) is None
    assert schema.init_box_from_parameter([5.0, 6.0, 0.0, 3.0]) is None
    assert schema.init_box_from_parameter([5, 6, 7, 8]) == (5.0, 6.0, 7.0, 8.0)


def test_section_and_flatten_are_inverse():
    flat = {"sync.a": 1, "sync.b.c": 2.0, "other": "x"}
    assert schema.section(flat, "sync") == {"a": 1, "b": {"c": 2.0}}
    assert schema.flatten({"sync": {"a": 1, "b": {"c": 2.0}}, "other": "x"}) == flat


def test_topic_defaults_are_the_documented_ones():
    defaults = schema.defaults(schema.SYNCHRONIZER)
    assert defaults["event_topic"] == "/event_camera/events"
    assert defaults["image_topic"] == "/camera/image_raw"
    assert defaults["camera_info_topic"] == "/camera/camera_info"
    assert defaults["reliability"] == "best_effort" and defaults["event_qos_depth"] >= 100
    assert schema.spec(schema.SYNCHRONIZER, "event_topic").read_only
    assert not schema.spec(schema.TRACKER, "init_box").read_only


def test_readme_parameter_reference_is_current():
    """The README's reference is exactly what the schema renders (python -m had_tracker.parameters)."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    begin, end = "<!-- PARAMETERS:BEGIN -->\n", "<!-- PARAMETERS:END -->"
    assert begin in text and end in text, "README.md lacks the parameter reference markers"
    block = text.split(begin, 1)[1].split(end, 1)[0]
    assert block.strip() == schema.markdown_reference().strip(), "regenerate with: python -m had_tracker.parameters"


def test_window_shaping_parameters_fit_the_event_window_message():
    # had_msgs/EventWindow: event times are uint32 ns from the window start, x/y are uint16; a parameter
    # that allowed longer windows or larger images would make the synchronizer build unpublishable windows.
    for name, high in (
        ("sync.exposure_ns", 2**32 - 1),
        ("sync.max_window_ns", 2**32 - 1),
        ("sync.output_width", 2**16 - 1),
        ("sync.output_height", 2**16 - 1),
    ):
        assert schema.spec(schema.SYNCHRONIZER, name).value_range[1] <= high, name
