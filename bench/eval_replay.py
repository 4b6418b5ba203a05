"""Evaluation benchmark: metric throughput per convention, and bag replay cost per tracker on the demo bag.

Run:  python bench/eval_replay.py [--frames 100000] [--duration 2.0] [--model CKPT] [--threads 1]

Part 1 scores ``--frames`` random predictions against random ground truth with each convention
(``evaluate_sequence``) and reports frames per second. Part 2 generates the demo's synthetic bag
(fast motion, harsh light; ``--duration`` seconds) and replays it through the Synchronizer with each
tracker alone (the shipped student when present, else ``--model``, else a randomly initialised cpu-tiny
student, which is labelled), reporting windows, wall time, the tracker's update FPS and latency
percentiles. Numbers depend on the machine and its load: run it on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def bench_metrics(n_frames: int) -> list[tuple[str, float]]:
    from had_tracker.evaluation.metrics import CONVENTIONS, evaluate_sequence

    rng = np.random.default_rng(0)
    gt = np.column_stack([rng.uniform(0, 300, (n_frames, 2)), rng.uniform(5, 80, (n_frames, 2))])
    pred = gt + rng.normal(0, 5, gt.shape)
    pred[:, 2:] = np.abs(pred[:, 2:]) + 1
    rows = []
    for conv in CONVENTIONS:
        t0 = time.perf_counter()
        evaluate_sequence(pred, gt, convention=conv)
        rows.append((conv, n_frames / (time.perf_counter() - t0)))
    return rows


def bench_replay(duration_s: float, model: str | None) -> list[dict]:
    import torch

    from had_tracker.data.synthetic.generator import generate_sequence
    from had_tracker.data.writers import write_bag
    from had_tracker.evaluation.baselines import OpenCVBaseline
    from had_tracker.evaluation.demo import demo_config
    from had_tracker.evaluation.replay import replay_bag
    from had_tracker.models.builder import build_model, default_student_checkpoint, save_checkpoint
    from had_tracker.models.config import ModelConfig
    from had_tracker.tracking.tracker import Tracker, TrackerConfig

    tmp = Path(tempfile.mkdtemp(prefix="had_bench_eval_"))
    label = "shipped student"
    if model is None and not default_student_checkpoint().exists():
        torch.manual_seed(0)
        cfg = ModelConfig.from_yaml("cpu-tiny")
        model = str(save_checkpoint(tmp / "random_student.pt", build_model(cfg), cfg))
        label = "random cpu-tiny student (no shipped checkpoint)"
    elif model is not None:
        label = f"student {Path(model).name}"
    recording = generate_sequence(demo_config(duration_s), seed=7)
    bag = write_bag(recording, tmp / "bag")
    rows = []
    makers = {
        label: lambda: Tracker(TrackerConfig(), checkpoint=model),
        "MIL (rgb)": lambda: OpenCVBaseline("mil", "rgb"),
        "MIL (events)": lambda: OpenCVBaseline("mil", "events"),
    }
    for name, make in makers.items():
        t0 = time.perf_counter()
        report = replay_bag(bag, tmp / name.split()[0], trackers={name: make()}, gt_topic="/ground_truth")
        wall = time.perf_counter() - t0
        entry = report["trackers"][name]
        rows.append(
            {
                "tracker": name,
                "windows": report["replay"]["windows"],
                "wall_s": wall,
                "realtime": wall / duration_s,
                **{k: entry["timing"].get(k, float("nan")) for k in ("fps", "latency_ms_p50", "latency_ms_p95")},
                "sr": (entry["overall"] or {}).get("success_auc", float("nan")),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-replay", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(f"metrics: {args.frames} frames per convention")
    print(f"{'convention':<12} {'frames/s':>12}")
    for conv, fps in bench_metrics(args.frames):
        print(f"{conv:<12} {fps:>12,.0f}")
    if args.skip_replay:
        return
    print()
    print(
        f"replay of the demo bag ({args.duration:.1f} s, 200 Hz windows), one tracker at a time, torch threads {args.threads}"
    )
    header = f"{'tracker':<48} {'windows':>7} {'wall s':>7} {'x realtime':>10} {'upd FPS':>8} {'p50 ms':>7} {'p95 ms':>7} {'SR':>6}"
    print(header)
    print("-" * len(header))
    for r in bench_replay(args.duration, args.model):
        print(
            f"{r['tracker']:<48} {r['windows']:>7} {r['wall_s']:>7.1f} {r['realtime']:>10.2f} {r['fps']:>8.1f} "
            f"{r['latency_ms_p50']:>7.1f} {r['latency_ms_p95']:>7.1f} {r['sr']:>6.1f}"
        )


if __name__ == "__main__":
    main()
