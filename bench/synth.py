"""Synthetic data engine speed: sequences per minute per preset at 346x260 (one process, one thread).

Usage: python bench/synth.py [--duration 3.0] [--sequences 2] [--presets easy fast ...]
(default: every preset, shapes and photoreal; photoreal-rgbcam also renders a 640x480 RGB camera)
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--sequences", type=int, default=2)
    parser.add_argument("--presets", nargs="+", default=None, help="default: every preset")
    args = parser.parse_args()

    import cv2

    cv2.setNumThreads(1)
    from had_tracker.data.synthetic import PRESET_NAMES, SyntheticConfig, generate_sequence

    args.presets = args.presets or list(PRESET_NAMES)
    generate_sequence(SyntheticConfig.from_preset("easy", duration_s=0.2), 0)  # warm the numba cache
    generate_sequence(SyntheticConfig.from_preset("photoreal", duration_s=0.2), 0)
    rows = []
    for preset in args.presets:
        config = SyntheticConfig.from_preset(preset, duration_s=args.duration)
        wall = cpu = 0.0
        events = 0
        parts = {"events_s": 0.0, "rgb_s": 0.0, "ground_truth_s": 0.0}
        for seed in range(args.sequences):
            t0, c0 = time.perf_counter(), time.process_time()
            rec = generate_sequence(config, seed)
            wall += time.perf_counter() - t0
            cpu += time.process_time() - c0
            events += len(rec.events)
            for k in parts:
                parts[k] += rec.stats[k]
        n = args.sequences
        rows.append((preset, n, wall / n, cpu / n, 60.0 * n / wall, events / n / args.duration / 1e6, parts))
    print(f"\nsynthetic engine, 346x260, {args.duration:.1f} s sequences, cv2 threads 1")
    head = f"{'preset':<20} {'seqs':>4} {'wall s/seq':>10} {'cpu s/seq':>9} {'seq/min':>8} {'Mev/s':>6}  split (events/rgb/gt s)"
    print(head)
    print("-" * len(head))
    for preset, n, wall, cpu, spm, mev, parts in rows:
        split = "/".join(f"{parts[k] / n:.2f}" for k in ("events_s", "rgb_s", "ground_truth_s"))
        print(f"{preset:<20} {n:>4} {wall:>10.2f} {cpu:>9.2f} {spm:>8.1f} {mev:>6.2f}  {split}")


if __name__ == "__main__":
    main()
