"""Metric conventions pinned on hand-computed cases (see the derivations in the comments)."""

import json

import numpy as np
import pytest

from had_tracker.evaluation.metrics import (
    IOU_THRESHOLDS,
    MetricsInputError,
    evaluate_sequence,
    frame_errors,
    iou_continuous,
    iou_pixel_inclusive,
    load_boxes,
    load_flags,
    save_boxes,
    summarize,
    summarize_by_attribute,
)

GT = np.array([[10, 10, 20, 20]] * 3 + [[0, 0, 0, 0]], dtype=float)
# frame 0: replaced by GT (IoU 1, error 0)
# frame 1: shifted 10 px right -> intersection 10x20 = 200, union 600, IoU 1/3; centre error 10 px, normalized 0.5
# frame 2: zero height -> pytracking/otb copy frame 1; got10k keeps it (IoU 0, centre error 10 px)
# frame 3: GT 0,0,0,0 (invalid)
PRED = np.array([[0, 0, 5, 5], [20, 10, 20, 20], [10, 10, 20, 0], [12, 10, 20, 20]], dtype=float)

# Success curve with IoUs {1, 1/3, 1/3, fail} over 4 frames: tau = 0 .. 0.30 (7 thresholds) -> 3/4,
# tau = 0.35 .. 0.95 (13) -> 1/4, tau = 1.0 -> 0; AUC = (7 * 0.75 + 13 * 0.25) / 21.
AUC_PYTRACKING = 100 * (7 * 0.75 + 13 * 0.25) / 21
# got10k IoUs {1, 1/3, 0, 0}: (7 * 0.5 + 13 * 0.25) / 21
AUC_GOT10K = 100 * (7 * 0.5 + 13 * 0.25) / 21


def scalars(pred, gt, convention, absent=None, **kw):
    return evaluate_sequence(pred, gt, absent=absent, convention=convention, **kw).scalars()


def test_iou_functions_on_hand_cases():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], float)
    b = np.array([[5, 0, 10, 10], [9, 0, 10, 10], [20, 20, 5, 5]], float)
    np.testing.assert_allclose(iou_pixel_inclusive(a, b), [50 / 150, 10 / 190, 0.0])
    np.testing.assert_allclose(iou_continuous(a, b), [50 / 150, 10 / 190, 0.0])
    # the two agree on overlaps; got10k's +eps in the union only shows on (near-)empty boxes
    tiny = np.array([[0, 0, 1e-8, 1e-8]])
    assert iou_pixel_inclusive(tiny, tiny)[0] == pytest.approx(1.0)
    assert iou_continuous(tiny, tiny)[0] == pytest.approx(1e-16 / (1e-16 + np.finfo(float).eps))
    empty = np.zeros((1, 4))
    assert np.isnan(iou_pixel_inclusive(empty, empty)[0]) and iou_continuous(empty, empty)[0] == 0.0


def test_threshold_grids_have_21_iou_bins_ending_at_one():
    for grid in IOU_THRESHOLDS.values():
        assert len(grid) == 21 and grid[0] == 0.0 and grid[10] == 0.5 and abs(grid[-1] - 1.0) < 1e-12


def test_pytracking_invalid_gt_fails_success_and_precision_but_counts_for_normalized():
    s = scalars(PRED, GT, "pytracking")
    assert s["success_auc"] == pytest.approx(AUC_PYTRACKING)
    assert s["op50"] == pytest.approx(25.0) and s["op75"] == pytest.approx(25.0)
    assert s["precision_20"] == pytest.approx(75.0)  # errors 0, 10, 10, +inf
    assert s["norm_precision_20"] == pytest.approx(50.0)  # errors 0, .5, .5, -1 (-1 counts as success)
    assert s["n_frames"] == 4 and s["n_valid"] == 3


def test_pytracking_exclude_invalid_frames_divides_by_valid_count():
    s = scalars(PRED, GT, "pytracking", exclude_invalid_frames=True)
    assert s["precision_20"] == pytest.approx(100.0)  # 3 of 3
    assert s["norm_precision_20"] == pytest.approx(200 / 3)  # 2 successes (one is the invalid frame) over 3
    assert s["success_auc"] == pytest.approx(100 * (7 * 1.0 + 13 / 3) / 21)


