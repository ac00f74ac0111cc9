"""The estimator shipped before v2 (``ridge_v1``), kept only to score it beside the new one.

It reads `calibration.silhouette_v1`-style features (34 outline distances sampled
from the trusted-side hip along the image axes) stored in the v2 sets as
``old_features``; the arithmetic is the one `pelvis_tilt/tilt.py` had at commit
9329fab, so its numbers here are what users got.
"""
from __future__ import annotations

import numpy as np

from pelvis_tilt import geometry
from pelvis_tilt import landmarks as L
from pelvis_tilt.geometry import axes, midpoint

LEVELS = np.round(np.linspace(-0.30, 0.50, 17), 3)
N = LEVELS.size
_BUTTOCK, _LUMBAR = LEVELS <= 0.10, LEVELS >= 0.05
_REACH, _STEP = 1.0, 1.0


def _bilinear(mask: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h, w = mask.shape
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    xc, yc = np.clip(x, 0, w - 1.001), np.clip(y, 0, h - 1.001)
    x0, y0 = np.floor(xc).astype(np.intp), np.floor(yc).astype(np.intp)
    fx, fy = xc - x0, yc - y0
    v = (mask[y0, x0] * (1 - fx) * (1 - fy) + mask[y0, x0 + 1] * fx * (1 - fy)
         + mask[y0 + 1, x0] * (1 - fx) * fy + mask[y0 + 1, x0 + 1] * fx * fy)
    return np.where(inside, v, np.nan)


def _edge(values: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Per row, sub-pixel distance where values first drop below 0.5 (NaN if never).

    ``values`` (rows, n) start at the hip (index 0) and walk outwards.  A row whose
    walk leaves the image before the outline is found is NaN: the outline is cropped.
    """
    inside = values >= 0.5
    outside = ~inside & np.isfinite(values)
    first_out = np.argmax(outside, axis=1)
    found = outside[np.arange(values.shape[0]), first_out] & (first_out > 0)
    # Cropped: the image border (NaN) came before the first outside sample.
    left_image = np.isnan(values)
    first_nan = np.where(left_image.any(axis=1), np.argmax(left_image, axis=1), values.shape[1])
    found &= first_out < first_nan
    i1 = np.clip(first_out, 1, values.shape[1] - 1)
    v0 = values[np.arange(values.shape[0]), i1 - 1]
    v1 = values[np.arange(values.shape[0]), i1]
    frac = np.clip((v0 - 0.5) / np.where(v0 - v1 > 1e-6, v0 - v1, 1.0), 0, 1)
    d = dist[i1 - 1] + frac * (dist[i1] - dist[i1 - 1])
    return np.where(found, d, np.nan)


def profile(mask: np.ndarray, hip_xy: np.ndarray, fwd: np.ndarray, up: np.ndarray, torso_px: float) -> np.ndarray:
    """Back and front outline distances (torso lengths) at each level, shape (2 * N,).

    ``back`` is how far the outline lies behind the hip joint, ``front`` how far in
    front, both positive and measured along the body's forward axis.
    """
    out = np.full(2 * N, np.nan)
    if not (np.isfinite(torso_px) and torso_px > 8 and np.all(np.isfinite(hip_xy))):
        return out
    m = mask if mask.ndim == 2 else mask[..., 0]
    dist = np.arange(0.0, _REACH * torso_px, _STEP)
    centres = hip_xy[None, :] + (LEVELS * torso_px)[:, None] * up[None, :]          # (N, 2)
    for sign, sl in ((-1.0, slice(0, N)), (1.0, slice(N, 2 * N))):
        pts = centres[:, None, :] + sign * dist[None, :, None] * fwd[None, None, :]  # (N, n, 2)
        vals = _bilinear(m, pts[..., 0], pts[..., 1])
        out[sl] = _edge(vals, dist) / torso_px
    return out



def _sacral_angle(f: np.ndarray) -> np.ndarray:
    back = f[:, :N]
    b_but = np.nan_to_num(np.where(_BUTTOCK, back, -np.inf), nan=-np.inf)
    b_lum = np.nan_to_num(np.where(_LUMBAR, back, np.inf), nan=np.inf)
    i_peak, i_hollow = np.argmax(b_but, axis=1), np.argmin(b_lum, axis=1)
    rows = np.arange(len(back))
    peak, hollow = back[rows, i_peak], back[rows, i_hollow]
    ang = np.degrees(np.arctan2(peak - hollow, LEVELS[i_hollow] - LEVELS[i_peak]))
    return np.where(np.isfinite(peak) & np.isfinite(hollow) & (i_hollow > i_peak), ang, np.nan)


def _row_mean(a: np.ndarray) -> np.ndarray:
    ok = np.isfinite(a)
    return np.where(ok.any(1), np.where(ok, a, 0).sum(1) / np.maximum(ok.sum(1), 1), np.nan)


def _angles(lm: np.ndarray, facing: np.ndarray) -> np.ndarray:
    fwd, up = axes(0.0, facing)
    sh, hip, knee, ank = (midpoint(lm, p) for p in (L.SHOULDER, L.HIP, L.KNEE, L.ANKLE))
    return np.stack([np.degrees(np.arctan2(np.sum((b - a) * fwd, -1), np.sum((b - a) * up, -1)))
                     for a, b in [(ank, sh), (ank, hip), (hip, sh), (knee, hip), (ank, knee)]], axis=1)


def _occluded(lm: np.ndarray, meas: geometry.Measures, f: np.ndarray) -> np.ndarray:
    fwd, up = axes(0.0, meas.facing)
    s = np.clip(meas.side, 0, 1)
    hip = lm[np.arange(len(lm)), np.asarray(L.HIP)[s], :2]
    torso = np.where(meas.torso_px > 0, meas.torso_px, np.nan)
    back, front = f[:, :N], f[:, N:]
    hit = np.zeros(len(lm), bool)
    rows = np.arange(len(lm))
    step = LEVELS[1] - LEVELS[0]
    for j in (*L.ELBOW, *L.WRIST):
        d = lm[:, j, :2] - hip
        u, k = np.sum(d * fwd, -1) / torso, np.sum(d * up, -1) / torso
        lvl = np.clip(np.nan_to_num(np.round((k - LEVELS[0]) / step)), 0, N - 1).astype(int)
        near = (u > front[rows, lvl] - 0.06) | (-u > back[rows, lvl] - 0.06)
        hit |= (k >= LEVELS[0]) & (k <= LEVELS[-1]) & np.nan_to_num(near, nan=False).astype(bool)
    return hit


def predict(params: dict, features: np.ndarray, lm: np.ndarray, meas: geometry.Measures,
            min_confidence: float = 0.3) -> np.ndarray:
    """Per-frame tilt (NaN where ridge_v1 would flag the frame)."""
    f = np.asarray(features, float)
    back, front = f[:, :N], f[:, N:]
    shift = 0.5 * (_row_mean(back) - _row_mean(front))[:, None]
    X = np.concatenate([f, back - shift, front + shift, _sacral_angle(f)[:, None], _angles(lm, meas.facing)], 1)
    z = (X - np.asarray(params["mean"])) / np.asarray(params["scale"])
    z = np.clip(np.nan_to_num(z), -params.get("z_clip", 4.0), params.get("z_clip", 4.0))
    tilt = params["bias"] + z @ np.asarray(params["weights"])
    valid = np.mean(np.isfinite(f), axis=1)
    conf = meas.view_conf * meas.lm_conf * np.clip((valid - 0.5) / 0.4, 0, 1)
    ok = meas.is_side_on() & meas.in_frame & ~_occluded(lm, meas, f) & np.isfinite(tilt)
    return np.where(ok & (conf >= min_confidence), tilt, np.nan)
