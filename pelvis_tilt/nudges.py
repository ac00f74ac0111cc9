"""When to nudge during a posture watch: a pure state machine, no I/O.

Each sample (one analysed frame) is GOOD, BAD or UNKNOWN:

* BAD: a posture problem is flagged: forward tip (cue state anterior), slumped
  trunk (hip->shoulder leaning forward more than ``slump_deg``) or forward head
  (shoulder->ear ahead of vertical by more than ``head_deg``);
* GOOD: side-on, in (or behind) the neutral band, nothing flagged;
* UNKNOWN: nobody in view, facing the camera, outline hidden.

A *bad run* starts at a BAD sample and lasts while BAD samples follow each other
with no GOOD sample between them and no gap longer than ``max_gap_s`` (a few
unclear frames do not restart it).  A nudge fires at the first BAD sample where
the run (counted from its start, or from the last nudge if that is later) has
lasted ``after_s`` and at least ``quiet_s`` has passed since the last nudge.

`NudgeMachine` is the streaming form used by the watch loop; `nudge_times` is
the same rule over whole arrays (vectorised, looping only once per nudge), used
to check it and to replay recorded sessions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import cues

GOOD, BAD, UNKNOWN = 0, 1, -1
TIP, SLUMP, HEAD = 1, 2, 4
REASONS = {TIP: "tip", SLUMP: "slump", HEAD: "head"}
MESSAGES = {"tip": "Tuck under: your pelvis has tipped forward",
            "slump": "Sit/stand tall: your trunk is slumped forward",
            "head": "Head back over your shoulders"}


@dataclass(frozen=True)
class NudgeSettings:
    """How long a problem must last, how long to stay quiet after a nudge, and the thresholds."""

    after_s: float = 20.0     # sustained problem before a nudge
    quiet_s: float = 300.0    # no nudge for this long after one
    max_gap_s: float = 3.0    # unclear samples up to this long do not break a bad run
    slump_deg: float = 15.0   # trunk lean forward from vertical
    head_deg: float = 30.0    # ear ahead of the shoulder, from vertical (about 17 upright)


@dataclass(frozen=True)
class Nudge:
    t: float
    reason: str  # "tip" | "slump" | "head"


def posture_flags(state: np.ndarray, side_on: np.ndarray, trunk_lean_deg: np.ndarray, head_fwd_deg: np.ndarray,
                  s: NudgeSettings) -> np.ndarray:
    """Bit mask per sample: TIP | SLUMP | HEAD (trunk and head only judged side-on)."""
    side_on = np.asarray(side_on, bool)
    with np.errstate(invalid="ignore"):
        slump = side_on & (np.asarray(trunk_lean_deg, float) > s.slump_deg)
        head = side_on & (np.asarray(head_fwd_deg, float) > s.head_deg)
    tip = np.asarray(state) == cues.ANTERIOR
    return (tip * TIP | slump * SLUMP | head * HEAD).astype(np.int8)


def sample_status(state: np.ndarray, side_on: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """GOOD / BAD / UNKNOWN per sample."""
    state = np.asarray(state)
    good = np.asarray(side_on, bool) & np.isin(state, (cues.NEUTRAL, cues.POSTERIOR))
    return np.where(np.asarray(flags) != 0, BAD, np.where(good, GOOD, UNKNOWN)).astype(np.int8)


def reason_of(flags: int) -> str:
    """The nudge's reason: tip before slump before head."""
    for bit in (TIP, SLUMP, HEAD):
        if flags & bit:
            return REASONS[bit]
    return "tip"


class NudgeMachine:
    """Streaming nudge rule: `update` once per sample, in time order."""

    def __init__(self, settings: NudgeSettings = NudgeSettings()):
        self.s = settings
        self.reset()

    def reset(self) -> None:
        self.run_start: float | None = None
        self.last_bad = -np.inf
        self.last_nudge = -np.inf
        self.nudges: list[Nudge] = []

    @property
    def building(self) -> bool:
        """A bad run is in progress (the watch samples faster then, to time the nudge well)."""
        return self.run_start is not None

    def update(self, t: float, status: int, flags: int = 0) -> Nudge | None:
        """Feed one sample; returns the nudge it triggers, if any."""
        if status == GOOD:
            self.run_start = None
            return None
        if status != BAD:
            if self.run_start is not None and t - self.last_bad > self.s.max_gap_s:
                self.run_start = None
            return None
        if self.run_start is None or t - self.last_bad > self.s.max_gap_s:
            self.run_start = t
        self.last_bad = t
        since = t - max(self.run_start, self.last_nudge)
        if since >= self.s.after_s and t - self.last_nudge >= self.s.quiet_s:
            self.last_nudge = t
            n = Nudge(float(t), reason_of(int(flags)))
            self.nudges.append(n)
            return n
        return None


def run_starts(t: np.ndarray, status: np.ndarray, max_gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the BAD samples and, for each, the start time of its bad run (vectorised)."""
    t = np.asarray(t, float)
    status = np.asarray(status)
    bad = np.flatnonzero(status == BAD)
    if bad.size == 0:
        return bad, np.zeros(0)
    # GOOD samples seen so far at each index: a new run starts after any GOOD sample.
    goods = np.cumsum(status == GOOD)
    tb = t[bad]
    new = np.ones(bad.size, bool)
    new[1:] = (goods[bad[1:]] != goods[bad[:-1]]) | (np.diff(tb) > max_gap_s)
    start_idx = np.maximum.accumulate(np.where(new, np.arange(bad.size), 0))
    return bad, tb[start_idx]


def nudge_times(t: np.ndarray, status: np.ndarray, flags: np.ndarray | None = None,
                settings: NudgeSettings = NudgeSettings()) -> list[Nudge]:
    """All nudges of a whole recorded sequence (same rule as `NudgeMachine`)."""
    t = np.asarray(t, float)
    bad, start = run_starts(t, status, settings.max_gap_s)
    tb = t[bad]
    out: list[Nudge] = []
    last = -np.inf
    k = 0
    while k < bad.size:
        since = tb[k:] - np.maximum(start[k:], last)
        ok = (since >= settings.after_s) & (tb[k:] - last >= settings.quiet_s)
        if not ok.any():
            break
        j = k + int(np.argmax(ok))
        last = float(tb[j])
        f = 0 if flags is None else int(np.asarray(flags)[bad[j]])
        out.append(Nudge(last, reason_of(f)))
        k = j + 1
    return out


@dataclass(frozen=True)
class SamplingPlan:
    """Seconds between analysed frames in each mode."""

    away_s: float = 2.0     # nobody in view: nearly paused
    calm_s: float = 0.5     # all is well
    alert_s: float = 0.2    # a problem is building (or the posture is not 'good')

    def interval(self, present: bool, alert: bool) -> float:
        if not present:
            return self.away_s
        return self.alert_s if alert else self.calm_s
