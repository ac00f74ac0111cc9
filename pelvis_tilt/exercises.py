"""Exercise detectors for the guided routine: one small state machine each.

Every detector takes one frame of signals at a time (`update`) so the same code
runs live and on recorded clips, and reports a `result()` dict.  Signals that
are missing in a frame (NaN: nobody seen, outline hidden) never count as
movement or as holding a pose: they are skipped or pause the timers.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from . import personal_range


@dataclass
class FrameSignals:
    """One frame's inputs to the detectors (NaN = not measured in this frame)."""

    t: float
    detected: bool = True
    side_on: bool = True
    frontal: bool = False
    tilt_dev: float = np.nan     # smoothed tilt minus the user's neutral, deg (+ anterior)
    tilt_dev_raw: float = np.nan  # this frame's own reading (unsmoothed) minus the neutral, deg
    knee_flex: float = np.nan    # camera-side knee, deg
    knee_max: float = np.nan     # the more bent knee, deg (either leg)
    knee_min: float = np.nan     # the straighter knee, deg
    heel_lift: float = np.nan    # heel height above the toes, torso lengths
    lateral: float = np.nan      # lateral pelvic tilt (front view), deg
    lift: float = np.nan         # hip height above the shoulders lying down, torso lengths
    child: bool = False          # child-pose shape
    ankle_sep: float = np.nan    # ankle separation along the walking direction
    pelvis_lead: float = np.nan  # hips ahead of shoulders in the walking direction
    trunk_lean: float = np.nan
    head_fwd: float = np.nan


class Exercise:
    """Base class: name, instructions, per-frame update, on-screen status, result."""

    name = "exercise"
    title = "Exercise"
    view = "side"
    instructions: list[str] = []

    def __init__(self) -> None:
        self.done = False
        self.t0: float | None = None
        self.t_last: float | None = None

    def update(self, s: FrameSignals) -> None:
        if self.t0 is None:
            self.t0 = s.t
        self.t_last = s.t
        self._update(s)

    def _update(self, s: FrameSignals) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def status(self) -> list[str]:
        return []

    def result(self) -> dict:
        return {}


class _Stillness:
    """Is a signal holding still?  SD over a sliding window below ``max_sd``."""

    def __init__(self, window_s: float = 1.0, max_sd: float = 0.8):
        self.window_s, self.max_sd = window_s, max_sd
        self.buf: list[tuple[float, float]] = []

    def push(self, t: float, x: float) -> bool:
        if np.isfinite(x):
            self.buf.append((t, x))
        while self.buf and t - self.buf[0][0] > self.window_s:
            self.buf.pop(0)
        if len(self.buf) < 5 or self.buf[-1][0] - self.buf[0][0] < 0.8 * self.window_s:
            return False
        return float(np.std([v for _, v in self.buf])) < self.max_sd


