"""``--data`` specs: dataset folders (auto-detected or named by format) and clear errors for bad specs."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.data.datasets import DatasetError
from had_tracker.data.synthetic.config import SyntheticConfig
from had_tracker.data.synthetic.generator import generate_sequence
from had_tracker.data.writers import write_folder
from had_tracker.errors import ConfigError
from had_tracker.training.data import load_sequences


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    cfg = SyntheticConfig.from_preset("easy", duration_s=0.3, width=96, height=72)
    for seed in (1, 2):
        write_folder(generate_sequence(cfg, seed=seed), root)
    return root


def test_a_dataset_folder_is_detected_and_read_with_events(dataset):
    sequences = load_sequences(str(dataset))
    assert len(sequences) == 2
    for seq in sequences:
        assert seq.events is not None and len(seq.events) > 0
        assert len(seq.gt_boxes) == len(seq.frame_t_ns) > 0
        assert np.all(np.diff(seq.events.t) >= 0)


def test_format_and_root_spec_reads_the_same_sequences(dataset):
    named = load_sequences(f"synthetic:root={dataset}")
    detected = load_sequences(str(dataset))
    assert [s.name for s in named] == [s.name for s in detected]
    np.testing.assert_array_equal(named[0].events.t, detected[0].events.t)


def test_bad_dataset_specs_are_clear_errors(dataset, tmp_path):
    with pytest.raises(ConfigError, match="unknown option"):
        load_sequences(f"synthetic:root={dataset},color=red")
    with pytest.raises(DatasetError, match="no fe108 sequences"):
        load_sequences(f"fe108:root={dataset}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="sequences found under"):
        load_sequences(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="unknown data spec"):
        load_sequences(str(tmp_path / "nothing_here"))
