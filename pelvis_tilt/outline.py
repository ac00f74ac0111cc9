"""The segmentation mask around the pelvis, resampled into body coordinates.

One fixed grid, in *body units*, centred on the mid-hip landmark, with ``u``
along the direction the person faces and ``k`` up the image: every frame's
mask becomes the same (K, U) array whatever the resolution, distance or facing,
so the estimator reads the outline the same way everywhere.

The body unit is 0.3 x the person's standing height in the picture, read from
the mask itself (top of the head to the soles, plus what bent knees take away).
That length is steady from frame to frame (0.1 % on still standing, against
~1 % for MediaPipe's shoulder-to-hip length, which also shrinks and grows with
the pelvis's own tilt), so the outline is read at the same heights on the body
whatever the landmarks do.  When the head or the feet leave the picture the
torso length stands in (scaled by the typical ratio).
"""
from __future__ import annotations

import numpy as np

from . import landmarks as L
from .geometry import axes, clip, midpoint, nan0

STEP = 0.0125                                    # body units per grid cell
HEIGHT_UNIT = 0.3       # body unit = this share of the standing height in the picture
TORSO_TO_UNIT = 1.03    # typical body unit / torso length (rendered adults, median): the fallback
U = np.round(np.arange(-1.0, 1.0 + 1e-9, STEP), 4)   # forward (+) / backward (-)
K = np.round(np.arange(-0.9, 0.9 + 1e-9, STEP), 4)   # up (+) / down (-)
SHAPE = (K.size, U.size)


def sample_patch(mask: np.ndarray, origin: np.ndarray, fwd: np.ndarray, up: np.ndarray,
                 torso_px: float, rows: np.ndarray | None = None) -> np.ndarray:
    """Mask values (0..1, NaN outside the image) on the body grid, shape ``SHAPE``
    (or only the grid rows ``rows``, which is all the estimator needs at run time).

    ``origin`` is the mid-hip point in pixels, ``fwd``/``up`` unit vectors in the
    image (x right, y down), ``torso_px`` the grid's unit in pixels (a body unit,
    see `body_unit_px`; the name is historical).
    """
    kk = K if rows is None else K[rows]
    out = np.full((kk.size, U.size), np.nan, np.float32)
    if not (np.isfinite(torso_px) and torso_px > 8 and np.all(np.isfinite(origin))):
        return out
    m = mask if mask.ndim == 2 else mask[..., 0]
    h, w = m.shape
    s = torso_px
    x = origin[0] + s * (U[None, :] * fwd[0] + kk[:, None] * up[0])
    y = origin[1] + s * (U[None, :] * fwd[1] + kk[:, None] * up[1])
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    xc, yc = clip(x, 0, w - 1.001), clip(y, 0, h - 1.001)
    x0, y0 = xc.astype(np.intp), yc.astype(np.intp)
    fx, fy = (xc - x0).astype(np.float32), (yc - y0).astype(np.float32)
    # the four neighbours by flat index (cheaper than 2-D fancy indexing: live reads one frame at a time)
    flat, i = np.ascontiguousarray(m).ravel(), y0 * w + x0
    top = flat[i] * (1 - fx) + flat[i + 1] * fx
    bot = flat[i + w] * (1 - fx) + flat[i + w + 1] * fx
    np.copyto(out, top * (1 - fy) + bot * fy, where=inside)
    return out


# Outline levels read by the estimator: from under the buttock (-0.35 torso lengths
# below the mid-hip) to the waist (+0.60), every 0.05.
LEVELS = np.round(np.arange(-0.35, 0.60 + 1e-9, 0.05), 3)
N_LEVELS = LEVELS.size
LEVEL_ROWS = np.searchsorted(K, LEVELS - 1e-9)
_U0 = int(np.argmin(np.abs(U)))


