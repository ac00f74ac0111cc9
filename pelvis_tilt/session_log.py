"""Turn each command's results into a `history.SessionRecord` and save it.

One function per kind of session, each called once where that command ends.
Only numbers are kept (durations, angles, counts), never frames.
"""
from __future__ import annotations

import time
from typing import Iterable, Sequence

import numpy as np

from . import history
from .history import ExerciseRecord, SessionRecord

SIDE_ON_VIEWS = ("side_left", "side_right")


def sample_weights(t: np.ndarray, max_dt: float) -> np.ndarray:
    """Seconds each sample stands for: the time to the next sample, capped at ``max_dt``
    (a pause or a dropped stretch is not counted); the last sample ends the session (0 s)."""
    t = np.asarray(t, float)
    if t.size == 0:
        return t
    return np.clip(np.append(np.diff(t), 0.0), 0.0, max_dt)


def time_stats(t: np.ndarray, side_on: np.ndarray, in_band: np.ndarray, max_dt: float = 0.5) -> tuple[float, float]:
    """(seconds side-on, seconds side-on and inside the neutral band)."""
    w = sample_weights(t, max_dt)
    side_on = np.asarray(side_on, bool)
    return float(np.sum(w[side_on])), float(np.sum(w[side_on & np.asarray(in_band, bool)]))


def tilt_range(tilt: np.ndarray) -> float | None:
    """Spread of the smoothed tilt over a session: 95th minus 5th percentile, degrees."""
    a = np.asarray(tilt, float)
    a = a[np.isfinite(a)]
    return float(np.percentile(a, 95) - np.percentile(a, 5)) if a.size >= 3 else None


def _table_arrays(tab: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        "t": np.asarray(tab["time_s"], float),
        "side_on": np.isin(tab["view"], SIDE_ON_VIEWS) & np.asarray(tab["detected"], bool),
        "in_band": np.asarray(tab["state"]) == "neutral",
        "tilt": np.asarray(tab["tilt_smooth_deg"], float),
    }


def exercise_records(exercises: Iterable[dict]) -> list[ExerciseRecord]:
    """Reps and hold seconds from a routine summary's ``exercises`` list."""
    out = []
    for e in exercises:
        reps = e.get("reps", e.get("steps"))
        hold = e.get("held_s")
        if hold is None and e.get("holds_s"):
            hold = float(np.sum(e["holds_s"]))
        out.append(ExerciseRecord(e["name"], bool(e.get("started")), bool(e.get("completed")),
                                  None if reps is None else int(reps), hold))
    return out


def routine_numbers(summary: dict) -> tuple[float | None, float | None]:
    """(mean isolation range, find-neutral error) from a routine summary, when measured."""
    rng = err = None
    for e in summary.get("exercises", []):
        if e.get("name") == "isolations_front_back" and e.get("started"):
            rng = e.get("mean_range_deg")
            err = e.get("neutral_error_deg")
    return rng, err


def _started(started_at: float | None, duration_s: float) -> float:
    """The session's wall-clock start: given, or now minus its length."""
    return started_at if started_at is not None else time.time() - duration_s


def record_live(kind: str, summary: dict, table: dict[str, np.ndarray], profile: str | None,
                started_at: float | None = None, routine: dict | None = None) -> int | None:
    """A live-loop session (``live``, ``calibrate``, live ``routine``): numbers from its per-frame table.

    For ``calibrate`` the neutral is the one saved (``summary["profile"]``), or none if it failed.
    """
    a = _table_arrays(table) if len(table["time_s"]) else None
    neutral = summary.get("baseline_deg")
    if kind == "calibrate":
        prof = summary.get("profile") or {}
        neutral = prof.get("baseline_deg")
        if a is not None and neutral is not None:
            # the states shown while calibrating used the band from before; judge the session
            # against the neutral it set
            half = float(prof.get("band_half_width_deg") or summary.get("band_half_width_deg") or 5.0)
            a["in_band"] = np.abs(a["tilt"] - float(neutral)) <= half
    side_on_s, in_band_s = time_stats(a["t"], a["side_on"], a["in_band"]) if a else (0.0, 0.0)
    dur = float(summary.get("duration_s") or 0.0)
    rec = SessionRecord(kind=kind, started_at=_started(started_at, dur), duration_s=dur, profile=profile,
                        source=str(summary.get("source")), neutral_deg=neutral,
                        band_half_width_deg=summary.get("band_half_width_deg"),
                        range_deg=tilt_range(a["tilt"]) if a else None, side_on_s=side_on_s, in_band_s=in_band_s)
    if routine is not None:
        rng, err = routine_numbers(routine)
        rec.exercises = exercise_records(routine.get("exercises", []))
        rec.range_deg = rng if rng is not None else rec.range_deg
        rec.find_neutral_error_deg = err
    return history.record_session(rec)


