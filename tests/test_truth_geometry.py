"""Pins the ground-truth pelvic-tilt definition used by the calibration renderer.

Definition: angle of the PSIS->ASIS line against the horizontal in the
sagittal plane, positive = anterior (ASIS lower than PSIS).

The pure-geometry tests run anywhere (numpy only). The mesh tests need the
optional calibration stack (anny + torch) and are skipped without it.
"""
import math

import numpy as np
import pytest

from calibration.truth import line_angle_2d_deg, sagittal_tilt_deg


def _pts(tilt_deg, depth=0.17, lateral=0.0):
    """PSIS at origin, ASIS `depth` m in front (-y is forward) rotated anteriorly by tilt."""
    a = math.radians(tilt_deg)
    psis = np.array([lateral, 0.0, 1.0])
    asis = psis + np.array([0.0, -depth * math.cos(a), -depth * math.sin(a)])
    return asis, psis


@pytest.mark.parametrize("tilt", [-20.0, -5.0, 0.0, 7.5, 12.0, 30.0])
def test_angle_recovers_known_tilt(tilt):
    asis, psis = _pts(tilt)
    assert sagittal_tilt_deg(asis, psis) == pytest.approx(tilt, abs=1e-9)


def test_sign_positive_is_anterior():
    psis = np.array([0.0, 0.08, 1.0])
    asis_low = np.array([0.0, -0.09, 0.96])   # ASIS lower than PSIS -> anterior
    asis_high = np.array([0.0, -0.09, 1.04])
    assert sagittal_tilt_deg(asis_low, psis) > 0
    assert sagittal_tilt_deg(asis_high, psis) < 0


def test_left_right_component_is_ignored_and_batched():
    asis, psis = _pts(10.0)
    asis2 = asis + np.array([0.05, 0.0, 0.0])  # out-of-plane offset changes nothing
    got = sagittal_tilt_deg(np.stack([asis, asis2]), np.stack([psis, psis]))
    assert got.shape == (2,)
    np.testing.assert_allclose(got, [10.0, 10.0], atol=1e-9)


def test_body_orientation_axes():
    # a body facing +x (left axis = +y): forward = left x up = (+1, 0, 0)
    psis = np.array([0.0, 0.0, 1.0])
    asis = np.array([0.17 * math.cos(0.2), 0.0, 1.0 - 0.17 * math.sin(0.2)])
    assert sagittal_tilt_deg(asis, psis, up=(0, 0, 1), left=(0, 1, 0)) == pytest.approx(math.degrees(0.2))
    # y-up world, body facing +z, left = +x: forward = x cross y = +z
    asis = np.array([0.0, 1.0 - 0.17 * math.sin(0.1), 0.17 * math.cos(0.1)])
    psis = np.array([0.0, 1.0, 0.0])
    assert sagittal_tilt_deg(asis, psis, up=(0, 1, 0), left=(1, 0, 0)) == pytest.approx(math.degrees(0.1))


def test_image_line_angle():
    # facing right: front point to the right and lower (y down) -> positive
    assert line_angle_2d_deg([110.0, 110.0], [100.0, 100.0], "right") == pytest.approx(45.0)
    assert line_angle_2d_deg([90.0, 110.0], [100.0, 100.0], "left") == pytest.approx(45.0)
    with pytest.raises(ValueError):
        line_angle_2d_deg([0, 0], [1, 1], "up")


# ---------------------------------------------------------------- mesh truth
@pytest.fixture(scope="module")
def poser():
    pytest.importorskip("torch")
    pytest.importorskip("anny")
    from calibration.bodygen import BodyPoser

    return BodyPoser()


def test_rest_pose_tilt_plausible(poser):
    # healthy adults stand ~7-15 deg anterior on the PSIS->ASIS definition
    assert 7.0 <= poser.pose(0.0).tilt_deg <= 17.0


@pytest.mark.parametrize("regime", ["compensated", "uncompensated"])
def test_truth_follows_commanded_rotation(poser, regime):
    rots = np.array([-15.0, -7.5, 0.0, 7.5, 15.0])
    tilts = np.array([poser.pose(r, regime).tilt_deg for r in rots])
    slope = np.polyfit(rots, tilts, 1)[0]
    assert slope == pytest.approx(1.0, abs=0.1)
    assert np.all(np.diff(tilts) > 0)  # + commanded (anterior) -> larger truth


def test_compensated_keeps_feet_and_trunk(poser):
    neutral, ant = poser.pose(0.0), poser.pose(12.0)
    feet = poser.foot_mask
    # feet stay put (ankle-skin vertices blended with the shin move <2 mm as the legs lean)
    np.testing.assert_allclose(ant.vertices[feet], neutral.vertices[feet], atol=2e-3)
    assert ant.vertices[feet, 2].min() == pytest.approx(0.0, abs=1e-6)
    # head stays upright: head vertices move (translate) but do not tip
    head = np.array([n == "head" for n in poser.dominant_bone])
    d = ant.vertices[head] - neutral.vertices[head]
    assert np.ptp(d, axis=0).max() < 0.01
