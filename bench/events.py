"""Events-layer benchmark: decoders vs expelliarmus, representations vs tonic, EventBuffer, import time.

Run:  python bench/events.py [--events 10000000] [--repeats 3]
Single-threaded (NUMBA_NUM_THREADS=1); each figure is the best of ``--repeats`` runs on the same bytes.
expelliarmus and tonic are bench-only dependencies (skipped with a note when absent).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SAMPLE = REPO.parent / "shared" / "data" / "prophesee_evt3" / "evt3_sample.raw"

from had_tracker.events.buffer import EventBuffer  # noqa: E402
from had_tracker.events.container import Events  # noqa: E402
from had_tracker.events.decoders import make_decoder  # noqa: E402
from had_tracker.events.encoders import encode_mono  # noqa: E402
from had_tracker.events.raw_file import read_raw, read_raw_header  # noqa: E402
from had_tracker.events.representations import count_frame, time_surface, voxel_grid  # noqa: E402

ROWS: list[tuple[str, str, str, str]] = []
PACKET_BYTES = 131072  # ~45 k events of the sample: about 1 ms of a 50 Mev/s stream


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def best_times(fns: list, repeats: int) -> list[float]:
    """Best time of each function, run interleaved (a, b, a, b, ...) so load changes hit all alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def row(group: str, what: str, value: str, note: str = "") -> None:
    ROWS.append((group, what, value, note))
    print(f"  {group:<16} {what:<62} {value:>16}  {note}", flush=True)


def mev(n: int, seconds: float) -> str:
    return f"{n / seconds / 1e6:8.1f} Mev/s"


