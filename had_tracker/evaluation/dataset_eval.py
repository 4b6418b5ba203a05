"""``eval dataset``: one tracker over every sequence of a dataset, in parallel processes, with a progress bar.

Sequences are already aligned (:class:`TrackingSequence`), so each frame becomes one window of the events
since the previous frame plus the RGB frame (:func:`~had_tracker.evaluation.harness.sequence_samples`);
the tracker starts from the first ground-truth box (the first present, valid one when frame 0 has none;
earlier frames are then left out) and the metrics follow the chosen convention. Workers
load their own sequences (by index) so no large arrays cross process boundaries, and each worker limits
torch to one thread (the pool is the parallelism). Workers are spawned (never forked): ``loader`` and
``tracker_factory`` must be importable, picklable callables.

Outputs in ``out_dir``: ``predictions/<sequence>.txt`` (``t_ns,x,y,w,h`` per frame, full float precision),
``success.png``, ``precision.png``, ``report.json`` and ``report.md`` (overall, per attribute, per sequence).
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import re
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from had_tracker.errors import ConfigError
from had_tracker.evaluation.metrics import (
    DEFAULT_CONVENTION,
    SequenceResult,
    evaluate_sequence,
    headline,
    summarize,
    summarize_by_attribute,
)

log = logging.getLogger(__name__)

FORMATS = ("fe108", "fe240hz", "visevent", "coesot", "synthetic", "real")

_WORKER: dict[str, Any] = {}  # per-process cache: the loaded dataset and the tracker factory


class LazyDataset:
    """The sequences of a dataset, each read on first access (``load_dataset`` on its own folder).

    Picklable (folder paths and the format only), so pool workers read just the sequences they evaluate.
    """

    def __init__(self, sequence_dirs: Sequence[str], fmt: str) -> None:
        self.sequence_dirs, self.fmt = [str(d) for d in sequence_dirs], fmt

    def __len__(self) -> int:
        return len(self.sequence_dirs)

    def __getitem__(self, index: int) -> Any:
        from had_tracker.data.datasets import load_dataset

        return load_dataset(self.sequence_dirs[index], self.fmt)[0]


def dataset_sequence_dirs(root: str | Path, fmt: str, split: str | None = None) -> list[str]:
    """The sequence folders of a dataset (a split is resolved by loading it once through ``load_dataset``)."""
    try:
        from had_tracker.data.datasets import find_sequences, load_dataset
    except ImportError as exc:
        raise ConfigError(
            f"dataset readers are not available in this build (had_tracker.data.datasets: {exc})"
        ) from None
    if split:
        return [s.meta["path"] for s in load_dataset(root, fmt, split=split)]
    dirs = [str(d) for d in find_sequences(Path(root), fmt)]
    if not dirs:
        raise ConfigError(f"no {fmt} sequences found under {root}")
    return dirs


def make_tracker(name: str, model: str | None = None, tracker_config: str | None = None) -> Any:
    """A fresh tracker by name: ``student``, ``teacher`` or an OpenCV baseline (``mil``, ``csrt-events``, ...).

    ``student`` runs our Tracker on ``model`` (default: the shipped student); ``teacher`` on the teacher
    checkpoint given as ``model`` (RGB + events). ``tracker_config``: a YAML of TrackerConfig settings for
    those two (default: TrackerConfig's defaults); a baseline given one is an error.
    """
    from had_tracker.evaluation.baselines import OpenCVBaseline, parse_baseline_name

    if name == "teacher" and not model:
        raise ConfigError("--tracker teacher needs the teacher checkpoint as --model")
    if name in ("student", "had", "teacher"):
        from had_tracker.tracking.tracker import Tracker, TrackerConfig

        if "torch" not in sys.modules:
            import torch  # noqa: F401 - loaded before the tracker so worker thread limits apply
        config = TrackerConfig.from_yaml(tracker_config) if tracker_config else TrackerConfig()
        return Tracker(config, checkpoint=model)
    if tracker_config:
        raise ConfigError(f"--tracker-config applies to the student or teacher, not to the baseline {name!r}")
    return OpenCVBaseline(*parse_baseline_name(name))


def _init_worker(
    loader: Callable[[], Sequence[Any]], tracker_factory: Callable[[], Any], pooled: bool, window_ns: int | None = None
) -> None:
    if pooled:  # one thread per worker process: the pool is the parallelism
        import cv2

        cv2.setNumThreads(1)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)
    _WORKER["loader"], _WORKER["factory"], _WORKER["dataset"] = loader, tracker_factory, None
    _WORKER["window_ns"] = window_ns


def _mean_result(results: list[SequenceResult]) -> SequenceResult:
    """One sequence's result over repeated runs: curves averaged (so SR etc. are the runs' means)."""
    if len(results) == 1:
        return results[0]
    first = results[0]
    ious = [r.mean_iou for r in results if np.isfinite(r.mean_iou)]
    return SequenceResult(
        name=first.name,
        success_curve=np.mean([r.success_curve for r in results], axis=0),
        precision_curve=np.mean([r.precision_curve for r in results], axis=0),
        norm_precision_curve=np.mean([r.norm_precision_curve for r in results], axis=0),
        n_frames=first.n_frames,
        n_valid=first.n_valid,
        mean_iou=float(np.mean(ious)) if ious else float("nan"),
        attributes=first.attributes,
    )


def _evaluate_index(index: int, convention: str, repeats: int = 1) -> dict[str, Any]:
    if _WORKER.get("dataset") is None:
        _WORKER["dataset"] = _WORKER["loader"]()
    trackers = [_WORKER["factory"]() for _ in range(max(int(repeats), 1))]  # a fresh tracker per run
    seq, first = _prepared(_WORKER["dataset"][index], getattr(trackers[0], "modality", "events"))
    runs = [_run_sequence(seq, tracker, first, convention) for tracker in trackers]
    out = {"index": index, **runs[0], "result": _mean_result([r["result"] for r in runs])}
    if len(runs) > 1:  # predictions, timing and motion bias stay the first run's
        out["repeats"] = [r["result"].success_auc for r in runs]
    return out


def _prepared(seq: Any, modality: str) -> tuple[Any, int]:
    """``seq`` ready for a tracker of ``modality`` (pseudo-events where only event images ship) and its start frame."""
    if seq.events is None and seq.event_frames is not None and modality != "rgb":
        from had_tracker.data.datasets.event_images import with_pseudo_events

        seq = with_pseudo_events(seq)  # only event images ship: documented pseudo-events from them
    if seq.events is None and modality != "rgb":
        raise ConfigError(
            f"sequence {seq.name!r} has no raw events (only event images): evaluate it with an RGB baseline, "
            "or provide the raw events (e.g. FE108 events.aedat4 with dv_processing installed)"
        )
    if seq.meta.get("rgb") is False and modality == "rgb":
        raise ConfigError(f"sequence {seq.name!r} has no RGB/APS frames: evaluate it with an event tracker")
    # The start frame: the first with the target present and a valid box (frame 0 in the benchmarks).
    gt, absent = np.asarray(seq.gt_boxes, np.float64), np.asarray(seq.absent, bool)
    startable = ~absent & (gt[:, 2] > 0) & (gt[:, 3] > 0) & np.isfinite(gt).all(axis=1)
    if not startable.any():
        raise ConfigError(f"sequence {seq.name!r} has no frame with a present, valid ground-truth box to start from")
    return seq, int(np.argmax(startable))


def _run_sequence(seq: Any, tracker: Any, first: int, convention: str) -> dict[str, Any]:
    """One run of ``tracker`` (fresh) over ``seq`` from frame ``first``: its result, log and motion bias."""
    from had_tracker.evaluation.harness import run_tracker, sequence_samples
    from had_tracker.evaluation.motion_bias import motion_bias

    gt, absent = np.asarray(seq.gt_boxes, np.float64), np.asarray(seq.absent, bool)
    # event trackers step at the event window rate when one is set (as the live node); RGB trackers per frame
    window_ns = _WORKER.get("window_ns") if getattr(tracker, "modality", "events") != "rgb" else None
    samples = sequence_samples(seq, window_ns=window_ns, start=first)
    track_log = run_tracker(tracker, samples, gt[first], name=seq.name)
    t = np.asarray(seq.frame_t_ns, np.int64)
    pred = track_log.boxes_at(t[first:])  # the estimate in force at each ground-truth frame
    result = evaluate_sequence(pred, gt[first:], absent[first:], convention, seq.name, seq.attributes)
    try:
        bias = motion_bias(pred, gt[first:], t[first:], absent[first:]).scalars()
    except ValueError as exc:  # e.g. repeated frame stamps: no velocity; the diagnostic is left out, not the sequence
        log.warning("sequence %r: no motion bias (%s)", seq.name, exc)
        bias = {"motion_bias_px": None, "motion_bias_ms": None, "motion_bias_frames": 0}
    return {
        "name": seq.name,
        "first_frame": first,
        "result": result,
        "motion_bias": bias,
        "timing": track_log.timing(),
        "t_ns": np.asarray(track_log.t_ns, np.int64),
        "boxes": track_log.box_array,
    }


def evaluate_sequences(
    loader: Callable[[], Sequence[Any]],
    tracker_factory: Callable[[], Any],
    out_dir: str | Path,
    tracker_name: str,
    convention: str = DEFAULT_CONVENTION,
    workers: int = 2,
    limit: int | None = None,
    source: dict[str, Any] | None = None,
    progress: bool = True,
    window_ns: int | None = None,
    repeats: int = 1,
) -> dict[str, Any]:
    """Run ``tracker_factory()`` on every sequence of ``loader()`` (picklable callables) and write the report.

    ``window_ns``: event trackers step through each frame interval in windows of at most this length (the live
    node's 200 Hz is 5 ms); None = one window per frame. RGB trackers always step per frame.

    ``repeats``: each sequence is run this many times with a fresh tracker and scored by the runs' mean (curves
    averaged; OpenCV's MIL draws random samples from a generator that cannot be seeded from Python, so one run is
    one draw); the report keeps each run's SR.

    ``workers <= 1`` runs in this process (no pool). Returns the report dict (``report["overall"]`` holds
    the headline numbers).
    """
    from tqdm import tqdm

    from had_tracker.evaluation.plots import plot_precision, plot_success
    from had_tracker.evaluation.report import new_report, write_report

    out_dir = Path(out_dir)
    n_total = len(loader())
    if n_total == 0:
        raise ConfigError("the dataset has no sequences")
    indices = list(range(min(n_total, limit) if limit else n_total))
    outputs: list[dict[str, Any]] = []
    bar = tqdm(total=len(indices), desc=f"eval {tracker_name}", unit="seq", disable=not progress)
    if workers <= 1:
        _init_worker(loader, tracker_factory, False, window_ns)
        for i in indices:
            outputs.append(_evaluate_index(i, convention, repeats))
            bar.update()
    else:
        # spawn, not fork: a forked child of a process whose torch/OpenMP thread pool is running deadlocks
        # in set_num_threads (seen as a hung test suite).
        with ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(loader, tracker_factory, True, window_ns),
        ) as pool:
            futures = [pool.submit(_evaluate_index, i, convention, repeats) for i in indices]
            for fut in as_completed(futures):
                outputs.append(fut.result())
                bar.update()
    bar.close()
    outputs.sort(key=lambda o: o["index"])

    pred_dir = out_dir / "predictions"
    pred_dir.mkdir(parents=True, exist_ok=True)
    results: list[SequenceResult] = []
    for o in outputs:
        results.append(o["result"])
        rows = [f"{t},{','.join(repr(float(v)) for v in b)}" for t, b in zip(o["t_ns"], o["boxes"], strict=True)]
        (pred_dir / f"{_file_name(o['name'])}.txt").write_text("\n".join(rows) + "\n")
    summary = summarize(results, convention)
    timings = [o["timing"] for o in outputs if o["timing"].get("n_updates")]
    n_updates = sum(t["n_updates"] for t in timings)
    total_ms = sum(t["n_updates"] * t["latency_ms_mean"] for t in timings)
    timing = {
        "n_updates": n_updates,
        "fps": 1e3 * n_updates / total_ms if total_ms > 0 else float("nan"),
        "latency_ms_mean": total_ms / n_updates if n_updates else float("nan"),
        "latency_ms_p95": float(np.max([t["latency_ms_p95"] for t in timings])) if timings else float("nan"),
    }
    report = new_report(f"{tracker_name} on {len(results)} sequence(s)", convention, source or {})
    report["metrics_available"] = True
    report["trackers"][tracker_name] = {
        "overall": headline(summary),
        "curves": {k: v for k, v in summary.items() if isinstance(v, list)},
        "per_attribute": summarize_by_attribute(results, convention),
        "per_sequence": [
            {
                "name": r.name,
                **r.scalars(),
                **o["motion_bias"],
                "fps": o["timing"].get("fps"),
                "first_frame": o["first_frame"],
                **(
                    {"success_auc_runs": o["repeats"], "success_auc_sd": float(np.std(o["repeats"], ddof=1))}
                    if "repeats" in o
                    else {}
                ),
            }
            for r, o in zip(results, outputs, strict=True)
        ],
        "timing": timing,
        "files": {"predictions": "predictions/"},
    }
    report["files"] = {
        "success_plot": plot_success({tracker_name: summary}, out_dir / "success.png").name,
        "precision_plot": plot_precision({tracker_name: summary}, out_dir / "precision.png").name,
    }
    report["overall"] = headline(summary)
    write_report(report, out_dir)
    return report


def _model_label(model: str | Path) -> str:
    """``runs/had/final.pt`` -> ``had/final``: generic checkpoint names keep their folder."""
    path = Path(model)
    generic = path.stem in ("final", "last", "best", "checkpoint", "model")
    return f"{path.parent.name}/{path.stem}" if generic and path.parent.name else path.stem


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "sequence"


def evaluate_dataset(
    root: str | Path,
    fmt: str,
    out_dir: str | Path,
    tracker: str = "student",
    model: str | None = None,
    convention: str = DEFAULT_CONVENTION,
    workers: int = 2,
    limit: int | None = None,
    split: str | None = None,
    tracker_config: str | None = None,
    window_hz: float | None = None,
    repeats: int = 1,
) -> dict[str, Any]:
    """``had-tracker eval dataset``: load ``root`` as ``fmt`` with the dataset readers and evaluate ``tracker``.

    ``window_hz``: event trackers update at this rate between frames; ``repeats``: runs per sequence, scored by
    their mean (see :func:`evaluate_sequences`).
    """
    if repeats < 1:
        raise ConfigError(f"--repeats must be >= 1, got {repeats}")
    if window_hz is not None and not window_hz > 0:
        raise ConfigError(f"--window-hz must be > 0, got {window_hz}")
    if fmt not in FORMATS:
        raise ConfigError(f"unknown dataset format {fmt!r}; choose one of {FORMATS}")
    if not Path(root).exists():
        raise ConfigError(f"dataset root {root} does not exist")
    # fail fast (missing checkpoint, unknown baseline, bad tracker config) before starting workers
    probe = make_tracker(tracker, model, tracker_config)
    if hasattr(probe, "model_config"):
        name = f"HAD {getattr(probe.model_config, 'kind', 'student')}" + (f" [{_model_label(model)}]" if model else "")
    else:
        name = getattr(probe, "name", tracker)
    loader = functools.partial(LazyDataset, dataset_sequence_dirs(root, fmt, split), fmt)
    factory = functools.partial(make_tracker, tracker, model, tracker_config)
    source = {"root": str(root), "format": fmt, "tracker": tracker}
    if tracker_config:
        source["tracker_config"] = str(tracker_config)
    window_ns = None if window_hz is None else max(round(1e9 / window_hz), 1)
    if window_ns is not None and getattr(probe, "modality", "events") == "rgb":
        log.warning("--window-hz does not apply to %s, an RGB frame tracker: it updates once per frame", name)
        window_ns = None
    if window_ns is not None:
        source["window_hz"] = float(window_hz)
    if repeats > 1:
        source["repeats"] = int(repeats)
    if model:
        source["model"] = str(model)
    return evaluate_sequences(
        loader, factory, out_dir, name, convention, workers, limit, source, window_ns=window_ns, repeats=repeats
    )
