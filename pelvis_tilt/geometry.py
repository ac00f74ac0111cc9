"""Vectorised side-view geometry: view, trusted side and joint angles for all frames.

Every function takes arrays shaped ``(frames, 33, channels)`` of landmarks in
*pixel* units (x right, y down) and returns per-frame arrays; there are no
per-frame Python loops.  Undetected frames are NaN rows and give NaN / "unknown".

Sign conventions (side view, after correcting for camera roll):
``forward`` is the direction the person faces, ``up`` is against gravity.
* trunk_lean_deg   hip->shoulder line from vertical, + = leaning forward
* hip_flex_deg     angle between trunk and thigh, 0 = straight, + = flexed
* knee_flex_deg    angle between thigh and shank, 0 = straight, + = bent (plié)
* head_fwd_deg     shoulder->ear line from vertical, + = ear ahead of shoulder
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import landmarks as L

VIEW_UNKNOWN, VIEW_SIDE_LEFT, VIEW_SIDE_RIGHT, VIEW_FRONTAL = 0, 1, 2, 3
VIEW_NAMES = {VIEW_UNKNOWN: "unknown", VIEW_SIDE_LEFT: "side_left", VIEW_SIDE_RIGHT: "side_right", VIEW_FRONTAL: "frontal"}

# Width of shoulders+hips across the image divided by torso length.  Measured on
# rendered and real people: ~0.05-0.2 side-on, ~0.5-0.8 facing the camera.
SIDE_WIDTH_MAX = 0.28
# Side-on, belly to buttock spans about half a torso length around the hip joints: a hip
# closer than this (x torso length) to the left or right edge has its outline cut by the picture.
PELVIS_HALF_DEPTH = 0.35
FRONTAL_WIDTH_MIN = 0.40


@dataclass
class Measures:
    """Per-frame side-view measures (all arrays have length = frames)."""

    view: np.ndarray          # int codes VIEW_*
    view_conf: np.ndarray     # 0..1
    width_ratio: np.ndarray   # shoulder/hip width over torso length
    facing: np.ndarray        # +1 faces image-right, -1 image-left, 0 unknown
    side: np.ndarray          # trusted body side: 0 left, 1 right, -1 none
    torso_px: np.ndarray      # mid-shoulder to mid-hip distance, pixels
    trunk_lean_deg: np.ndarray
    hip_flex_deg: np.ndarray
    knee_flex_deg: np.ndarray
    head_fwd_deg: np.ndarray
    in_frame: np.ndarray      # hips, knees and ankles of the trusted side inside the image, the pelvis's depth too
    lm_conf: np.ndarray       # mean visibility of the trusted side's key joints

    def is_side_on(self) -> np.ndarray:
        return (self.view == VIEW_SIDE_LEFT) | (self.view == VIEW_SIDE_RIGHT)


# (left, right) x (shoulder, hip, knee, ankle): landmark indices of the body's main joints
SIDE_JOINTS = np.array([[p[s] for p in (L.SHOULDER, L.HIP, L.KNEE, L.ANKLE)] for s in (0, 1)])


# Two cheaper stand-ins for numpy wrappers: live reads one frame at a time, where each
# call's fixed cost, not the arithmetic, is what the loop pays.
def nan0(a: np.ndarray) -> np.ndarray:
    """NaN -> 0 (`np.nan_to_num` for arrays that hold no infinities)."""
    return np.where(np.isnan(a), 0.0, a)


def clip(a: np.ndarray, lo, hi) -> np.ndarray:
    """``a`` clipped to lo..hi (NaN stays NaN; ints stay ints), as `np.clip`."""
    return np.minimum(np.maximum(a, lo), hi)


def midpoint(lm: np.ndarray, pair: tuple[int, int], channels: int = 2) -> np.ndarray:
    """Midpoint of a left/right `pair` per frame -> (T, channels)."""
    return 0.5 * (lm[:, pair[0], :channels] + lm[:, pair[1], :channels])


def side_point(lm: np.ndarray, pair: tuple[int, int], side: np.ndarray) -> np.ndarray:
    """Point of `pair` on the trusted side, per frame -> (T, 2)."""
    idx = np.asarray(pair)[clip(side, 0, 1)]
    return lm[np.arange(lm.shape[0]), idx, :2]


def axes(roll_deg: np.ndarray | float, facing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame unit vectors (T, 2) for body-forward and up, in image coords.

    ``roll_deg`` is the camera roll (positive = image rotated clockwise, so the
    true vertical appears tilted); 0 means the image vertical is the true one.
    """
    # Written with few numpy calls: live reads one frame at a time, where each call's
    # fixed cost, not the arithmetic, is what the loop pays.
    r = np.empty(np.shape(facing))
    r[...] = np.deg2rad(roll_deg)
    sin, cos = np.sin(r), np.cos(r)
    up = np.empty(r.shape + (2,))
    up[..., 0], up[..., 1] = sin, -cos
    fwd = np.empty_like(up)
    sign = np.where(facing == 0, 1.0, facing)
    fwd[..., 0], fwd[..., 1] = cos * sign, sin * sign
    return fwd, up


