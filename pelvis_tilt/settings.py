"""The settings of a run: one frozen object, resolved once, before anything is read or written.

Every command builds its `Settings` with `resolve` (the one place the neutral,
the band and the camera set-up are taken from a profile, options and defaults)
and hands it to the pipeline.  The one neutral that depends on the clip itself,
"the median tilt of its first S seconds", is computed by `Neutral.for_clip`, which
the pipeline calls before any frame is judged.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path

import numpy as np

from . import filters
from .cues import Band
from .profiles import Profile, load_profile
from .tilt import N_DESIGN, NeutralOutline, TiltModel

DEFAULT_HALF_WIDTH_DEG = 5.0
MIN_FIRST_FRAMES = 3   # frames with a tilt a first-seconds neutral needs; fewer: the population neutral
# The seconds of a clip's first standing side-on whose outline the rest is read against when no
# calibrated neutral outline is known (`pipeline.Pipeline.reference_outline`; calibration/README.md),
# if they start within its first REFERENCE_SEARCH_S (someone walking into view first): a clip's
# frames wait that long at most; live reads the frames after those seconds against them.
REFERENCE_S = 2.0
REFERENCE_SEARCH_S = 30.0


class NeutralSource(str, Enum):
    """Where the neutral tilt comes from."""

    POPULATION = "population"   # the tilt estimator's typical standing value
    FIXED = "fixed"             # --baseline DEG
    PROFILE = "profile"         # a calibrated profile
    FIRST_SECONDS = "first"     # the clip's own first S seconds


@dataclass(frozen=True)
class Neutral:
    """The neutral tilt the cues are judged against, and where it came from."""

    source: NeutralSource = NeutralSource.POPULATION
    baseline_deg: float = 10.0          # FIRST_SECONDS: the population neutral, used when those seconds show no tilt
    first_s: float | None = None
    profile: str | None = None
    outline: NeutralOutline | None = None   # a profile's neutral outline (standing frames are read against it)

    @property
    def label(self) -> str:
        """population | fixed | profile:NAME | first-<S>s (the ``neutral`` field of summaries)."""
        if self.source == NeutralSource.PROFILE:
            return f"profile:{self.profile}"
        if self.source == NeutralSource.FIRST_SECONDS:
            return f"first-{self.first_s:g}s"
        return self.source.value

    @property
    def personal(self) -> bool:
        """The user's own neutral (profile, --baseline, the clip's first seconds), not the population's."""
        return self.source != NeutralSource.POPULATION

    def for_clip(self, t: np.ndarray, tilt_smooth: np.ndarray, side_on: np.ndarray) -> tuple["Neutral", str | None]:
        """(the neutral as resolved for one clip, a note or None).  FIRST_SECONDS: the median
        smoothed side-on tilt of the first ``first_s`` seconds; if fewer than `MIN_FIRST_FRAMES`
        frames there have one, the population neutral, with a note saying so."""
        if self.source != NeutralSource.FIRST_SECONDS:
            return self, None
        t = np.asarray(t, float)
        sel = (t - t[0] < self.first_s) & np.asarray(side_on, bool) & np.isfinite(tilt_smooth) if t.size else t > 0
        if sel.sum() < MIN_FIRST_FRAMES:
            return Neutral(NeutralSource.POPULATION, self.baseline_deg), (
                f"no side-on tilt in the first {self.first_s:g} s: the population neutral "
                f"{self.baseline_deg:.1f} deg was used")
        return replace(self, baseline_deg=float(np.median(tilt_smooth[sel]))), None


