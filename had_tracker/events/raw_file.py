"""Prophesee RAW files: ASCII header lines starting with ``%``, then EVT 3.0 16-bit little-endian words.

Only EVT 3.0 payloads are read (``% evt 3.0`` or ``% format EVT3``). The sensor geometry comes from
the header (``% geometry WxH``, or ``width=``/``height=`` in ``% format``), else from the known
plugin/sensor name, else the caller's ``width``/``height``; otherwise it is an error. Decoding goes
through the same stateful evt3 decoder as ROS packets, in bounded chunks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from had_tracker.errors import DecodeError
from had_tracker.events.container import Events, Triggers
from had_tracker.events.decoders import DecodedPacket, Evt3Decoder

# Sensor geometry by plugin/sensor name fragment (EVK1-4, Gen3.1/4.1, IMX636, GenX320).
_KNOWN_GEOMETRY = {
    "gen41": (1280, 720),
    "imx636": (1280, 720),
    "evk4": (1280, 720),
    "gen31": (640, 480),
    "genx320": (320, 320),
    "imx8": (1280, 720),
}
MAX_HEADER_BYTES = 1 << 16
DEFAULT_CHUNK_WORDS = 1 << 22  # 8 MB of payload per chunk
ONE_SHOT_BYTES = 1 << 30


@dataclass(frozen=True)
class RawHeader:
    """What a RAW file's header says, and where its event data start."""

    path: Path
    fields: dict[str, str] = field(default_factory=dict)
    data_offset: int = 0
    width: int = 0
    height: int = 0
    data_bytes: int = 0


def _geometry(fields: dict[str, str]) -> tuple[int, int]:
    if m := re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", fields.get("geometry", "")):
        return int(m.group(1)), int(m.group(2))
    fmt = fields.get("format", "")
    w, h = re.search(r"width=(\d+)", fmt), re.search(r"height=(\d+)", fmt)
    if w and h:
        return int(w.group(1)), int(h.group(1))
    names = " ".join(fields.get(k, "") for k in ("plugin_name", "sensor_generation", "camera_integrator_name")).lower()
    for key, geometry in _KNOWN_GEOMETRY.items():
        if key in names:
            return geometry
    return 0, 0


def read_raw_header(path: str | Path, width: int = 0, height: int = 0) -> RawHeader:
    """Parse the ``%`` header; DecodeError when the file is missing, not EVT3, or has no geometry."""
    path = Path(path)
    if not path.is_file():
        raise DecodeError(f"no RAW file at {path}")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(MAX_HEADER_BYTES)
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(head) and head[pos : pos + 1] == b"%":
        end = head.find(b"\n", pos)
        if end < 0:
            raise DecodeError(f"{path}: header line without end (not a Prophesee RAW file?)")
        line = head[pos + 1 : end].decode("ascii", errors="replace").strip()
        pos = end + 1
        if line == "end":
            break
        key, _, value = line.partition(" ")
        fields[key] = value.strip()
    if not fields:
        raise DecodeError(f"{path}: no '%' header lines: not a Prophesee RAW file")
    evt = fields.get("evt", "")
    fmt = fields.get("format", "")
    if not (evt.startswith("3") or fmt.upper().startswith("EVT3")):
        raise DecodeError(f"{path}: only EVT 3.0 RAW files are supported (header says evt={evt!r} format={fmt!r})")
    hw = _geometry(fields)
    if width and height:
        hw = (int(width), int(height))
    if hw == (0, 0):
        raise DecodeError(f"{path}: the header gives no sensor geometry; pass width and height")
    return RawHeader(path, fields, pos, hw[0], hw[1], size - pos)


def iter_raw_chunks(
    path: str | Path, width: int = 0, height: int = 0, chunk_words: int = DEFAULT_CHUNK_WORDS
) -> Iterator[tuple[DecodedPacket, Evt3Decoder]]:
    """Decode a RAW file chunk by chunk (bounded memory); yields (decoded chunk, the decoder with its stats)."""
    header = read_raw_header(path, width, height)
    decoder = Evt3Decoder(header.width, header.height)
    with header.path.open("rb") as f:
        f.seek(header.data_offset)
        while True:
            chunk = f.read(2 * chunk_words)
            if not chunk:
                break
            yield decoder.decode_bytes(np.frombuffer(chunk, np.uint8)), decoder


def read_raw(path: str | Path, width: int = 0, height: int = 0) -> tuple[DecodedPacket, RawHeader, dict[str, int]]:
    """Decode a whole RAW file: (events and triggers, header, decoder counters).

    Files up to ``ONE_SHOT_BYTES`` are read and decoded in one go (no concatenation copy); larger
    ones chunk by chunk.
    """
    header = read_raw_header(path, width, height)
    if header.data_bytes <= ONE_SHOT_BYTES:
        decoder = Evt3Decoder(header.width, header.height)
        with header.path.open("rb") as f:
            f.seek(header.data_offset)
            payload = np.fromfile(f, np.uint8)
        return decoder.decode_bytes(payload), header, decoder.stats.as_dict()
    events: list[Events] = []
    triggers: list[Triggers] = []
    stats: dict[str, int] = {}
    for decoded, decoder in iter_raw_chunks(path, header.width, header.height):
        events.append(decoded.events)
        triggers.append(decoded.triggers)
        stats = decoder.stats.as_dict()
    ev = Events.concatenate(events) if events else Events.empty(header.width, header.height)
    return DecodedPacket(ev, Triggers.concatenate(triggers)), header, stats
