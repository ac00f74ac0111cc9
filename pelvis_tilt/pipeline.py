"""The per-frame chain every command runs: measures -> tilt -> smoothing -> state.

    pose stage (`pose.PoseRunner`)    landmarks, world landmarks, mask of the subject
      -> `Pipeline.features`          outline features (the mask is dropped here)
      -> `Pipeline.estimate`          measures (view, side, angles), tilt, confidence
      -> smoothing                    causal One-Euro (live) or look-ahead zero-lag (clips)
      -> neutral + `cues.CueMachine`  the neutral resolved for the clip, state with dwell
      -> `results.FrameResults`       -> tables, summaries, drawings

`Pipeline.run` takes a whole clip's arrays at once; `Pipeline.stream` takes one
frame at a time and hands back frames as soon as they are final (at once with
the causal smoother; ``radius`` frames later with the look-ahead one; once the
seconds a first-seconds neutral or a reference outline is taken from are in).
Live (causal) holds nothing back: frames shown before its reference seconds are
over are read each alone, the frames after them against them.
Both call the same functions on the same numbers, so they agree
(tests/test_pipeline.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

from . import cues, geometry, outline
from .pose import PoseFrame
from .results import FrameResults, PoseArrays, concat, take
from .settings import MIN_FIRST_FRAMES, REFERENCE_SEARCH_S, Neutral, NeutralSource, Settings
from .tilt import NeutralOutline, StrideHold


def reference_start(ts: np.ndarray, t_first: float, span: float) -> float | None:
    """The first of the times ``ts`` (a clip's usable frames, in order; the clip starts at
    ``t_first``) within `REFERENCE_SEARCH_S` whose ``span`` seconds hold `MIN_FIRST_FRAMES` of them."""
    starts = ts[ts - t_first < REFERENCE_SEARCH_S]
    enough = np.flatnonzero(np.searchsorted(ts, starts + span) - np.arange(len(starts)) >= MIN_FIRST_FRAMES)
    return float(starts[enough[0]]) if enough.size else None


@dataclass
class RunResult:
    """A whole run: per-frame results, the neutral they were judged against, notes for the user."""

    frames: FrameResults
    neutral: Neutral
    notes: list[str] = field(default_factory=list)


class Pipeline:
    """The chain for one image size and frame rate, under one `Settings`."""

    def __init__(self, settings: Settings, image_size: tuple[int, int], fps: float = 30.0):
        self.settings, self.image_size, self.fps = settings, tuple(image_size), float(fps)
        self.estimator = settings.estimator()

    def measure(self, lm: np.ndarray) -> geometry.Measures:
        """View, side and angles of landmarks (T, 33, 4), with the camera roll of the settings."""
        return geometry.compute_measures(lm, self.image_size, self.settings.roll_deg)

    def features(self, pf: PoseFrame, m: geometry.Measures | None = None) -> np.ndarray:
        """The outline features of one frame's subject, read from its mask (NaN without one);
        ``m``: that frame's measures, if already known."""
        if not pf.detected or pf.mask is None:
            return np.full(outline.N_FEATURES, np.nan)
        m = self.measure(pf.lm[None]) if m is None else m
        lm, torso = pf.lm, float(m.torso_px[0])
        if pf.mask_window is not None:   # the mask covers a crop: read it in the crop's pixels
            lm = lm.copy()
            lm[:, :2] = pf.mask_window.to_model(lm[:, :2])
            torso *= float(np.mean(pf.mask_window.scale))
        return outline.frame_edges(pf.mask, lm, float(m.facing[0]), torso)

    def estimate(self, pose: PoseArrays, m: geometry.Measures | None = None,
                 hold: StrideHold | None = None, neutral: Neutral | None = None) -> FrameResults:
        """Measures (``m`` if already known) and per-frame tilt for many frames at once (no
        smoothing); ``hold``: the run's `StrideHold` (its only state), if frames came before;
        ``neutral``: the one judged against (default: the settings'), whose outline, if it has
        one, standing frames are read against."""
        m = self.measure(pose.lm) if m is None else m
        hold = StrideHold(self.fps) if hold is None else hold
        stride = hold(pose.t, pose.person, self.estimator.stride(pose.features, pose.lm, m))
        ref = (self.settings.neutral if neutral is None else neutral).outline
        r = self.estimator.read(pose.features, pose.lm, m, stride, ref)
        kw = {f.name: getattr(pose, f.name) for f in fields(PoseArrays)}
        return FrameResults(**kw, measures=m, tilt_raw=r.tilt, tilt_conf=r.conf, reliable=r.reliable, stride=stride,
                            unusual=r.unusual)

    def _judge(self, r: FrameResults, smooth: np.ndarray, machine: cues.CueMachine,
               relative: bool | np.ndarray = False) -> FrameResults:
        m = r.measures
        state = machine.run(r.t, smooth, m.view, m.in_frame, r.detected, r.person)
        base = np.full(len(r.t), machine.band.baseline)
        # the estimator's held-out error for a change of this size (NaN where nothing is read)
        sd = self.estimator.change_sd(smooth - base, r.stride, r.unusual, relative)
        sd = np.where(np.isfinite(smooth), sd, np.nan)
        return replace(r, tilt_smooth=smooth, state=state, baseline=base, change_sd=sd)

    @property
    def reference_s(self) -> float | None:
        """Seconds of a clip whose standing frames make the outline the change trees read the rest
        against (`reference_window`), when the neutral brings none: a first-seconds neutral's own
        seconds, else `Settings.reference_s`.  None when the neutral has an outline (a calibrated
        profile's), with ``reference_s`` 0, or an estimator without change trees."""
        s, nt = self.settings, self.settings.neutral
        if nt.outline is not None or self.estimator.trees is None:
            return None
        if nt.source == NeutralSource.FIRST_SECONDS:
            return nt.first_s
        return None if s.reference_s <= 0 else s.reference_s

    @property
    def reference_after(self) -> bool:
        """Whether only the frames after the reference seconds are read against them: live
        (causal smoothing) shows every frame as it comes, before those seconds are over, so it
        cannot read them again; a clip's frames are all read against them.  (A first-seconds
        neutral is waited for even live: its cues need it.)"""
        return self.settings.smoothing.causal and self.settings.neutral.source != NeutralSource.FIRST_SECONDS

    @staticmethod
    def _standing(r: FrameResults) -> np.ndarray:
        """Frames a reference outline may come from: side-on, read, standing."""
        return r.measures.is_side_on() & r.detected & np.isfinite(r.tilt_raw) & (r.stride == 0)

    def reference_window(self, r: FrameResults) -> tuple[float, float] | None:
        """(start, end) clip times of the seconds whose standing frames make the reference outline:
        a first-seconds neutral's own seconds from the clip's start; otherwise `reference_s`
        seconds from the first side-on, read, standing frame in the clip's first
        `REFERENCE_SEARCH_S` whose seconds hold at least `MIN_FIRST_FRAMES` such frames (someone
        may walk into view first).  None without a `reference_s` or without such seconds."""
        span = self.reference_s
        if span is None or not len(r):
            return None
        if self.settings.neutral.source == NeutralSource.FIRST_SECONDS:
            return float(r.t[0]), float(r.t[0] + span)
        t0 = reference_start(r.t[self._standing(r)], float(r.t[0]), span)
        return None if t0 is None else (t0, t0 + span)

    def reference_outline(self, r: FrameResults) -> NeutralOutline | None:
        """The outline of the `reference_window` (`TiltModel.neutral_outline` of its side-on,
        read, standing frames), so the rest of the clip is read against it as against a
        calibrated neutral.  It need not be neutral: the trees read a change from whatever
        posture it shows (calibration/README.md, measured), and its level is not pulled toward
        the population unless the seconds are a first-seconds neutral.  None without a window,
        or with fewer than `MIN_FIRST_FRAMES` such frames in it."""
        win = self.reference_window(r)
        if win is None:
            return None
        sel = self._standing(r) & (r.t >= win[0]) & (r.t < win[1])
        if sel.sum() < MIN_FIRST_FRAMES:
            return None
        h = take(r, sel)
        inputs = self.estimator.change_inputs(h.features, h.lm, h.measures)
        return self.estimator.neutral_outline(inputs, start_s=win[0] - float(r.t[0]),
                                              neutral=self.settings.neutral.source == NeutralSource.FIRST_SECONDS)

    def read_against(self, neutral: Neutral) -> str:
        """What a run's standing frames were read against, for its summary."""
        if neutral.outline is None:
            return "each frame alone"
        span, start = self.reference_s, neutral.outline.start_s
        if span is None or start is None:   # the outline came from calibrating (a profile, or live's 'c')
            return "the calibrated neutral's outline"
        if self.reference_after:   # live: a camera has no clip
            return (f"the outline of the first {span:g} s standing side-on, from {start:.1f} s in "
                    "(the frames until they ended: each alone)")
        if start == 0.0:
            return f"the outline of the clip's first {span:g} s"
        return f"the outline of {span:g} s from {start:.1f} s into the clip, when it first stood side-on"

    def reread(self, r: FrameResults, outline: NeutralOutline, since: float = -np.inf) -> FrameResults:
        """``r``'s frames from clip time ``since`` on read again against ``outline`` (the same
        stride weights); those before it as they were."""
        later = r.t >= since
        if not later.all():
            return concat([take(r, ~later), self.reread(take(r, later), outline)]) if later.any() else r
        rd = self.estimator.read(r.features, r.lm, r.measures, r.stride, outline)
        return replace(r, tilt_raw=rd.tilt, tilt_conf=rd.conf, reliable=rd.reliable, unusual=rd.unusual)

    def _machine(self, neutral: Neutral) -> cues.CueMachine:
        return cues.CueMachine(self.settings.band(neutral.baseline_deg), self.settings.dwell_s)

    def run(self, pose: PoseArrays) -> RunResult:
        """The chain over a whole clip's arrays, vectorised where the maths allows."""
        r = self.estimate(pose)
        outline = self.reference_outline(r)
        # live reads against the reference only once its seconds are over (`reference_after`)
        since = self.reference_window(r)[1] if outline is not None and self.reference_after else -np.inf
        r = r if outline is None else self.reread(r, outline, since)
        # one person's tilt is never smoothed with another's
        smooth = self.settings.smoothing.make(self.fps).series(r.tilt_raw, r.tilt_conf, r.t, r.person)
        neutral, note = self.settings.neutral.for_clip(r.t, smooth, r.measures.is_side_on() & r.detected)
        neutral = neutral if outline is None else replace(neutral, outline=outline)
        relative = (r.t >= since) if outline is not None else neutral.outline is not None
        return RunResult(self._judge(r, smooth, self._machine(neutral), relative), neutral, [note] if note else [])

    def stream(self, chunk: int = 1) -> "Stream":
        """Frame-by-frame use; ``chunk`` frames are estimated together (cheaper, ``chunk - 1``
        frames more delay)."""
        return Stream(self, chunk)