class Isolations(Exercise):
    """Pelvic isolations counted from an oscillating signal (tilt or lateral tilt).

    A rep is a full cycle: out to one side beyond the threshold, over to the
    other side beyond it, and back across the centre; it counts when its range
    (max - min) reaches ``min_range``.  The centre is a slow running mean, so an
    imperfect baseline does not break the count.  With ``find_neutral``, once
    ``target`` reps are done and the user holds still, the held value's distance
    from the calibrated neutral is the score.  With ``own_range`` (the user's
    forward and tuck range from `calibrate --range`, degrees) each front-to-back rep
    also says how far into that range it reached each way: a share of their own
    range is right for them even where the estimator reads their body's degrees
    too large or too small (calibration/README.md, "With a range step").  A rep's range and
    reach come from the frames' own readings (median of the last three, ``tilt_dev_raw``)
    where there are any, not from the smoothed signal the counting uses: smoothing takes
    ~12 % off a 1.5 s rep (the isolations sample: 16.2 deg smoothed, 17.8 deg this way,
    19.6 deg true).
    """

    def __init__(self, signal: str = "tilt_dev", target: int = 8, min_range: float = 8.0,
                 find_neutral: bool = False, centre_tau_s: float = 4.0, neutral_hold_s: float = 1.5,
                 own_range: tuple[float, float] | None = None):
        super().__init__()
        self.signal, self.target, self.min_range = signal, target, min_range
        # the range is sagittal: it means nothing for side-to-side reps
        self.own_range = own_range if signal == "tilt_dev" else None
        self.find_neutral, self.centre_tau_s, self.neutral_hold_s = find_neutral, centre_tau_s, neutral_hold_s
        self.h = min_range / 2.0 - 1.0  # excursion threshold either side of the centre
        self.centre: float | None = None
        self._tc: float | None = None
        self.phase = "start"  # start -> first -> second -> (rep) -> first ...
        self.first_sign = 0
        self.lo, self.hi, self.rep_t0 = np.inf, -np.inf, None
        self.reps: list[dict] = []
        self.still = _Stillness()
        self._recent: deque[float] = deque(maxlen=3)   # the last readings, for a rep's extremes
        self.neutral_vals: list[float] = []
        self.neutral_t0: float | None = None
        self.neutral_error: float | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return "isolations_lateral" if self.signal == "lateral" else "isolations_front_back"

    @property
    def title(self) -> str:  # type: ignore[override]
        return "Side-to-side isolations" if self.signal == "lateral" else "Front-to-back isolations"

    @property
    def view(self) -> str:  # type: ignore[override]
        return "front" if self.signal == "lateral" else "side"

    @property
    def instructions(self) -> list[str]:  # type: ignore[override]
        if self.signal == "lateral":
            return ["Face the camera, feet hip-width, knees soft.",
                    f"Lift one hip, then the other: {self.target} or more, slowly."]
        return ["Side-on, feet hip-width, knees soft.",
                f"Tip the pelvis forward, then tuck it under: {self.target} or more.",
                "Then look away, find neutral and hold still." if self.find_neutral else ""]

    def _update(self, s: FrameSignals) -> None:
        x = getattr(s, self.signal)
        if not np.isfinite(x):
            return
        if self.neutral_t0 is not None:
            self._neutral(s.t, x)
            return
        # Slow running centre (exponential, time-constant centre_tau_s).
        if self.centre is None:
            self.centre, self._tc = x, s.t
        else:
            a = min(1.0, (s.t - self._tc) / self.centre_tau_s)
            self.centre += a * (x - self.centre)
            self._tc = s.t
        d = x - self.centre
        peak = self._peak(s, x)
        if self.phase != "start":
            self.lo, self.hi = min(self.lo, peak), max(self.hi, peak)
        if self.phase == "start":
            if abs(d) > self.h:
                self.phase, self.first_sign = "first", int(np.sign(d))
                self.lo, self.hi, self.rep_t0 = peak, peak, s.t
        elif self.phase == "first":
            if d * self.first_sign < -self.h:
                self.phase = "second"
        elif self.phase == "second":
            # back at (or across) the centre: one full cycle.  "At" = within half the excursion
            # threshold, so a last rep that settles just short of the running centre still counts.
            if d * self.first_sign > -0.5 * self.h:
                rng = self.hi - self.lo
                if rng >= self.min_range:
                    self.reps.append({"t_start": self.rep_t0, "t_end": s.t, "range_deg": rng,
                                      "reach": self._reach(self.hi, self.lo)})
                self.phase = "first"
                self.lo, self.hi, self.rep_t0 = peak, peak, s.t
        if self.find_neutral and len(self.reps) >= self.target and self.still.push(s.t, x) and self.phase != "second":
            self.neutral_t0 = s.t  # the user has stopped and holds: score what they hold
            self._neutral(s.t, x)
        elif self.target and len(self.reps) >= self.target and not self.find_neutral:
            self.done = True

    def _peak(self, s: FrameSignals, x: float) -> float:
        """What a rep's extremes are taken from: the median of the last three readings of the
        front-to-back tilt where at least two are known, else the smoothed signal ``x``."""
        if self.signal != "tilt_dev":
            return x
        self._recent.append(s.tilt_dev_raw)
        known = [v for v in self._recent if np.isfinite(v)]
        return float(np.median(known)) if len(known) >= 2 else x

    def _reach(self, hi: float, lo: float) -> tuple[float, float] | None:
        """(forward, tuck) reach of a rep in percent of the user's range, or None without one.
        ``hi`` / ``lo`` are degrees from the calibrated neutral (``tilt_dev``)."""
        if self.own_range is None:
            return None
        fwd, tuck = self.own_range
        share = personal_range.share(np.array([max(hi, 0.0), min(lo, 0.0)]), fwd, tuck)
        return float(100 * share[0]), float(-100 * share[1])

    def _neutral(self, t: float, x: float) -> None:
        self.neutral_vals.append(x)
        if t - self.neutral_t0 >= self.neutral_hold_s and self.neutral_error is None:
            # tilt_dev is already relative to the calibrated neutral.
            self.neutral_error = float(np.mean(self.neutral_vals))
            self.done = True

    def status(self) -> list[str]:
        lines = [f"Reps: {len(self.reps)}" + (f" / {self.target}" if self.target else "")]
        if self.reps:
            reach = self.reps[-1]["reach"]
            lines.append(f"last range {self.reps[-1]['range_deg']:.0f} deg" if reach is None else
                         f"last rep {reach[0]:.0f}% of your forward range, {reach[1]:.0f}% of your tuck range")
        if self.find_neutral and len(self.reps) >= self.target and self.neutral_error is None:
            lines.append("Look away. Find neutral and hold still.")
        if self.neutral_error is not None:
            lines.append(f"Neutral found {abs(self.neutral_error):.1f} deg from your baseline")
        return lines

    def result(self) -> dict:
        r = {"reps": len(self.reps), "ranges_deg": [round(x["range_deg"], 1) for x in self.reps],
             "mean_range_deg": float(np.mean([x["range_deg"] for x in self.reps])) if self.reps else None,
             "rep_times_s": [[round(x["t_start"], 2), round(x["t_end"], 2)] for x in self.reps]}
        if self.own_range is not None:
            reach = np.array([x["reach"] for x in self.reps]).reshape(-1, 2)
            r["reach_pct"] = [[round(f, 1), round(b, 1)] for f, b in reach]   # per rep: forward, tuck
            r["mean_reach_forward_pct"] = float(np.mean(reach[:, 0])) if self.reps else None
            r["mean_reach_tuck_pct"] = float(np.mean(reach[:, 1])) if self.reps else None
        if self.find_neutral:
            r["neutral_error_deg"] = None if self.neutral_error is None else round(self.neutral_error, 2)
        return r


