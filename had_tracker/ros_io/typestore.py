"""A rosbags typestore with every type had_tracker reads or writes, for Humble or Jazzy.

had_msgs are parsed at run time from the ``.msg``/``.srv`` files themselves (single source of truth),
found in a source checkout, a pip install (``<prefix>/share/had_tracker/had_msgs``) or a colcon install
(``share/had_msgs`` under any ``AMENT_PREFIX_PATH`` entry). Services register as
``had_msgs/srv/<Name>_Request`` and ``had_msgs/srv/<Name>_Response``, the names rosidl generates.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path

from rosbags.interfaces import Nodetype
from rosbags.typesys import Stores, get_types_from_msg
from rosbags.typesys import get_typestore as _rosbags_typestore
from rosbags.typesys.store import Typestore

from had_tracker.errors import MessageTypeError
from had_tracker.ros_io.definitions import external_definitions

DISTROS = {"humble": Stores.ROS2_HUMBLE, "jazzy": Stores.ROS2_JAZZY}
HAD_MSGS_ENV = "HAD_MSGS_DIR"  # optional override: a folder holding msg/ and srv/


def had_msgs_candidates() -> list[Path]:
    """Folders that may hold had_msgs' ``msg/`` and ``srv/``, in search order."""
    candidates: list[Path] = []
    if env := os.environ.get(HAD_MSGS_ENV):
        candidates.append(Path(env))
    candidates.append(Path(__file__).resolve().parents[2] / "had_msgs")  # source checkout / editable install
    for prefix in (sys.prefix, sys.base_prefix):
        candidates.append(Path(prefix) / "share" / "had_tracker" / "had_msgs")  # pip install (data_files)
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / "share" / "had_msgs")  # colcon install of had_msgs
            candidates.append(Path(prefix) / "share" / "had_tracker" / "had_msgs")  # colcon install of had_tracker
    return candidates


def find_had_msgs_dir() -> Path:
    """The first candidate folder with ``msg/*.msg``; MessageTypeError naming the places searched."""
    candidates = had_msgs_candidates()
    for folder in candidates:
        if any((folder / "msg").glob("*.msg")):
            return folder
    searched = ", ".join(str(c) for c in candidates)
    raise MessageTypeError(
        f"had_msgs definitions not found (searched: {searched}); set {HAD_MSGS_ENV} to the had_msgs folder"
    )


def _parse(text: str, typename: str, source: str) -> dict:
    try:
        return get_types_from_msg(text, typename)
    except Exception as exc:  # rosbags raises TypesysError or AssertionError-like parse errors
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MessageTypeError(f"malformed message definition {source} ({typename}): {first_line}") from None


def had_msgs_types(folder: Path | None = None) -> dict:
    """Parse every had_msgs ``.msg`` and ``.srv`` file into rosbags type definitions."""
    folder = folder or find_had_msgs_dir()
    types: dict = {}
    for path in sorted((folder / "msg").glob("*.msg")):
        types.update(_parse(path.read_text(encoding="utf-8"), f"had_msgs/msg/{path.stem}", str(path)))
    for path in sorted((folder / "srv").glob("*.srv")):
        parts = path.read_text(encoding="utf-8").split("\n---")
        if len(parts) != 2:
            raise MessageTypeError(f"malformed service definition {path}: expected exactly one '---' separator")
        msg_names = {p.stem for p in (folder / "msg").glob("*.msg")}
        for suffix, text in (("Request", parts[0]), ("Response", parts[1].lstrip("-"))):
            parsed = _parse(_qualify(text, msg_names), f"had_msgs/srv/{path.stem}_{suffix}", str(path))
            # rosbags files every parsed type under <pkg>/msg/; rosidl names service parts <pkg>/srv/<Name>_<Part>.
            types.update({name.replace("/srv/msg/", "/srv/"): value for name, value in parsed.items()})
    return types


def _qualify(text: str, msg_names: set[str]) -> str:
    """Prefix bare had_msgs type names in a .srv part (``Box box`` -> ``had_msgs/Box box``)."""
    pattern = re.compile(r"^(\s*)(" + "|".join(sorted(msg_names)) + r")(\[[^\]]*\])?(\s)", re.MULTILINE)
    return pattern.sub(r"\1had_msgs/\2\3\4", text) if msg_names else text


@functools.cache
def get_typestore(distro: str = "humble") -> Typestore:
    """The shared typestore for ``distro`` (humble or jazzy) with event types, vision_msgs and had_msgs.

    The result is cached; treat it as read-only.
    """
    if distro not in DISTROS:
        raise MessageTypeError(f"unknown ROS distro {distro!r}; choose one of {sorted(DISTROS)}")
    store = _rosbags_typestore(DISTROS[distro])
    types: dict = {}
    for name, text in external_definitions().items():
        types.update(_parse(text, name, f"<builtin {name}>"))
    store.register(types)
    own = had_msgs_types()
    store.register(own)
    _check_references(own, store)
    return store


def _referenced_types(fielddef: tuple) -> list[str]:
    """Message type names a rosbags field definition refers to (nested in arrays and sequences)."""
    nodetype, details = fielddef
    if nodetype == Nodetype.NAME:
        return [details]
    if nodetype in (Nodetype.ARRAY, Nodetype.SEQUENCE):
        return _referenced_types(details[0])
    return []


def _check_references(types: dict, store: Typestore) -> None:
    """Raise MessageTypeError for a field whose type nobody defines (rosbags accepts such definitions silently)."""
    for typename, (_, fields) in types.items():
        for field_name, fielddef in fields:
            for ref in _referenced_types(fielddef):
                if ref not in store.fielddefs:
                    raise MessageTypeError(
                        f"{typename}: field {field_name!r} has unknown type {ref.replace('/msg/', '/')!r} "
                        "(a typo in the .msg/.srv file?)"
                    )


def require_type(store: Typestore, msgtype: str) -> None:
    """Raise MessageTypeError unless ``msgtype`` is known to ``store``."""
    if msgtype not in store.fielddefs:
        known = sorted(t for t in store.fielddefs if t.split("/")[0] in _FAMILIES)
        raise MessageTypeError(f"unknown message type {msgtype!r}; registered event/had types: {', '.join(known)}")


_FAMILIES = {
    "had_msgs",
    "event_camera_msgs",
    "event_array_msgs",
    "dvs_msgs",
    "dv_ros2_msgs",
    "prophesee_event_msgs",
    "vision_msgs",
}
