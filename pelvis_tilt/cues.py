"""Posture state with dwell and hysteresis, and the cue shown for each state.

The same machine runs live (one `update` per frame) and on recorded clips
(`run` over arrays), so a clip's table and its annotated video agree.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import VIEW_FRONTAL, VIEW_SIDE_LEFT, VIEW_SIDE_RIGHT

ABSENT, FRONTAL, OUT_OF_FRAME, UNCLEAR, ANTERIOR, NEUTRAL, POSTERIOR = range(7)
STATE_NAMES = ["absent", "frontal", "out_of_frame", "unclear", "anterior", "neutral", "posterior"]
CUES = {
    ABSENT: "No one in view",
    FRONTAL: "Turn sideways",
    OUT_OF_FRAME: "Step back",
    UNCLEAR: "Pelvis outline hidden",
    ANTERIOR: "Tuck under",
    NEUTRAL: "Good",
    POSTERIOR: "Too tucked",
}
# BGR colours for overlays.
COLOURS = {
    ABSENT: (160, 160, 160), FRONTAL: (0, 200, 255), OUT_OF_FRAME: (0, 200, 255), UNCLEAR: (200, 200, 200),
    ANTERIOR: (40, 40, 235), NEUTRAL: (60, 200, 60), POSTERIOR: (235, 140, 30),
}


@dataclass
class Band:
    """Neutral band: baseline +- half_width degrees (absolute tilt)."""

    baseline: float = 10.0
    half_width: float = 5.0
    hysteresis: float = 1.0  # deg beyond/inside the edge needed to change state

    def classify(self, tilt: np.ndarray) -> np.ndarray:
        """Plain per-frame class without memory (for summaries and truth)."""
        dev = np.asarray(tilt, float) - self.baseline
        out = np.full(dev.shape, UNCLEAR, dtype=np.int8)
        out[dev > self.half_width] = ANTERIOR
        out[dev < -self.half_width] = POSTERIOR
        out[np.abs(dev) <= self.half_width] = NEUTRAL
        return out


class CueMachine:
    """Per-frame state with hysteresis at the band edges and a minimum dwell."""

    def __init__(self, band: Band, dwell_s: float = 0.4):
        self.band, self.dwell_s = band, dwell_s
        self.state = ABSENT
        self._started = False
        self._pending: int | None = None
        self._pending_since = 0.0

    def _proposal(self, tilt: float, view: int, in_frame: bool, detected: bool) -> int:
        if not detected:
            return ABSENT
        if view == VIEW_FRONTAL:
            return FRONTAL
        if not in_frame:
            return OUT_OF_FRAME
        if view not in (VIEW_SIDE_LEFT, VIEW_SIDE_RIGHT) or not np.isfinite(tilt):
            return UNCLEAR
        dev, hw, h = tilt - self.band.baseline, self.band.half_width, self.band.hysteresis
        # Hysteresis: leaving the current posture state needs a clear crossing.
        if self.state == ANTERIOR and dev > hw - h:
            return ANTERIOR
        if self.state == POSTERIOR and dev < -hw + h:
            return POSTERIOR
        if dev > hw + (h if self.state == NEUTRAL else 0.0):
            return ANTERIOR
        if dev < -hw - (h if self.state == NEUTRAL else 0.0):
            return POSTERIOR
        return NEUTRAL

    def update(self, t: float, tilt: float, view: int, in_frame: bool = True, detected: bool = True) -> int:
        p = self._proposal(tilt, view, in_frame, detected)
        if not self._started:  # the first frame sets the state at once
            self._started, self.state = True, p
        if p == self.state:
            self._pending = None
        elif p != self._pending:
            self._pending, self._pending_since = p, t
        if self._pending is not None and t - self._pending_since >= self.dwell_s:
            self.state, self._pending = self._pending, None
        return self.state

    def run(self, t: np.ndarray, tilt: np.ndarray, view: np.ndarray, in_frame: np.ndarray, detected: np.ndarray) -> np.ndarray:
        """States for a whole clip (a state machine: inherently sequential)."""
        return np.array([self.update(float(a), float(b), int(c), bool(d), bool(e))
                         for a, b, c, d, e in zip(t, tilt, view, in_frame, detected)], dtype=np.int8)