class Stream:
    """`Pipeline` one frame at a time: ``push`` frames in order, take back the frames that are
    final (a `FrameResults`, possibly empty), ``finish`` at the end of the source."""

    def __init__(self, pipeline: Pipeline, chunk: int = 1):
        self.p, self.chunk = pipeline, max(1, int(chunk))
        s = pipeline.settings
        self.smoother = s.smoothing.make(pipeline.fps)
        # a first-seconds neutral or a clip's reference outline: frames wait for those seconds
        self.wait_s = (s.neutral.first_s if s.neutral.source == NeutralSource.FIRST_SECONDS else
                       None if pipeline.reference_after else pipeline.reference_s)
        self.neutral: Neutral | None = None if self.wait_s is not None else s.neutral   # None until resolved
        # live: frames go out at once while the reference seconds are looked for (`_look_for_reference`):
        # (frames, times of their standing frames) seen so far; None when not looking
        self._seen: list[tuple[FrameResults, np.ndarray]] | None = (
            [] if pipeline.reference_after and pipeline.reference_s else None)
        self._since = -np.inf                  # clip time from which frames are read against the outline
        self.notes: list[str] = []
        self.machine = pipeline._machine(s.neutral)
        self.hold = StrideHold(pipeline.fps)    # the feet's last stride, across chunks
        self._new: list[tuple] = []            # frames pushed, not estimated yet
        self._wait: list[FrameResults] = []    # estimated, not final yet
        self._smooth: list[np.ndarray] = []    # final smoothed values of the oldest waiting frames

    def _relative(self, r: FrameResults) -> bool | np.ndarray:
        """Which of ``r``'s frames were read against an outline (for their stated SD)."""
        return self.neutral is not None and self.neutral.outline is not None and r.t >= self._since

    def rebase(self, neutral: Neutral) -> None:
        """Judge the frames from now on against another neutral (live, after calibrating: its
        outline, if any, replaces a reference still being looked for)."""
        self.neutral, self._seen = neutral, None
        self.machine.band = self.p.settings.band(neutral.baseline_deg)

    def stop_looking(self) -> None:
        """Read on as now, never switching to a reference found later (live, while a calibration's
        hold is read: its frames must all be read one way)."""
        self._seen = None

    def _look_for_reference(self, part: FrameResults) -> FrameResults:
        """Live: ``part`` (the newest frames, read alone) as it goes out.  Once the frames seen
        hold the reference seconds `Pipeline.reference_window` finds in the whole clip (the first
        qualifying window is final as soon as all of it is in), its outline is what the frames
        after those seconds are read against, those of ``part`` included."""
        span = self.p.reference_s
        self._seen.append((part, part.t[self.p._standing(part)]))
        t_first, t_last = float(self._seen[0][0].t[0]), float(part.t[-1])
        t0 = reference_start(np.concatenate([ts for _, ts in self._seen]), t_first, span)
        if t0 is None or t_last < t0 + span:
            if t_last - t_first >= REFERENCE_SEARCH_S + span:
                self._seen = None   # no window can start any more
            return part
        seen = concat([r for r, _ in self._seen])
        outline = self.p.reference_outline(seen)
        self.rebase(replace(self.neutral, outline=outline))
        self._since = t0 + span
        return self.p.reread(part, outline, self._since)

    def _decided(self, head: FrameResults) -> bool:
        """Whether the frames held so far (``head``: those smoothed) decide the neutral and the
        reference outline, as `Pipeline.run` would find them in the whole clip."""
        elapsed = head.t[-1] - head.t[0]
        if self.p.settings.neutral.source == NeutralSource.FIRST_SECONDS:
            return elapsed >= self.wait_s
        win = self.p.reference_window(head)
        # the first window that qualifies is final once all of it is in (earlier ones are, and did not)
        return elapsed >= REFERENCE_SEARCH_S + self.wait_s or (win is not None and head.t[-1] >= win[1])

    def push(self, i: int, t: float, pf: PoseFrame, features: np.ndarray | None = None) -> FrameResults | None:
        """One frame (``features`` if already read, else read from ``pf.mask`` here)."""
        m = self.p.measure(pf.lm[None])   # once per frame: the outline reading needs its facing and size
        f = self.p.features(pf, m) if features is None else features
        self._new.append((i, t, pf.detected, pf.n_people, pf.person, pf.lm, pf.world, f, m))
        return self._advance(final=False) if len(self._new) >= self.chunk else None

    def finish(self) -> FrameResults | None:
        """The frames still waiting (their windows end with the source)."""
        return self._advance(final=True)

    def _advance(self, final: bool) -> FrameResults | None:
        if self._new:
            cols = list(zip(*self._new))
            pose = PoseArrays(np.asarray(cols[0], int), np.asarray(cols[1], float), np.asarray(cols[2], bool),
                              np.asarray(cols[3], int), np.asarray(cols[4], int), np.stack(cols[5]),
                              np.stack(cols[6]), np.stack(cols[7]), self.p.image_size)
            m = cols[8][0] if len(cols[8]) == 1 else geometry.Measures(
                **{f.name: np.concatenate([getattr(x, f.name) for x in cols[8]]) for f in fields(geometry.Measures)})
            self._new = []
            part = self.p.estimate(pose, m, self.hold, self.neutral)
            if self._seen is not None:
                part = self._look_for_reference(part)
            smooth = self.smoother.push(part.tilt_raw, part.tilt_conf, part.t, part.person)
            if not self._wait and len(smooth) == len(part) and self.neutral is not None:
                # final at once (causal): nothing to hold
                return self.p._judge(part, smooth, self.machine, self._relative(part))
            self._wait.append(part)
            self._smooth.append(smooth)
        if final:
            self._smooth.append(self.smoother.flush())
        if not self._wait:
            return None
        waiting = concat(self._wait) if len(self._wait) > 1 else self._wait[0]
        smooth = np.concatenate(self._smooth) if self._smooth else np.zeros(0)
        n = len(smooth)
        if self.neutral is None:
            if not (final or (n and self._decided(take(waiting, slice(0, n))))):
                return None   # the neutral or the reference outline is not known yet: hold everything
            outline = self.p.reference_outline(take(waiting, slice(0, n)))
            if outline is not None:   # read the held frames again against it, and smooth them afresh
                waiting = self.p.reread(waiting, outline)
                self.smoother = self.p.settings.smoothing.make(self.p.fps)
                smooth = self.smoother.push(waiting.tilt_raw, waiting.tilt_conf, waiting.t, waiting.person)
                if final:
                    smooth = np.concatenate([smooth, self.smoother.flush()])
                n = len(smooth)
            side_on = waiting.measures.is_side_on()[:n] & waiting.detected[:n]
            neutral, note = self.p.settings.neutral.for_clip(waiting.t[:n], smooth, side_on)
            self.rebase(neutral if outline is None else replace(neutral, outline=outline))
            self.notes += [note] if note else []
        if n == 0:
            return None
        self._wait = [take(waiting, slice(n, None))] if n < len(waiting) else []
        self._smooth = []
        done = take(waiting, slice(0, n))
        return self.p._judge(done, smooth, self.machine, self._relative(done))
