"""Training-pair sampling throughput with the student's event thinning and shading off and on (pairs per second).

    python bench/sampler.py --data cache:DIR          # e.g. sequences saved by `train student --save-data DIR`
    python bench/sampler.py                            # toy sequences (few events: a lower bound of the cost)

The settings run interleaved in blocks (``--blocks`` x ``--pairs`` pairs each) so that they share the machine's
load; the student's pairs only (no teacher inputs), with the aligner's sub-windows as the cpu-tiny student has them.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from had_tracker.data.sampler import PairSampler, SamplerConfig
from had_tracker.models.builder import ModelConfig
from had_tracker.training.data import load_sequences

SETTINGS = {
    "off": SamplerConfig(),
    "thinning, half of the pairs": SamplerConfig(event_thinning=0.5),
    "thinning, every pair": SamplerConfig(event_thinning=1.0),
    "thinning + shading, half each": SamplerConfig(event_thinning=0.5, event_shading=0.5),
    "shading, every pair": SamplerConfig(event_shading=1.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="toy:sequences=8,seed=0", help="a training data spec (default: toy)")
    parser.add_argument("--pairs", type=int, default=200, help="pairs per block")
    parser.add_argument("--blocks", type=int, default=5)
    args = parser.parse_args()
    sequences = load_sequences(args.data)
    cfg = ModelConfig.from_yaml("cpu-tiny", "student")
    samplers = {
        name: PairSampler(sequences, cfg, setting, seed=0, with_teacher_inputs=False, with_bins=True)
        for name, setting in SETTINGS.items()
    }
    for sampler in samplers.values():  # warm-up: numba, and the memory-mapped cache's pages
        for i in range(args.pairs):
            sampler[i]
    rates: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for block in range(args.blocks):
        for name, sampler in samplers.items():
            first = (block + 1) * args.pairs
            t0 = time.perf_counter()
            for i in range(first, first + args.pairs):
                sampler[i]
            rates[name].append(args.pairs / (time.perf_counter() - t0))
    print(
        f"{len(sequences)} sequences from {args.data}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'student events':<32} {'median pairs/s':>15} {'min':>8} {'max':>8}")
    for name, values in rates.items():
        print(f"{name:<32} {np.median(values):>15.0f} {min(values):>8.0f} {max(values):>8.0f}")


if __name__ == "__main__":
    main()