class PlieTuck(Exercise):
    """Pelvic alignment: demi-plié, tuck (posterior from neutral), straighten keeping the tuck."""

    name = "plie_tuck"
    title = "Pelvic alignment: plié, tuck, straighten"
    instructions = ["Side-on, feet parallel, hip-width.", "1. Demi-plié: bend the knees, heels down.",
                    "2. Push the pubic bone forward, tuck the tail.", "3. Straighten the knees, keep the tuck."]

    def __init__(self, straight_deg: float = 12.0, plie_deg: float = 20.0, tuck_deg: float = 4.0,
                 keep_frac: float = 0.5, heel_max: float = 0.06, settle_s: float = 0.5):
        super().__init__()
        self.straight, self.plie, self.tuck_min = straight_deg, plie_deg, tuck_deg
        self.keep_frac, self.heel_max, self.settle_s = keep_frac, heel_max, settle_s
        self.step = "stand"  # stand -> plie -> tucked -> straight -> done
        self.plie_t: float | None = None
        self.tuck_in_plie = 0.0      # deepest posterior tilt during the plié (positive deg)
        self.heels_lifted = False
        self._heel_ref: list[float] = []  # heel height while standing: each body/camera differs
        self.after: list[float] = []
        self.straight_t: float | None = None
        self.max_knee = 0.0

    def _update(self, s: FrameSignals) -> None:
        k, dev = s.knee_flex, s.tilt_dev
        if not np.isfinite(k):
            return
        self.max_knee = max(self.max_knee, k)
        bent = k > self.plie
        if self.step == "stand" and not bent and np.isfinite(s.heel_lift):
            self._heel_ref = (self._heel_ref + [s.heel_lift])[-30:]
        if self.step == "stand" and bent:
            self.step, self.plie_t = "plie", s.t
        if self.step in ("plie", "tucked"):
            ref = float(np.median(self._heel_ref)) if self._heel_ref else 0.0
            if np.isfinite(s.heel_lift) and s.heel_lift - ref > self.heel_max:
                self.heels_lifted = True
            if np.isfinite(dev):
                self.tuck_in_plie = max(self.tuck_in_plie, -dev)
                if -dev >= self.tuck_min:
                    self.step = "tucked"
            if k < self.straight:
                if self.step == "tucked":
                    self.step, self.straight_t = "straight", s.t
                else:
                    self.step = "stand"  # straightened without a tuck: start over
        elif self.step == "straight":
            if s.t - self.straight_t >= 0.25 and np.isfinite(dev):
                self.after.append(-dev)
            if s.t - self.straight_t >= 0.25 + self.settle_s and self.after:
                self.step, self.done = "done", True

    def status(self) -> list[str]:
        return {"stand": ["Step 1: demi-plié (bend the knees)"],
                "plie": ["Step 2: tuck the tail, pubic bone forward"],
                "tucked": [f"Tucked {self.tuck_in_plie:.0f} deg. Step 3: straighten, keep it"],
                "straight": ["Hold..."], "done": self._verdict()}[self.step]

    def _tuck_after(self) -> float | None:
        return float(np.median(self.after)) if self.after else None

    def _kept(self) -> bool | None:
        a = self._tuck_after()
        if a is None:
            return None
        return bool(a >= max(self.tuck_min * 0.5, self.keep_frac * self.tuck_in_plie))

    def _verdict(self) -> list[str]:
        if self.step != "done":
            missed = {"stand": "no demi-plié seen", "plie": "no tuck seen during the plié",
                      "tucked": "the knees never straightened"}.get(self.step, "")
            return [f"Missed: {missed}"] if missed else []
        a = self._tuck_after()
        if self._kept():
            return [f"Tuck kept: {self.tuck_in_plie:.0f} deg in plié, {a:.0f} deg straight"]
        return [f"The tuck was lost when the knees straightened: {self.tuck_in_plie:.0f} deg -> {a:.0f} deg"]

    def result(self) -> dict:
        missed = [] if self.step == "done" else [{"stand": "plie", "plie": "tuck", "tucked": "straighten",
                                                  "straight": "straighten"}[self.step]]
        return {"steps_completed": {"stand": 0, "plie": 1, "tucked": 2, "straight": 2, "done": 3}[self.step],
                "missed": missed, "max_knee_flex_deg": round(self.max_knee, 1),
                "tuck_in_plie_deg": round(self.tuck_in_plie, 1),
                "tuck_after_straighten_deg": None if self._tuck_after() is None else round(self._tuck_after(), 1),
                "tuck_kept": self._kept(), "heels_lifted": self.heels_lifted, "message": " ".join(self._verdict())}


