"""In-process pipeline benchmark: evt3 packets in -> Synchronizer -> Tracker (cpu-tiny student) -> box out.

Run:  python bench/pipeline.py [--rates 1,5,20] [--seconds 3] [--memory-seconds 60] [--threads 1]

Input: a DAVIS346-sized (346x260) stream of 1 ms evt3 packets (header stamp = host time of the packet's
last event + 0.5 ms), 30 % of the events on a moving target and 70 % spread over the sensor (a camera in
motion), at each rate. Windows: fixed 200 Hz. Latency of a window = wall time from handing the packet
that completes it to ``Synchronizer.add_event_packet`` until ``Tracker.update`` returns its box (decode,
buffer, cut, registration, event representation, network, post-processing). The loop runs as fast as it
can; "real-time factor" = processing time / stream time (> 1 means the pipeline cannot keep up on this
machine and a live system would queue or drop). Packets are generated and encoded before the timed loop.

Memory: the same pipeline over ``--memory-seconds`` of 20 Mev/s input generated on the fly, second by
second; resident set size (RSS) sampled after each second. Flat = the slope over the second half is ~0.

The network is the shipped cpu-tiny student when present, else a randomly initialised cpu-tiny student
(the same architecture, so the same cost; the table says which).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from had_tracker.events.container import Events  # noqa: E402
from had_tracker.events.decoders import EventPacketData  # noqa: E402
from had_tracker.events.encoders import Evt3Encoder  # noqa: E402
from had_tracker.sync.synchronizer import SyncConfig, Synchronizer  # noqa: E402
from had_tracker.tracking.tracker import Tracker, TrackerConfig  # noqa: E402

W, H = 346, 260
PACKET_NS = 1_000_000
HOST_OFFSET_NS = 1_700_000_000_000_000_000
TARGET_SIZE = 24.0


def target_centre(t_s: float) -> tuple[float, float]:
    """A target circling the sensor centre once every 2 s (about 250 px/s)."""
    a = 2 * np.pi * t_s / 2.0
    return 173 + 80 * np.cos(a), 130 + 60 * np.sin(a)


def make_events(t0_ns: int, duration_ns: int, rate_hz: float, rng: np.random.Generator) -> Events:
    """Sorted events: 30 % on the moving target, 70 % uniform background."""
    n = int(duration_ns * rate_hz / 1e9)
    t = (t0_ns + np.arange(n, dtype=np.int64) * duration_ns // max(n, 1)) // 1000 * 1000  # evt3: microseconds
    on_target = rng.random(n) < 0.3
    cx, cy = target_centre(t[on_target] * 1e-9)
    x = rng.uniform(0, W, n)
    y = rng.uniform(0, H, n)
    x[on_target] = cx + rng.uniform(-TARGET_SIZE / 2, TARGET_SIZE / 2, len(cx))
    y[on_target] = cy + rng.uniform(-TARGET_SIZE / 2, TARGET_SIZE / 2, len(cy))
    x, y = np.clip(x, 0, W - 1), np.clip(y, 0, H - 1)
    return Events.from_arrays(t, x, y, rng.integers(0, 2, n), W, H)


def make_packets(events: Events, encoder: Evt3Encoder, first_seq: int, t0_ns: int, t1_ns: int) -> list:
    bounds = np.searchsorted(events.t, np.arange(t0_ns, t1_ns + 1, PACKET_NS))
    packets = []
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        chunk = events[int(a) : int(b)]
        stamp = t0_ns + (i + 1) * PACKET_NS + HOST_OFFSET_NS + 500_000
        packets.append(EventPacketData("evt3", W, H, encoder.encode(chunk), 0, first_seq + i, stamp))
    return packets


def make_tracker(checkpoint: str | None) -> tuple[Tracker, str]:
    from had_tracker.models.builder import build_model, default_student_checkpoint
    from had_tracker.models.config import ModelConfig

    path = Path(checkpoint) if checkpoint else default_student_checkpoint()
    if path.exists():
        return Tracker(TrackerConfig(), checkpoint=str(path)), f"checkpoint {path.name}"
    model = build_model(ModelConfig.from_yaml("cpu-tiny"))
    return Tracker(TrackerConfig(), model=model), "random-init cpu-tiny student (no shipped checkpoint found)"


def initial_box(t_ns: int) -> tuple[float, float, float, float]:
    cx, cy = target_centre(t_ns * 1e-9)
    return (cx - TARGET_SIZE / 2, cy - TARGET_SIZE / 2, TARGET_SIZE, TARGET_SIZE)


def run_latency(rate_mev: float, seconds: float, checkpoint: str | None, warmup_s: float = 0.3) -> dict:
    rng = np.random.default_rng(0)
    duration = int(seconds * 1e9)
    events = make_events(0, duration, rate_mev * 1e6, rng)
    packets = make_packets(events, Evt3Encoder(), 0, 0, duration)
    sync = Synchronizer(SyncConfig(policy="fixed_rate", rate_hz=200.0))
    tracker, model_note = make_tracker(checkpoint)
    latencies, errors, modes, started = [], [], [], False
    t_begin = time.perf_counter()
    for pkt in packets:
        t_in = time.perf_counter()
        sync.add_event_packet(pkt)
        for sample in sync.poll():
            sensor_end = sample.window_end_ns - sample.offset_ns
            if not started:
                tracker.initialize(sample, initial_box(sensor_end))
                started = True
                continue
            result = tracker.update(sample)
            if sensor_end >= warmup_s * 1e9:
                latencies.append((time.perf_counter() - t_in) * 1e3)
                modes.append(result.search_mode)
                cx, cy = result.center_xy
                tx, ty = target_centre(sensor_end * 1e-9)
                errors.append(np.hypot(cx - tx, cy - ty))
    wall = time.perf_counter() - t_begin
    lat = np.array(latencies)
    return {
        "rate": rate_mev,
        "windows": len(lat),
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "max": float(lat.max()),
        "rtf": wall / seconds,
        "ev_per_window": len(events) / (seconds * 200),
        "err": float(np.median(errors)),
        "drops": sync.stats.dropped_events,
        "local": modes.count("local") / max(len(modes), 1),
        "model": model_note,
    }


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_memory(seconds: int, rate_mev: float, checkpoint: str | None) -> list[tuple[int, float, int]]:
    rng = np.random.default_rng(1)
    encoder = Evt3Encoder()
    sync = Synchronizer(SyncConfig(policy="fixed_rate", rate_hz=200.0))
    tracker, _ = make_tracker(checkpoint)
    started, seq, samples_out = False, 0, 0
    trace = []
    chunk_ns = 50_000_000  # generate 50 ms at a time so that the generator's arrays stay small next to the pipeline's
    for second in range(seconds):
        for t0 in range(second * 1_000_000_000, (second + 1) * 1_000_000_000, chunk_ns):
            packets = make_packets(make_events(t0, chunk_ns, rate_mev * 1e6, rng), encoder, seq, t0, t0 + chunk_ns)
            seq += len(packets)
            for pkt in packets:
                sync.add_event_packet(pkt)
                for sample in sync.poll():
                    samples_out += 1
                    if not started:
                        tracker.initialize(sample, initial_box(sample.window_end_ns - sample.offset_ns))
                        started = True
                    else:
                        tracker.update(sample)
            del packets
        trace.append((second + 1, rss_mb(), samples_out))
        print(f"    {second + 1:3d} s of stream: RSS {trace[-1][1]:7.1f} MB, {samples_out} windows", flush=True)
    return trace


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="1,5,20", help="input rates in Mev/s, comma separated")
    parser.add_argument("--seconds", type=float, default=3.0, help="stream length per rate for latency")
    parser.add_argument("--memory-seconds", type=int, default=60, help="length of the 20 Mev/s memory run (0: skip)")
    parser.add_argument("--memory-rate", type=float, default=20.0, help="Mev/s of the memory run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--checkpoint", default=None, help="student checkpoint (default: the shipped one)")
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    if args.memory_only:
        report_memory(args)
        return 0
    print(f"pipeline benchmark: {W}x{H} evt3, 1 ms packets, 200 Hz windows, torch threads {args.threads}, "
          f"cpu count {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    rows = [run_latency(float(r), args.seconds, args.checkpoint) for r in args.rates.split(",")] if args.rates else []
    if rows:
        print(f"\nmodel: {rows[0]['model']}")
        print("\n| input Mev/s | events/window | windows | p50 ms | p99 ms | max ms | real-time factor | local search | "
              "median centre err px | drops |")  # fmt: skip
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['rate']:g} | {r['ev_per_window']:.0f} | {r['windows']} | {r['p50']:.2f} | {r['p99']:.2f} | "
                  f"{r['max']:.2f} | {r['rtf']:.2f} | {r['local']:.0%} | {r['err']:.1f} | {r['drops']} |")  # fmt: skip
        print("goal: p99 <= 20 ms at 200 Hz; real-time factor <= 1 to keep up without queueing. 'local search' = share")
        print("of windows searched around the last box (the rest: widened/global re-acquisition over a larger crop).")
    if args.memory_seconds > 0:
        # A fresh process: the latency runs' freed arrays would otherwise stay in this one's RSS.
        cmd = [sys.executable, __file__, "--memory-only", "--memory-seconds", str(args.memory_seconds),
               "--memory-rate", str(args.memory_rate), "--threads", str(args.threads)]  # fmt: skip
        if args.checkpoint:
            cmd += ["--checkpoint", args.checkpoint]
        sys.stdout.flush()
        return subprocess.run(cmd, check=False).returncode
    return 0


def report_memory(args: argparse.Namespace) -> None:
    print(
        f"\nmemory: {args.memory_seconds} s at {args.memory_rate:g} Mev/s (fresh process; RSS before: {rss_mb():.1f} MB)"
    )
    trace = run_memory(args.memory_seconds, args.memory_rate, args.checkpoint)
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
