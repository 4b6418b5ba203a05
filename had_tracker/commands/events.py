"""``had-tracker events info SRC`` and ``had-tracker events dump SRC --out FILE.npz`` (bags and Prophesee RAW)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``events`` command group."""
    parser = subparsers.add_parser("events", help="inspect and export event streams (bags, Prophesee RAW)")
    sub = parser.add_subparsers(dest="events_command", metavar="SUBCOMMAND", required=True)
    info = sub.add_parser("info", help="encodings, event counts, duration and rates of a bag or RAW file")
    info.add_argument("source", help="rosbag2 directory or Prophesee .raw file (EVT 3.0)")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _geometry_args(info)
    info.set_defaults(func=_info)
    dump = sub.add_parser("dump", help="decode one event stream to an .npz (t [ns], x, y, p, trigger_*)")
    dump.add_argument("source", help="rosbag2 directory or Prophesee .raw file (EVT 3.0)")
    dump.add_argument("--topic", help="event topic of the bag (needed when it has several)")
    dump.add_argument("--out", required=True, help="output .npz file")
    _geometry_args(dump)
    dump.set_defaults(func=_dump)


def _geometry_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, default=0, help="RAW sensor width when the header lacks it")
    parser.add_argument("--height", type=int, default=0, help="RAW sensor height when the header lacks it")


def _is_raw(source: str) -> bool:
    path = Path(source)
    return path.is_file() and path.suffix.lower() == ".raw"


class _StreamSummary:
    """Running totals of one event stream."""

    def __init__(self, msgtype: str, encoding: str, width: int, height: int) -> None:
        self.msgtype, self.encoding, self.width, self.height = msgtype, encoding, width, height
        self.messages = self.events = self.triggers = self.on = self.dropped = 0
        self.t_min: int | None = None
        self.t_max: int | None = None
        self.stats: dict[str, int] = {}

    def add(self, decoded: Any) -> None:
        self.messages += 1
        ev = decoded.events
        self.events += len(ev)
        self.triggers += len(decoded.triggers)
        self.on += int(ev.p.sum(dtype="int64"))
        if len(ev):
            lo, hi = int(ev.t.min()), int(ev.t.max())
            self.t_min = lo if self.t_min is None else min(self.t_min, lo)
            self.t_max = hi if self.t_max is None else max(self.t_max, hi)

    def as_dict(self) -> dict[str, Any]:
        duration = (self.t_max - self.t_min) / 1e9 if self.t_min is not None else 0.0
        return {
            "msgtype": self.msgtype,
            "encoding": self.encoding,
            "width": self.width,
            "height": self.height,
            "messages": self.messages,
            "events": self.events,
            "on_events": self.on,
            "triggers": self.triggers,
            "first_t_ns": self.t_min,
            "last_t_ns": self.t_max,
            "duration_s": duration,
            "rate_mev_s": self.events / duration / 1e6 if duration > 0 else None,
            "decoder": self.stats,
        }


def _summaries(args: argparse.Namespace) -> dict[str, _StreamSummary]:
    if _is_raw(args.source):
        from had_tracker.events.raw_file import iter_raw_chunks, read_raw_header

        header = read_raw_header(args.source, args.width, args.height)
        summary = _StreamSummary("prophesee_raw", "evt3", header.width, header.height)
        for decoded, decoder in iter_raw_chunks(args.source, header.width, header.height):
            summary.add(decoded)
            summary.stats = decoder.stats.as_dict()
        summary.messages = 0
        return {str(Path(args.source).name): summary}
    from had_tracker.events.bag_events import iter_bag_events
    from had_tracker.events.decoders import DecoderRegistry

    registry = DecoderRegistry()
    out: dict[str, _StreamSummary] = {}
    array_drops: dict[str, int] = {}  # struct arrays have no stream decoder: count their drops here
    for chunk in iter_bag_events(args.source, registry=registry):
        summary = out.get(chunk.topic)
        if summary is None:
            summary = out[chunk.topic] = _StreamSummary(chunk.msgtype, chunk.encoding, chunk.width, chunk.height)
        summary.add(chunk.decoded)
        if chunk.encoding == "struct_array":
            array_drops[chunk.topic] = array_drops.get(chunk.topic, 0) + chunk.dropped_out_of_geometry
    encodings: dict[str, set[str]] = {}
    for (topic, encoding, _, _), decoder in registry.streams().items():  # a topic may hold several streams
        encodings.setdefault(topic, set()).add(encoding)
        for key, value in decoder.stats.as_dict().items():
            out[topic].stats[key] = out[topic].stats.get(key, 0) + value
    for topic, names in encodings.items():
        out[topic].encoding = ",".join(sorted(names))
    for topic, n in array_drops.items():
        out[topic].stats = {"dropped_out_of_geometry": n}
    return out


def _info(args: argparse.Namespace) -> int:
    info = {name: s.as_dict() for name, s in _summaries(args).items()}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    if not info:
        print(f"{args.source}: no event topics")
        return 0
    for name, s in info.items():
        rate = f"{s['rate_mev_s']:.3f} Mev/s" if s["rate_mev_s"] is not None else "-"
        print(f"{name}  [{s['msgtype']}, {s['encoding']}, {s['width']}x{s['height']}]")
        if s["messages"]:
            print(f"  messages:  {s['messages']}")
        print(f"  events:    {s['events']} ({s['on_events']} ON), triggers: {s['triggers']}")
        print(f"  time:      {s['first_t_ns']} .. {s['last_t_ns']} ns ({s['duration_s']:.6f} s), rate {rate}")
        counters = {k: v for k, v in s["decoder"].items() if v and k not in ("packets", "events", "triggers", "bytes")}
        print(f"  decoder:   {counters if counters else 'no drops, gaps or unknown codes'}")
    return 0


def _dump(args: argparse.Namespace) -> int:
    import numpy as np

    from had_tracker.errors import BagError
    from had_tracker.events.container import Events, Triggers

    if _is_raw(args.source):
        from had_tracker.events.raw_file import read_raw

        decoded, header, _ = read_raw(args.source, args.width, args.height)
        events, triggers = decoded.events, decoded.triggers
    else:
        from had_tracker.events.bag_events import event_topics, iter_bag_events

        topics = event_topics(args.source)
        topic = args.topic
        if topic is None:
            if len(topics) != 1:
                raise BagError(f"{args.source} has event topics {sorted(topics)}: choose one with --topic")
            topic = next(iter(topics))
        chunks = list(iter_bag_events(args.source, topics=[topic]))
        width = chunks[0].width if chunks else 0
        height = chunks[0].height if chunks else 0
        events = Events.concatenate([c.decoded.events for c in chunks]) if chunks else Events.empty(width, height)
        triggers = Triggers.concatenate([c.decoded.triggers for c in chunks])
    arrays = events.to_dict()
    if len(triggers):
        arrays.update(trigger_t=triggers.t, trigger_edge=triggers.edge, trigger_id=triggers.id)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **arrays)
    print(f"wrote {len(events)} events, {len(triggers)} triggers ({events.width}x{events.height}) to {out}")
    return 0
