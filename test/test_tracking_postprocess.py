"""Score-map post-processing: Hann window, peak choice, box decoding back to image pixels."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.geometry import CropWindow
from had_tracker.tracking.postprocess import decode_peak, hann2d, limit_scale_change


def test_peak_cell_decodes_to_the_right_image_box():
    f = 12
    crop = CropWindow(x0=100.0, y0=50.0, side=192.0, out_size=96)  # 0.5 crop px per image px
    score = np.zeros((f, f))
    score[3, 8] = 0.9
    size = np.zeros((2, f, f))
    size[:, 3, 8] = (0.25, 0.125)  # of the crop: 24 x 12 crop px = 48 x 24 image px
    offset = np.zeros((2, f, f))
    offset[:, 3, 8] = (0.5, 0.25)
    peak = decode_peak(score, size, offset, crop, hann_weight=0.0)
    # centre in crop px: ((8 + 0.5) / 12 * 96, (3 + 0.25) / 12 * 96) = (68, 26) -> image (236, 102)
    np.testing.assert_allclose(peak.box_xywh, [236 - 24, 102 - 12, 48, 24])
    assert (peak.row, peak.col) == (3, 8) and peak.score == 0.9


def test_hann_window_prefers_the_central_peak_among_equals_and_reports_the_raw_score():
    f = 12
    score = np.full((f, f), 0.1)
    score[0, 0] = 0.8  # a distractor at the border
    score[5, 6] = 0.8  # the target near the centre
    zeros = np.zeros((2, f, f))
    crop = CropWindow(0.0, 0.0, 96.0, 96)
    windowed = decode_peak(score, zeros, zeros, crop, hann_weight=1.0)
    assert (windowed.row, windowed.col) == (5, 6) and windowed.score == 0.8
    plain = decode_peak(score, zeros, zeros, crop, hann_weight=0.0)
    assert (plain.row, plain.col) == (0, 0)  # no prior: the first maximum


def test_hann2d_is_symmetric_positive_and_peaks_in_the_middle():
    w = hann2d(12)
    assert w.shape == (12, 12) and np.all(w > 0)
    np.testing.assert_allclose(w, w.T)
    np.testing.assert_allclose(w, w[::-1, ::-1])
    assert w[5, 5] == w.max()


def test_cell_centred_hann_peaks_in_the_middle_of_cell_half_f():
    w = hann2d(12, cell_centred=True)
    assert w.shape == (12, 12) and np.all(w > 0)
    assert w[6, 6] == w.max() and w[5, 6] == w[7, 6]  # symmetric about the centre of cell 6
    np.testing.assert_allclose(hann2d(11, cell_centred=True), hann2d(11))  # odd maps: already mid-cell


def test_refined_centre_is_the_score_weighted_mean_of_the_strong_cells_around_the_peak():
    """The real AprilTag board: the target centre on a cell corner, two cells claiming it from either side."""
    f = 12
    crop = CropWindow(0.0, 0.0, 96.0, 96)  # 8 px per cell
    score = np.full((f, f), 0.02)
    score[5, 5], score[5, 6], score[5, 4] = 0.53, 0.36, 0.2  # 0.2 < half the peak: left out
    score[0, 0] = 0.9  # outside the peak's 3x3: never mixed in (the Hann window picks the central peak)
    size = np.full((2, f, f), 0.25)
    offset = np.full((2, f, f), 0.5)
    offset[:, 5, 5] = (0.77, 0.5)
    offset[:, 5, 6] = (0.22, 0.5)
    offset[:, 5, 4] = (0.9, 0.5)
    plain = decode_peak(score, size, offset, crop, 1.0)
    refined = decode_peak(score, size, offset, crop, 1.0, refine=True)
    assert (refined.row, refined.col, refined.score) == (plain.row, plain.col, plain.score) == (5, 5, 0.53)
    assert plain.box_xywh[0] + 12 == pytest.approx(5.77 * 8)
    expected_col = (0.53 * 5.77 + 0.36 * 6.22) / (0.53 + 0.36)
    assert refined.box_xywh[0] + 12 == pytest.approx(expected_col * 8)
    assert refined.box_xywh[1] + 12 == pytest.approx(5.5 * 8)
    np.testing.assert_allclose(refined.box_xywh[2:], plain.box_xywh[2:])  # the size is the peak cell's


def test_scale_change_is_limited_around_the_same_centre():
    out = limit_scale_change(np.array([0.0, 0.0, 100.0, 10.0]), np.array([0, 0, 20.0, 20.0]), 1.25)
    np.testing.assert_allclose(out, [50 - 12.5, 5 - 8.0, 25.0, 16.0])


def test_an_axis_at_the_image_border_is_not_clamped():
    """A target crossing the border: its visible width changes as fast as it moves (the demo's out-of-view
    target came back 12 px wide and took > 1 s to regrow under the 4x/s limit)."""
    previous = np.array([0.0, 50.0, 12.0, 40.0])  # truncated at the left border
    out = limit_scale_change(np.array([2.0, 50.0, 60.0, 40.0]), previous, 1.01, image_wh=(346, 260))
    assert out[2] == 60.0  # width free: the previous box touches the border
    inside = np.array([100.0, 50.0, 12.0, 40.0])
    out = limit_scale_change(np.array([100.0, 50.0, 60.0, 40.0]), inside, 1.01, image_wh=(346, 260))
    assert out[2] == 12.0 * 1.01  # away from the border the rate limit holds
    out = limit_scale_change(np.array([300.0, 50.0, 60.0, 40.0]), inside, 1.01, image_wh=(346, 260))
    assert out[2] == 60.0  # the new box reaches the right border
    assert out[3] == 40.0 and limit_scale_change(np.array([300.0, 50.0, 60.0, 80.0]), inside, 1.01)[3] == 40.4


def test_aspect_ratio_change_is_limited_at_the_clamped_area():
    """The real car (44x20 px) became a 28x27 square within 0.25 s under the size head alone."""
    previous = np.array([100.0, 100.0, 44.0, 20.0])
    out = limit_scale_change(np.array([108.0, 96.0, 28.0, 28.0]), previous, 2.0, max_aspect_change=1.0)
    assert out[2] / out[3] == pytest.approx(44.0 / 20.0)
    assert out[2] * out[3] == pytest.approx(28.0 * 28.0)  # the size the scale limit allowed, at the old shape
    np.testing.assert_allclose(out[:2] + 0.5 * out[2:], [122.0, 110.0])  # the new centre
    out = limit_scale_change(np.array([108.0, 96.0, 28.0, 28.0]), previous, 2.0, max_aspect_change=1.1)
    assert out[2] / out[3] == pytest.approx(44.0 / 20.0 / 1.1)
    free = limit_scale_change(np.array([108.0, 96.0, 28.0, 28.0]), previous, 2.0)
    np.testing.assert_allclose(free[2:], [28.0, 28.0])  # off by default


def test_aspect_limit_leaves_a_box_at_the_border_free():
    previous = np.array([0.0, 100.0, 12.0, 40.0])  # truncated at the left border
    out = limit_scale_change(np.array([0.0, 100.0, 40.0, 40.0]), previous, 100.0, (346, 260), max_aspect_change=1.0)
    np.testing.assert_allclose(out[2:], [40.0, 40.0])
