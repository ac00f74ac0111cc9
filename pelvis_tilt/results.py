"""Per-frame results as typed arrays, the one frames.csv schema, and the one summary.

Every command (analyze, live, routine, batch) turns its `FrameResults` into the
same table (`table`, columns `FRAME_COLUMNS`) and summarises that table with
`summarise`, so a field means the same thing in every file.  Numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import Enum

import numpy as np

from . import cues, geometry

FRAME_COLUMNS = [
    "frame", "time_s", "detected", "people", "person", "view", "view_conf", "side", "tilt_deg", "tilt_smooth_deg",
    "tilt_from_neutral_deg", "tilt_from_neutral_sd_deg", "state", "cue", "confidence", "trunk_lean_deg", "hip_flex_deg", "knee_flex_deg",
    "head_fwd_deg",
]
SIDE_ON_VIEWS = ("side_left", "side_right")
POSTURE_NAMES = tuple(cues.STATE_NAMES[s] for s in cues.POSTURE)
# code -> name lookups for the table's text columns
_VIEWS = np.array([geometry.VIEW_NAMES[k] for k in sorted(geometry.VIEW_NAMES)], dtype=object)
_SIDES = np.array(["", "left", "right"], dtype=object)   # trusted side -1 / 0 / 1
_STATES = np.array(cues.STATE_NAMES, dtype=object)
_CUES = np.array([cues.CUES[k] for k in range(len(cues.STATE_NAMES))], dtype=object)
MIN_USABLE_FRACTION = 0.30   # below this share of usable frames a verdict is marked unreliable
MIN_USABLE_S = 2.0           # ... or below this many seconds of usable frames


class Status(str, Enum):
    """What a clip's analysis came to (``summary["status"]``, batch ``status`` column)."""

    OK = "ok"
    NO_PERSON = "no-person"
    NOT_SIDE_ON = "not-side-on"
    NO_RELIABLE_TILT = "no-reliable-tilt"
    ERROR = "error"          # the clip could not be read (batch); ``message`` says why


@dataclass
class PoseArrays:
    """What the pose stage produced, one row per frame."""

    frame: np.ndarray      # (T,) source frame index
    t: np.ndarray          # (T,) seconds
    detected: np.ndarray   # (T,) bool: a subject was chosen
    n_people: np.ndarray   # (T,) people MediaPipe found
    person: np.ndarray     # (T,) the subject's track id, -1 when nobody
    lm: np.ndarray         # (T, 33, 4) pixels + visibility
    world: np.ndarray      # (T, 33, 4) metres + visibility
    features: np.ndarray   # (T, outline.N_FEATURES) outline edges (opaque: the estimator's input)
    image_size: tuple[int, int]


@dataclass
class FrameResults(PoseArrays):
    """`PoseArrays` plus what the pipeline derived from them."""

    measures: geometry.Measures = None   # type: ignore[assignment]
    tilt_raw: np.ndarray = None          # type: ignore[assignment]  NaN where not reliable
    tilt_conf: np.ndarray = None         # type: ignore[assignment]
    reliable: np.ndarray = None          # type: ignore[assignment]
    tilt_smooth: np.ndarray = None       # type: ignore[assignment]
    state: np.ndarray = None             # type: ignore[assignment]  cues.* codes
    baseline: np.ndarray = None          # type: ignore[assignment]  the neutral each frame was judged against
    stride: np.ndarray = None            # type: ignore[assignment]  0 standing .. 1 mid-stride (`tilt.stride_weight`)
    unusual: np.ndarray = None           # type: ignore[assignment]  0 .. 1 how unlike rendered bodies' the outline is (`tilt.Reading`)
    change_sd: np.ndarray = None         # type: ignore[assignment]  SD (deg) of tilt_smooth - baseline's error

    def __len__(self) -> int:
        return len(self.t)


def _arrays_of(x) -> dict:
    return {f.name: getattr(x, f.name) for f in fields(x) if f.name != "image_size"}


def take(x, sel):
    """Rows ``sel`` (slice or index array) of a `PoseArrays` / `FrameResults`."""
    kw = {}
    for k, v in _arrays_of(x).items():
        if isinstance(v, geometry.Measures):
            v = geometry.Measures(**{f.name: getattr(v, f.name)[sel] for f in fields(v)})
        elif v is not None:
            v = v[sel]
        kw[k] = v
    return replace(x, **kw)


