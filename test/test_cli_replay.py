"""`had-tracker replay` / `demo`: init boxes in pixels only, refused boxes exit non-zero, explicit boxes win, progress."""

from __future__ import annotations

import io
import json

import pytest

from had_tracker.cli import main
from had_tracker.evaluation.baselines import OpenCVBaseline
from had_tracker.evaluation.replay import replay_bag
from test.test_eval_replay import bags  # noqa: F401 - the module-scoped bag fixture


def _replay(bag, out, *extra):
    return main(["replay", str(bag), "--out", str(out), "--trackers", "mil-events", "--quiet", *extra])


@pytest.mark.parametrize("box", ["0.5,0.5,0.2,0.2", "10,10,0,5", "nan,1,2,3", "1,2,3"])
def test_normalised_or_invalid_init_box_is_refused_at_once(bags, tmp_path, capsys, box):  # noqa: F811
    with pytest.raises(SystemExit) as info:
        _replay(bags["no_gt"], tmp_path / "o", "--init-box", box)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--init-box" in err and "Traceback" not in err
    if box.startswith("0.5"):
        assert "normalised" in err and "pixels" in err
    assert not (tmp_path / "o").exists()


def test_off_image_init_box_exits_nonzero_with_one_line(bags, tmp_path, capsys):  # noqa: F811
    code = _replay(bags["no_gt"], tmp_path / "o", "--init-box", "5000,5000,20,20")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "outside" in err[0] and "--init-box" in err[0]


def test_explicit_init_box_is_used_even_with_ground_truth(bags, tmp_path, capsys):  # noqa: F811
    gt_first = bags["seq"].gt_boxes[0]
    box = [float(gt_first[0]) + 4, float(gt_first[1]) + 3, 20.0, 18.0]  # not the ground-truth box
    code = _replay(bags["gt"], tmp_path / "o", "--init-box", ",".join(map(str, box)))
    out = capsys.readouterr().out
    assert code == 0
    assert "ground truth is used for scoring only" in out
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    entry = report["trackers"]["MIL (events)"]
    assert entry["init_source"] == "parameter" and entry["overall"] is not None
    first = (tmp_path / "o" / "predictions_mil_events.csv").read_text().splitlines()[1].split(",")
    assert [float(v) for v in first[1:5]] == box


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_replay_shows_progress_on_stderr_unless_quiet(bags, tmp_path, monkeypatch):  # noqa: F811
    for progress in (True, False):
        terminal = _Terminal()
        monkeypatch.setattr("sys.stderr", terminal)
        replay_bag(bags["gt"], tmp_path / str(progress), trackers={"m": OpenCVBaseline()}, progress=progress)
        assert ("replay" in terminal.getvalue() and "msg" in terminal.getvalue()) == progress


def test_demo_with_a_bad_model_fails_before_generating(tmp_path, capsys):
    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"not a checkpoint at all" * 10)
    code = main(["demo", "--model", str(fake), "--out", str(tmp_path / "demo")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "fake.pt" in err[0]
    assert not (tmp_path / "demo" / "demo_bag").exists()
