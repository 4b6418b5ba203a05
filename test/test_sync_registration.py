"""Spatial registration: identity, homography and calibration map known points; outside events are counted."""

from __future__ import annotations

import numpy as np
import pytest

from had_tracker.errors import ConfigError
from had_tracker.events.container import Events
from had_tracker.sync.registration import CameraModel, Registration, planar_homography


def _events(xy: list[tuple[int, int]], width: int, height: int) -> Events:
    xy = np.asarray(xy)
    n = len(xy)
    return Events.from_arrays(np.arange(n) * 10, xy[:, 0], xy[:, 1], np.arange(n) % 2, width, height)


def test_homography_maps_known_points():
    # Scale by 2 and shift by (10, -4): event (x, y) -> output (2x + 10, 2y - 4).
    h = np.array([[2.0, 0.0, 10.0], [0.0, 2.0, -4.0], [0.0, 0.0, 1.0]])
    reg = Registration.from_homography(h, 100, 80, 640, 480)
    out, dropped = reg.apply(_events([(0, 2), (5, 7), (99, 79), (50, 1)], 100, 80))
    assert dropped == 1  # (50, 1) -> (110, -2) is above the image
    assert out.x.tolist() == [10, 20, 208]
    assert out.y.tolist() == [0, 10, 154]
    assert out.t.tolist() == [0, 10, 20] and out.p.tolist() == [0, 1, 0]
    assert (out.width, out.height) == (640, 480)
    assert reg.dropped == 1


def test_general_homography_matches_the_projective_formula():
    rng = np.random.default_rng(0)
    h = np.array([[1.1, 0.05, 3.0], [-0.02, 0.95, 7.0], [1e-4, -2e-4, 1.0]])
    reg = Registration.from_homography(h, 200, 150, 260, 200)
    xy = np.c_[rng.integers(0, 200, 500), rng.integers(0, 150, 500)]
    ev = Events.from_arrays(np.arange(500), xy[:, 0], xy[:, 1], np.zeros(500), 200, 150)
    out, dropped = reg.apply(ev)
    p = np.c_[xy, np.ones(500)] @ h.T
    uv = np.floor(p[:, :2] / p[:, 2:] + 0.5).astype(int)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < 260) & (uv[:, 1] >= 0) & (uv[:, 1] < 200)
    assert dropped == int((~inside).sum())
    assert out.x.tolist() == uv[inside, 0].tolist() and out.y.tolist() == uv[inside, 1].tolist()


def test_identity_keeps_events_and_drops_those_outside_a_smaller_output():
    reg = Registration.identity(346, 260, 320, 240)
    out, dropped = reg.apply(_events([(0, 0), (319, 239), (320, 10), (10, 250)], 346, 260))
    assert dropped == 2
    assert out.x.tolist() == [0, 319] and out.y.tolist() == [0, 239]


def test_calibration_with_translation_and_a_scene_plane_maps_a_3d_point():
    k_ev = np.array([[200.0, 0, 160], [0, 200.0, 120], [0, 0, 1]])
    k_rgb = np.array([[400.0, 0, 320], [0, 400.0, 240], [0, 0, 1]])
    ev = CameraModel(k_ev, np.zeros(5), 320, 240)
    rgb = {"k": k_rgb.ravel().tolist(), "d": [0.0] * 5, "width": 640, "height": 480}
    t = [0.1, 0.0, 0.0]  # RGB camera 10 cm to the side
    reg = Registration.from_calibration(ev, rgb, np.eye(3), t, plane_depth_m=2.0)
    point_ev = np.array([0.3, -0.2, 2.0])  # on the plane z = 2 m
    px_ev = k_ev @ point_ev
    px_ev = px_ev[:2] / px_ev[2]
    point_rgb = point_ev + np.array(t)
    px_rgb = k_rgb @ point_rgb
    px_rgb = px_rgb[:2] / px_rgb[2]
    np.testing.assert_allclose(reg.map_points(px_ev[None]), px_rgb[None], atol=1e-9)
    # Infinite plane: the translation no longer matters (infinite homography K_rgb R K_ev^-1).
    h_inf = planar_homography(ev, CameraModel.from_camera_info(rgb), np.eye(3), t)
    np.testing.assert_allclose(h_inf, k_rgb @ np.linalg.inv(k_ev))


def test_camera_info_message_fields_are_read_by_name():
    class Info:
        k = [100.0, 0, 50, 0, 100.0, 40, 0, 0, 1]
        d = [0.1, 0, 0, 0, 0]
        width, height = 100, 80

    cam = CameraModel.from_camera_info(Info())
    assert cam.K[0, 2] == 50 and cam.D[0] == 0.1 and (cam.width, cam.height) == (100, 80)
    with pytest.raises(ConfigError):
        CameraModel.from_camera_info({"k": [0.0] * 9, "width": 1, "height": 1})


def test_bad_registration_inputs_are_clear_errors():
    with pytest.raises(ConfigError):
        Registration.from_homography(np.full((3, 3), np.nan), 10, 10, 10, 10)
    with pytest.raises(ConfigError):
        Registration.identity(0, 10)
