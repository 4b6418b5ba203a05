"""Model benchmark: params, MACs and CPU latency (batch 1) of teacher and student per preset; training pairs/s.

    python bench/models.py [--presets cpu-tiny gpu-base] [--threads 2] [--repeats 30] [--train-steps 4] [--ensemble N]

Goals for cpu-tiny: student forward <= 10 ms (batch 1, 2 threads), >= 4x faster than its teacher,
<= 25 % of its parameters. Latency on a shared machine varies with load, so teacher and student run
interleaved, twice: call by call (each call follows one of the other network, whose weights have just
displaced its own from the caches) and in blocks of 10 calls (warm caches, as a tracker runs its one
network); the table shows median and min of ``--repeats`` calls each. Latency is that of the inference
form the tracker runs (batch norms folded, fused center head, maps only: the tracker decodes its own
peak); parameters and MACs are those of the trained network. ``--ensemble N`` adds a row for an ensemble of N
students (``had_tracker.models.ensemble``), timed interleaved with the other two.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from dataclasses import replace

import torch

from had_tracker.data.sampler import PairSampler, collate
from had_tracker.distill.config import DistillConfig
from had_tracker.distill.hierarchical import Distiller
from had_tracker.models.builder import ModelConfig, build_model
from had_tracker.models.complexity import count_macs, count_params, measure_latencies_ms
from had_tracker.models.ensemble import StudentEnsemble
from had_tracker.models.export import example_inputs
from had_tracker.models.heads import fuse_for_inference
from had_tracker.training.config import TrainConfig
from had_tracker.training.loop import TrainStep, make_optimizer
from had_tracker.training.toy import moving_square_sequence

BLOCK = 10  # consecutive calls per network in the warm-cache latency


def model_rows(preset: str, threads: int, repeats: int, ensemble: int = 0) -> list[dict]:
    rows, runs = [], []
    for kind in ("teacher", "student") + (("ensemble",) if ensemble > 1 else ()):
        cfg = ModelConfig.from_yaml(preset, "student" if kind == "ensemble" else kind)
        torch.manual_seed(0)
        model = (StudentEnsemble(cfg, ensemble) if kind == "ensemble" else build_model(cfg)).eval()
        inputs = example_inputs(cfg, batch=1)
        # latency of the inference form the tracker runs (fused head, no box decoding); params/MACs of the trained model
        runs.append((fuse_for_inference(copy.deepcopy(model), decode_boxes=False), inputs))
        rows.append(
            {
                "preset": preset,
                "kind": f"ens x{ensemble}" if kind == "ensemble" else kind,
                "tokens": (2 if kind == "teacher" else ensemble if kind == "ensemble" else 1)
                * (cfg.template_tokens + cfg.search_tokens),
                "params": count_params(model),
                "macs": count_macs(model, inputs),
            }
        )
    reps = repeats if preset == "cpu-tiny" else max(3, repeats // 10)
    # Teacher and student interleaved, so that load changes on a shared machine hit both alike: call by
    # call (each call after the other network, cold caches), and in blocks of BLOCK calls (warm, as a tracker
    # runs its one network).
    for block, suffix in ((1, "alt"), (BLOCK, "blk")):
        latencies = measure_latencies_ms(runs, threads=threads, warmup=2, repeats=reps, block=min(block, reps))
        for row, latency in zip(rows, latencies, strict=True):
            row.update({f"median_{suffix}": latency["median"], f"min_{suffix}": latency["min"]})
    return rows


def train_throughput(steps: int, threads: int, batch_size: int = 16) -> list[tuple[str, float]]:
    """Pairs per second of full training steps (sampling + forward + backward + AdamW) on toy sequences."""
    torch.set_num_threads(threads)
    sequences = [moving_square_sequence(s, num_frames=20) for s in range(4)]
    tc, sc = ModelConfig.from_yaml("cpu-tiny", "teacher"), ModelConfig.from_yaml("cpu-tiny", "student")
    teacher = build_model(tc).eval().requires_grad_(False)
    out = []
    for name, kind, preset in (
        ("teacher (task)", "teacher", "none"),
        ("student, none", "student", "none"),
        ("student, hdetrack", "student", "hdetrack"),
        ("student, had", "student", "had"),
    ):
        dc = DistillConfig.from_yaml(preset) if kind == "student" else DistillConfig(name="task")
        cfg = tc if kind == "teacher" else sc
        model = build_model(cfg)
        step = TrainStep(
            model, Distiller(dc, tc if kind == "student" else None, cfg), teacher if dc.needs_teacher else None
        )
        opt = make_optimizer(step, replace(TrainConfig(), lr=1e-4))
        sampler = PairSampler(
            sequences, cfg, seed=0, with_teacher_inputs=True, with_bins=step.distiller.aligner is not None
        )
        collate([sampler[i] for i in range(2)])  # warm-up (numba, allocations)
        t0 = time.perf_counter()
        for i in range(steps):
            batch = collate([sampler[i * batch_size + j] for j in range(batch_size)])
            loss = step(batch)["total"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        out.append((name, steps * batch_size / (time.perf_counter() - t0)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["cpu-tiny", "gpu-base"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--train-steps", type=int, default=4, help="0 skips the training throughput table")
    parser.add_argument("--ensemble", type=int, default=0, help="also time an ensemble of N students (N >= 2)")
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {args.threads} threads, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print()
    print(f"{'':<44} {'call by call':>19} {f'blocks of {BLOCK}':>19}")
    print(
        f"{'preset':<9} {'network':<8} {'tokens':>6} {'params':>9} {'MMACs':>7} "
        f"{'median ms':>10} {'min ms':>8} {'median ms':>10} {'min ms':>8}"
    )
    for preset in args.presets:
        rows = model_rows(preset, args.threads, args.repeats, args.ensemble)
        for r in rows:
            print(
                f"{r['preset']:<9} {r['kind']:<8} {r['tokens']:>6} {r['params']:>9,} {r['macs'] / 1e6:>7.1f} "
                f"{r['median_alt']:>10.2f} {r['min_alt']:>8.2f} {r['median_blk']:>10.2f} {r['min_blk']:>8.2f}"
            )
        t, s = rows[:2]
        print(
            f"{'':<9} student/teacher: params {100 * s['params'] / t['params']:.1f} %, MACs {100 * s['macs'] / t['macs']:.1f} %; "
            f"speed-up call by call {t['median_alt'] / s['median_alt']:.1f}x (median), {t['min_alt'] / s['min_alt']:.1f}x (min); "
            f"in blocks {t['median_blk'] / s['median_blk']:.1f}x (median), {t['min_blk'] / s['min_blk']:.1f}x (min)"
        )
    if args.train_steps > 0:
        print()
        print(f"training throughput, cpu-tiny, batch 16, {args.threads} threads, {args.train_steps} steps (toy data)")
        for name, pairs in train_throughput(args.train_steps, args.threads):
            print(f"  {name:<20} {pairs:7.1f} pairs/s")


if __name__ == "__main__":
    main()
