"""The ablation ladder: train the teacher, then one student per distillation preset, evaluate all on held-out data.

Each training run is a separate ``had-tracker train ...`` process (logs under ``OUT/logs/``), so a run
can be resumed or repeated by hand with the command written into ``OUT/results.json``. Data are
generated once into ``OUT/data/{train,test}`` (memory-mapped caches shared by the parallel runs).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import torch

from had_tracker.errors import HadTrackerError
from had_tracker.models.builder import load_checkpoint, load_model, save_checkpoint
from had_tracker.models.complexity import count_macs, count_params, measure_latencies_ms
from had_tracker.models.export import example_inputs
from had_tracker.training.data import load_sequences, save_sequence_cache
from had_tracker.training.evaluate import evaluate_model

log = logging.getLogger(__name__)

LADDER = ("none", "response", "hdetrack", "hdetrack+ot", "hdetrack+temporal", "had")


def _cache(spec: str, directory: Path, progress: bool = False) -> str:
    if not (directory / "sequences.json").is_file():
        t0 = time.perf_counter()
        sequences = load_sequences(spec, progress=progress)
        save_sequence_cache(sequences, directory)
        log.info("cached %d sequences from %s in %.0f s", len(sequences), spec, time.perf_counter() - t0)
    return f"cache:{directory}"


def _command(
    kind: str, config: str, data: str, out: Path, threads: int, seed: int, steps: int | None, extra: list[str]
) -> list[str]:
    cmd = [sys.executable, "-m", "had_tracker.cli", "train", kind, "--config", config, "--data", data]
    cmd += ["--out", str(out), "--threads", str(threads), "--seed", str(seed), "--no-progress", *extra]
    if steps is not None:
        cmd += ["--steps", str(steps)]
    if (out / "last.pt").is_file():
        cmd.append("--resume")
    return cmd


def _run_all(commands: dict[str, list[str]], logs: Path, jobs: int) -> dict[str, float]:
    """Run commands with at most ``jobs`` at once; returns wall seconds per name; raises if one fails."""
    pending = list(commands.items())
    running: dict[str, tuple[subprocess.Popen, float, object]] = {}
    wall: dict[str, float] = {}
    failed = []
    while pending or running:
        while pending and len(running) < jobs:
            name, cmd = pending.pop(0)
            handle = open(logs / f"{name.replace('+', '_')}.log", "a", encoding="utf-8")  # noqa: SIM115 (closed below)
            handle.write(" ".join(cmd) + "\n")
            handle.flush()
            log.info("start %s", name)
            running[name] = (
                subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT),
                time.perf_counter(),
                handle,
            )
        time.sleep(1.0)
        for name, (proc, start, handle) in list(running.items()):
            if proc.poll() is not None:
                handle.close()
                wall[name] = time.perf_counter() - start
                del running[name]
                log.info("%s finished (exit %d) after %.0f s", name, proc.returncode, wall[name])
                if proc.returncode != 0:
                    failed.append(name)
    if failed:
        raise HadTrackerError(f"training failed for {failed}; see {logs}")
    return wall


def describe(ckpt: Path, test_sequences: list, threads: int = 2) -> dict:
    """Params, MACs and held-out metrics of a checkpoint (latency: :func:`measure_latencies`)."""
    model, cfg = load_model(ckpt)
    inputs = example_inputs(cfg, batch=1)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        metrics = evaluate_model(model, cfg, test_sequences)
    finally:
        torch.set_num_threads(previous)
    payload = load_checkpoint(ckpt)
    return {
        "checkpoint": str(ckpt),
        "kind": cfg.kind,
        "params": count_params(model),
        "macs": count_macs(model, inputs),
        "file_bytes": Path(ckpt).stat().st_size,
        "train_seconds": payload.get("train_seconds"),
        "pairs_per_s": payload.get("pairs_per_s"),
        **metrics,
    }


def measure_latencies(rows: dict[str, dict], threads: int = 2, repeats: int = 30) -> None:
    """Add ``latency_ms`` (``threads`` threads) and ``latency_ms_1thread`` to every row, batch 1.

    All checkpoints are measured interleaved, in blocks of 10 calls (as a tracker runs its one network), so
    that a change of load on a shared machine hits every row alike and the rows stay comparable.
    """
    runs = []
    for row in rows.values():
        model, cfg = load_model(row["checkpoint"])
        runs.append((model.eval(), example_inputs(cfg, batch=1)))
    for key, n in (("latency_ms", threads), ("latency_ms_1thread", 1)):
        latencies = measure_latencies_ms(runs, threads=n, warmup=3, repeats=repeats, block=min(10, repeats))
        for row, latency in zip(rows.values(), latencies, strict=True):
            row[key] = latency


def format_table(rows: dict[str, dict]) -> str:
    """Markdown table of the ladder results."""
    lines = [
        "| model | distillation | SR (AUC) % | PR@20 % | NPR % | params | MMACs | CPU ms, 2 thr | CPU ms, 1 thr | train s | pairs/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        kind = "teacher (RGB+events)" if r["kind"] == "teacher" else "student (events)"
        distill = "—" if r["kind"] == "teacher" else name
        train_s = f"{r['train_seconds']:.0f}" if r.get("train_seconds") else "—"
        pairs = f"{r['pairs_per_s']:.1f}" if r.get("pairs_per_s") else "—"
        lines.append(
            f"| {kind} | {distill} | {r['success_auc']:.1f} | {r['precision_20']:.1f} | {r['norm_precision_20']:.1f} | "
            f"{r['params'] / 1e3:.0f} k | {r['macs'] / 1e6:.1f} | {r['latency_ms']['median']:.2f} | "
            f"{r['latency_ms_1thread']['median']:.2f} | {train_s} | {pairs} |"
        )
    return "\n".join(lines)


def run_ladder(
    out: str | Path,
    train_data: str,
    test_data: str,
    teacher_config: str = "cpu-tiny-teacher",
    student_config: str = "cpu-tiny-student",
    rungs: tuple[str, ...] = LADDER,
    teacher_steps: int | None = None,
    student_steps: int | None = None,
    jobs: int = 2,
    teacher_threads: int = 1,
    seed: int = 0,
    progress: bool = False,
) -> str:
    """Run the whole ladder into ``out`` (skipping finished runs) and return the Markdown results table.

    ``progress``: bars on stderr for data generation and the held-out evaluation.
    """
    from had_tracker.progress import progress_bar

    out = Path(out)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    train_spec = _cache(train_data, out / "data" / "train", progress)
    test_spec = _cache(test_data, out / "data" / "test", progress)
    commands: dict[str, list[str]] = {}
    teacher_ckpt = out / "teacher" / "final.pt"
    if not teacher_ckpt.is_file():
        cmd = _command("teacher", teacher_config, train_spec, out / "teacher", teacher_threads, seed, teacher_steps, [])
        commands["teacher"] = cmd
        _run_all({"teacher": cmd}, logs, 1)
    student_cmds = {}
    for rung in rungs:
        run_dir = out / "students" / rung
        if (run_dir / "final.pt").is_file():
            continue
        extra = ["--distill", rung, "--teacher", str(teacher_ckpt)]
        student_cmds[rung] = _command("student", student_config, train_spec, run_dir, 1, seed, student_steps, extra)
    commands.update(student_cmds)
    _run_all(student_cmds, logs, jobs)
    test_sequences = load_sequences(test_spec)
    checkpoints = {"teacher": teacher_ckpt, **{rung: out / "students" / rung / "final.pt" for rung in rungs}}
    rows = {}
    bar = progress_bar(total=len(checkpoints), desc="evaluate held-out", unit="model", enabled=progress)
    for name, ckpt in checkpoints.items():
        bar.set_postfix_str(name)
        rows[name] = describe(ckpt, test_sequences)
        bar.update(1)
    bar.close()
    measure_latencies(rows)
    table = format_table(rows)
    recorded = {k: " ".join(v) for k, v in commands.items()}
    previous = out / "results.json"
    if previous.is_file():  # keep the commands of the runs an earlier invocation trained
        recorded = {**json.loads(previous.read_text(encoding="utf-8")).get("commands", {}), **recorded}
    record = {
        "train_data": train_data,
        "test_data": test_data,
        "teacher_config": teacher_config,
        "student_config": student_config,
        "seed": seed,
        "commands": recorded,
        "results": rows,
    }
    (out / "results.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    (out / "results.md").write_text(table + "\n", encoding="utf-8")
    return table


def ship_best(out: str | Path, dest: str | Path, metric: str = "success_auc") -> tuple[str, Path]:
    """Copy the ladder student with the best held-out ``metric`` to ``dest`` (model + config + provenance only)."""
    out = Path(out)
    record = json.loads((out / "results.json").read_text(encoding="utf-8"))
    students = {k: v for k, v in record["results"].items() if v["kind"] == "student"}
    if not students:
        raise HadTrackerError(f"{out}/results.json has no student results")
    best = max(students, key=lambda k: students[k][metric])
    payload = load_checkpoint(students[best]["checkpoint"])
    model, cfg = load_model(students[best]["checkpoint"])
    keep = {k: payload[k] for k in ("train_config", "distill_config", "train_seconds", "pairs_per_s") if k in payload}
    provenance = {
        "ladder_rung": best,
        "train_data": record["train_data"],
        "test_data": record["test_data"],
        "seed": record["seed"],
        "held_out": {k: students[best][k] for k in ("success_auc", "precision_20", "norm_precision_20")},
    }
    path = save_checkpoint(dest, model, cfg, {**keep, "provenance": provenance})
    return best, path
