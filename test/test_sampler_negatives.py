"""Negative search crops (target absent / a distractor) and wide searches in the pair sampler; the task loss on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from had_tracker.data.sampler import PairSampler, SamplerConfig
from had_tracker.distill.config import TaskConfig
from had_tracker.distill.task import task_losses
from had_tracker.models.builder import ModelConfig
from had_tracker.training.toy import moving_square_sequence


@pytest.fixture(scope="module")
def toy():
    return [moving_square_sequence(seed, num_frames=12) for seed in range(2)]


def _sampler(toy, **kw) -> PairSampler:
    return PairSampler(toy, ModelConfig(), SamplerConfig(**kw), seed=0, epoch_size=16, with_teacher_inputs=True)


def test_absent_negatives_show_no_target_and_have_an_empty_box(toy):
    positives = [_sampler(toy)[i] for i in range(8)]
    negatives = [_sampler(toy, negative_absent=1.0)[i] for i in range(8)]
    assert all(np.all(s["search_box"] == 0) for s in negatives)
    assert all(np.all(s["search_box"][2:] > 0) for s in positives)
    # the toy scene's events come from the square only: a crop beside it holds far fewer events
    mass = lambda samples: np.mean([np.abs(s["search_events"]).sum() for s in samples])  # noqa: E731
    assert mass(negatives) < 0.2 * mass(positives)


def test_distractor_negatives_show_another_object(toy):
    negatives = [_sampler(toy, negative_distractor=1.0)[i] for i in range(8)]
    assert all(np.all(s["search_box"] == 0) for s in negatives)
    assert all(np.abs(s["search_events"]).sum() > 0 for s in negatives)  # an object is there, just not ours


def test_wide_searches_show_the_target_2_to_4_times_smaller(toy):
    normal = np.array([_sampler(toy)[i]["search_box"][2] for i in range(8)])
    wide = np.array([_sampler(toy, wide_search=1.0)[i]["search_box"][2] for i in range(8)])
    ratio = normal.mean() / wide.mean()
    assert 2.0 <= ratio <= 4.0


def test_bad_negative_settings_are_refused():
    with pytest.raises(ValueError, match="negative"):
        SamplerConfig(negative_absent=0.7, negative_distractor=0.5)
    with pytest.raises(ValueError, match="wide_search_factor"):
        SamplerConfig(wide_search_factor=(0.5, 2.0))


@pytest.mark.parametrize("box_at", ["target", "peak"])
def test_task_loss_pushes_every_cell_down_on_negatives_and_skips_their_boxes(box_at):
    torch.manual_seed(0)
    score = torch.full((2, 1, 8, 8), 0.3, requires_grad=True)
    pred = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.1, 0.9, 0.3, 0.3]], requires_grad=True)
    size_map = torch.rand(2, 2, 8, 8, requires_grad=True)
    offset_map = torch.rand(2, 2, 8, 8, requires_grad=True)
    gt = torch.tensor([[0.5, 0.5, 0.25, 0.25], [0.0, 0.0, 0.0, 0.0]])  # sample 1 is a negative

    def outputs(rows: slice) -> dict:
        return {
            "score_map": score[rows],
            "pred_boxes": pred[rows],
            "size_map": size_map[rows],
            "offset_map": offset_map[rows],
        }

    terms = task_losses(outputs(slice(None)), gt, TaskConfig(box_at=box_at))
    terms["focal"].backward(retain_graph=True)
    assert (score.grad[1] > 0).all()  # gradient descent lowers every cell of the negative
    only_positive = task_losses(outputs(slice(0, 1)), gt[:1], TaskConfig(box_at=box_at))
    assert terms["giou"].item() == pytest.approx(only_positive["giou"].item())
    assert terms["l1"].item() == pytest.approx(only_positive["l1"].item())
    (terms["giou"] + terms["l1"]).backward()
    box_grad = pred.grad if box_at == "peak" else size_map.grad
    assert torch.all(box_grad[1] == 0) and box_grad[0].abs().sum() > 0