def test_got10k_has_no_invalid_case_and_keeps_zero_size_predictions():
    s = scalars(PRED, GT, "got10k")
    assert s["success_auc"] == pytest.approx(AUC_GOT10K)
    # centre errors 0, 10, 10 and frame 3: (21.5, 19.5) vs (-0.5, -0.5) -> sqrt(884) = 29.7
    assert s["precision_20"] == pytest.approx(75.0)
    # normalized by max(1, gt w|h): 0, .5, .5, 29.7
    assert s["norm_precision_20"] == pytest.approx(25.0)
    err = frame_errors(PRED, GT, convention="got10k")
    assert err.center_px[3] == pytest.approx(np.sqrt(884))


def test_otb_invalid_gt_counts_as_precision_success():
    s = scalars(PRED, GT, "otb")
    assert s["success_auc"] == pytest.approx(AUC_PYTRACKING)
    assert s["precision_20"] == pytest.approx(100.0)  # errors 0, 10, 10, -1
    assert s["norm_precision_20"] == pytest.approx(50.0)


def test_otb_gt_touching_zero_is_invalid_but_pytracking_scores_it():
    gt = np.array([[10, 10, 20, 20], [0, 10, 20, 20]], float)
    pred = gt.copy()
    assert frame_errors(pred, gt, convention="pytracking").iou[1] == pytest.approx(1.0)
    err = frame_errors(pred, gt, convention="otb")
    assert err.iou[1] == -1.0 and err.center_px[1] == -1.0


def test_absent_frames_per_convention():
    gt = GT.copy()
    gt[3] = [10, 10, 20, 20]  # a valid box, but flagged absent (prediction there has IoU 0.818)
    absent = np.array([0, 0, 0, 1], bool)
    # pytracking: absent -> invalid, identical to the invalid-GT case
    s = scalars(PRED, gt, "pytracking", absent=absent)
    assert s["success_auc"] == pytest.approx(AUC_PYTRACKING) and s["precision_20"] == pytest.approx(75.0)
    assert s["norm_precision_20"] == pytest.approx(50.0)
    # otb: absent frame removed, denominator stays 4 -> counts as a failure everywhere
    s = scalars(PRED, gt, "otb", absent=absent)
    assert s["success_auc"] == pytest.approx(AUC_PYTRACKING)
    assert s["precision_20"] == pytest.approx(75.0) and s["norm_precision_20"] == pytest.approx(25.0)
    # got10k: absent frame removed from numerator and denominator (IoUs 1, 1/3, 0 over 3 frames)
    s = scalars(PRED, gt, "got10k", absent=absent)
    assert s["success_auc"] == pytest.approx(100 * (7 * 2 / 3 + 13 / 3) / 21)
    assert s["precision_20"] == pytest.approx(100.0) and s["norm_precision_20"] == pytest.approx(100 / 3)
    with pytest.raises(MetricsInputError, match="absent flags"):
        evaluate_sequence(PRED, gt, absent=absent[:2])


def test_nan_and_negative_predictions():
    gt = np.array([[10, 10, 20, 20]] * 3, float)
    pred = np.array([[10, 10, 20, 20], [12, 10, 20, 20], [np.nan, 0, 0, 0]])
    with pytest.raises(MetricsInputError, match="NaN"):
        evaluate_sequence(pred, gt, convention="pytracking")
    # otb copies frame 1 over the NaN frame
    assert frame_errors(pred, gt, convention="otb").iou[2] == pytest.approx(360 / 440)
    # got10k: the NaN frame fails every threshold
    err = frame_errors(pred, gt, convention="got10k")
    assert np.isnan(err.iou[2])
    assert scalars(pred, gt, "got10k")["precision_20"] == pytest.approx(200 / 3)
    neg = pred.copy()
    neg[2] = [10, 10, -1, 20]
    with pytest.raises(MetricsInputError, match="negative"):
        evaluate_sequence(neg, gt, convention="pytracking")
    assert frame_errors(neg, gt, convention="otb").iou[2] == pytest.approx(360 / 440)


def test_zero_size_runs_copy_the_last_kept_raw_prediction():
    # frame 1 and 2 zero-size: both inherit the raw frame-0 prediction (0,0,5,5), not the GT that later
    # replaces frame 0, so their IoU is 0 (pytracking and otb order the two steps this way).
    gt = np.array([[10, 10, 20, 20]] * 3, float)
    pred = np.array([[0, 0, 5, 5], [10, 10, 0, 20], [10, 10, 20, 0]], float)
    for conv in ("pytracking", "otb"):
        err = frame_errors(pred, gt, convention=conv)
        np.testing.assert_allclose(err.iou, [1.0, 0.0, 0.0])
        np.testing.assert_allclose(err.pred_used[1:], [[0, 0, 5, 5]] * 2)


