"""Camera roll/pitch readings and set-up advice on small synthetic arrays."""
import numpy as np

from pelvis_tilt import camera_pose
from pelvis_tilt import landmarks as L


def standing_body(n: int = 4) -> np.ndarray:
    """World landmarks (n, 33, 4) of a plumb body: ankles at y=+0.9 m, hips 0, shoulders -0.5 (y down)."""
    w = np.zeros((n, L.N_LANDMARKS, 4))
    for pair, y in ((L.ANKLE, 0.9), (L.KNEE, 0.45), (L.HIP, 0.0), (L.SHOULDER, -0.5)):
        w[:, list(pair), 1] = y
    w[:, list(L.HIP) + list(L.SHOULDER) + list(L.ANKLE), 2] = [[-0.1, 0.1] * 3]
    return w


def tipped(w: np.ndarray, deg: float) -> np.ndarray:
    """The body rotated about the camera's x axis by ``deg``, its top towards the camera (+z)."""
    a = np.radians(deg)
    out = w.copy()
    out[..., 1] = np.cos(a) * w[..., 1] + np.sin(a) * w[..., 2]
    out[..., 2] = -np.sin(a) * w[..., 1] + np.cos(a) * w[..., 2]
    return out


def test_lean_feature_follows_a_rotation_of_the_body_towards_the_camera():
    w = standing_body()
    lm = np.zeros_like(w)
    lm[..., 1] = 240.0  # hips at the centre of a 480-high picture
    base = camera_pose.pitch_features(w, lm, 480)
    for deg in (-10.0, 5.0, 12.0):
        f = camera_pose.pitch_features(tipped(w, deg), lm, 480)
        np.testing.assert_allclose(f[:, 0] - base[:, 0], deg, atol=1e-9)
        np.testing.assert_allclose(f[:, 1], 0.0)
        # a lean towards the camera reads as a camera aimed the other way (fitted sign)
        assert np.all(np.sign(camera_pose.pitch_deg(tipped(w, deg), lm, 480) - camera_pose.pitch_deg(w, lm, 480))
                      == -np.sign(deg))


def test_hips_high_in_the_picture_read_as_a_camera_aimed_down():
    w = standing_body(2)
    lm = np.zeros_like(w)
    lm[0, :, 1], lm[1, :, 1] = 140.0, 340.0  # hips above / below the centre of a 480-high picture
    p = camera_pose.pitch_deg(w, lm, 480)
    assert p[0] > p[1]


def test_roll_from_the_standing_leg_and_untrusted_frames_are_nan():
    lm = np.zeros((3, L.N_LANDMARKS, 4))
    lm[:, L.ANKLE[1], :2] = (100.0, 400.0)
    lm[:, L.HIP[1], :2] = (100.0 + 200.0 * np.tan(np.radians(4.0)), 200.0)  # hip 4 deg clockwise of plumb
    r = camera_pose.roll_deg(lm, np.array([1, 1, -1]))
    np.testing.assert_allclose(r[:2], 4.0)
    assert np.isnan(r[2])


def test_advice_only_beyond_the_limits():
    assert camera_pose.advice(1.0, 3.0) is None
    assert camera_pose.advice(float("nan"), float("nan")) is None
    assert "aimed down" in camera_pose.advice(0.0, 12.0)
    assert "aimed up" in camera_pose.advice(0.0, -12.0)
    assert "rolled" in camera_pose.advice(7.0, 0.0)