class HoldTimer(Exercise):
    """Times a held pose; the clock runs only while the pose is held and pauses when lost.

    A pose must hold (or be lost) for ``debounce_s`` before the state flips, so a
    one-frame detection glitch neither starts nor stops the clock; the debounce
    time itself is credited to the state it confirms.
    """

    def __init__(self, name: str, title: str, instructions: list[str], held, target_s: float = 30.0,
                 debounce_s: float = 0.3, max_gap_s: float = 0.5, view: str = "side",
                 steady: str | None = None, steady_sd: float = 5.0, steady_window_s: float = 0.2):
        super().__init__()
        self.name, self.title, self.instructions, self.view = name, title, instructions, view
        # A hold is a held *still* pose: with ``steady`` set, that signal's SD over
        # ``steady_window_s`` must stay under ``steady_sd``, so moving into / out of the pose is not timed.
        self.steady, self.steady_sd, self.steady_window_s = steady, steady_sd, steady_window_s
        self._recent: list[tuple[float, float]] = []
        self.held_fn, self.target_s, self.debounce_s, self.max_gap_s = held, target_s, debounce_s, max_gap_s
        self.holding = False
        self.flip_t: float | None = None
        self.total = 0.0
        self.segments: list[list[float]] = []
        self._prev_t: float | None = None
        self.losses = 0

    def _is_steady(self, s: FrameSignals) -> bool:
        if self.steady is None:
            return True
        v = getattr(s, self.steady)
        if np.isfinite(v):
            self._recent.append((s.t, v))
        self._recent = [(t, x) for t, x in self._recent if s.t - t <= self.steady_window_s]
        vals = [x for _, x in self._recent]
        return len(vals) >= 2 and float(np.std(vals)) < self.steady_sd

    def _update(self, s: FrameSignals) -> None:
        h = bool(self.held_fn(s)) & self._is_steady(s)
        dt = 0.0 if self._prev_t is None else min(s.t - self._prev_t, self.max_gap_s)
        self._prev_t = s.t
        if self.holding:
            self.total += dt
        if h != self.holding:
            if self.flip_t is None:
                self.flip_t = s.t
            elif s.t - self.flip_t >= self.debounce_s:
                # Confirmed: move the debounce time to the right side of the ledger.
                span = s.t - self.flip_t
                self.total += span if h else -span
                self.holding = h
                if h:
                    self.segments.append([self.flip_t, s.t])
                else:
                    self.segments[-1][1] = self.flip_t
                    self.losses += 1
                self.flip_t = None
        else:
            self.flip_t = None
        if self.holding and self.segments:
            self.segments[-1][1] = s.t
        if self.total >= self.target_s:
            self.done = True

    def status(self) -> list[str]:
        return [f"{'Holding' if self.holding else 'Paused'}: {self.total:4.1f} / {self.target_s:.0f} s"]

    def result(self) -> dict:
        return {"held_s": round(self.total, 2), "target_s": self.target_s, "times_lost": self.losses,
                "segments_s": [[round(a, 2), round(b, 2)] for a, b in self.segments], "completed": self.done}