@dataclass(frozen=True)
class Smoothing:
    """Causal One-Euro (live: no look-ahead) or look-ahead zero-lag Gaussian (clips)."""

    causal: bool = False
    sigma_s: float = filters.ZERO_LAG_SIGMA_S
    min_cutoff: float = filters.ONE_EURO_MIN_CUTOFF
    beta: float = filters.ONE_EURO_BETA
    d_cutoff: float = filters.ONE_EURO_D_CUTOFF
    max_gap_s: float = 0.5

    def make(self, fps: float):
        """A fresh smoother (`filters.CausalSmoother` or `filters.LookAheadSmoother`)."""
        if self.causal:
            return filters.CausalSmoother(self.min_cutoff, self.beta, self.d_cutoff, self.max_gap_s)
        return filters.LookAheadSmoother(self.sigma_s * fps)


_ESTIMATORS: dict[str | None, TiltModel] = {}


def load_estimator(path: str | None = None) -> TiltModel:
    """The tilt estimator (the shipped one for None), loaded once per process."""
    if path not in _ESTIMATORS:
        _ESTIMATORS[path] = TiltModel.load(path)
    return _ESTIMATORS[path]


_IDS: dict[int, tuple[TiltModel, str]] = {}


def estimator_id(model: TiltModel) -> str:
    """Kind + a hash of the fitted numbers: cached batch results are redone when it changes, and a
    profile's neutral outline is used only by the estimator that read it.  Hashed once per model
    (~1.4 ms: live asks for it every frame it words a posture in the user's range)."""
    hit = _IDS.get(id(model))
    if hit is None or hit[0] is not model:
        blob = json.dumps([model.kind, model.params, model.population_neutral_deg], sort_keys=True, default=str)
        hit = _IDS[id(model)] = (model, f"{model.kind}:{hashlib.sha1(blob.encode()).hexdigest()[:10]}")
    return hit[1]


