"""Fit the camera-pitch map of `pelvis_tilt.camera_pose` and check it on held-out people.

    python -m calibration.fit_camera_pitch

Reads the cached "fit" and "test" sets (``python -m calibration.truthset``),
takes each clip's median `camera_pose.pitch_features` (the body's lean towards
the camera in MediaPipe's world landmarks, and how far the hips sit below the
picture's centre), fits pitch = coef . features + intercept by least squares on
the fit clips, and prints the constants plus the held-out error of the shipped
constants for pitch and of the image roll.  (Chosen by 5-fold CV on the fit
set: lean alone 2.9 deg mean abs. error, lean + hip height 1.8, adding the
near/far-side height differences of knees, hips and shoulders 1.6-1.8.)
"""
from __future__ import annotations

import numpy as np

from calibration.fit_tilt import load_set
from pelvis_tilt import camera_pose, geometry


def per_clip(name: str) -> dict[str, np.ndarray]:
    """Per-clip medians over detected frames: world lean, image roll, and the true camera."""
    d = load_set(name)
    ok = d["detected"]
    feats = camera_pose.pitch_features(d["world"], d["lm"], d["image_h"])
    side = geometry.trusted_side(d["lm"], geometry.classify_view(d["lm"])[1])
    roll = camera_pose.roll_deg(d["lm"], side)
    clips = np.unique(d["clip"][ok])
    med = lambda x: np.array([np.nanmedian(x[ok & (d["clip"] == c)]) for c in clips])  # noqa: E731
    return {"features": np.stack([med(f) for f in feats.T], axis=1), "roll": med(roll),
            "pitch_true": med(d["pitch_deg"]), "roll_true": med(d["roll_deg"])}


def errors(pred: np.ndarray, true: np.ndarray) -> str:
    e = np.abs(pred - true)
    return f"mean abs {e.mean():.1f} deg, 95th pct {np.percentile(e, 95):.1f} deg, within 5 deg {100 * np.mean(e < 5):.0f} %"


def main() -> int:
    fit, held = per_clip("fit"), per_clip("test")
    A = np.c_[fit["features"], np.ones(len(fit["features"]))]
    *coef, intercept = np.linalg.lstsq(A, fit["pitch_true"], rcond=None)[0]
    print(f"fit: {len(A)} clips, PITCH_COEF = ({coef[0]:.4f}, {coef[1]:.3f}), PITCH_INTERCEPT_DEG = {intercept:.3f}")
    print(f"  shipped: PITCH_COEF = {camera_pose.PITCH_COEF}, PITCH_INTERCEPT_DEG = {camera_pose.PITCH_INTERCEPT_DEG}")
    n = len(held["features"])
    shipped = held["features"] @ np.asarray(camera_pose.PITCH_COEF) + camera_pose.PITCH_INTERCEPT_DEG
    print(f"held-out ({n} clips, true pitch {held['pitch_true'].min():+.0f}..{held['pitch_true'].max():+.0f} deg):")
    print(f"  pitch, shipped constants: {errors(shipped, held['pitch_true'])}")
    print(f"  pitch, guessing the set's mean: {errors(np.full(n, fit['pitch_true'].mean()), held['pitch_true'])}")
    print(f"  roll (image ankle->hip line): {errors(held['roll'], held['roll_true'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
