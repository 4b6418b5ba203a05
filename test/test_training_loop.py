"""The training loop: it learns, it resumes bit-exactly, it runs under 2-process gloo DDP, it rejects wrong checkpoints."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from had_tracker.data.sampler import SamplerConfig
from had_tracker.errors import CheckpointError, ConfigError
from had_tracker.models.builder import load_checkpoint
from had_tracker.training.config import TrainConfig
from had_tracker.training.loop import train
from had_tracker.training.toy import moving_square_sequence

REPO = Path(__file__).resolve().parents[1]
TINY = TrainConfig(steps=4, batch_size=2, warmup_steps=1, log_every=2, ckpt_every=2, threads=1)


@pytest.fixture(scope="module")
def sequences():
    return [moving_square_sequence(seed, num_frames=12) for seed in range(2)]


@pytest.fixture(scope="module")
def teacher_ckpt(tmp_path_factory, sequences):
    return train(replace(TINY, steps=2), "teacher", sequences, tmp_path_factory.mktemp("teacher"), progress=False)


class InterruptedRunError(Exception):
    pass


def test_overfitting_a_tiny_set_drives_the_task_loss_down(tmp_path):
    one = [moving_square_sequence(7, num_frames=10)]
    easy = SamplerConfig(max_gap=3, search_center_jitter=0.5, search_scale_jitter=0.05)
    cfg = replace(TINY, steps=60, batch_size=8, lr=2e-3, warmup_steps=5, log_every=10, ckpt_every=60, sampler=easy)
    totals = []
    train(cfg, "student", one, tmp_path, progress=False, on_log=lambda step, m: totals.append(m["total"]))
    assert totals[-1] < 0.5 * totals[0], totals


def test_resume_continues_bit_exactly(tmp_path, sequences, teacher_ckpt):
    cfg = replace(TINY, distill="had")
    straight = train(cfg, "student", sequences, tmp_path / "a", teacher_ckpt=teacher_ckpt, progress=False)

    def stop_at_2(step: int, _means: dict) -> None:
        if step == 2:
            raise InterruptedRunError

    with pytest.raises(InterruptedRunError):
        train(cfg, "student", sequences, tmp_path / "b", teacher_ckpt=teacher_ckpt, progress=False, on_log=stop_at_2)
    assert load_checkpoint(tmp_path / "b" / "last.pt")["step"] == 2
    resumed = train(cfg, "student", sequences, tmp_path / "b", teacher_ckpt=teacher_ckpt, resume=True, progress=False)
    a, b = load_checkpoint(straight), load_checkpoint(resumed)
    for part in ("model", "distiller"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs after resume"
    assert any(k.startswith("aligner.") for k in a["distiller"]), "the temporal aligner is saved with the student"


def test_resume_rejects_a_checkpoint_of_the_wrong_kind(tmp_path, sequences, teacher_ckpt):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(Path(teacher_ckpt).with_name("last.pt"), run / "last.pt")
    with pytest.raises(CheckpointError, match="holds a teacher"):
        train(TINY, "student", sequences, run, resume=True, progress=False)


def test_init_starts_from_a_checkpoints_weights_and_refuses_a_mismatch(tmp_path, sequences, teacher_ckpt):
    """Fine-tuning (--init): step 0 is the given network; the optimiser starts fresh."""
    from had_tracker.models.builder import build_model
    from had_tracker.models.config import ModelConfig
    from had_tracker.training.loop import _load_init_weights

    first = train(replace(TINY, steps=2), "student", sequences, tmp_path / "first", progress=False)
    cfg = ModelConfig.from_dict(load_checkpoint(first)["model_config"])
    model = build_model(cfg)
    _load_init_weights(Path(first), model, cfg, "student")
    saved = load_checkpoint(first)["model"]
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    tuned = train(
        replace(TINY, steps=2, lr=1e-9, init=str(first)), "student", sequences, tmp_path / "t", progress=False
    )
    after = load_checkpoint(tuned)["model"]
    params = [k for k, _ in model.named_parameters()]  # (BatchNorm running statistics move at any lr)
    assert all(torch.allclose(after[k], saved[k], atol=1e-6) for k in params)  # lr ~0: still the initial weights
    fresh = load_checkpoint(
        train(replace(TINY, steps=2, lr=1e-9), "student", sequences, tmp_path / "f", progress=False)
    )
    assert not all(torch.allclose(fresh["model"][k], saved[k], atol=1e-6) for k in params)  # the test can fail
    with pytest.raises(CheckpointError, match="holds a teacher"):
        train(replace(TINY, init=str(teacher_ckpt)), "student", sequences, tmp_path / "bad", progress=False)


def test_a_student_checkpoint_is_refused_as_teacher(tmp_path, sequences):
    student = train(replace(TINY, steps=1), "student", sequences, tmp_path / "s", progress=False)
    with pytest.raises(CheckpointError, match="expected a teacher"):
        train(
            replace(TINY, distill="response"),
            "student",
            sequences,
            tmp_path / "t",
            teacher_ckpt=student,
            progress=False,
        )


def test_a_distillation_preset_without_teacher_is_a_config_error(tmp_path, sequences):
    with pytest.raises(ConfigError, match="needs --teacher"):
        train(replace(TINY, distill="had"), "student", sequences, tmp_path, progress=False)


def test_two_process_gloo_ddp_smoke(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "had_tracker.cli", "train", "student", "--distill", "none",
        "--data", "toy:sequences=2,seed=0,frames=10", "--steps", "2", "--batch-size", "2",
        "--threads", "1", "--no-progress", "--out", str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    payload = load_checkpoint(tmp_path / "final.pt")
    # 2 steps x 2 pairs x 2 ranks went through the optimiser
    assert payload["pairs_per_s"] * payload["train_seconds"] == pytest.approx(8)


def test_bad_training_settings_are_config_errors_also_as_overrides():
    with pytest.raises(ConfigError, match="steps=0"):
        TrainConfig.from_yaml("cpu-tiny-student", steps=0)
    with pytest.raises(ConfigError, match="schedule"):
        TrainConfig.from_dict({"schedule": "linear"})


def test_tensorboard_gets_every_loss_term_as_its_own_scalar(tmp_path, sequences, teacher_ckpt):
    pytest.importorskip("tensorboard", reason="tensorboard is an optional extra (pip install -e '.[tensorboard]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(replace(TINY, distill="had"), "student", sequences, tmp_path, teacher_ckpt=teacher_ckpt, progress=False)
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    terms = {"focal", "giou", "l1", "feature", "relation", "response", "ot", "temporal", "total"}
    assert {f"loss/{t}" for t in terms} | {"train/lr", "train/pairs_per_s", "train/iou"} <= tags
    assert "loss/iou" not in tags  # the IoU is monitored, not a loss term
    assert [s.step for s in events.Scalars("loss/total")] == [2, 4]


def test_ot_weight_is_calibrated_from_its_gradient_share_on_the_first_batch(tmp_path, sequences, teacher_ckpt):
    ckpt = train(replace(TINY, steps=1, distill="had"), "student", sequences, tmp_path, teacher_ckpt=teacher_ckpt,
                 progress=False)  # fmt: skip
    ot = load_checkpoint(ckpt)["distill_config"]["ot"]
    assert ot["gradient_share"] == 0.2
    assert ot["weight"] != 3.0 and ot["weight"] > 0  # measured, not the configured placeholder


def test_trainable_prefixes_train_only_those_parameters_and_keep_frozen_batch_norms(tmp_path, sequences):
    """--trainable head.size: every other weight and batch-norm statistic ends exactly as it started."""
    first = train(replace(TINY, steps=2), "student", sequences, tmp_path / "first", progress=False)
    saved = load_checkpoint(first)["model"]
    tuned = train(
        replace(TINY, steps=3, lr=1e-2, init=str(first), trainable=("head.size",)),
        "student",
        sequences,
        tmp_path / "t",
        progress=False,
    )
    after = load_checkpoint(tuned)["model"]
    moved = sorted(k for k in saved if not torch.equal(after[k], saved[k]))
    assert moved, "the size branch did not train"
    assert all(k.startswith("head.size.") for k in moved), moved
    assert any(k.endswith("running_mean") for k in moved)  # its own batch norms still train
    assert "head.size.6.weight" in moved
    with pytest.raises(ConfigError, match="names no parameter"):
        train(replace(TINY, trainable=("head.sise",)), "student", sequences, tmp_path / "bad", progress=False)


def test_trainable_is_a_list_of_prefixes():
    assert TrainConfig.from_dict({"trainable": ["head.size"]}).trainable == ("head.size",)
    with pytest.raises(ConfigError, match="trainable"):
        TrainConfig(trainable="head.size")
