"""Read and write ROS 2 bags (sqlite3 and mcap) without ROS, through the ``rosbags`` library.

Reading always deserializes with our typestore (Humble sqlite3 bags embed no type definitions);
types our store lacks are registered from the definitions a bag embeds (mcap, Jazzy sqlite3), in
``.msg`` or ``ros2idl`` form. Bags written by real drivers may leave ``storage_identifier`` empty
(metadata version 5): the storage is then recognised from the files' magic bytes.
Writing produces rosbag2 metadata version 8, which Humble's ``ros2 bag`` can still open (rosbags
writes the v9 QoS field as a YAML list that Humble's parser rejects).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rosbags.rosbag2 import Reader, Writer
from rosbags.rosbag2.enums import StoragePlugin
from rosbags.rosbag2.storage_mcap import McapReader
from rosbags.rosbag2.storage_sqlite3 import Sqlite3Reader
from rosbags.typesys import get_types_from_idl, get_types_from_msg
from rosbags.typesys.store import Typestore

from had_tracker.errors import BagError, MessageTypeError
from had_tracker.ros_io.typestore import get_typestore, require_type

log = logging.getLogger(__name__)

BAG_VERSION = 8
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
MAGIC = {b"\x89MCAP": "mcap", b"SQLite format 3\x00": "sqlite3"}
IDL_SEPARATOR = "=" * 80


def detect_storage(files: list[Path]) -> str:
    """``"mcap"`` or ``"sqlite3"`` from the first bytes of a bag's storage files; BagError otherwise."""
    found = set()
    for path in files:
        with open(path, "rb") as handle:
            head = handle.read(16)
        kind = next((name for magic, name in MAGIC.items() if head.startswith(magic)), None)
        if kind is None:
            raise BagError(f"{path}: neither an mcap nor an sqlite3 file, and metadata.yaml names no storage")
        found.add(kind)
    if len(found) != 1:
        raise BagError(f"cannot tell the bag's storage from its files {[str(f) for f in files]}")
    return found.pop()


class _DetectedStorage:
    """Storage reader for ``storage_identifier: ""``: mcap or sqlite3 by the files' magic bytes."""

    def __new__(cls, paths: Any, connections: Any) -> Any:
        paths = list(paths)
        reader = McapReader if detect_storage(paths) == "mcap" else Sqlite3Reader
        return reader(paths, connections)


class _Reader(Reader):
    """rosbags' Reader that also opens bags whose metadata leaves the storage identifier empty."""

    STORAGE_PLUGINS = {**Reader.STORAGE_PLUGINS, "": _DetectedStorage}


@dataclass
class BagMessage:
    """One message of a bag: topic, type, receive time [ns] and the raw CDR bytes; ``msg`` deserializes lazily."""

    topic: str
    msgtype: str
    recv_ns: int
    raw: bytes | memoryview
    typestore: Typestore = field(repr=False)
    _msg: Any = field(default=None, repr=False)

    @property
    def msg(self) -> Any:
        """The deserialized rosbags message (cached)."""
        if self._msg is None:
            require_type(self.typestore, self.msgtype)
            try:
                self._msg = self.typestore.deserialize_cdr(self.raw, self.msgtype)
            except Exception as exc:
                raise BagError(
                    f"corrupt {self.msgtype} message on {self.topic} at t={self.recv_ns} ns: {exc}"
                ) from None
        return self._msg


def _open_reader(path: Path) -> Reader:
    if not path.exists():
        raise BagError(f"no bag at {path}")
    if path.is_file():
        if (path.parent / "metadata.yaml").exists():
            path = path.parent
        else:
            raise BagError(f"{path} is a file without metadata.yaml beside it: pass the rosbag2 bag directory")
    if not (path / "metadata.yaml").exists():
        raise BagError(f"{path} is not a rosbag2 bag (no metadata.yaml)")
    try:
        reader = _Reader(path)
        reader.open()
    except Exception as exc:
        detail = " ".join(str(exc).split())  # rosbags' YAML errors span several lines: keep the error one line
        raise BagError(f"cannot open bag {path}: {detail or type(exc).__name__}") from None
    return reader


def _register_embedded(reader: Reader, store: Typestore) -> None:
    """Register bag-embedded definitions of types the store does not know (never overriding ours)."""
    for conn in reader.connections:
        if conn.msgtype in store.fielddefs or not getattr(conn.msgdef, "data", ""):
            continue
        try:
            types = _embedded_types(conn.msgdef.data, conn.msgtype)
            store.register({k: v for k, v in types.items() if k not in store.fielddefs})
        except Exception as exc:  # a bad embedded definition only matters if that topic is read
            log.warning("cannot register embedded definition of %s: %s", conn.msgtype, exc)


