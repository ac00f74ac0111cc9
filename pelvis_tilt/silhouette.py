"""Compact silhouette features at pelvis height from a segmentation mask.

For one frame we cast lines perpendicular to the body's vertical axis at fixed
heights around the hip (in torso lengths, + = up) and find where the mask's
outline crosses them in front of and behind the hip landmark, to sub-pixel
precision.  The result - the lower-back, buttock and lower-belly contour - is
2 x N_LEVELS numbers per frame; whole masks are never stored.
"""
from __future__ import annotations

import numpy as np

# Heights from 0.30 torso lengths below the hip joint (under the buttock) to
# 0.50 above it (the waist): the span that holds the sacrum, the gluteal bulge
# and the lower belly.
LEVELS = np.round(np.linspace(-0.30, 0.50, 17), 3)
N_LEVELS = LEVELS.size
N_FEATURES = 2 * N_LEVELS
_REACH = 1.0   # search up to one torso length in front of / behind the hip
_STEP = 1.0    # sample spacing in pixels


def feature_names() -> list[str]:
    """Names of the feature columns: back_<level>, front_<level>."""
    return [f"back_{k:+.2f}" for k in LEVELS] + [f"front_{k:+.2f}" for k in LEVELS]


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
    """Back and front outline distances (torso lengths) at each level, shape (N_FEATURES,).

    ``back`` is how far the outline lies behind the hip joint, ``front`` how far in
    front, both positive and measured along the body's forward axis.
    """
    out = np.full(N_FEATURES, np.nan)
    if not (np.isfinite(torso_px) and torso_px > 8 and np.all(np.isfinite(hip_xy))):
        return out
    m = mask if mask.ndim == 2 else mask[..., 0]
    dist = np.arange(0.0, _REACH * torso_px, _STEP)
    centres = hip_xy[None, :] + (LEVELS * torso_px)[:, None] * up[None, :]          # (N, 2)
    for sign, sl in ((-1.0, slice(0, N_LEVELS)), (1.0, slice(N_LEVELS, N_FEATURES))):
        pts = centres[:, None, :] + sign * dist[None, :, None] * fwd[None, None, :]  # (N, n, 2)
        vals = _bilinear(m, pts[..., 0], pts[..., 1])
        out[sl] = _edge(vals, dist) / torso_px
    return out
