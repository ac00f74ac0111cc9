"""The user's own range of pelvic tilt, from the calibration's guided range step.

Someone tipping forward as far as is comfortable, then tucking as far as is
comfortable (the method's front-to-back isolation), shows how far *their*
pelvis goes each way as the estimator reads it.  Cues and the routine can then
speak in that range ("40% of your forward range"), and a gain error of the
estimator for that person cancels: it scales their range and their readings alike.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_RANGE_DEG = 3.0     # less than this each way means the person did not move (or was not read)
MIN_FRAMES = 5


class RangeError(ValueError):
    """The range step did not show a usable forward or tuck range."""


def from_phases(neutral_deg: float, forward: Sequence[float], tuck: Sequence[float],
                min_frames: int = MIN_FRAMES) -> tuple[float, float]:
    """(forward range, tuck range) in degrees, both positive, from the tilts read during
    the two phases.  The 90th / 10th percentile stands for "as far as is comfortable"
    (robust to a stray frame).  Raises `RangeError` with what to do otherwise.
    (``min_frames``: the validation's still clips have two frames per phase, of which one may be unread.)"""
    f = np.asarray(forward, float)
    b = np.asarray(tuck, float)
    f, b = f[np.isfinite(f)], b[np.isfinite(b)]
    if f.size < min_frames or b.size < min_frames:
        raise RangeError(f"the range step read the pelvis on only {f.size} forward and {b.size} tuck frames: "
                         "stay side-on with your arms away from the buttock and try again")
    fwd = float(np.percentile(f, 90)) - neutral_deg
    back = neutral_deg - float(np.percentile(b, 10))
    if fwd < MIN_RANGE_DEG or back < MIN_RANGE_DEG:
        raise RangeError(f"the range step saw {fwd:+.1f} deg forward and {back:+.1f} deg of tuck: tip forward and "
                         f"tuck further (at least {MIN_RANGE_DEG:g} deg each way), or calibrate without --range")
    return fwd, back


def share(from_neutral_deg: np.ndarray | float, forward_deg: float, tuck_deg: float) -> np.ndarray:
    """Signed share of the user's range (+1 = their full forward tip, -1 = their full tuck);
    NaN where there is no range or no reading."""
    d = np.asarray(from_neutral_deg, float)
    if not (np.isfinite(forward_deg) and np.isfinite(tuck_deg) and forward_deg > 0 and tuck_deg > 0):
        return np.full(d.shape, np.nan)
    return np.where(d >= 0, d / forward_deg, d / tuck_deg)


def describe(from_neutral_deg: float, forward_deg: float, tuck_deg: float) -> str:
    """"40% of your forward range" / "25% of your tuck range", or "" without a range."""
    s = float(share(from_neutral_deg, forward_deg, tuck_deg))
    if not np.isfinite(s):
        return ""
    return f"{abs(s) * 100:.0f}% of your {'forward' if s >= 0 else 'tuck'} range"