def _embedded_types(text: str, msgtype: str) -> dict[str, Any]:
    """Types of one embedded definition: ``.msg`` text (+ dependencies) or ros2idl sections between ``=`` rules."""
    if not text.startswith(IDL_SEPARATOR):
        return get_types_from_msg(text, msgtype)
    types: dict[str, Any] = {}
    for section in text.split(IDL_SEPARATOR):
        body = section.strip()
        if body.startswith("IDL:"):
            body = body.partition("\n")[2]  # the "IDL: pkg/msg/Name" line heads each definition
        if body:
            types.update(get_types_from_idl(body))
    return types


def read_bag(
    path: str | Path,
    topics: list[str] | tuple[str, ...] | None = None,
    typestore: Typestore | None = None,
) -> Iterator[BagMessage]:
    """Yield the bag's messages in receive-time order, optionally only on ``topics``.

    Raises BagError for a missing/corrupt bag or a requested topic the bag does not have.
    """
    path = Path(path)
    store = typestore or get_typestore()
    reader = _open_reader(path)
    try:
        _register_embedded(reader, store)
        available = {c.topic for c in reader.connections}
        if topics is not None:
            if missing := sorted(set(topics) - available):
                raise BagError(f"bag {path} has no topic(s) {missing}; it has {sorted(available)}")
            connections = [c for c in reader.connections if c.topic in set(topics)]
        else:
            connections = list(reader.connections)
        if not connections:
            return
        try:
            for conn, recv_ns, raw in reader.messages(connections=connections):
                yield BagMessage(conn.topic, conn.msgtype, int(recv_ns), raw, store)
        except BagError:
            raise
        except Exception as exc:
            raise BagError(f"error while reading bag {path}: {exc}") from None
    finally:
        reader.close()


def bag_info(path: str | Path) -> dict[str, Any]:
    """Summary of a bag: storage, version, start/end/duration [ns], message count, per-topic type and count."""
    path = Path(path)
    reader = _open_reader(path)
    try:
        meta = reader.metadata
        topics = [
            {"topic": c.topic, "msgtype": c.msgtype, "count": int(c.msgcount)}
            for c in sorted(reader.connections, key=lambda c: c.topic)
        ]
        count = int(reader.message_count)
        storage = meta.get("storage_identifier", "") or f"{detect_storage(reader.paths)} (detected)"
        return {
            "path": str(path if path.is_dir() else path.parent),
            "storage": storage,
            "version": int(meta.get("version", 0)),
            "message_count": count,
            "start_ns": int(reader.start_time) if count else None,
            "end_ns": int(reader.end_time) if count else None,
            "duration_s": (reader.duration / 1e9) if count else 0.0,
            "topics": topics,
        }
    finally:
        reader.close()


class BagWriter:
    """Write a rosbag2 bag (version 8) atomically: into a temporary folder, renamed into place on success.

    Usage::

        with BagWriter(path, storage="mcap") as bag:
            bag.add_topic("/event_camera/events", "event_camera_msgs/msg/EventPacket")
            bag.write("/event_camera/events", recv_ns, msg)
    """

    def __init__(self, path: str | Path, storage: str = "mcap", typestore: Typestore | None = None) -> None:
        self.path = Path(path)
        if storage not in STORAGES:
            raise BagError(f"unknown bag storage {storage!r}; choose one of {sorted(STORAGES)}")
        if self.path.exists():
            raise BagError(f"{self.path} already exists; a bag is written to a new path")
        self.storage = storage
        self.typestore = typestore or get_typestore()
        self._tmpdir: Path | None = None
        self._writer: Writer | None = None
        self._connections: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    def __enter__(self) -> BagWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmpdir = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        self._writer = Writer(self._tmpdir / self.path.name, version=BAG_VERSION, storage_plugin=STORAGES[self.storage])
        self._writer.open()
        return self

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Declare a topic and its type (must be known to the typestore)."""
        if self._writer is None:
            raise BagError("BagWriter is not open: use it as a context manager")
        if topic in self._connections:
            raise BagError(f"topic {topic} was already added")
        try:
            require_type(self.typestore, msgtype)
        except MessageTypeError:
            raise
        self._connections[topic] = self._writer.add_connection(topic, msgtype, typestore=self.typestore)
        self.counts[topic] = 0

    def write(self, topic: str, recv_ns: int, msg: Any) -> None:
        """Serialize ``msg`` and write it on ``topic`` with receive time ``recv_ns``."""
        if topic not in self._connections:
            raise BagError(f"topic {topic} was not added to the bag")
        conn = self._connections[topic]
        self._writer.write(conn, int(recv_ns), self.typestore.serialize_cdr(msg, conn.msgtype))
        self.counts[topic] += 1

    def write_raw(self, topic: str, recv_ns: int, raw: bytes | memoryview) -> None:
        """Write already-serialized CDR bytes on ``topic``."""
        if topic not in self._connections:
            raise BagError(f"topic {topic} was not added to the bag")
        self._writer.write(self._connections[topic], int(recv_ns), raw)
        self.counts[topic] += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            self._writer = None
        if exc_type is None:
            (self._tmpdir / self.path.name).rename(self.path)
        shutil.rmtree(self._tmpdir, ignore_errors=True)