def concat(parts: list):
    """Rows of several `PoseArrays` / `FrameResults` of one run, in order."""
    first = parts[0]
    kw = {}
    for k, v in _arrays_of(first).items():
        if isinstance(v, geometry.Measures):
            v = geometry.Measures(**{f.name: np.concatenate([getattr(getattr(p, k), f.name) for p in parts])
                                     for f in fields(v)})
        elif v is not None:
            v = np.concatenate([getattr(p, k) for p in parts])
        kw[k] = v
    return replace(first, **kw)


def table(r: FrameResults) -> dict[str, np.ndarray]:
    """The per-frame table (`FRAME_COLUMNS`), as written to every frames.csv."""
    m = r.measures
    return {
        "frame": r.frame,
        "time_s": r.t,
        "detected": r.detected,
        "people": r.n_people,
        "person": r.person,
        "view": _VIEWS[m.view],
        "view_conf": m.view_conf,
        "side": _SIDES[m.side + 1],
        "tilt_deg": r.tilt_raw,
        "tilt_smooth_deg": r.tilt_smooth,
        "tilt_from_neutral_deg": r.tilt_smooth - r.baseline,
        "tilt_from_neutral_sd_deg": r.change_sd,
        "state": _STATES[r.state],
        "cue": _CUES[r.state],
        "confidence": r.tilt_conf,
        "trunk_lean_deg": m.trunk_lean_deg,
        "hip_flex_deg": m.hip_flex_deg,
        "knee_flex_deg": m.knee_flex_deg,
        "head_fwd_deg": m.head_fwd_deg,
    }


def frame_weights(t: np.ndarray, fps: float = float("nan")) -> np.ndarray:
    """Seconds each frame stands for: the interval to the next one, capped at 4 median
    intervals (a stall or a gap is not counted as time; variable frame rate safe).
    A lone frame (a still image) stands for one frame interval at ``fps``, or 1 s without it."""
    t = np.asarray(t, float)
    if len(t) < 2:
        return np.full(len(t), 1.0 / fps if np.isfinite(fps) and fps > 0 else 1.0)
    dt = np.diff(t)
    med = float(np.median(dt))
    return np.clip(np.append(dt, med), 0, 4 * med)


def alignment_score(tilt: np.ndarray, band: cues.Band, w: np.ndarray | None = None) -> float:
    """0-100: full credit inside the neutral band, falling linearly to 0 at one
    more band half-width outside it; time-weighted over frames with a tilt."""
    ok = np.isfinite(tilt)
    if not ok.any():
        return float("nan")
    dev = np.abs(tilt[ok] - band.baseline)
    credit = np.clip(1.0 - (dev - band.half_width) / band.half_width, 0.0, 1.0)
    ww = np.ones(ok.sum()) if w is None else w[ok]
    return float(100.0 * np.sum(credit * ww) / np.sum(ww))


def subject_of(tab: dict[str, np.ndarray]) -> int:
    """The run's subject: the person (track id) side-on for the most frames, else seen the
    most; -1 when nobody was detected."""
    person = np.asarray(tab["person"], int)
    seen = person >= 0
    if not seen.any():
        return -1
    side_on = np.isin(tab["view"], SIDE_ON_VIEWS) & seen
    ids = np.unique(person[seen])
    return int(max(ids, key=lambda i: (np.sum(side_on & (person == i)), np.sum(person == i))))


def _q(a: np.ndarray, p: float) -> float:
    a = a[np.isfinite(a)]
    return float(np.percentile(a, p)) if a.size else float("nan")


