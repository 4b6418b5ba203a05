"""Tracker start-up: the first ``initialize`` with and without ``Tracker.warm_up()`` (which the nodes call).

Run:  python bench/startup.py [--runs 2] [--adapt-steps 0 20]

Each run is a fresh process (the costs are first-call costs): load the shipped student, optionally warm up,
then initialize on one synthetic window and update on the next. The numba on-disk cache is whatever the
machine has (warm after any earlier run). ``--adapt-steps``: the ``tracker.init_adapt_steps`` values to time (the
initialisation's test-time adaptation; the first update after it also exports the adapted copy to onnxruntime).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import sys, time
import numpy as np
from had_tracker.events.container import Events
from had_tracker.sync.synchronizer import AlignedSample
from had_tracker.tracking.tracker import Tracker, TrackerConfig

def window(k):
    rng = np.random.default_rng(k)
    t0 = k * 5_000_000
    x = np.clip(rng.normal(100 + k, 3.0, 400), 0, 345)
    y = np.clip(rng.normal(80, 3.0, 400), 0, 259)
    t = np.sort(rng.integers(t0, t0 + 5_000_000, 400))
    return AlignedSample(k, t0, t0 + 5_000_000, Events.from_arrays(t, x, y, rng.integers(0, 2, 400), 346, 260), None, None)

tracker = Tracker(TrackerConfig(init_adapt_steps=int(sys.argv[2])))
t0 = time.perf_counter()
if sys.argv[1] == "warm":
    tracker.warm_up()
t1 = time.perf_counter()
tracker.initialize(window(0), (80.0, 60.0, 40.0, 40.0))
t2 = time.perf_counter()
tracker.update(window(1))
t3 = time.perf_counter()
print((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--adapt-steps",
        type=int,
        nargs="+",
        default=[0],
        help="tracker.init_adapt_steps values (0: the default tracker)",
    )
    args = parser.parse_args()
    print("| start | adapt steps | warm_up ms | first initialize ms | first update ms |\n|---|---:|---:|---:|---:|")
    for _ in range(args.runs):
        for steps in args.adapt_steps:
            for mode in ("cold", "warm"):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, mode, str(steps)],
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                warm, init, update = (float(v) for v in out.stdout.split())
                label = "with Tracker.warm_up()" if mode == "warm" else "without"
                print(f"| {label} | {steps} | {warm:.0f} | {init:.1f} | {update:.1f} |")


if __name__ == "__main__":
    main()