def _first_below(v: np.ndarray) -> np.ndarray:
    """Per row of ``v`` (..., n) walking outwards from index 0: sub-cell position where the
    mask first drops below 0.5; NaN if it never does inside the image or starts outside."""
    n = v.shape[-1]
    at = np.arange(v.size // n)

    def pick(a: np.ndarray, i: np.ndarray) -> np.ndarray:
        """a[..., i] row by row (direct indexing: cheaper than `np.take_along_axis` per frame)."""
        return a.reshape(-1, n)[at, i.ravel()].reshape(i.shape)

    nan = np.isnan(v)
    out = ~(v >= 0.5) & ~nan
    first = np.argmax(out, axis=-1)
    found = pick(out, first) & (first > 0)
    nan_first = np.where(nan.any(-1), np.argmax(nan, axis=-1), n)
    found &= first < nan_first
    i1 = clip(first, 1, n - 1)
    v0, v1 = pick(v, i1 - 1), pick(v, i1)
    frac = clip((v0 - 0.5) / np.where(v0 - v1 > 1e-6, v0 - v1, 1.0), 0, 1)
    return np.where(found, i1 - 1 + frac, np.nan)


def edges(patches: np.ndarray) -> np.ndarray:
    """Back and front outline (grid units from the mid-hip, both positive) at ``LEVELS``.

    ``patches`` (T, K, U) whole patches, or (T, N_LEVELS, U) patches sampled with
    ``rows=LEVEL_ROWS`` -> (T, 2 * N_LEVELS): back then front.  Each row is walked
    from the mid-hip outwards; a row whose walk leaves the image first is NaN.
    """
    p = np.asarray(patches, np.float32)
    if p.shape[1] != N_LEVELS:
        p = p[:, LEVEL_ROWS, :]
    back = _first_below(p[..., _U0::-1]) * STEP
    front = _first_below(p[..., _U0:]) * STEP
    return np.concatenate([back, front], axis=1)


def mask_extent(mask: np.ndarray, lm: np.ndarray) -> tuple[float, float]:
    """Top and bottom rows of the subject's mask (> 0.5), looked for in the columns around
    the landmarks only (cheap at any resolution); NaN when the mask touches the top or the
    bottom of the picture (head or feet cut off) or is empty."""
    m = mask if mask.ndim == 2 else mask[..., 0]
    h, w = m.shape
    x = lm[:, 0][np.isfinite(lm[:, 0])]
    if x.size == 0:
        return float("nan"), float("nan")
    pad = 0.1 * h
    x0, x1 = int(max(0, x.min() - pad)), int(min(w, x.max() + pad + 1))
    step = max(1, (x1 - x0) // 96)        # ~96 columns are plenty to find the head and the soles
    rows = np.flatnonzero(m[:, x0:x1:step].max(axis=1) > 0.5) if x1 > x0 else np.zeros(0, int)
    if rows.size == 0 or rows[0] == 0 or rows[-1] == h - 1:
        return float("nan"), float("nan")
    return float(rows[0]), float(rows[-1])


def body_unit_px(height_px: np.ndarray, lm: np.ndarray, torso_px: np.ndarray) -> np.ndarray:
    """Pixels per body unit, (T,): `HEIGHT_UNIT` x the standing height, i.e. the mask's
    height plus what bent knees take off it (hip-knee-ankle path minus the hip-ankle
    line), or the torso length x `TORSO_TO_UNIT` where the height is unknown."""
    lm = np.asarray(lm, float)
    hip, knee, ank = (midpoint(lm, p) for p in (L.HIP, L.KNEE, L.ANKLE))
    dist = lambda a, b: np.sqrt(((a - b) * (a - b)).sum(axis=-1))  # noqa: E731
    bend = dist(hip, knee) + dist(knee, ank) - dist(hip, ank)
    bend = np.maximum(nan0(bend), 0.0)
    unit = HEIGHT_UNIT * (np.asarray(height_px, float) + bend)
    return np.where(np.isfinite(unit) & (unit > 8), unit, TORSO_TO_UNIT * np.asarray(torso_px, float))


N_FEATURES = 2 * N_LEVELS + 1     # back edges, front edges, body unit / torso length


def frame_edges(mask: np.ndarray, lm: np.ndarray, facing: float, torso_px: float) -> np.ndarray:
    """One frame's outline features (`N_FEATURES`,) from its mask and landmarks (pixels):
    back and front edges at `LEVELS` in body units, then the body unit in torso lengths
    (the estimator needs it to place the arms on the same grid)."""
    top, bottom = mask_extent(mask, lm)
    unit = float(body_unit_px(np.array([bottom - top]), lm[None], np.array([torso_px]))[0])
    fwd, up = axes(0.0, np.array([facing]))
    origin = 0.5 * (lm[L.HIP[0], :2] + lm[L.HIP[1], :2])
    e = edges(sample_patch(mask, origin, fwd[0], up[0], unit, rows=LEVEL_ROWS)[None])[0]
    return np.append(e, unit / torso_px if torso_px > 0 else np.nan)
