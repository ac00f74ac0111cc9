"""Calibrating the user's neutral: a countdown, a still hold side-on, and optionally the range step.

"Calibrate" in this package always means this (the user's own neutral and camera
set-up, saved as a profile); the estimator's fitting against rendered people with
known tilt lives in the development folder ``calibration/`` and is called
"ground truth" here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import camera_pose, personal_range
from .profiles import Profile, save_profile
from .tilt import TiltModel

MAX_CALIBRATION_SPREAD_DEG = 6.0  # p10-p90 of the hold's per-frame tilt; still standing gives < 1.5


class CalibrationError(ValueError):
    """Calibration refused; ``kind`` is "nobody", "unclear" or "moving"; the message says how to retry."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class Calibration:
    """Countdown, a few seconds of neutral stance -> baseline and camera roll/pitch; then,
    with ``range_s`` > 0, the guided range step: tip forward as far as is comfortable,
    then tuck as far as is comfortable (the method's front-to-back isolation), each
    for ``range_s`` seconds -> the user's own forward and tuck range."""

    countdown_s: float = 3.0
    hold_s: float = 3.0
    started: float = 0.0
    range_s: float = 0.0
    tilts: list = field(default_factory=list)
    lms: list = field(default_factory=list)      # image landmarks of frames with a trusted side
    worlds: list = field(default_factory=list)   # their world landmarks
    sides: list = field(default_factory=list)
    image_h: int = 0
    range_tilts: dict = field(default_factory=lambda: {"forward": [], "tuck": []})
    inputs: list = field(default_factory=list)   # `TiltModel.change_inputs` of the hold frames with a tilt
    range_inputs: dict = field(default_factory=lambda: {"forward": [], "tuck": []})
    with_person: int = 0                         # hold frames in which someone was detected

    def phase(self, now: float) -> str:
        e = now - self.started
        ends = np.cumsum([self.countdown_s, self.hold_s, self.range_s, self.range_s])
        names = ["countdown", "hold", "forward", "tuck"]
        for name, end in zip(names, ends):
            if e < end:
                return name
        return "done"

    def message(self, now: float) -> str:
        e = now - self.started
        ph = self.phase(now)
        if ph == "countdown":
            return f"Calibrating: stand side-on, neutral... {int(np.ceil(self.countdown_s - e))}"
        if ph == "hold":
            return f"Hold still ({self.countdown_s + self.hold_s - e:.0f} s)"
        left = self.countdown_s + self.hold_s + self.range_s * (1 if ph == "forward" else 2) - e
        if ph == "forward":
            return f"Tip your pelvis forward, as far as is comfortable ({left:.0f} s)"
        return f"Now tuck your tail under, as far as is comfortable ({left:.0f} s)"

    def add(self, tilt: float, lm: np.ndarray, world: np.ndarray, side: int, image_h: int,
            detected: bool = True, phase: str = "hold", inputs: np.ndarray | None = None) -> None:
        """One frame of a phase; ``inputs``: its `TiltModel.change_inputs` (for the neutral outline)."""
        if phase in self.range_tilts:
            if np.isfinite(tilt):
                self.range_tilts[phase].append(tilt)
                self.range_inputs[phase].append(inputs)
            return
        self.image_h = image_h
        self.with_person += bool(detected)
        if np.isfinite(tilt):
            self.tilts.append(tilt)
            self.inputs.append(inputs)
        if side >= 0:
            self.lms.append(lm)
            self.worlds.append(world)
            self.sides.append(side)

    def result(self, name: str, half_width: float, estimator: TiltModel, estimator_id: str,
               frames_seen: int) -> Profile:
        """The profile of an accepted hold (and range step); raises `CalibrationError`.
        With an estimator that reads against a neutral outline (`TiltModel.trees`), the profile
        keeps the hold's outline and takes its neutral from it (`TiltModel.neutral_outline`), and
        the range step is read against it, as frames will be."""
        t = np.asarray(self.tilts)
        if frames_seen and self.with_person == 0:
            raise CalibrationError("nobody", f"nobody was in view during the {self.hold_s:g} s hold: stand in the "
                                             "picture, side-on, hips to feet visible, and try again")
        if t.size < max(5, 0.5 * frames_seen):
            raise CalibrationError("unclear", f"only {t.size} of {frames_seen} frames had a clear side-on pelvis: "
                                   "stand side-on, whole body in view, arms away from the hips, and try again")
        spread = float(np.percentile(t, 90) - np.percentile(t, 10))
        if spread > MAX_CALIBRATION_SPREAD_DEG:
            raise CalibrationError("moving", f"the pelvis moved during the hold (tilt varied by {spread:.1f} deg "
                                   f"between its 10th and 90th percentile; at most {MAX_CALIBRATION_SPREAD_DEG:g} "
                                   "allowed): stand still in your neutral stance for the whole hold and try again")
        # Medians over the hold: one frame's landmarks (world ones especially) are noisy.
        roll = pitch = float("nan")
        if self.lms:
            lm = np.stack(self.lms)
            roll = float(np.nanmedian(camera_pose.roll_deg(lm, np.array(self.sides))))
            pitch = float(np.nanmedian(camera_pose.pitch_deg(np.stack(self.worlds), lm, self.image_h)))
        base = float(np.median(t))
        outline = None
        if estimator.trees is not None and self.inputs and all(x is not None for x in self.inputs):
            X = np.stack(self.inputs)
            if np.isfinite(X).any(axis=0).all():
                # the hold read alone, whatever neutral the session was reading against: a profile
                # recalibrated is not pulled toward the population twice
                ref = estimator.neutral_outline(X)
                outline, base = np.asarray(ref.inputs), ref.tilt_deg
        fwd = tuck = float("nan")
        if self.range_s > 0:
            phases = {k: list(v) for k, v in self.range_tilts.items()}
            for k, rows in self.range_inputs.items():
                if outline is not None and rows:   # the range as frames after calibrating are read
                    phases[k] = list(base + estimator.trees(np.stack(rows) - outline))
            try:
                fwd, tuck = personal_range.from_phases(base, phases["forward"], phases["tuck"])
            except personal_range.RangeError as exc:
                raise CalibrationError("range", str(exc)) from None
        return Profile(name=name, baseline_deg=base, band_half_width_deg=half_width,
                       roll_deg=roll if np.isfinite(roll) else 0.0, pitch_deg=pitch, samples=int(t.size),
                       spread_deg=float(np.std(t)), tilt_estimator=estimator.kind,
                       range_forward_deg=fwd, range_tuck_deg=tuck,
                       neutral_outline=None if outline is None else [round(float(v), 6) for v in outline],
                       outline_estimator=estimator_id if outline is not None else "")