def stretch_hold(target_s: float = 30.0) -> HoldTimer:
    """Standing hip-flexor stretch: one knee folded, foot towards the buttock."""
    return HoldTimer("hip_flexor_stretch", "Hip flexor stretch",
                     ["Side-on, standing tall.", "Fold one knee, foot towards the buttock, hold the ankle.",
                      f"Breathe slowly: hold {target_s:.0f} s (5-7 breaths)."],
                     lambda s: s.side_on and s.knee_max > 90 and s.knee_min < 35, target_s, steady="knee_max")


def child_pose_hold(target_s: float = 20.0) -> HoldTimer:
    return HoldTimer("child_pose", "Child pose", ["Kneel, sit back on your heels, fold forward, arms long."],
                     lambda s: s.detected and s.child, target_s, view="lying")


class PelvicLift(Exercise):
    """Lying on the back, knees up: hip lifts counted from the hip's rise, hold at the top timed."""

    name = "pelvic_lift"
    title = "Pelvic lifts"
    view = "lying"
    instructions = ["Lie on your back, side-on to the camera, knees up, feet flat.",
                    "Lift the hips until shoulders, hips and knees line up; hold; lower slowly.",
                    "2-3 times, then rest in child pose."]

    def __init__(self, target: int = 3, up: float = 0.2, down: float = 0.08, top_frac: float = 0.95):
        super().__init__()
        self.target, self.up, self.down, self.top_frac = target, up, down, top_frac
        self.lifted = False
        self.reps: list[dict] = []
        self._cur: list[tuple[float, float]] = []

    def _update(self, s: FrameSignals) -> None:
        x = s.lift
        if not np.isfinite(x):
            return
        if not self.lifted and x > self.up:
            self.lifted, self._cur = True, []
        if self.lifted:
            self._cur.append((s.t, x))
            if x < self.down:
                self.lifted = False
                self._close()
        if len(self.reps) >= self.target and not self.lifted:
            self.done = True

    def _close(self) -> None:
        t = np.array([a for a, _ in self._cur])
        v = np.array([b for _, b in self._cur])
        top = v >= self.top_frac * v.max()
        dt = np.diff(t, append=t[-1])
        self.reps.append({"t_start": float(t[0]), "t_end": float(t[-1]), "peak": float(v.max()),
                          "hold_s": float(np.sum(dt[top]))})

    def status(self) -> list[str]:
        return [f"Lifts: {len(self.reps)} / {self.target}" + ("  (up)" if self.lifted else "")]

    def result(self) -> dict:
        return {"reps": len(self.reps), "holds_s": [round(r["hold_s"], 2) for r in self.reps],
                "peaks": [round(r["peak"], 2) for r in self.reps]}