def _angle_from(v: np.ndarray, fwd: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Signed angle (deg) of vectors v from reference direction ref, + towards fwd."""
    return np.degrees(np.arctan2(np.sum(v * fwd, -1), np.sum(v * ref, -1)))


def width_ratio(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(shoulder+hip width over torso length, torso length px, hip centre (T, 2)).

    The width is small side-on and large facing the camera; torso length is a
    size measure that raised arms do not change.
    """
    sh_mid, hip_mid = midpoint(lm, L.SHOULDER), midpoint(lm, L.HIP)
    torso = np.linalg.norm(sh_mid - hip_mid, axis=-1)
    w_sh = np.abs(lm[:, L.SHOULDER[0], 0] - lm[:, L.SHOULDER[1], 0])
    w_hip = np.abs(lm[:, L.HIP[0], 0] - lm[:, L.HIP[1], 0])
    return 0.5 * (w_sh + w_hip) / np.where(torso > 1e-6, torso, np.nan), torso, hip_mid


def classify_view(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """View per frame from 2-D landmarks.

    Returns (view, view_conf, width_ratio, facing, torso_px).  Facing comes from
    the nose ahead of the ears and the toes ahead of the heels.
    """
    width, torso, _ = width_ratio(lm)
    torso_safe = np.where(torso > 1e-6, torso, np.nan)

    nose_ahead = (lm[:, L.NOSE, 0] - midpoint(lm, L.EAR)[:, 0]) / torso_safe
    toe_ahead = (midpoint(lm, L.FOOT)[:, 0] - midpoint(lm, L.HEEL)[:, 0]) / torso_safe
    f = nan0(nose_ahead) + nan0(toe_ahead)   # either alone where the other is unknown
    facing = np.where(np.abs(f) > 0.04, np.sign(f), 0.0)
    facing = np.where(np.isfinite(width), facing, 0.0)

    side_on = width < SIDE_WIDTH_MAX
    frontal = width > FRONTAL_WIDTH_MIN
    view = np.full(lm.shape[0], VIEW_UNKNOWN, dtype=np.int8)
    view[side_on & (facing < 0)] = VIEW_SIDE_LEFT
    view[side_on & (facing > 0)] = VIEW_SIDE_RIGHT
    view[frontal] = VIEW_FRONTAL
    # Confidence: how far the width is from the ambiguous zone, and how clear facing is.
    margin = np.where(side_on, (SIDE_WIDTH_MAX - width) / 0.1, (width - FRONTAL_WIDTH_MIN) / 0.15)
    conf = clip(margin, 0.0, 1.0)
    conf = np.where(side_on, conf * clip(np.abs(f) / 0.15, 0.0, 1.0), conf)
    conf = np.where(view == VIEW_UNKNOWN, 0.0, conf)
    return view, nan0(conf), width, facing, torso


def trusted_side(lm: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """Body side nearer the camera: 1 (right) when facing image-right, else 0.

    A person facing image-right shows their right side to the camera.  When
    facing is unknown, the side with the higher landmark visibility is used.
    """
    if lm.shape[-1] > 3:
        vis = nan0(lm[:, SIDE_JOINTS, 3])    # (T, 2, 4): left, right
        vis_l, vis_r = vis[:, 0].mean(axis=-1), vis[:, 1].mean(axis=-1)
    else:
        vis_l = vis_r = np.zeros(lm.shape[0])
    by_vis = np.where(vis_r > vis_l, 1, 0)
    side = np.where(facing > 0, 1, np.where(facing < 0, 0, by_vis))
    return np.where(np.isfinite(lm[:, L.HIP[0], 0]), side, -1).astype(np.int8)


def compute_measures(lm: np.ndarray, image_size: tuple[int, int], roll_deg: np.ndarray | float = 0.0) -> Measures:
    """All side-view measures for landmarks ``lm`` (T, 33, >=3) in pixels.

    ``image_size`` is (width, height), used for the in-frame check.
    """
    lm = np.asarray(lm, dtype=float)
    view, view_conf, width, facing, torso = classify_view(lm)
    side = trusted_side(lm, facing)
    fwd, up = axes(roll_deg, facing)
    down = -up

    sh, hip, knee = side_point(lm, L.SHOULDER, side), side_point(lm, L.HIP, side), side_point(lm, L.KNEE, side)
    ankle, ear = side_point(lm, L.ANKLE, side), side_point(lm, L.EAR, side)

    trunk_lean = _angle_from(sh - hip, fwd, up)
    thigh = _angle_from(knee - hip, fwd, down)
    shank = _angle_from(ankle - knee, fwd, down)
    head = _angle_from(ear - sh, fwd, up)

    w, h = image_size
    in_frame = np.ones(len(lm), bool)
    for pt in (hip, knee, ankle):
        in_frame &= (pt[:, 0] >= 0) & (pt[:, 0] < w) & (pt[:, 1] >= 0) & (pt[:, 1] < h)
    # the front or back of the pelvis cut off at the left or right edge (someone walking out of the picture)
    margin = PELVIS_HALF_DEPTH * torso
    in_frame &= (hip[:, 0] >= margin) & (hip[:, 0] < w - margin)

    if lm.shape[-1] > 3:
        s = clip(side, 0, 1)
        idx = SIDE_JOINTS[s, :3]                 # (T, 3): shoulder, hip, knee of that side
        vis = lm[np.arange(len(lm))[:, None], idx, 3]
        lm_conf = nan0(vis.mean(axis=1))
    else:
        lm_conf = np.where(np.isfinite(hip[:, 0]), 1.0, 0.0)

    return Measures(
        view=view, view_conf=view_conf, width_ratio=width, facing=facing, side=side,
        torso_px=torso, trunk_lean_deg=trunk_lean, hip_flex_deg=thigh + trunk_lean,
        knee_flex_deg=thigh - shank, head_fwd_deg=head, in_frame=in_frame, lm_conf=lm_conf,
    )
