"""Ground-truth geometry for sagittal pelvic tilt (numpy only).

Definition used throughout the project: the sagittal pelvic tilt is the angle,
in the sagittal plane, of the line from the posterior superior iliac spine
(PSIS) to the anterior superior iliac spine (ASIS) against the horizontal.
POSITIVE = ANTERIOR tilt (ASIS lower than PSIS).

This module has no dependency besides numpy so that the tests pinning the
definition run without the rendering stack.
"""
from __future__ import annotations

import numpy as np

__all__ = ["sagittal_tilt_deg", "line_angle_2d_deg"]


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    if np.any(n == 0):
        raise ValueError("zero-length axis vector")
    return v / n


def sagittal_tilt_deg(asis, psis, up=(0.0, 0.0, 1.0), left=(1.0, 0.0, 0.0)) -> np.ndarray:
    """Sagittal pelvic tilt in degrees, positive = anterior.

    Parameters
    ----------
    asis, psis : array_like, shape (..., 3)
        3-D positions of the ASIS and the PSIS (typically each the mean of the
        left and right landmark). Leading dimensions broadcast (e.g. frames).
    up : array_like, shape (3,) or (..., 3)
        World vertical (against gravity).
    left : array_like, shape (3,) or (..., 3)
        The body's left-right axis pointing to the body's LEFT. It is
        orthogonalised against ``up``. The body's forward direction is
        ``left x up`` (right-handed), so with z up and x = left, forward = -y.

    Returns
    -------
    ndarray, shape (...)
        ``atan2(-(d . up), d . forward)`` in degrees with ``d = asis - psis``:
        the PSIS->ASIS line projected into the sagittal plane (normal = left),
        measured against the horizontal, positive when the ASIS is lower.
        The out-of-plane (left-right) component of ``d`` is ignored.
    """
    asis = np.asarray(asis, dtype=float)
    psis = np.asarray(psis, dtype=float)
    up = _unit(up)
    left = np.asarray(left, dtype=float)
    left = _unit(left - np.sum(left * up, axis=-1, keepdims=True) * up)
    forward = np.cross(left, up)
    d = asis - psis
    vert = np.sum(d * up, axis=-1)
    horiz = np.sum(d * forward, axis=-1)
    return np.degrees(np.arctan2(-vert, horiz))


def line_angle_2d_deg(front_xy, back_xy, facing: str) -> np.ndarray:
    """Angle of an image-space back->front line against the image horizontal.

    ``front_xy``/``back_xy`` are pixel coordinates (x right, y DOWN), shape
    (..., 2). ``facing`` is which way the person's front points in the image
    ('left' or 'right'). Positive when the front point is LOWER in the image
    than the back point (the image analogue of anterior tilt). Useful to
    compare projected ASIS/PSIS pixels with the 3-D truth (they differ by
    perspective, camera roll and pitch).
    """
    f = np.asarray(front_xy, dtype=float)
    b = np.asarray(back_xy, dtype=float)
    d = f - b
    if facing == "right":
        dx = d[..., 0]
    elif facing == "left":
        dx = -d[..., 0]
    else:
        raise ValueError("facing must be 'left' or 'right'")
    return np.degrees(np.arctan2(d[..., 1], dx))
