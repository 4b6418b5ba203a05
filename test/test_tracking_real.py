"""The shipped student on the labelled real recordings (data/labels, recordings in ../shared/data).

Regression floors, not targets: the scores the README reports for the shipped student and tracker defaults
are measured by bench/eval_real.sh. Before the aspect-ratio limit the size head turned the 44x20 px car into a
28x27 px square within 0.25 s (traffic_car SR 52.6); before the half-cell search crop and the refined peak the
board's centre alternated between two score cells every window (apriltag_board PR@20 76.8, car SR 71.2).
The student shipped since 2026-12-07 (trained on elongated targets with event thinning, its box follows the
target's size) scores 78.7 / 81.0 / 59.7 / 82.2 (car / far car / dark car / board); the one before it (no
thinning) 79.6 / 74.8 / 56.5 / 80.5, the one before that 76.4 / 64.5 / 60.6 / 76.2.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from had_tracker.data.labels.recordings import default_data_root
from had_tracker.evaluation import dataset_eval

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = default_data_root()
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"real recordings not found at {DATA} (../shared/data)")


@pytest.mark.parametrize(
    ("name", "floor", "pr_floor"),
    [
        ("traffic_car", 76.0, 95.0),
        ("traffic_far_car", 78.0, 95.0),
        ("traffic_dark_car", 57.0, 95.0),
        ("apriltag_board", 79.0, 85.0),
    ],
)
def test_shipped_student_holds_the_real_targets(tmp_path, name, floor, pr_floor):
    label = REPO_ROOT / "data" / "labels" / f"{name}.json"
    loader = functools.partial(dataset_eval.LazyDataset, dataset_eval.dataset_sequence_dirs(label, "real"), "real")
    factory = functools.partial(dataset_eval.make_tracker, "student", None)
    report = dataset_eval.evaluate_sequences(loader, factory, tmp_path, "student", workers=1, progress=False)
    seq = report["trackers"]["student"]["per_sequence"][0]
    assert seq["success_auc"] >= floor, seq
    assert seq["precision_20"] >= pr_floor, seq  # the centre stays on the target (the board is 279 px wide)
