"""Per-frame signals the guided routine needs, beyond the posture measures.

Vectorised over frames like `geometry`: landmarks (T, 33, >=3) in pixels.
"""
from __future__ import annotations

import numpy as np

from . import landmarks as L
from .geometry import axes


def _joint_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Unsigned angle (deg) at b between b->a and b->c."""
    u, v = a - b, c - b
    cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def knee_flex_both(lm: np.ndarray) -> np.ndarray:
    """(T, 2) knee flexion of the left and right leg: 0 = straight, 180 = fully folded."""
    out = [180.0 - _joint_angle(lm[:, L.HIP[s], :2], lm[:, L.KNEE[s], :2], lm[:, L.ANKLE[s], :2]) for s in (0, 1)]
    return np.stack(out, axis=1)


def lateral_tilt_deg(lm: np.ndarray, roll_deg: float | np.ndarray = 0.0) -> np.ndarray:
    """Lateral pelvic tilt seen from the front: the hip line against the horizontal,
    + = the person's left hip higher, corrected for camera roll."""
    d = lm[:, L.HIP[0], :2] - lm[:, L.HIP[1], :2]  # right hip -> left hip
    ang = np.degrees(np.arctan2(-d[:, 1], np.abs(d[:, 0]))) * np.sign(d[:, 0] + 1e-9)
    # A clockwise camera roll r shows a level hip line at -r whichever way the person faces.
    return ang + np.asarray(roll_deg)


def torso_len(lm: np.ndarray) -> np.ndarray:
    sh = 0.5 * (lm[:, L.SHOULDER[0], :2] + lm[:, L.SHOULDER[1], :2])
    hp = 0.5 * (lm[:, L.HIP[0], :2] + lm[:, L.HIP[1], :2])
    return np.linalg.norm(sh - hp, axis=-1)


def hip_lift(lm: np.ndarray, roll_deg: float | np.ndarray = 0.0) -> np.ndarray:
    """Lying on the back: height of the hips above the shoulders, in torso lengths
    (about 0 resting on the floor, ~0.4-0.6 at the top of a pelvic lift)."""
    _, up = axes(roll_deg, np.ones(len(lm)))
    sh = 0.5 * (lm[:, L.SHOULDER[0], :2] + lm[:, L.SHOULDER[1], :2])
    hp = 0.5 * (lm[:, L.HIP[0], :2] + lm[:, L.HIP[1], :2])
    knee = 0.5 * (lm[:, L.KNEE[0], :2] + lm[:, L.KNEE[1], :2])
    span = np.linalg.norm(knee - sh, axis=-1)  # stable while lifting, unlike the torso
    return np.sum((hp - sh) * up, -1) / np.where(span > 1, 0.5 * span, np.nan)


def child_pose(lm: np.ndarray, roll_deg: float | np.ndarray = 0.0) -> np.ndarray:
    """Kneeling with the trunk folded forward over the thighs: knees deeply bent,
    shoulders no higher than the hips, head low."""
    _, up = axes(roll_deg, np.ones(len(lm)))
    knees = knee_flex_both(lm).max(axis=1)
    sh = 0.5 * (lm[:, L.SHOULDER[0], :2] + lm[:, L.SHOULDER[1], :2])
    hp = 0.5 * (lm[:, L.HIP[0], :2] + lm[:, L.HIP[1], :2])
    tl = np.maximum(torso_len(lm), 1.0)
    shoulders_low = np.sum((sh - hp) * up, -1) / tl < 0.12  # chest down on the thighs
    return (knees > 110) & shoulders_low


def walking(lm: np.ndarray, facing: np.ndarray, roll_deg: float | np.ndarray = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(ankle separation along the walking direction, pelvis lead), both in torso lengths.

    Separation changes sign at every step.  Pelvis lead > 0: the hips are ahead of
    the shoulders in the walking direction (the pelvis leads).
    """
    fwd, _ = axes(roll_deg, facing)
    tl = np.where(torso_len(lm) > 1, torso_len(lm), np.nan)
    sep = np.sum((lm[:, L.ANKLE[0], :2] - lm[:, L.ANKLE[1], :2]) * fwd, -1) / tl
    sh = 0.5 * (lm[:, L.SHOULDER[0], :2] + lm[:, L.SHOULDER[1], :2])
    hp = 0.5 * (lm[:, L.HIP[0], :2] + lm[:, L.HIP[1], :2])
    lead = np.sum((hp - sh) * fwd, -1) / tl
    return sep, lead
