"""Posture state with dwell and hysteresis, and the cue shown for each state.

The same machine runs live (one `update` per frame) and on recorded clips
(`run` over arrays), so a clip's table and its annotated video agree.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .geometry import VIEW_FRONTAL, VIEW_SIDE_LEFT, VIEW_SIDE_RIGHT

ABSENT, FRONTAL, OUT_OF_FRAME, UNCLEAR, ANTERIOR, NEUTRAL, POSTERIOR = range(7)
STATE_NAMES = ["absent", "frontal", "out_of_frame", "unclear", "anterior", "neutral", "posterior"]
POSTURE = (ANTERIOR, NEUTRAL, POSTERIOR)
_WARNINGS = (ANTERIOR, POSTERIOR)
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


@dataclass(frozen=True)
class Band:
    """Neutral band: baseline +- half_width degrees (absolute tilt)."""

    baseline: float = 10.0
    half_width: float = 5.0
    hysteresis: float = 1.0  # deg beyond/inside the edge needed to change state

    def classify(self, tilt: np.ndarray) -> np.ndarray:
        """Plain per-frame class without memory (for truth and plots; tables use `CueMachine`)."""
        dev = np.asarray(tilt, float) - self.baseline
        out = np.full(dev.shape, UNCLEAR, dtype=np.int8)
        out[dev > self.half_width] = ANTERIOR
        out[dev < -self.half_width] = POSTERIOR
        out[np.abs(dev) <= self.half_width] = NEUTRAL
        return out


class CueMachine:
    """Per-frame state with hysteresis at the band edges and a dwell.

    Each frame *proposes* a state (presence, view, in-frame check, then the
    smoothed tilt against the band, with hysteresis).  The shown state changes:

    * after the proposals have disagreed with it for ``dwell_s``, counted from
      the first disagreeing frame whatever the proposals in between (a view
      that flickers between "side-on" and "unknown" cannot keep a stale cue up):
      to the proposal that filled most of that time;
    * at once when the frame plainly contradicts it: "No one in view" while
      someone is detected, or a posture warning ("Tuck under", "Too tucked")
      once the smoothed tilt is back across the band edge (past the hysteresis).
      Entering a warning still needs the dwell, so short excursions are ignored;
    * at once when another person is measured (``person``, a track id): a cue
      meant for one person says nothing about the next.
    """

    def __init__(self, band: Band, dwell_s: float = 0.4):
        self.band, self.dwell_s = band, dwell_s
        self.reset()

    def reset(self) -> None:
        self.state = ABSENT
        self._started = False
        self._since: float | None = None     # when the proposals began to disagree with the state
        self._tally: dict[int, float] = {}   # seconds each disagreeing proposal filled since then
        self._t: float | None = None
        self._person = -1                    # the last person measured

    def _proposal(self, tilt: float, view: int, in_frame: bool, detected: bool) -> int:
        if not detected:
            return ABSENT
        if view == VIEW_FRONTAL:
            return FRONTAL
        if not in_frame:
            return OUT_OF_FRAME
        if view not in (VIEW_SIDE_LEFT, VIEW_SIDE_RIGHT) or not math.isfinite(tilt):
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

    def update(self, t: float, tilt: float, view: int, in_frame: bool = True, detected: bool = True,
               person: int = -1) -> int:
        p = self._proposal(tilt, view, in_frame, detected)
        dt = 0.0 if self._t is None else t - self._t
        self._t = t
        state = self.state
        fresh = not self._started
        if person >= 0:
            fresh = fresh or (self._person >= 0 and person != self._person)   # another person
            self._person = person
        if fresh or (state == ABSENT and p != ABSENT) or (state in _WARNINGS and p in POSTURE and p != state):
            self._started, self.state, self._since, self._tally = True, p, None, {}   # at once (class doc)
            return p
        if p == state:
            if self._since is not None:
                self._since, self._tally = None, {}
            return state
        if self._since is None:
            self._since = t
        self._tally[p] = self._tally.get(p, 0.0) + dt
        if t - self._since >= self.dwell_s:
            # most time wins; a tie goes to the latest proposal
            self.state = max(self._tally, key=lambda k: (self._tally[k], k == p))
            self._since, self._tally = None, {}
        return self.state

    def run(self, t: np.ndarray, tilt: np.ndarray, view: np.ndarray, in_frame: np.ndarray, detected: np.ndarray,
            person: np.ndarray | None = None) -> np.ndarray:
        """States for a whole clip (a state machine: inherently sequential)."""
        person = np.full(len(t), -1) if person is None else person
        # plain Python numbers: each update is a few comparisons, numpy scalars would dominate them
        cols = [np.asarray(c).tolist() for c in (t, tilt, view, in_frame, detected, person)]
        return np.array([self.update(*row) for row in zip(*cols)], dtype=np.int8)
