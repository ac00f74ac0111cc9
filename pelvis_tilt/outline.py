"""The segmentation mask around the pelvis, resampled into body coordinates.

One fixed grid, in torso lengths, centred on the mid-hip landmark, with ``u``
along the direction the person faces and ``k`` up the image: every frame's
mask becomes the same (K, U) array whatever the resolution, distance or facing,
so the estimator reads the outline the same way everywhere (and the fitting
data, stored as these patches, is exactly what the runtime sees).
"""
from __future__ import annotations

import numpy as np

STEP = 0.0125                                    # torso lengths per grid cell
U = np.round(np.arange(-1.0, 1.0 + 1e-9, STEP), 4)   # forward (+) / backward (-)
K = np.round(np.arange(-0.9, 0.9 + 1e-9, STEP), 4)   # up (+) / down (-)
SHAPE = (K.size, U.size)


def sample_patch(mask: np.ndarray, origin: np.ndarray, fwd: np.ndarray, up: np.ndarray,
                 torso_px: float) -> np.ndarray:
    """Mask values (0..1, NaN outside the image) on the body grid, shape ``SHAPE``.

    ``origin`` is the mid-hip point in pixels, ``fwd``/``up`` unit vectors in the
    image (x right, y down), ``torso_px`` the mid-shoulder to mid-hip length.
    """
    out = np.full(SHAPE, np.nan, np.float32)
    if not (np.isfinite(torso_px) and torso_px > 8 and np.all(np.isfinite(origin))):
        return out
    m = mask if mask.ndim == 2 else mask[..., 0]
    h, w = m.shape
    s = torso_px
    x = origin[0] + s * (U[None, :] * fwd[0] + K[:, None] * up[0])
    y = origin[1] + s * (U[None, :] * fwd[1] + K[:, None] * up[1])
    inside = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    xc, yc = np.clip(x, 0, w - 1.001), np.clip(y, 0, h - 1.001)
    x0, y0 = xc.astype(np.intp), yc.astype(np.intp)
    fx, fy = (xc - x0).astype(np.float32), (yc - y0).astype(np.float32)
    top = m[y0, x0] * (1 - fx) + m[y0, x0 + 1] * fx
    bot = m[y0 + 1, x0] * (1 - fx) + m[y0 + 1, x0 + 1] * fx
    np.copyto(out, top * (1 - fy) + bot * fy, where=inside)
    return out
