"""`had-tracker export` on a plain install, the exported model's card, and examples/run_exported_student.py.

The example runs an exported student on a recorded bag (a tiny synthetic one) and must reproduce the boxes
the tracker gives with the original checkpoint.
"""

from __future__ import annotations

import csv
import importlib.util
import json

import numpy as np
import pytest

from had_tracker.cli import main
from had_tracker.models.builder import default_student_checkpoint
from test.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "run_exported_student.py"


@pytest.fixture(scope="module")
def tiny_bag(tmp_path_factory):
    pytest.importorskip("had_tracker.data.synthetic.generator")
    from had_tracker.data.synthetic.config import SyntheticConfig
    from had_tracker.data.synthetic.generator import generate_sequence
    from had_tracker.data.writers import write_bag

    cfg = SyntheticConfig.from_preset("easy", duration_s=0.5, width=128, height=96)
    bag = tmp_path_factory.mktemp("bag") / "tiny"
    write_bag(generate_sequence(cfg, seed=2, name="tiny"), bag)
    return bag


@pytest.fixture(scope="module")
def reference(tiny_bag, tmp_path_factory):
    """Boxes of the tracker with the shipped student checkpoint."""
    from had_tracker.evaluation.replay import replay_bag
    from had_tracker.tracking.tracker import Tracker, TrackerConfig

    out = tmp_path_factory.mktemp("reference")
    # an exported graph is fixed: the example reproduces the tracker without its test-time adaptation
    config = TrackerConfig(num_threads=1, checkpoint=str(default_student_checkpoint()), init_adapt_steps=0)
    tracker = Tracker(config)
    replay_bag(tiny_bag, out, trackers={"exported student": tracker}, gt_topic="/ground_truth")
    return _boxes(out / "predictions_exported_student.csv")


def _boxes(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return np.array([[int(r["t_ns"])] + [float(r[k]) for k in "xywh"] for r in rows])


def _run_example(argv):
    spec = importlib.util.spec_from_file_location("run_exported_student", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_example_runs_an_exported_student_and_reproduces_the_trackers_boxes(tiny_bag, reference, tmp_path, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime", reason="ONNX needs onnx and onnxruntime (package requirements)")
    model = tmp_path / ("student.onnx" if fmt == "onnx" else "student.ts.pt")
    assert main(["export", "--format", fmt, "--out", str(model)]) == 0
    card = json.loads((tmp_path / f"{model.name}.json").read_text())
    assert card["inputs"]["search_events"][1:] == [card["model_config"]["events"]["num_bins"] * 2, 96, 96]
    assert _run_example([str(model), str(tiny_bag), "--out", str(tmp_path / "run"), "--gt-topic", "/ground_truth"]) == 0
    boxes = _boxes(tmp_path / "run" / "predictions_exported_student.csv")
    assert len(boxes) == len(reference) > 10
    np.testing.assert_array_equal(boxes[:, 0], reference[:, 0])
    np.testing.assert_allclose(boxes[:, 1:], reference[:, 1:], atol=1e-3)  # px: float rounding only (measured 1.2e-5)


def test_onnx_export_without_onnx_says_what_to_install(tmp_path, capsys, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith("onnx") else real_find_spec(name, *a)
    )
    assert main(["export", "--format", "onnx", "--out", str(tmp_path / "s.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install" in err[0] and "export" in err[0]
    assert not (tmp_path / "s.onnx").exists()


def test_default_export_needs_nothing_extra_and_writes_its_card(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.startswith("onnx") else real_find_spec(name, *a)
    )
    assert main(["export"]) == 0
    assert (tmp_path / "student_cpu_tiny.ts.pt").is_file() and (tmp_path / "student_cpu_tiny.ts.pt.json").is_file()
    assert "max |exported - torch| = " in capsys.readouterr().out