def summarise(tab: dict[str, np.ndarray], band: cues.Band, *, source: str, neutral: str, estimator: str,
              read_against: str = "each frame alone",
              fps: float = float("nan"), image_size: tuple[int, int] = (0, 0),
              warnings: list[str] | None = None) -> dict:
    """The per-run summary, from the per-frame table and over the subject's frames only.

    * fractions (detected, side-on, reliable, usable) are the shares of all frames in which
      the subject was seen, side-on, read, usable;
    * tilt median / p10 / p90 and the alignment score rest on the *usable* frames:
      the subject side-on with a smoothed tilt;
    * ``pct_anterior / neutral / posterior`` are time-weighted shares of the time the
      ``state`` column shows a posture (what the cue said), summing to 100;
    * ``basis`` says which person and how many frames each number rests on.
    """
    t = np.asarray(tab["time_s"], float)
    T = len(t)
    w = frame_weights(t, fps)
    subject = subject_of(tab)
    mine = np.asarray(tab["person"], int) == subject if subject >= 0 else np.zeros(T, bool)
    side_on = mine & np.isin(tab["view"], SIDE_ON_VIEWS)
    smooth = np.where(mine, np.asarray(tab["tilt_smooth_deg"], float), np.nan)
    usable = np.isfinite(smooth)
    posture = mine & np.isin(tab["state"], POSTURE_NAMES)
    others = np.asarray(tab["detected"], bool) & ~mine
    people = np.asarray(tab["people"], int)

    if T == 0 or subject < 0:
        status, msg = Status.NO_PERSON, "nobody was detected in the clip"
    elif not side_on.any():
        status, msg = Status.NOT_SIDE_ON, "the person never stood side-on to the camera (turn sideways)"
    elif not usable.any():
        status, msg = Status.NO_RELIABLE_TILT, "side-on, but the pelvis outline was never clear (arms, cropping or clothing)"
    else:
        status, msg = Status.OK, ""

    def share(state: str) -> float:
        tot = float(np.sum(w[posture]))
        return float(100.0 * np.sum(w[posture & (tab["state"] == state)]) / tot) if tot > 0 else float("nan")

    def median_of(col: str, p: float = 50) -> float:
        return _q(np.where(side_on, np.asarray(tab[col], float), np.nan), p)

    duration = float(t[-1] - t[0] + w[-1]) if T else 0.0
    usable_s = float(np.sum(w[usable]))
    basis = {"person": subject, "subject_frames": int(mine.sum()), "usable_frames": int(usable.sum()),
             "usable_fraction": float(np.mean(usable)) if T else 0.0, "usable_s": usable_s,
             "posture_frames": int(posture.sum()), "other_people_frames": int(others.sum()),
             "max_people": int(people.max()) if T else 0,
             "multi_person_fraction": float(np.mean(people > 1)) if T else 0.0, "duration_s": duration}
    warnings = list(warnings or [])
    if status == Status.OK:
        if basis["usable_fraction"] < MIN_USABLE_FRACTION:
            warnings.append(f"unreliable: only {100 * basis['usable_fraction']:.1f}% of frames were usable (side-on "
                            f"with a clear pelvis outline; needs {100 * MIN_USABLE_FRACTION:.0f}%)")
        if usable_s < MIN_USABLE_S:
            secs = f"{usable_s:.1f}" if usable_s >= 0.1 else f"{usable_s:.2f}"   # a lone frame: 0.04, not 0.0
            warnings.append(f"unreliable: only {secs} s ({basis['usable_frames']} frames) of usable video; "
                            f"needs {MIN_USABLE_S:g} s")
        if not posture.any():
            warnings.append("unreliable: no posture was held long enough for the cue to show it; "
                            "the anterior / neutral / posterior shares are empty")
    if basis["max_people"] > 1 or basis["other_people_frames"]:
        warnings.append(f"{basis['max_people']} people in view in {100 * basis['multi_person_fraction']:.0f}% of "
                        f"frames: the numbers cover one person (person {subject}, {basis['subject_frames']} frames)"
                        + (f"; {basis['other_people_frames']} frames measuring someone else are left out"
                           if basis["other_people_frames"] else ""))
    reliable = status == Status.OK and not any(x.startswith("unreliable") for x in warnings)
    return {
        "clip": source,
        "status": status.value,
        "message": msg,
        "reliable": reliable,
        "basis": basis,
        "frames": T,
        "duration_s": duration,
        "fps": float(fps),
        "width": int(image_size[0]),
        "height": int(image_size[1]),
        "detected_fraction": float(np.mean(mine)) if T else 0.0,
        "side_on_fraction": float(np.mean(side_on)) if T else 0.0,
        "reliable_fraction": float(np.mean(mine & np.isfinite(np.asarray(tab["tilt_deg"], float)))) if T else 0.0,
        "max_people": basis["max_people"],
        "tilt_median_deg": _q(smooth, 50),
        "tilt_p10_deg": _q(smooth, 10),
        "tilt_p90_deg": _q(smooth, 90),
        "neutral": neutral,
        "baseline_deg": band.baseline,
        "band_half_width_deg": band.half_width,
        "tilt_from_neutral_median_deg": _q(smooth - band.baseline, 50),
        "pct_anterior": share("anterior"),
        "pct_neutral": share("neutral"),
        "pct_posterior": share("posterior"),
        "alignment_score": alignment_score(smooth, band, w),
        "trunk_lean_median_deg": median_of("trunk_lean_deg"),
        "knee_flex_median_deg": median_of("knee_flex_deg"),
        "knee_flex_max_deg": median_of("knee_flex_deg", 100),
        "head_fwd_median_deg": median_of("head_fwd_deg"),
        "tilt_estimator": estimator,
        "read_against": read_against,   # `pipeline.Pipeline.read_against`
        "warnings": warnings,
    }
