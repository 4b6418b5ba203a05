"""``eval paired``: seeds' mean +- SD and paired bootstrap CIs between reports of the same sequences."""

import pytest

from had_tracker.cli import main
from had_tracker.errors import ConfigError
from had_tracker.evaluation.paired import paired_table, per_sequence
from had_tracker.evaluation.report import new_report, write_report

SEQS = ("seq_a", "seq_b", "seq_c", "seq_d")
BASE = (50.0, 60.0, 70.0, 80.0)


def write(tmp_path, name, values, seqs=SEQS, trackers=("HAD student",)):
    report = new_report(name, "pytracking", {})
    for t in trackers:
        report["trackers"][t] = {
            "overall": {"success_auc": sum(values) / len(values)},
            "per_sequence": [{"name": s, "success_auc": v, "op50": v} for s, v in zip(seqs, values, strict=True)],
        }
    write_report(report, tmp_path / name)
    return tmp_path / name


def test_a_constant_gain_over_seeds_is_found_with_its_seed_spread(tmp_path):
    base = write(tmp_path, "base", BASE)
    # two seeds, +2 and +8 on every sequence: seed-averaged +5 everywhere, so the CI is exactly [+5, +5]
    s0 = write(tmp_path, "s0", [v + 2 for v in BASE])
    s1 = write(tmp_path, "s1", [v + 8 for v in BASE])
    table, rows = paired_table([base], [[s0, s1 / "report.json"]], ["shipped", "recipe"])
    assert rows[0]["label"] == "shipped" and rows[0]["seeds"] == 1 and rows[0]["mean"] == pytest.approx(65.0)
    cand = rows[1]
    assert cand["seeds"] == 2 and cand["mean"] == pytest.approx(70.0)
    assert cand["sd"] == pytest.approx(4.2426, abs=1e-3)  # seed means 67 and 73, sample SD
    assert (cand["diff"], cand["ci_low"], cand["ci_high"]) == pytest.approx((5.0, 5.0, 5.0))
    assert cand["excludes_zero"]
    assert "| recipe | 2 | 70.0 ± 4.2 | +5.0 [+5.0, +5.0] * |" in table


def test_a_gain_on_half_the_sequences_and_a_loss_on_the_rest_is_not_called_better(tmp_path):
    base = write(tmp_path, "base", BASE)
    cand = write(tmp_path, "cand", [BASE[0] + 10, BASE[1] - 10, BASE[2] + 10, BASE[3] - 10])
    table, rows = paired_table([base], [[cand]])
    assert rows[1]["diff"] == pytest.approx(0.0)
    assert rows[1]["ci_low"] < 0 < rows[1]["ci_high"] and not rows[1]["excludes_zero"]
    assert " * |" not in table


def test_pairs_follow_the_sequence_names_not_the_order_in_the_report(tmp_path):
    base = write(tmp_path, "base", BASE)
    shuffled = write(tmp_path, "shuffled", [v + 1 for v in reversed(BASE)], seqs=tuple(reversed(SEQS)))
    _, rows = paired_table([base], [[shuffled]])
    assert (rows[1]["ci_low"], rows[1]["ci_high"]) == pytest.approx((1.0, 1.0))


def test_reports_of_other_sequences_or_ambiguous_trackers_are_refused(tmp_path):
    base = write(tmp_path, "base", BASE)
    other = write(tmp_path, "other", BASE, seqs=("seq_a", "seq_b", "seq_c", "seq_x"))
    with pytest.raises(ConfigError, match="same sequences"):
        paired_table([base], [[other]])
    two = write(tmp_path, "two", BASE, trackers=("HAD student", "MIL (events)"))
    with pytest.raises(ConfigError, match="name one with --tracker"):
        per_sequence(two)
    assert per_sequence(two, tracker="MIL (events)")["seq_d"] == 80.0
    assert per_sequence(two, "op50", "MIL (events)")["seq_a"] == 50.0
    with pytest.raises(ConfigError, match="metric must be one of"):
        per_sequence(base, "fps")
    with pytest.raises(ConfigError, match="labels"):
        paired_table([base], [[base]], ["only one"])


def test_cli_prints_the_table_and_reports_bad_input_as_an_error(tmp_path, capsys):
    base = write(tmp_path, "base", BASE)
    a = write(tmp_path, "a", [v + 3 for v in BASE])
    b = write(tmp_path, "b", [v - 3 for v in BASE])
    args = [
        "eval",
        "paired",
        "--base",
        str(base),
        "--candidate",
        str(a),
        "--candidate",
        str(b),
        "--labels",
        "x,up,down",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| up | 1 | 68.0 ± 0.0 | +3.0 [+3.0, +3.0] * |" in out and "| down | 1 | 62.0 ± 0.0 | -3.0" in out
    assert main(["eval", "paired", "--base", str(base), "--candidate", str(tmp_path / "missing")]) != 0
    assert "no report" in capsys.readouterr().err