class WalkCheck(Exercise):
    """Walking side-on: steps from the ankles crossing, and per stride the trunk lean,
    forward head and whether the pelvis leads.

    A step is counted when the ankle separation passes ``sep_h`` on the other side
    of the body from the last step; its time is when the ankles crossed (the
    separation's zero crossing, interpolated between the frames around it, across up
    to ``max_gap_s`` of frames that were not measured), so step times are not
    rounded to whole frames.  Cadence is steps over the time they took, over the
    step intervals that look like walking (0.5-1.5 x the median interval): a median
    of whole-frame intervals would round a 10.7-frame step to 11 frames (-3 %), and a
    gap (the walker out of view, a missed step) must not count as one long step.
    """

    name = "walking"
    title = "Walking check"
    instructions = ["Walk across the view, side-on.", "Lead with the pelvis, head above the spine."]

    def __init__(self, target_strides: int = 0, sep_h: float = 0.12, max_gap_s: float = 0.3):
        super().__init__()
        self.target, self.h, self.max_gap_s = target_strides, sep_h, max_gap_s
        self.sign = 0
        self.step_t: list[float] = []
        self._acc: dict[str, list[float]] = {"trunk_lean": [], "head_fwd": [], "pelvis_lead": []}
        self.strides: list[dict] = []
        self._prev: tuple[float, float] | None = None   # (t, separation) of the last measured frame
        self._cross_t: float | None = None               # last time the ankles crossed

    def _update(self, s: FrameSignals) -> None:
        if not (s.side_on and np.isfinite(s.ankle_sep)):
            return
        if self._prev is not None and s.t - self._prev[0] > self.max_gap_s:
            self._prev = None   # a crossing inside a long gap has no known time
        if self._prev is not None and self._prev[1] * s.ankle_sep < 0:
            t0, x0 = self._prev
            self._cross_t = t0 + (s.t - t0) * x0 / (x0 - s.ankle_sep)
        self._prev = (s.t, s.ankle_sep)
        for k in self._acc:
            v = getattr(s, k)
            if np.isfinite(v):
                self._acc[k].append(v)
        if abs(s.ankle_sep) > self.h and np.sign(s.ankle_sep) != self.sign:
            if self.sign != 0:
                self.step_t.append(self._cross_t if self._cross_t is not None else s.t)
                if len(self.step_t) == 1:
                    self._acc = {k: [] for k in self._acc}  # strides start at the first step
                elif len(self.step_t) % 2 == 1:  # steps 1->3, 3->5, ...: one stride each
                    dur = self.step_t[-1] - self.step_t[-3]
                    means = {k: float(np.mean(v)) if v else float("nan") for k, v in self._acc.items()}
                    # Walking strides last 0.6-2.5 s with the trunk roughly upright; anything
                    # else is someone entering/leaving the view or a tracking slip.
                    if 0.6 <= dur <= 2.5 and abs(means["trunk_lean"]) < 40:
                        self.strides.append({"t_end": s.t, "duration_s": dur, **means})
                    self._acc = {k: [] for k in self._acc}
            self.sign = int(np.sign(s.ankle_sep))
            self._cross_t = None
        if self.target and len(self.strides) >= self.target:
            self.done = True

    def status(self) -> list[str]:
        return [f"Strides: {len(self.strides)}"]

    def cadence(self) -> float | None:
        """Steps per minute over the step intervals that look like walking (see the class doc)."""
        iv = np.diff(self.step_t)
        if not iv.size:
            return None
        med = float(np.median(iv))
        kept = iv[(iv >= 0.5 * med) & (iv <= 1.5 * med)]
        return 60.0 * kept.size / float(kept.sum())

    def result(self) -> dict:
        def stat(k: str):
            v = np.array([x[k] for x in self.strides], float)
            v = v[np.isfinite(v)]
            return (round(float(v.mean()), 2), round(float(v.std()), 2)) if v.size else (None, None)

        lean, head, lead = stat("trunk_lean"), stat("head_fwd"), stat("pelvis_lead")
        cad = self.cadence()
        return {"steps": len(self.step_t), "strides": len(self.strides),
                "cadence_steps_per_min": None if cad is None else round(cad, 1),
                "trunk_lean_deg_mean_sd": lean, "head_fwd_deg_mean_sd": head,
                "pelvis_lead_torso_mean_sd": lead,
                "pelvis_leads_fraction": round(float(np.mean([x["pelvis_lead"] > 0 for x in self.strides])), 2)
                if self.strides else None}
