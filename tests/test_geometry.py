import numpy as np
import pytest

from pelvis_tilt import geometry
from tests.conftest import skeleton


def test_view_side_left_right_and_frontal():
    lm = np.stack([skeleton(facing=1), skeleton(facing=-1), skeleton(frontal=True), np.full((33, 4), np.nan)])
    view, conf, width, facing, torso = geometry.classify_view(lm)
    assert list(view) == [geometry.VIEW_SIDE_RIGHT, geometry.VIEW_SIDE_LEFT, geometry.VIEW_FRONTAL, geometry.VIEW_UNKNOWN]
    assert conf[0] > 0.8 and conf[1] > 0.8 and conf[2] > 0.8 and conf[3] == 0
    assert list(facing[:2]) == [1, -1]


def test_trusted_side_is_the_one_facing_the_camera():
    lm = np.stack([skeleton(facing=1), skeleton(facing=-1)])
    m = geometry.compute_measures(lm, (640, 640))
    # Facing image-right shows the right side (1) to the camera; facing left, the left side (0).
    assert list(m.side) == [1, 0]


@pytest.mark.parametrize("facing", [1, -1])
def test_angles_recovered_with_sign(facing):
    lm = skeleton(facing=facing, trunk_lean=12.0, knee_bend=30.0, head_fwd=20.0)
    m = geometry.compute_measures(lm[None], (640, 900))
    assert m.trunk_lean_deg[0] == pytest.approx(12.0, abs=0.5)
    assert m.knee_flex_deg[0] == pytest.approx(30.0, abs=0.5)
    assert m.head_fwd_deg[0] == pytest.approx(20.0, abs=0.5)
    # thigh forward by 15 deg + trunk forward 12 -> hip flexion 27
    assert m.hip_flex_deg[0] == pytest.approx(27.0, abs=0.5)
    assert m.in_frame[0]


def test_roll_correction_removes_camera_roll():
    lm = skeleton(facing=1, trunk_lean=0.0)
    # Rotate the whole image content by 7 deg clockwise about the hip: a rolled camera.
    a = np.deg2rad(7.0)
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    c = lm[23, :2].copy()
    rolled = lm.copy()
    rolled[:, :2] = (lm[:, :2] - c) @ R.T + c
    m0 = geometry.compute_measures(rolled[None], (640, 900), 0.0)
    m1 = geometry.compute_measures(rolled[None], (640, 900), 7.0)
    assert abs(m0.trunk_lean_deg[0]) > 5
    assert m1.trunk_lean_deg[0] == pytest.approx(0.0, abs=0.3)


def test_out_of_frame_and_nan_frames():
    lm = np.stack([skeleton(origin=(320, 500)), np.full((33, 4), np.nan)])
    m = geometry.compute_measures(lm, (640, 600))  # knees/ankles below the bottom edge
    assert not m.in_frame[0]
    assert m.side[1] == -1 and np.isnan(m.trunk_lean_deg[1])


def test_a_pelvis_cut_by_the_left_or_right_edge_is_out_of_frame():
    # torso 200 px: the pelvis spans ~0.35 x 200 = 70 px either side of the hips
    xs = (20.0, 60.0, 80.0, 320.0, 580.0, 620.0)
    lm = np.stack([skeleton(torso=200.0, origin=(x, 300.0)) for x in xs])
    m = geometry.compute_measures(lm, (640, 900))
    assert m.in_frame.tolist() == [False, False, True, True, False, False]


def test_vectorised_matches_per_frame():
    rng = np.random.default_rng(0)
    base = np.stack([skeleton(facing=f, trunk_lean=l, knee_bend=k)
                     for f, l, k in zip(rng.choice([-1, 1], 50), rng.uniform(-10, 20, 50), rng.uniform(0, 60, 50))])
    allm = geometry.compute_measures(base, (640, 900))
    for i in range(0, 50, 7):
        one = geometry.compute_measures(base[i:i + 1], (640, 900))
        assert one.knee_flex_deg[0] == pytest.approx(allm.knee_flex_deg[i])
        assert one.view[0] == allm.view[i]
