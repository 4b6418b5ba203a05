"""In-process pipeline benchmark: evt3 packets in -> Synchronizer -> Tracker (cpu-tiny student) -> box out.

Run:  python bench/pipeline.py [--rates 5,20,50] [--sensors 346x260,1280x720] [--seconds 1.5] [--json]
                               [--profile] [--no-roi] [--no-paced] [--skip-stale-ms 15] [--memory-seconds 60]
                               [--threads 1]
                               [--package-root DIR]

Input per sensor size: a stream of 1 ms evt3 packets (header stamp = host time of the packet's last event
+ 0.5 ms), 30 % of the events on a 24 px target circling the sensor centre (radius 80 x 60 px, one turn
in 2 s, about 250 px/s) and 70 % uniform over the sensor (a camera in motion), at each rate. Windows: fixed
200 Hz. Packets are generated and encoded before the timed loops.

Two runs per rate and sensor over the same packets:

* free run: as fast as the machine goes. ``cpu_s_per_stream_s`` = process CPU time / stream time (one core:
  numba and torch on one thread); ``wall_s_per_stream_s`` = wall time / stream time (> 1: a live system
  cannot keep up). Latency of a window = wall time from handing the packet that completes it to
  ``Synchronizer.add_event_packet`` until ``Tracker.update`` returns its box.
* paced run (``--no-paced`` skips it): packets handed in at their arrival time on the host clock (real
  time); whatever arrived while the loop was busy is handed in next, in order (the node's queue). Data age
  of a box = host time of its publication - host time of the newest event its window holds (sensor time
  mapped onto the host clock, ``Synchronizer.data_age_ns``; the window's end on an older checkout). The
  synchronizer gets the host clock, so its load shedding (``sync.shed_policy``) is active: ``shed_fraction`` =
  events it shed / events decoded. As in the tracker node, a window whose data age exceeds ``--skip-stale-ms``
  (15 ms, the node's ``skip_stale_window_ms``) when its turn comes is recorded in the tracker's event history
  but not tracked, at most 3 in a row (``had_tracker.tracking.stale_windows``); ``skipped_stale_fraction`` =
  such windows / windows after the start. Data age and centre error count the tracked windows only.

With the region of interest on (default; ``--no-roi`` turns it off), after every box the synchronizer keeps
only the events the tracker can look at next (``Tracker.search_roi``; the whole sensor while re-acquiring).

``--profile`` adds a per-stage breakdown (free run): every stage's CPU time (thread time, so other processes
on the machine do not count) per second of stream, measured by wrapping the pipeline's functions (their own
time, children subtracted); "python overhead" = the loop's CPU time minus the stages (the bench loop, glue,
the wrappers themselves).

``--json`` prints one JSON object per rate and sensor instead of the tables. ``--package-root`` runs the
same bench over another checkout of the package (e.g. an older commit, for side-by-side figures).

Memory: the pipeline over ``--memory-seconds`` of ``--memory-rate`` input generated on the fly (346x260),
second by second; resident set size (RSS) sampled after each second. Flat = the slope over the second half
is ~0.

The network is the shipped cpu-tiny student when present, else a randomly initialised cpu-tiny student
(the same architecture, so the same cost; the table says which).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _package_root() -> str:
    if "--package-root" in sys.argv:
        return str(Path(sys.argv[sys.argv.index("--package-root") + 1]).resolve())
    return str(Path(__file__).resolve().parents[1])


sys.path.insert(0, _package_root())

import numpy as np  # noqa: E402

from had_tracker.events.container import Events  # noqa: E402
from had_tracker.events.decoders import EventPacketData  # noqa: E402
from had_tracker.events.encoders import Evt3Encoder  # noqa: E402
from had_tracker.sync.synchronizer import SyncConfig, Synchronizer  # noqa: E402
from had_tracker.tracking.tracker import Tracker, TrackerConfig  # noqa: E402

PACKET_NS = 1_000_000
HOST_OFFSET_NS = 1_700_000_000_000_000_000
ARRIVAL_DELAY_NS = 500_000  # header stamp (and arrival) = last event of the packet + this
TARGET_SIZE = 24.0
WARMUP_S = 0.3  # windows before this (sensor time) are not in the statistics


@dataclass(frozen=True)
class Scene:
    """A sensor size with the target circling its centre (the same motion in pixels on every size)."""

    width: int
    height: int

    @property
    def name(self) -> str:
        return f"{self.width}x{self.height}"

    def target_centre(self, t_s: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        a = 2 * np.pi * np.asarray(t_s) / 2.0
        return self.width / 2 + 80 * np.cos(a), self.height / 2 + 60 * np.sin(a)

    def initial_box(self, t_ns: int) -> tuple[float, float, float, float]:
        cx, cy = self.target_centre(t_ns * 1e-9)
        return (float(cx) - TARGET_SIZE / 2, float(cy) - TARGET_SIZE / 2, TARGET_SIZE, TARGET_SIZE)

    def make_events(self, t0_ns: int, duration_ns: int, rate_hz: float, rng: np.random.Generator) -> Events:
        """Sorted events: 30 % on the moving target, 70 % uniform background (microsecond times, as evt3)."""
        n = int(duration_ns * rate_hz / 1e9)
        t = (t0_ns + np.arange(n, dtype=np.int64) * duration_ns // max(n, 1)) // 1000 * 1000
        on_target = rng.random(n) < 0.3
        cx, cy = self.target_centre(t[on_target] * 1e-9)
        x = rng.uniform(0, self.width, n).astype(np.float32)
        y = rng.uniform(0, self.height, n).astype(np.float32)
        x[on_target] = cx + rng.uniform(-TARGET_SIZE / 2, TARGET_SIZE / 2, len(cx))
        y[on_target] = cy + rng.uniform(-TARGET_SIZE / 2, TARGET_SIZE / 2, len(cy))
        x, y = np.clip(x, 0, self.width - 1), np.clip(y, 0, self.height - 1)
        return Events.from_arrays(t, x, y, rng.integers(0, 2, n), self.width, self.height)

    def make_packets(self, rate_mev: float, t0_ns: int, t1_ns: int, rng: np.random.Generator, seq: int = 0) -> list:
        """Encoded 1 ms packets over [t0, t1), generated 50 ms at a time (the raw arrays stay small)."""
        encoder, packets = Evt3Encoder(), []
        for c0 in range(t0_ns, t1_ns, 50_000_000):
            c1 = min(c0 + 50_000_000, t1_ns)
            events = self.make_events(c0, c1 - c0, rate_mev * 1e6, rng)
            bounds = np.searchsorted(events.t, np.arange(c0, c1 + 1, PACKET_NS))
            for j, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
                stamp = c0 + (j + 1) * PACKET_NS
                chunk = events[int(a) : int(b)]
                packets.append(
                    EventPacketData(
                        "evt3", self.width, self.height, encoder.encode(chunk), 0, seq + len(packets),
                        stamp + HOST_OFFSET_NS + ARRIVAL_DELAY_NS,
                    )
                )  # fmt: skip
        return packets


def make_tracker(checkpoint: str | None) -> tuple[Tracker, str]:
    from had_tracker.models.builder import build_model, default_student_checkpoint
    from had_tracker.models.config import ModelConfig

    path = Path(checkpoint) if checkpoint else default_student_checkpoint()
    if path.exists():
        return Tracker(TrackerConfig(), checkpoint=str(path)), f"checkpoint {path.name}"
    model = build_model(ModelConfig.from_yaml("cpu-tiny"))
    return Tracker(TrackerConfig(), model=model), "random-init cpu-tiny student (no shipped checkpoint found)"


class Pipeline:
    """Synchronizer + Tracker wired as a node pair would be (optionally with the region of interest)."""

    def __init__(
        self, scene: Scene, checkpoint: str | None, roi: bool, host_clock: object = None, skip_stale_ms: float = 0.0
    ) -> None:
        import inspect

        self.scene = scene
        self.host_clock = host_clock
        self.skipper = None  # catch-up under overload (paced run): stale windows recorded, not tracked
        if skip_stale_ms > 0 and host_clock is not None:
            try:
                from had_tracker.tracking.stale_windows import StaleWindowSkipper
            except ImportError:  # an older checkout (--package-root)
                pass
            else:
                self.skipper = StaleWindowSkipper(max_age_ns=round(skip_stale_ms * 1e6), max_in_row=3)
        config = SyncConfig(policy="fixed_rate", rate_hz=200.0)
        if host_clock is not None and "host_clock" in inspect.signature(Synchronizer).parameters:
            self.sync = Synchronizer(config, host_clock=host_clock)  # data age and load shedding
        else:
            self.sync = Synchronizer(config)
        self.tracker, self.model_note = make_tracker(checkpoint)
        if hasattr(self.tracker, "warm_up"):
            self.tracker.warm_up()
        try:  # as the nodes do after their warm-up (an older checkout: nothing)
            from had_tracker.gc_freeze import freeze_startup_objects
        except ImportError:
            pass
        else:
            freeze_startup_objects()
        self.roi = roi and hasattr(self.sync, "set_roi") and hasattr(self.tracker, "search_roi")
        self.started = False

    def feed(self, packet: object) -> list[tuple[int, object, object]]:
        """One packet in; (window end in sensor ns, result, sample) for every window it completed."""
        self.sync.add_event_packet(packet)
        out = []
        for sample in self.sync.poll():
            sensor_end = sample.window_end_ns - sample.offset_ns
            if not self.started:
                self.tracker.initialize(sample, self.scene.initial_box(sensor_end))
                self.started = True
            elif self.skipper is not None and not self.skipper.should_track(
                self.sync.data_age_ns(sample, self.host_clock())
            ):
                self.tracker.push(sample)  # stale: its events go to the history, the next window is tracked
            else:
                out.append((sensor_end, self.tracker.update(sample), sample))
            if self.roi:
                self.sync.set_roi(self.tracker.search_roi())
        return out

    def shed_events(self) -> int:
        stats = self.sync.stats
        shed = getattr(stats, "shed_events", None)
        if shed is not None:
            return int(shed)
        return sum(v for k, v in stats.drops.items() if k.startswith("shed"))


def centre_error(scene: Scene, sensor_end_ns: int, result: object) -> float:
    cx, cy = result.center_xy
    tx, ty = scene.target_centre(sensor_end_ns * 1e-9)
    return float(np.hypot(cx - tx, cy - ty))


def run_free(scene: Scene, rate: float, packets: list, seconds: float, args: argparse.Namespace) -> dict:
    pipe = Pipeline(scene, args.checkpoint, not args.no_roi)
    profiler = StageProfiler() if args.profile else None
    latencies, errors, modes = [], [], []
    c0, w0 = time.process_time(), time.perf_counter()
    if profiler:
        profiler.start()
    for pkt in packets:
        t_in = time.perf_counter()
        for sensor_end, result, _ in pipe.feed(pkt):
            if sensor_end >= WARMUP_S * 1e9:
                latencies.append((time.perf_counter() - t_in) * 1e3)
                modes.append(result.search_mode)
                errors.append(centre_error(scene, sensor_end, result))
    wall = time.perf_counter() - w0
    cpu = time.process_time() - c0
    if profiler:
        profiler.stop()
    lat = np.array(latencies) if latencies else np.full(1, np.nan)
    row = {
        "windows": len(latencies),
        "cpu_s_per_stream_s": cpu / seconds,
        "wall_s_per_stream_s": wall / seconds,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "median_centre_error_px": float(np.median(errors)) if errors else float("nan"),
        "local_search": modes.count("local") / max(len(modes), 1),
        "dropped_events": pipe.sync.stats.dropped_events,
        "roi": pipe.roi,
        "model": pipe.model_note,
        "events_buffered_fraction": len_buffered(pipe),
    }
    if profiler:
        row["profile_s_per_stream_s"] = profiler.breakdown(cpu, seconds)
    return row


def len_buffered(pipe: Pipeline) -> float:
    """Share of the decoded events the synchronizer kept (the rest: outside the region of interest)."""
    stats = pipe.sync.stats
    filtered = getattr(stats, "roi_filtered", 0)
    return 1.0 - filtered / max(stats.events, 1)


def run_paced(scene: Scene, rate: float, packets: list, seconds: float, args: argparse.Namespace) -> dict:
    """Packets handed in at their host arrival time; data age = publication - window end (host clock)."""
    start = time.perf_counter() + 0.05

    def host_clock() -> int:  # the header stamps' clock
        return HOST_OFFSET_NS + int((time.perf_counter() - start) * 1e9)

    pipe = Pipeline(scene, args.checkpoint, not args.no_roi, host_clock, args.skip_stale_ms)
    ages, errors = [], []
    arrival = [(int(p.stamp_ns) - HOST_OFFSET_NS) * 1e-9 for p in packets]
    i = 0
    while i < len(packets):
        now = time.perf_counter() - start
        if arrival[i] > now:
            time.sleep(arrival[i] - now)
            continue
        for sensor_end, result, sample in pipe.feed(packets[i]):
            published = host_clock()
            if sensor_end >= WARMUP_S * 1e9:
                age = pipe.sync.data_age_ns(sample, published) if hasattr(pipe.sync, "data_age_ns") else None
                if age is None:  # no data-age support (older checkout) or no event: from the window's end
                    age = published - HOST_OFFSET_NS - sensor_end
                ages.append(age * 1e-6)
                errors.append(centre_error(scene, sensor_end, result))
        i += 1
    # None (JSON null) when no box came out after the warm-up: everything was shed
    return {
        "data_age_p50_ms": float(np.percentile(ages, 50)) if ages else None,
        "data_age_p99_ms": float(np.percentile(ages, 99)) if ages else None,
        "shed_fraction": pipe.shed_events() / max(pipe.sync.stats.events, 1),
        "paced_median_centre_error_px": float(np.median(errors)) if errors else None,
        "paced_windows": len(ages),
        "skipped_stale_fraction": (
            pipe.skipper.skipped / max(pipe.skipper.skipped + pipe.skipper.tracked, 1) if pipe.skipper else 0.0
        ),
    }


class StageProfiler:
    """Wraps the pipeline's stage functions with timers; each stage's own time (children subtracted)."""

    def __init__(self) -> None:
        import had_tracker.events.buffer as buffer
        import had_tracker.events.decoders as decoders
        import had_tracker.models.inputs as inputs
        import had_tracker.sync.synchronizer as synchronizer
        import had_tracker.tracking.history as history

        try:
            import had_tracker.tracking.crop_input as crop_input
        except ImportError:  # an older checkout
            crop_input = SimpleNamespace(CropInputBuilder=type("Missing", (), {}))
        import had_tracker.tracking.tracker as tracker

        self.spent: dict[str, float] = defaultdict(float)
        self._stack: list[list[float]] = []
        self._saved: list[tuple[object, str, object]] = []
        self._targets = [
            ("decode", decoders.StreamDecoder, "decode"),
            ("buffer append", buffer.EventBuffer, "append"),
            ("roi filter", synchronizer.Synchronizer, "_roi_filter"),
            ("sync: ordering, checks, clock", synchronizer.Synchronizer, "add_event_packet"),
            ("window cut + registration", synchronizer.Synchronizer, "_cut"),
            ("window policy", synchronizer.Synchronizer, "poll"),
            ("history", history.EventHistory, "push"),
            ("history", history.EventHistory, "window"),
            ("representation", inputs, "event_tensor"),
            ("representation", tracker, "_count_in_crop"),
            ("representation", crop_input.CropInputBuilder, "build"),
            ("network", tracker._Runner, "forward"),
            ("post-processing", tracker, "decode_peak"),
            ("post-processing", tracker, "limit_scale_change"),
            ("post-processing", tracker, "clip_box"),
            ("tracker: state, bookkeeping", tracker.Tracker, "update"),
            ("tracker: state, bookkeeping", tracker.Tracker, "search_roi"),
        ]

    def _wrap(self, name: str, fn: object) -> object:
        def timed(*a, **k):
            frame = [time.thread_time(), 0.0]  # start, children's time (CPU: other processes do not count)
            self._stack.append(frame)
            try:
                return fn(*a, **k)
            finally:
                self._stack.pop()
                total = time.thread_time() - frame[0]
                self.spent[name] += total - frame[1]
                if self._stack:
                    self._stack[-1][1] += total

        return timed

    def start(self) -> None:
        for name, owner, attr in self._targets:
            fn = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
            if fn is None:
                continue
            self._saved.append((owner, attr, fn))
            setattr(owner, attr, self._wrap(name, fn))

    def stop(self) -> None:
        for owner, attr, fn in reversed(self._saved):
            setattr(owner, attr, fn)
        self._saved.clear()

    def breakdown(self, cpu: float, seconds: float) -> dict[str, float]:
        out = {k: v / seconds for k, v in self.spent.items()}
        out["python overhead (bench loop, glue, timers)"] = (cpu - sum(self.spent.values())) / seconds
        return out


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_memory(seconds: int, rate_mev: float, args: argparse.Namespace) -> list[tuple[int, float, int]]:
    scene = Scene(346, 260)
    rng = np.random.default_rng(1)
    pipe = Pipeline(scene, args.checkpoint, not args.no_roi)
    seq, samples_out, trace = 0, 0, []
    for second in range(seconds):
        for t0 in range(second * 1_000_000_000, (second + 1) * 1_000_000_000, 50_000_000):
            packets = scene.make_packets(rate_mev, t0, t0 + 50_000_000, rng, seq)
            seq += len(packets)
            for pkt in packets:
                samples_out += len(pipe.feed(pkt))
            del packets
        trace.append((second + 1, rss_mb(), samples_out))
        print(f"    {second + 1:3d} s of stream: RSS {trace[-1][1]:7.1f} MB, {samples_out} windows", flush=True)
    return trace


def parse_sensor(text: str) -> Scene:
    w, h = text.lower().split("x")
    return Scene(int(w), int(h))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="5,20,50", help="input rates in Mev/s, comma separated")
    parser.add_argument("--sensors", default="346x260,1280x720", help="sensor sizes WxH, comma separated")
    parser.add_argument("--seconds", type=float, default=1.5, help="stream length per rate and sensor")
    parser.add_argument("--json", action="store_true", help="one JSON object per rate and sensor")
    parser.add_argument("--profile", action="store_true", help="per-stage breakdown of the free run")
    parser.add_argument("--no-roi", action="store_true", help="synchronizer keeps the full sensor")
    parser.add_argument("--no-paced", action="store_true", help="skip the paced (real-time) run")
    parser.add_argument("--memory-seconds", type=int, default=0, help="length of the memory run (0: skip)")
    parser.add_argument("--memory-rate", type=float, default=20.0, help="Mev/s of the memory run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--skip-stale-ms", type=float, default=15.0,
        help="paced run: windows older than this when their turn comes are recorded, not tracked (the tracker "
        "node's skip_stale_window_ms); 0 = track every window",
    )  # fmt: skip
    parser.add_argument("--checkpoint", default=None, help="student checkpoint (default: the shipped one)")
    parser.add_argument("--package-root", default=None, help="import had_tracker from this checkout")
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    if args.memory_only:
        report_memory(args)
        return 0
    if not args.json:
        print(f"pipeline benchmark: evt3, 1 ms packets, 200 Hz windows, torch threads {args.threads}, "
              f"cpu count {os.cpu_count()}, load {os.getloadavg()[0]:.1f}, package {_package_root()}")  # fmt: skip
    rows = []
    for scene in (parse_sensor(s) for s in args.sensors.split(",") if s):
        for rate in (float(r) for r in args.rates.split(",") if r):
            packets = scene.make_packets(rate, 0, int(args.seconds * 1e9), np.random.default_rng(0))
            row = {"rate_mev_s": rate, "sensor": scene.name}
            row.update(run_free(scene, rate, packets, args.seconds, args))
            if not args.no_paced:
                row.update(run_paced(scene, rate, packets, args.seconds, args))
            else:
                row.update(data_age_p99_ms=None, shed_fraction=None)
            del packets
            rows.append(row)
            if args.json:
                clean = {k: None if isinstance(v, float) and v != v else v for k, v in row.items()}  # NaN -> null
                print(json.dumps(clean), flush=True)
    if rows and not args.json:
        print_tables(rows)
    if args.memory_seconds > 0:
        # A fresh process: the latency runs' freed arrays would otherwise stay in this one's RSS.
        cmd = [sys.executable, __file__, "--memory-only", "--memory-seconds", str(args.memory_seconds),
               "--memory-rate", str(args.memory_rate), "--threads", str(args.threads)]  # fmt: skip
        for flag, value in (("--checkpoint", args.checkpoint), ("--package-root", args.package_root)):
            if value:
                cmd += [flag, value]
        if args.no_roi:
            cmd.append("--no-roi")
        sys.stdout.flush()
        return subprocess.run(cmd, check=False).returncode
    return 0


def print_tables(rows: list[dict]) -> None:
    print(f"\nmodel: {rows[0]['model']}; region of interest: {'on' if rows[0]['roi'] else 'off'}")
    print("\n| sensor | input Mev/s | windows | CPU s / stream s | wall s / stream s | p50 ms | p99 ms | max ms | "
          "data age p99 ms (paced) | shed | skipped | events kept | local search | median centre err px (free / paced) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        age = "-" if r.get("data_age_p99_ms") is None else f"{r['data_age_p99_ms']:.1f}"
        shed = "-" if r.get("shed_fraction") is None else f"{r['shed_fraction']:.1%}"
        skipped = "-" if r.get("skipped_stale_fraction") is None else f"{r['skipped_stale_fraction']:.0%}"
        paced_err = r.get("paced_median_centre_error_px")
        err = f"{r['median_centre_error_px']:.1f}"
        if "paced_windows" in r:
            err += " / -" if paced_err is None else f" / {paced_err:.1f}"
        print(f"| {r['sensor']} | {r['rate_mev_s']:g} | {r['windows']} | {r['cpu_s_per_stream_s']:.2f} | "
              f"{r['wall_s_per_stream_s']:.2f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.2f} | {age} | "
              f"{shed} | {skipped} | {r['events_buffered_fraction']:.0%} | {r['local_search']:.0%} | {err} |")  # fmt: skip
    print("goals (issue 15): CPU <= 0.5 s/s at 20 Mev/s and <= 1.0 at 50; p99 <= 20 ms; data age p99 <= 25 ms;")
    print("median centre error <= 5 px. 'events kept' = share of decoded events the synchronizer buffered;")
    print("'skipped' = windows of the paced run recorded but not tracked because they were stale (catch-up).")
    profiled = [r for r in rows if "profile_s_per_stream_s" in r]
    if profiled:
        stages = sorted({k for r in profiled for k in r["profile_s_per_stream_s"]})
        print("\nper-stage CPU time per second of stream (free run; CPU s / stream s):\n")
        print("| stage | " + " | ".join(f"{r['sensor']} {r['rate_mev_s']:g}" for r in profiled) + " |")
        print("|---|" + "---:|" * len(profiled))
        for stage in stages:
            values = [r["profile_s_per_stream_s"].get(stage, 0.0) for r in profiled]
            print(f"| {stage} | " + " | ".join(f"{v:.3f}" for v in values) + " |")


def report_memory(args: argparse.Namespace) -> None:
    print(
        f"\nmemory: {args.memory_seconds} s at {args.memory_rate:g} Mev/s (fresh process; RSS before: {rss_mb():.1f} MB)"
    )
    trace = run_memory(args.memory_seconds, args.memory_rate, args)
    s = np.array([t[0] for t in trace], float)
    m = np.array([t[1] for t in trace], float)
    half = len(s) // 2
    slope = float(np.polyfit(s[half:], m[half:], 1)[0]) if len(s) - half >= 2 else float("nan")
    step = max(len(trace) // 10, 1)
    shown = trace[::step] + ([trace[-1]] if (len(trace) - 1) % step else [])
    print("\n| stream s | RSS MB | windows |")
    print("|---:|---:|---:|")
    for sec, mb, windows in shown:
        print(f"| {sec} | {mb:.1f} | {windows} |")
    print(f"\nRSS after 1 s {m[0]:.1f} MB, max {m.max():.1f} MB, end {m[-1]:.1f} MB; "
          f"slope over the second half {slope:+.2f} MB/s")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
