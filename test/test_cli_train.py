"""`had-tracker train`: --distill and --teacher are checked before any data is made; data loading shows progress."""

from __future__ import annotations

import io

import pytest

from had_tracker.cli import main


@pytest.fixture
def no_data(monkeypatch):
    """Fail the test if the CLI reaches data loading."""

    def refuse(*args, **kwargs):
        raise AssertionError("training data was loaded before the arguments were validated")

    monkeypatch.setattr("had_tracker.training.data.load_sequences", refuse)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--distill", "bogus"], "unknown distill preset 'bogus'"),
        (["--distill", "had"], "needs --teacher"),
        (["--distill", "had", "--teacher", "MISSING"], "does not exist"),
    ],
)
def test_train_student_validates_distill_and_teacher_before_data(tmp_path, capsys, no_data, extra, message):
    extra = [str(tmp_path / "no.pt") if e == "MISSING" else e for e in extra]
    code = main(["train", "student", "--out", str(tmp_path / "run"), "--data", "toy:sequences=1", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0]


def test_train_student_refuses_a_student_checkpoint_as_teacher_before_data(tmp_path, capsys, no_data):
    from had_tracker.models.builder import default_student_checkpoint

    args = ["train", "student", "--out", str(tmp_path / "run"), "--distill", "response"]
    code = main([*args, "--teacher", str(default_student_checkpoint())])
    assert code == 2 and "expected a teacher" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("spec", "desc"),
    [("toy:sequences=2,seed=0,frames=4", "toy data"), ("synthetic:preset=easy,sequences=1,duration_s=0.2", "generate")],
)
def test_data_generation_shows_progress_on_stderr(monkeypatch, spec, desc):
    from had_tracker.training.data import load_sequences

    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    sequences = load_sequences(spec, progress=True)
    assert desc in terminal.getvalue() and "seq" in terminal.getvalue()
    quiet = _Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    assert len(load_sequences(spec, progress=False)) == len(sequences)
    assert quiet.getvalue() == ""


def test_save_data_writes_a_cache_that_cache_dir_reads(tmp_path):
    from had_tracker.training.data import load_sequences

    cache = tmp_path / "cache"
    code = main(
        ["train", "teacher", "--data", "toy:sequences=1,frames=6", "--save-data", str(cache), "--steps", "1",
         "--batch-size", "1", "--out", str(tmp_path / "run"), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    assert len(load_sequences(f"cache:{cache}")) == 1


def test_every_ladder_option_has_help_and_cache_is_explained():
    from had_tracker.cli import build_parser

    parser = build_parser()
    train = next(a for a in parser._subparsers._group_actions[0].choices["train"]._actions if a.dest == "train_command")
    for name, sub in train.choices.items():
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"train {name} {action.option_strings} has no help"
    data_help = next(a.help for a in train.choices["student"]._actions if a.dest == "data")
    assert "cache:DIR" in data_help and "--save-data" in data_help


def test_ladder_evaluation_phase_shows_progress(tmp_path, monkeypatch):
    import had_tracker.training.ladder as ladder

    monkeypatch.setattr(ladder, "_cache", lambda spec, directory, progress=False: spec)
    monkeypatch.setattr(ladder, "_run_all", lambda commands, logs, jobs: {})
    monkeypatch.setattr(ladder, "load_sequences", lambda spec, progress=False: [])
    described = []
    row = {"kind": "student", "checkpoint": "x", "success_auc": 1.0, "precision_20": 1.0, "norm_precision_20": 1.0,
           "per_sequence": {"0000:a": 1.0, "0001:b": 2.0}, "val": {"success_auc": 1.0}}  # fmt: skip
    monkeypatch.setattr(ladder, "describe", lambda ckpt, seqs, val_sequences=None: described.append(ckpt) or row)
    monkeypatch.setattr(ladder, "measure_latencies", lambda rows, repeats=30: None)
    monkeypatch.setattr(ladder, "format_table", lambda rows: "table")
    monkeypatch.setattr(ladder, "load_model", lambda ckpt: (None, None))
    monkeypatch.setattr("had_tracker.training.protocol.validation_peaks", lambda *a: ([], [], []))
    for progress in (True, False):
        terminal = _Terminal()
        monkeypatch.setattr("sys.stderr", terminal)
        ladder.run_ladder(
            tmp_path / str(progress), "toy:", "toy:t", val_data="toy:v", rungs=("none", "had"), seeds=(0,),
            min_test_sequences=0, progress=progress,
        )  # fmt: skip
        assert ("evaluate held-out" in terminal.getvalue() and "3/3" in terminal.getvalue()) == progress
    assert len(described) == 6


def test_trainable_prefix_that_names_no_parameter_fails_before_data(tmp_path, capsys, no_data):
    args = ["train", "student", "--out", str(tmp_path / "run"), "--distill", "none", "--trainable", "head.sise"]
    assert main(args) == 2
    assert "names no parameter" in capsys.readouterr().err
