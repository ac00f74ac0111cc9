"""The camera's roll and pitch, read off a person standing still side-on (for calibration).

Roll (rotation about the lens axis) comes from the image: a standing leg is
close to plumb, so the ankle->hip line's angle from the image vertical is the
roll.  Pitch (lens aimed up or down) barely shows in a side view's 2-D points;
two cues carry it: MediaPipe's world landmarks keep the body's orientation
relative to the camera, so the ankle->shoulder line leans towards or away from
the lens as the camera tips; and a camera at about hip height that is aimed up
(down) puts the hips below (above) the picture's centre.  A linear fit on
rendered people with known camera pitch (``calibration/fit_camera_pitch.py``)
combines them; held-out accuracy is in calibration/README.md.  Both readings
are medians over the calibration frames, because one frame's world landmarks
are noisy.
"""
from __future__ import annotations

import numpy as np

from . import landmarks as L
from .geometry import midpoint, side_point

# pitch_deg = PITCH_COEF . pitch_features + PITCH_INTERCEPT_DEG, fitted by
# `python -m calibration.fit_camera_pitch` on the "fit" set (107 clips).
PITCH_COEF = (-0.6932, -54.79)
PITCH_INTERCEPT_DEG = -4.408
# Beyond these the camera set-up itself is worth fixing (see `advice`).
ROLL_LIMIT_DEG = 5.0
PITCH_LIMIT_DEG = 8.0


def roll_deg(lm: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Per-frame camera roll from image landmarks ``(F, 33, >=2)`` and the trusted side ``(F,)``
    (+ = image rotated clockwise); NaN where no side is trusted."""
    side = np.asarray(side)
    d = side_point(lm, L.HIP, side) - side_point(lm, L.ANKLE, side)
    return np.where(side >= 0, np.degrees(np.arctan2(d[:, 0], -d[:, 1])), np.nan)


def pitch_features(world: np.ndarray, lm: np.ndarray, image_h: float) -> np.ndarray:
    """Per-frame ``(F, 2)``: the ankle->shoulder line's lean towards the camera in degrees
    (world landmarks ``(F, 33, >=3)``: metres, y down, z depth) and the hips' height
    below the picture's centre as a fraction of its height (image landmarks, pixels)."""
    v = midpoint(world, L.SHOULDER, 3) - midpoint(world, L.ANKLE, 3)
    lean = np.degrees(np.arctan2(v[:, 2], -v[:, 1]))
    hip_below = midpoint(lm, L.HIP)[:, 1] / image_h - 0.5
    return np.stack([lean, hip_below], axis=1)


def pitch_deg(world: np.ndarray, lm: np.ndarray, image_h: float) -> np.ndarray:
    """Per-frame camera pitch (+ = aimed down) from world and image landmarks (see `pitch_features`)."""
    return pitch_features(world, lm, image_h) @ np.asarray(PITCH_COEF) + PITCH_INTERCEPT_DEG


def advice(roll: float, pitch: float) -> str | None:
    """One line on fixing the camera set-up, or None when it is fine."""
    tips = []
    if np.isfinite(pitch) and abs(pitch) > PITCH_LIMIT_DEG:
        tips.append(f"camera aimed {'down' if pitch > 0 else 'up'} about {abs(pitch):.0f} deg: "
                    f"set it level at hip height")
    if np.isfinite(roll) and abs(roll) > ROLL_LIMIT_DEG:
        tips.append(f"camera rolled {abs(roll):.0f} deg: stand it straight")
    return "; ".join(tips) or None