@dataclass
class Outcome:
    """What a finished calibration left: the saved profile or why not, and lines to print / show."""

    profile: Profile | None
    error: Exception | None
    messages: list[str]
    screen: list[str]


def conclude(calib: Calibration, name: str, half_width: float, estimator: TiltModel, estimator_id: str,
             frames: int) -> Outcome:
    """Judge the hold, save the profile if it is accepted (a folder that cannot be written is
    reported, not raised: the session goes on)."""
    try:
        prof = calib.result(name, half_width, estimator, estimator_id, frames)
    except CalibrationError as exc:
        first = {"nobody": "Calibration failed: nobody in view;", "moving": "Calibration failed: you moved;",
                 "unclear": "Calibration failed: stand side-on,",
                 "range": "Calibration failed: range step unclear;"}[exc.kind]
        return Outcome(None, exc, [f"calibration failed: {exc}"],
                       [first, "stand still, side-on, whole body in view; press c to retry"])
    try:
        save_profile(prof)
    except (OSError, RuntimeError) as exc:  # e.g. a read-only config folder
        return Outcome(None, exc, [f"calibration not saved: {exc}"],
                       ["Calibration not saved:", "the profile folder is not writable"])
    msgs = [f"calibrated profile {prof.name!r}: neutral {prof.baseline_deg:+.1f} deg "
            f"(SD {prof.spread_deg:.1f}, {prof.samples} frames), camera roll {prof.roll_deg:+.1f} deg, "
            f"pitch {prof.pitch_deg:+.0f} deg"]
    screen = [f"Neutral saved: {prof.baseline_deg:+.1f} deg ({prof.name})"]
    if np.isfinite(prof.range_forward_deg):
        msgs.append(f"range: {prof.range_forward_deg:.1f} deg forward, {prof.range_tuck_deg:.1f} deg tuck")
        screen.append(f"Range: {prof.range_forward_deg:.0f} deg forward, {prof.range_tuck_deg:.0f} deg tuck")
    tip = camera_pose.advice(prof.roll_deg, prof.pitch_deg)
    if tip:
        msgs.append(f"camera set-up: {tip}")
        screen.append(tip[0].upper() + tip[1:])
    return Outcome(prof, None, msgs, screen)