@dataclass(frozen=True)
class Settings:
    """Everything that decides a run's numbers."""

    pose_model: str | None = None         # a MediaPipe .task bundle; None: the built-in offline one
    # Follow the subject in a crop with the one-person landmarker (every command), or look at the
    # whole frame for two people in every frame (``--whole-frame``: slower, the reference path).
    # Scored against rendered truth the follower is as accurate (benchmarks/follow_accuracy.py),
    # though its per-clip medians differ from the whole frame's by ~0.7 deg either way.
    follow: bool = True
    tilt_estimator: str | None = None     # a tilt estimator file; None: the shipped one
    neutral: Neutral = field(default_factory=Neutral)
    band_half_width_deg: float = DEFAULT_HALF_WIDTH_DEG
    hysteresis_deg: float = 1.0
    roll_deg: float = 0.0                 # camera roll (a profile's); levels the body axes
    pitch_deg: float = float("nan")       # camera pitch (a profile's); informational
    dwell_s: float = 0.4
    smoothing: Smoothing = field(default_factory=Smoothing)
    range_forward_deg: float = float("nan")   # the user's own range (calibrate --range)
    range_tuck_deg: float = float("nan")
    reference_s: float = REFERENCE_S      # 0: standing frames are each read alone (`TiltModel.alone`)

    def band(self, baseline: float | None = None) -> Band:
        """The neutral band around ``baseline`` (default: the resolved neutral)."""
        return Band(self.neutral.baseline_deg if baseline is None else baseline, self.band_half_width_deg,
                    self.hysteresis_deg)

    @property
    def own_range(self) -> tuple[float, float] | None:
        """(forward, tuck) range in degrees from `calibrate --range`, or None without one."""
        r = (self.range_forward_deg, self.range_tuck_deg)
        return r if all(bool(np.isfinite(x)) and x > 0 for x in r) else None

    def estimator(self) -> TiltModel:
        return load_estimator(self.tilt_estimator)

    def with_profile(self, prof: Profile) -> "Settings":
        """These settings with a (just calibrated) profile's neutral, camera and range."""
        outline = None
        est = self.estimator()
        # another estimator's outline (or a hand-edited one of another length) is not this one's
        if (prof.neutral_outline and prof.outline_estimator == estimator_id(est) and est.trees is not None
                and len(prof.neutral_outline) == N_DESIGN + 1):   # `TiltModel.change_inputs` width
            outline = NeutralOutline(tuple(float(v) for v in prof.neutral_outline), float(prof.baseline_deg))
        return replace(self, neutral=Neutral(NeutralSource.PROFILE, prof.baseline_deg, profile=prof.name,
                                             outline=outline),
                       roll_deg=prof.roll_deg, pitch_deg=prof.pitch_deg, range_forward_deg=prof.range_forward_deg,
                       range_tuck_deg=prof.range_tuck_deg)

    def live(self, max_gap_s: float | None = None) -> "Settings":
        """These settings for a live source: causal smoothing (every frame is shown as it comes),
        bridging gaps up to ``max_gap_s``.  Raises ValueError for a first-seconds neutral."""
        if self.neutral.source == NeutralSource.FIRST_SECONDS:
            raise ValueError("a neutral from the first seconds needs a recorded clip (analyze, routine --no-window)")
        gap = self.smoothing.max_gap_s if max_gap_s is None else max_gap_s
        return replace(self, follow=True, smoothing=replace(self.smoothing, causal=True, max_gap_s=gap))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["neutral"] = {**d["neutral"], "source": self.neutral.source.value, "label": self.neutral.label}
        return d

    def key(self) -> str:
        """A short hash of everything that changes the numbers (estimator included)."""
        blob = json.dumps([self.as_dict(), estimator_id(self.estimator())], sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


def resolve(*, baseline: float | None = None, band: float | None = None, profile: str | Profile | None = None,
            baseline_first: float | None = None, pose_model: str | None = None, tilt_estimator: str | None = None,
            causal: bool = False, dwell_s: float = 0.4, follow: bool = True,
            reference_s: float | None = None) -> Settings:
    """Settings from a command's options, in this order: the population default, then the
    profile (neutral, band, camera roll, range), then ``baseline`` / ``band``, then
    ``baseline_first`` (seconds: each clip's own neutral; the population neutral if those
    seconds show no tilt).  ``reference_s``: `Settings.reference_s` (None: `REFERENCE_S`).

    Raises `profiles.ProfileError` for a missing or damaged profile.
    """
    est = load_estimator(tilt_estimator)
    s = Settings(pose_model=str(Path(pose_model).resolve()) if pose_model else None, tilt_estimator=tilt_estimator,
                 neutral=Neutral(NeutralSource.POPULATION, float(est.population_neutral_deg)), dwell_s=dwell_s,
                 smoothing=Smoothing(causal=causal), follow=follow,
                 reference_s=REFERENCE_S if reference_s is None else max(0.0, float(reference_s)))
    if profile is not None:
        prof = load_profile(profile) if isinstance(profile, str) else profile
        s = replace(s.with_profile(prof), band_half_width_deg=float(prof.band_half_width_deg))
    if baseline is not None:
        s = replace(s, neutral=Neutral(NeutralSource.FIXED, float(baseline)))
    if band is not None:
        s = replace(s, band_half_width_deg=float(band))
    if baseline_first is not None:
        s = replace(s, neutral=Neutral(NeutralSource.FIRST_SECONDS, float(est.population_neutral_deg),
                                       first_s=float(baseline_first)))
    return s


def from_args(args, causal: bool, use_profile: bool = True) -> Settings:
    """`resolve` from a command's parsed options (``--baseline``, ``--band``, ``--profile``,
    ``--baseline-first``, ``--reference-first``, ``--model``, ``--whole-frame``).  ``use_profile``:
    whether ``--profile`` names a profile to use (calibrate's names the one it writes)."""
    return resolve(baseline=getattr(args, "baseline", None), band=getattr(args, "band", None),
                   profile=getattr(args, "profile", None) if use_profile else None,
                   baseline_first=getattr(args, "baseline_first", None), pose_model=getattr(args, "model", None),
                   causal=causal, follow=not getattr(args, "whole_frame", False),
                   reference_s=getattr(args, "reference_first", None))