def record_routine_clip(summary: dict, profile: str | None, started_at: float | None = None) -> int | None:
    """``routine --source CLIP --no-window``: the summary of `routine.run_on_clip`."""
    routine = summary["routine"]
    rng, err = routine_numbers(routine)
    dur, side_on_s, _ = _clip_numbers(summary)
    rec = SessionRecord(kind="routine", started_at=_started(started_at, dur), duration_s=dur,
                        profile=profile, source=summary.get("clip"), neutral_deg=summary.get("baseline_deg"),
                        band_half_width_deg=summary.get("band_half_width_deg"), range_deg=rng,
                        side_on_s=side_on_s, in_band_s=routine.get("time_in_neutral_band_s"),
                        find_neutral_error_deg=err, exercises=exercise_records(routine.get("exercises", [])))
    return history.record_session(rec)


def _clip_numbers(s: dict) -> tuple[float, float, float | None]:
    """(duration, side-on seconds, in-band seconds) from an analyze summary or batch row."""
    dur = float(s.get("duration_s") or 0.0)
    side = dur * float(s.get("side_on_fraction") or 0.0)
    pn = s.get("pct_neutral")
    inb = side * float(pn) / 100.0 if pn not in (None, "") and np.isfinite(float(pn)) else None
    return dur, side, inb


def record_analysis(summary: dict, profile: str, started_at: float | None = None) -> int | None:
    """``analyze CLIP --profile NAME``."""
    dur, side, inb = _clip_numbers(summary)
    started_at = _started(started_at, dur)
    p10, p90 = summary.get("tilt_p10_deg"), summary.get("tilt_p90_deg")
    rng = float(p90) - float(p10) if p10 is not None and p90 is not None else None
    return history.record_session(SessionRecord(
        kind="analyze", started_at=started_at, duration_s=dur, profile=profile, source=summary.get("clip"),
        neutral_deg=summary.get("baseline_deg"), band_half_width_deg=summary.get("band_half_width_deg"),
        range_deg=rng, side_on_s=side, in_band_s=inb))


def record_batch(rows: Sequence[dict], profile: str, started_at: float | None = None) -> int | None:
    """``batch ... --profile NAME``: one session for the whole batch (clip time summed)."""
    nums = [_clip_numbers(r) for r in rows if r.get("status") == "ok"]
    dur = float(sum(n[0] for n in nums))
    side = float(sum(n[1] for n in nums))
    inb = float(sum(n[2] for n in nums if n[2] is not None))
    base = next((r.get("baseline_deg") for r in rows if r.get("baseline_deg") not in (None, "")), None)
    half = next((r.get("band_half_width_deg") for r in rows if r.get("band_half_width_deg") not in (None, "")), None)
    started_at = started_at if started_at is not None else time.time()
    return history.record_session(SessionRecord(
        kind="batch", started_at=started_at, duration_s=dur, profile=profile, source=f"{len(rows)} clips",
        neutral_deg=base, band_half_width_deg=half, side_on_s=side, in_band_s=inb))


def now() -> float:
    """Wall-clock start time of a session (unix seconds)."""
    return time.time()