def test_length_mismatch_per_convention():
    gt = np.array([[10, 10, 20, 20]] * 4, float)
    short = np.array([[10, 10, 20, 20], [20, 10, 20, 20]], float)
    # pytracking zero-pads: IoUs 1, 1/3, 0, 0; padded centres (-0.5, -0.5) are 28.3 px away
    s = scalars(short, gt, "pytracking")
    assert s["success_auc"] == pytest.approx(AUC_GOT10K) and s["precision_20"] == pytest.approx(50.0)
    assert s["n_frames"] == 4
    # got10k truncates both: IoUs 1, 1/3 over 2 frames
    s = scalars(short, gt, "got10k")
    assert s["success_auc"] == pytest.approx(100 * (7 + 13 * 0.5) / 21) and s["n_frames"] == 2
    with pytest.raises(MetricsInputError, match="otb convention needs all"):
        evaluate_sequence(short, gt, convention="otb")
    long = np.concatenate([gt, [[0, 0, 1, 1]] * 3])
    for conv in ("pytracking", "got10k", "otb"):
        assert scalars(long, gt, conv)["success_auc"] == pytest.approx(100 * 20 / 21)


def test_empty_ground_truth_is_an_error():
    for conv in ("pytracking", "got10k", "otb"):
        with pytest.raises(MetricsInputError, match="empty"):
            evaluate_sequence(np.zeros((3, 4)), np.zeros((0, 4)), convention=conv)
    with pytest.raises(MetricsInputError, match="unknown metric convention"):
        evaluate_sequence(PRED, GT, convention="vot")
    with pytest.raises(MetricsInputError, match="NaN in the ground truth"):
        evaluate_sequence(PRED, np.full((4, 4), np.nan))


def test_first_frame_is_replaced_by_ground_truth():
    gt = np.array([[10, 10, 20, 20]], float)
    for conv in ("pytracking", "got10k", "otb"):
        assert scalars([[300, 300, 1, 1]], gt, conv)["success_auc"] == pytest.approx(100 * 20 / 21)


def test_summary_averages_curves_and_otb_drops_all_zero_sequences():
    a = evaluate_sequence(PRED, GT, name="a", attributes={"fast_motion": True})
    dead_gt = np.zeros((3, 4))  # every frame invalid: success curve all zero
    b = evaluate_sequence(np.ones((3, 4)), dead_gt, name="b", attributes={"fast_motion": False, "low_light": True})
    s = summarize([a, b], "pytracking")
    assert s["success_auc"] == pytest.approx(AUC_PYTRACKING / 2)
    assert s["n_sequences"] == 2 and s["n_frames"] == 7 and len(s["success_curve"]) == 21
    a_otb = evaluate_sequence(PRED, GT, convention="otb")
    b_otb = evaluate_sequence(np.ones((3, 4)), dead_gt, convention="otb")
    assert summarize([a_otb, b_otb], "otb")["success_auc"] == pytest.approx(AUC_PYTRACKING)
    by_attr = summarize_by_attribute([a, b])
    assert set(by_attr) == {"fast_motion", "low_light"}
    assert by_attr["fast_motion"]["success_auc"] == pytest.approx(AUC_PYTRACKING)
    assert by_attr["low_light"]["success_auc"] == pytest.approx(0.0)
    json.dumps(s)  # plain JSON types


def test_box_and_flag_files_round_trip(tmp_path):
    p = tmp_path / "pred.txt"
    p.write_text("1,2,3,4\n\n5\t6 7.5 8\n9;10;11;nan\n")
    np.testing.assert_allclose(load_boxes(p), [[1, 2, 3, 4], [5, 6, 7.5, 8], [9, 10, 11, np.nan]])
    out = tmp_path / "out.txt"
    boxes = np.array([[1.125, 2.0000001, 3, 4]])
    save_boxes(out, boxes, t_ns=[123456789012345])
    assert out.read_text().startswith("123456789012345,1.125,2.0000001,")
    (tmp_path / "bad.txt").write_text("1,2,3\n")
    with pytest.raises(MetricsInputError, match="bad.txt:1: expected 4"):
        load_boxes(tmp_path / "bad.txt")
    (tmp_path / "flags.txt").write_text("0\n1\n0\n")
    np.testing.assert_array_equal(load_flags(tmp_path / "flags.txt"), [False, True, False])
    with pytest.raises(MetricsInputError, match="no box file"):
        load_boxes(tmp_path / "missing.txt")
