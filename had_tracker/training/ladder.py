"""The ablation ladder: train the teacher, then students per distillation preset and seed; an honest protocol.

Protocol (issue 14):

- three disjoint data sets: *train*, *validation* and *test*. Every choice -- the shipped model, the
  tracker's LOST/re-acquire thresholds -- is made on validation; the test set only reports;
- the test set holds at least ``min_test_sequences`` (64) sequences; data specs may join several sources
  with ``;`` (e.g. shapes and photoreal presets);
- every rung is trained with every seed (default 0, 1, 2); a rung's test SR is reported as mean +- SD over
  seeds, and against ``none`` as the paired per-sequence bootstrap 95% CI of the SR difference
  (:mod:`had_tracker.training.protocol`); a component is called helpful only where that CI excludes 0.

Each training run is a separate ``had-tracker train ...`` process (logs under ``OUT/logs/``), so a run
can be resumed or repeated by hand with the command written into ``OUT/results.json``. Data are
generated once into ``OUT/data/{train,val,test}`` (memory-mapped caches shared by the parallel runs).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
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
        sequences = [seq for part in spec.split(";") if part.strip() for seq in load_sequences(part.strip(), progress)]
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
            path = logs / f"{name.replace('+', '_')}.log"  # "rung/seedN": one folder per rung
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed below)
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


def describe(ckpt: Path, test_sequences: list, threads: int = 2, val_sequences: list | None = None) -> dict:
    """Params, MACs and held-out metrics of a checkpoint (latency: :func:`measure_latencies`).

    Test metrics at the top level (``success_auc``, ..., ``per_sequence``); validation ones under ``val``.
    """
    model, cfg = load_model(ckpt)
    inputs = example_inputs(cfg, batch=1)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        metrics = evaluate_model(model, cfg, test_sequences)
        val = evaluate_model(model, cfg, val_sequences) if val_sequences is not None else None
    finally:
        torch.set_num_threads(previous)
    payload = load_checkpoint(ckpt)
    row = {
        "checkpoint": str(ckpt),
        "kind": cfg.kind,
        "params": count_params(model),
        "macs": count_macs(model, inputs),
        "file_bytes": Path(ckpt).stat().st_size,
        "train_seconds": payload.get("train_seconds"),
        "pairs_per_s": payload.get("pairs_per_s"),
        **metrics,
    }
    if val is not None:
        row["val"] = val
    return row


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


def _sr(row: dict) -> str:
    if "success_auc_sd" in row:
        return f"{row['success_auc']:.1f} ± {row['success_auc_sd']:.1f} ({row['n_seeds']})"
    return f"{row['success_auc']:.1f}"


def _ci(row: dict) -> str:
    if "vs_none" not in row:
        return "—"
    v = row["vs_none"]
    mark = " *" if v["excludes_zero"] else ""
    return f"{v['mean_diff']:+.1f} [{v['ci_low']:+.1f}, {v['ci_high']:+.1f}]{mark}"


def format_table(rows: dict[str, dict]) -> str:
    """Markdown table of the ladder results (test set; SR mean ± SD over seeds, ΔSR vs none with its 95% CI)."""
    lines = [
        "| model | distillation | SR (AUC) % | ΔSR vs none [95% CI] | PR@20 % | NPR % | params | MMACs | "
        "CPU ms, 2 thr | CPU ms, 1 thr | train s | pairs/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        kind = "teacher (RGB+events)" if r["kind"] == "teacher" else "student (events)"
        distill = "—" if r["kind"] == "teacher" else name
        train_s = f"{r['train_seconds']:.0f}" if r.get("train_seconds") else "—"
        pairs = f"{r['pairs_per_s']:.1f}" if r.get("pairs_per_s") else "—"
        lines.append(
            f"| {kind} | {distill} | {_sr(r)} | {_ci(r)} | {r['precision_20']:.1f} | {r['norm_precision_20']:.1f} | "
            f"{r['params'] / 1e3:.0f} k | {r['macs'] / 1e6:.1f} | {r['latency_ms']['median']:.2f} | "
            f"{r['latency_ms_1thread']['median']:.2f} | {train_s} | {pairs} |"
        )
    lines.append("")
    lines.append(
        "Test set only reports; the shipped model and the tracker thresholds were chosen on validation. "
        "`*`: the CI excludes 0 (the component helps or hurts); otherwise no difference is shown."
    )
    return "\n".join(lines)


def summarise_rungs(runs: dict[str, dict], rungs: tuple[str, ...], seeds: tuple[int, ...]) -> dict[str, dict]:
    """Per rung: test metrics as mean (and SD) over seeds, and the paired bootstrap CI against ``none``."""
    from had_tracker.training.protocol import mean_sd, paired_bootstrap_ci

    def per_sequence(rung: str) -> np.ndarray:
        tables = [runs[f"{rung}/seed{s}"]["per_sequence"] for s in seeds]
        names = sorted(tables[0])
        return np.array([[t[n] for n in names] for t in tables])  # (seeds, sequences)

    out = {}
    for rung in rungs:
        rows = [runs[f"{rung}/seed{s}"] for s in seeds]
        row = {k: v for k, v in rows[0].items() if k not in ("per_sequence", "val", "checkpoint")}
        row["checkpoint"] = rows[0]["checkpoint"]
        for key in ("success_auc", "precision_20", "norm_precision_20"):
            row[key], row[f"{key}_sd"] = mean_sd(np.array([r[key] for r in rows]))
        row["val_success_auc"] = float(np.mean([r["val"]["success_auc"] for r in rows if "val" in r] or [np.nan]))
        row["n_seeds"] = len(seeds)
        if rung != "none" and "none" in rungs:
            cmp = paired_bootstrap_ci(per_sequence(rung), per_sequence("none"))
            row["vs_none"] = {
                "mean_diff": cmp.mean_diff,
                "ci_low": cmp.ci_low,
                "ci_high": cmp.ci_high,
                "excludes_zero": cmp.excludes_zero,
                "n_sequences": cmp.n_sequences,
            }
        out[rung] = row
    return out


def run_ladder(
    out: str | Path,
    train_data: str,
    test_data: str,
    val_data: str,
    teacher_config: str = "cpu-tiny-teacher",
    student_config: str = "cpu-tiny-student",
    rungs: tuple[str, ...] = LADDER,
    teacher_steps: int | None = None,
    student_steps: int | None = None,
    jobs: int = 2,
    teacher_threads: int = 1,
    seeds: tuple[int, ...] = (0, 1, 2),
    min_test_sequences: int = 64,
    progress: bool = False,
    latency_repeats: int = 30,
) -> str:
    """Run the whole ladder into ``out`` (skipping finished runs) and return the Markdown results table.

    ``progress``: bars on stderr for data generation and the evaluations. See the module docstring for
    the protocol; ``min_test_sequences`` and at least one seed are enforced before any training.
    """
    from had_tracker.progress import progress_bar
    from had_tracker.training.protocol import calibrate_thresholds, validation_peaks

    if len({train_data, val_data, test_data}) != 3:
        raise HadTrackerError("train, validation and test data must be three different sets")
    if not seeds:
        raise HadTrackerError("give at least one seed (the protocol asks for >= 3)")
    out = Path(out)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    test_spec = _cache(test_data, out / "data" / "test", progress)
    test_sequences = load_sequences(test_spec)
    if len(test_sequences) < min_test_sequences:
        raise HadTrackerError(
            f"the test set has {len(test_sequences)} sequences; the protocol needs >= {min_test_sequences} "
            "(one set of 8 has a standard error of ~8 SR points)"
        )
    train_spec = _cache(train_data, out / "data" / "train", progress)
    val_spec = _cache(val_data, out / "data" / "val", progress)
    commands: dict[str, list[str]] = {}
    teacher_ckpt = out / "teacher" / "final.pt"
    if not teacher_ckpt.is_file():
        cmd = _command(
            "teacher", teacher_config, train_spec, out / "teacher", teacher_threads, seeds[0], teacher_steps, []
        )
        commands["teacher"] = cmd
        _run_all({"teacher": cmd}, logs, 1)
    student_cmds = {}
    for rung in rungs:
        for seed in seeds:
            run_dir = out / "students" / rung / f"seed{seed}"
            if (run_dir / "final.pt").is_file():
                continue
            extra = ["--distill", rung, "--teacher", str(teacher_ckpt)]
            cmd = _command("student", student_config, train_spec, run_dir, 1, seed, student_steps, extra)
            student_cmds[f"{rung}/seed{seed}"] = cmd
    commands.update(student_cmds)
    _run_all(student_cmds, logs, jobs)
    val_sequences = load_sequences(val_spec)
    checkpoints = {
        "teacher": teacher_ckpt,
        **{f"{r}/seed{s}": out / "students" / r / f"seed{s}" / "final.pt" for r in rungs for s in seeds},
    }
    runs = {}
    bar = progress_bar(total=len(checkpoints), desc="evaluate held-out (val + test)", unit="model", enabled=progress)
    for name, ckpt in checkpoints.items():
        bar.set_postfix_str(name)
        runs[name] = describe(ckpt, test_sequences, val_sequences=val_sequences)
        bar.update(1)
    bar.close()
    rows = {"teacher": runs["teacher"], **summarise_rungs(runs, rungs, seeds)}
    measure_latencies(rows, repeats=latency_repeats)  # one checkpoint per rung (the first seed's)
    students = [k for k in runs if k != "teacher"]
    selected = max(students, key=lambda k: runs[k]["val"]["success_auc"])  # validation, never test
    model, cfg = load_model(runs[selected]["checkpoint"])
    thresholds: dict = {}
    try:
        thresholds = calibrate_thresholds(*validation_peaks(model, cfg, val_sequences))
    except ValueError as exc:
        thresholds = {"error": str(exc)}
    table = format_table(rows)
    recorded = {k: " ".join(v) for k, v in commands.items()}
    previous = out / "results.json"
    if previous.is_file():  # keep the commands of the runs an earlier invocation trained
        recorded = {**json.loads(previous.read_text(encoding="utf-8")).get("commands", {}), **recorded}
    record = {
        "protocol": {
            "seeds": list(seeds),
            "n_val_sequences": len(val_sequences),
            "n_test_sequences": len(test_sequences),
            "selection": "best validation success AUC over every (rung, seed) run",
            "thresholds": "calibrated on validation pairs (half negative crops): training.protocol",
            "ci": "paired per-sequence bootstrap 95% CI of the test SR difference to none (seed means)",
        },
        "train_data": train_data,
        "val_data": val_data,
        "test_data": test_data,
        "teacher_config": teacher_config,
        "student_config": student_config,
        "commands": recorded,
        "runs": runs,
        "results": rows,
        "selected": {"run": selected, "val_success_auc": runs[selected]["val"]["success_auc"], **thresholds},
    }
    (out / "results.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    (out / "results.md").write_text(table + "\n", encoding="utf-8")
    return table


def ship_best(out: str | Path, dest: str | Path) -> tuple[str, Path]:
    """Copy the student chosen on *validation* (``results.json`` ``selected``) to ``dest`` with its provenance.

    Refuses a results file without a validation choice (an older ladder chose on its test set).
    """
    out = Path(out)
    record = json.loads((out / "results.json").read_text(encoding="utf-8"))
    if "selected" not in record or "runs" not in record:
        raise HadTrackerError(
            f"{out}/results.json has no validation-based choice; rerun `train ladder` with --val-data"
        )
    selected = record["selected"]
    name = selected["run"]
    run = record["runs"][name]
    payload = load_checkpoint(run["checkpoint"])
    model, cfg = load_model(run["checkpoint"])
    keep = {k: payload[k] for k in ("train_config", "distill_config", "train_seconds", "pairs_per_s") if k in payload}
    provenance = {
        "ladder_run": name,
        "ladder_rung": name.split("/")[0],
        "train_data": record["train_data"],
        "val_data": record["val_data"],
        "test_data": record["test_data"],
        "selected_on": "validation success AUC",
        "validation": {"success_auc": selected["val_success_auc"]},
        "tracker_thresholds": {k: selected.get(k) for k in ("lost_threshold", "reacquire_threshold")},
        "test": {k: run[k] for k in ("success_auc", "precision_20", "norm_precision_20")},
    }
    path = save_checkpoint(dest, model, cfg, {**keep, "provenance": provenance})
    return name, path