def bench_evt3(n_target: int, repeats: int, tmp: Path) -> Events:
    header = read_raw_header(SAMPLE)
    data = SAMPLE.read_bytes()
    head, payload = data[: header.data_offset], data[header.data_offset :]
    per_copy = len(make_decoder("evt3", 1280, 720).decode_bytes(payload).events)
    copies = -(-n_target // per_copy)
    big = payload * copies
    raw_path = tmp / "evt3_repeated.raw"
    raw_path.write_bytes(head + big)
    words = np.frombuffer(big, np.uint8)
    dec = make_decoder("evt3", 1280, 720)
    n = len(dec.decode_bytes(words).events)
    try:
        from expelliarmus import Wizard
    except ImportError:
        Wizard = None  # noqa: N806
    packets = [words[i : i + PACKET_BYTES] for i in range(0, len(words), PACKET_BYTES)]

    def stream() -> None:  # one stateful decoder over ~1 ms packets, as the synchronizer decodes a live stream
        dec = make_decoder("evt3", 1280, 720)
        for packet in packets:
            dec.decode_bytes(packet)

    fns = [lambda: make_decoder("evt3", 1280, 720).decode_bytes(words), lambda: read_raw(raw_path), stream]
    if Wizard is not None:
        n_ex = len(Wizard(encoding="evt3").read(raw_path))
        fns.append(lambda: Wizard(encoding="evt3").read(raw_path))
    times = best_times(fns, repeats)
    row("evt3 decode", f"had_tracker, bytes in memory ({n / 1e6:.1f} M events)", mev(n, times[0]))
    row("evt3 decode", "had_tracker read_raw (file -> Events)", mev(n, times[1]))
    row("evt3 decode", f"had_tracker, {PACKET_BYTES // 1024} kB packets in memory (a live stream)", mev(n, times[2]),
        "outputs reused by malloc: no fresh pages")  # fmt: skip
    if Wizard is None:
        row("evt3 decode", "expelliarmus", "n/a", "not installed")
        return make_decoder("evt3", 1280, 720).decode_bytes(payload).events
    t_file, t_ex = times[1], times[3]
    row("evt3 decode", f"expelliarmus Wizard.read (file, {n_ex / 1e6:.1f} M events)", mev(n_ex, t_ex))
    row("evt3 decode", "speed-up had_tracker (file) / expelliarmus", f"{t_ex / t_file:8.2f} x", "goal >= 2 x")
    return make_decoder("evt3", 1280, 720).decode_bytes(payload).events


def bench_word_encodings(events: Events, n_target: int, repeats: int) -> None:
    reps = -(-n_target // len(events))
    n = len(events) * reps
    rng = np.random.default_rng(0)
    t = np.sort(rng.integers(0, 4_000_000_000, n)).astype(np.int64)
    x = np.tile(events.x, reps)
    y = np.tile(events.y, reps)
    p = np.tile(events.p, reps)
    big = Events(t, x, y, p, 1280, 720)
    mono = encode_mono(big, 0)
    t_mono = best_time(lambda: make_decoder("mono", 1280, 720).decode_bytes(mono), repeats)
    row("mono decode", f"had_tracker ({n / 1e6:.1f} M events, 8 B/event)", mev(n, t_mono))
    ts_us = (t // 1000).astype(np.uint64)
    data = (x.astype(np.uint64) << np.uint64(17)) | (y.astype(np.uint64) << np.uint64(2))
    data |= (p.astype(np.uint64) << np.uint64(1)) | np.uint64(1)
    libcaer = (data | (ts_us << np.uint64(32))).astype("<u8").tobytes()
    t_lc = best_time(lambda: make_decoder("libcaer", 1280, 720).decode_bytes(libcaer), repeats)
    row("libcaer decode", f"had_tracker ({n / 1e6:.1f} M events, 8 B/event)", mev(n, t_lc))
    # libcaer_cmp tokens, uncompressed worst case: TIME_HIGH, TIME_LOW, ADDR_X, ADDR_Y per event (8 B/event).
    rel_us = (t - t[0]) // 1000 % (1 << 24)
    tokens = np.empty((n, 4), "<u2")
    tokens[:, 0] = (0 << 12) | (rel_us >> 12)
    tokens[:, 1] = (1 << 12) | (rel_us & 0xFFF)
    tokens[:, 2] = (2 << 12) | x
    tokens[:, 3] = (3 << 12) | (p.astype(np.uint16) << 11) | y
    cmp_bytes = tokens.tobytes()
    t_cmp = best_time(lambda: make_decoder("libcaer_cmp", 1280, 720).decode_bytes(cmp_bytes), repeats)
    row("libcaer_cmp dec.", f"had_tracker ({n / 1e6:.1f} M events, 4 tokens/event)", mev(n, t_cmp))


def bench_representations(events: Events, n_target: int, repeats: int) -> None:
    reps = -(-n_target // len(events))
    span = int(events.t[-1] - events.t[0]) + 1
    t = np.concatenate([events.t + k * span for k in range(reps)])
    ev = Events(t, np.tile(events.x, reps), np.tile(events.y, reps), np.tile(events.p, reps), 1280, 720)
    n = len(ev)
    bins = 5
    t_crop = best_time(
        lambda: voxel_grid(ev, bins, crop=(400, 200, 300, 300), out_hw=(256, 256), bilinear=True), repeats
    )
    t_ts = best_time(lambda: time_surface(ev, int(ev.t[-1]), 50_000_000.0), repeats)
    try:
        import tonic.functional as tf
    except ImportError:
        tf = None
    size = f"{n / 1e6:.1f} M events"
    fns = [lambda: voxel_grid(ev, bins), lambda: count_frame(ev)]
    if tf is not None:
        s = np.zeros(n, dtype=[("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])
        s["x"], s["y"], s["t"], s["p"] = ev.x, ev.y, ev.t // 1000, ev.p
        s_vox = s.copy()  # tonic's voxel grid rewrites p in place (0 -> -1): give it its own copy
        fns += [
            lambda: tf.to_voxel_grid_numpy(s_vox, (1280, 720, 2), n_time_bins=bins),
            lambda: tf.to_frame_numpy(s, (1280, 720, 2), n_event_bins=1),
        ]
    times = best_times(fns, repeats)
    row("voxel grid", f"had_tracker, full sensor, {bins} bins ({size})", mev(n, times[0]))
    row("count frame", f"had_tracker, full sensor, 2 polarities ({size})", mev(n, times[1]))
    row("voxel grid", f"had_tracker, 300 px crop -> 256x256, bilinear ({size})", mev(n, t_crop))
    row("time surface", f"had_tracker, full sensor ({size})", mev(n, t_ts))
    if tf is None:
        row("voxel grid", "tonic", "n/a", "not installed")
        return
    row("voxel grid", f"tonic to_voxel_grid_numpy ({size})", mev(n, times[2]))
    row("voxel grid", f"speed-up had_tracker / tonic ({size})", f"{times[2] / times[0]:8.1f} x", "goal >= 10 x")
    row("count frame", f"tonic to_frame_numpy, 1 frame ({size})", mev(n, times[3]))
    row("count frame", f"speed-up had_tracker / tonic ({size})", f"{times[3] / times[1]:8.1f} x", "goal >= 10 x")


WINDOW_CALLS = 200
APPEND_STEP = 100_000


def _windows(buf: EventBuffer, t0: int, t1: int, calls: int) -> None:
    for _ in range(calls):
        buf.window(t0, t1)


def bench_buffer(repeats: int) -> None:
    rate = 1_000_000  # events per second of sensor time
    window_ns = 10_000_000  # 10 ms windows (10 k events)
    calls, step = WINDOW_CALLS, APPEND_STEP
    for seconds in (1, 10):
        n = rate * seconds
        t = np.arange(n, dtype=np.int64) * (1_000_000_000 // rate)
        ev = Events(t, (t % 1280).astype(np.uint16), (t % 720).astype(np.uint16), (t % 2).astype(np.uint8), 1280, 720)
        buf = EventBuffer(max_duration_ns=seconds * 1_000_000_000, max_events=n)
        fill = []
        for a in range(0, n, step):  # packet-sized appends, as a node would do
            t0 = time.perf_counter()
            buf.append(ev[a : a + step])
            fill.append(time.perf_counter() - t0)
        row("EventBuffer", f"slowest append of 100 k events while a {seconds:>2} s buffer fills (it grows)",
            f"{max(fill) * 1e3:8.2f} ms")  # fmt: skip
        t_end = int(t[-1])
        # One window at a time, each freed before the next, as a node cuts them (holding all the calls' windows
        # would time the allocator handing fresh pages back and forth, not the buffer).
        best = best_time(lambda b=buf, e=t_end: _windows(b, e - window_ns, e, WINDOW_CALLS), repeats)
        row("EventBuffer", f"window(10 ms) from a {seconds:>2} s buffer ({len(buf) / 1e6:.0f} M events)",
            f"{best / calls * 1e6:8.1f} us")  # fmt: skip
        t_app = best_time(lambda b=buf, e=ev: b.append(e[:APPEND_STEP].shift_time(int(b.latest_t_ns) + 1)), repeats)
        row("EventBuffer", f"append 100 k events to a full {seconds:>2} s buffer", f"{t_app * 1e3:8.2f} ms")


def bench_import() -> None:
    code = (
        "import time; t0=time.perf_counter(); import had_tracker.events as E; t1=time.perf_counter();"
        "from had_tracker.events.decoders import make_decoder; from had_tracker.events.representations import voxel_grid;"
        "d=make_decoder('evt3', 64, 64); d.decode_bytes(b'\\x00\\x80\\x00\\x60'); t2=time.perf_counter();"
        "print(f'{t1-t0:.3f} {t2-t1:.3f}')"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))

    def run(extra_env: dict) -> tuple[float, float]:
        out = subprocess.run([sys.executable, "-c", code], env={**env, **extra_env}, capture_output=True, text=True,
                             check=True)  # fmt: skip
        a, b = out.stdout.split()
        return float(a), float(b)

    with tempfile.TemporaryDirectory() as cache:
        cold = run({"NUMBA_CACHE_DIR": cache})
        warm = run({"NUMBA_CACHE_DIR": cache})
    row("import", "import had_tracker.events (package)", f"{warm[0] * 1e3:8.0f} ms")
    row("import", "first evt3 decode, cold numba cache (compiles)", f"{cold[1] * 1e3:8.0f} ms")
    row("import", "first evt3 decode, warm numba cache", f"{warm[1] * 1e3:8.0f} ms", "numba import + cached kernels")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000, help="events per decode benchmark")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not SAMPLE.exists():
        print(f"needs {SAMPLE}: the Prophesee EVT 3.0 RAW sample from the expelliarmus decoder's test data")
        return 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"had_tracker events benchmark: one thread, best of {args.repeats}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at start")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        sample = bench_evt3(args.events, args.repeats, Path(tmp))
    bench_word_encodings(sample, args.events, args.repeats)
    # 2 M events (a few seconds of a busy sensor) and the decode benchmark's own events: fixed costs (zeroing
    # the 18 MB grid) weigh more in the first, tonic's larger temporaries in the second.
    for n_rep in sorted({min(args.events, 2_000_000), args.events}):
        bench_representations(sample, n_rep, args.repeats)
    bench_buffer(args.repeats)
    bench_import()
    print()
    print(f"| {'area':<16} | {'measurement':<62} | {'result':>16} | note")
    print(f"|{'-' * 18}|{'-' * 64}|{'-' * 18}|------")
    for group, what, value, note in ROWS:
        print(f"| {group:<16} | {what:<62} | {value:>16} | {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
