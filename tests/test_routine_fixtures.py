"""Routine detectors end to end on rendered clips with known truth (tests/fixtures/routine).

Each clip runs through the whole pipeline from pixels: MediaPipe pose, the tilt
estimator, the routine signals and the detector.  Truth comes from
`expected.json`, written by `python -m calibration.make_routine_fixtures`.
"""
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from pelvis_tilt import exercises as ex
from pelvis_tilt.analyze import analyze_clip
from pelvis_tilt.routine import frame_signals

FIX = Path(__file__).resolve().parent / "fixtures" / "routine"
EXPECTED = json.loads((FIX / "expected.json").read_text())


@lru_cache(maxsize=None)
def signals_of(clip: str, calib_s: float = 0.9):
    """Frame signals with the neutral taken from the clip's still start (as a calibration)."""
    r = analyze_clip(FIX / f"{clip}.mp4", None, annotate=False, plot=False)
    first = r.est.tilt_smooth[r.frames.t <= r.frames.t[0] + calib_s]
    # lying down (pelvic lifts) no start frame is read: no neutral, and no All-NaN warning
    base = float(np.nanmedian(first)) if np.isfinite(first).any() else float("nan")
    return frame_signals(r.frames.t, r.frames.lm, r.est.measures, r.est.tilt_smooth, base, r.frames.detected,
                         smooth_sigma=1.2)


def run(det, clip, calib_s=0.9):
    for s in signals_of(clip, calib_s):
        det.update(s)
    return det.result()


@pytest.mark.parametrize("clip", ["iso_6", "iso_8", "iso_12"])
def test_isolation_reps_counted_exactly(clip):
    r = run(ex.Isolations(target=0), clip)
    assert r["reps"] == EXPECTED[clip]["reps"]


def test_find_neutral_scored_within_2_deg_of_truth():
    r = run(ex.Isolations(target=2, find_neutral=True), "find_neutral", calib_s=1.9)
    assert r["reps"] == 2
    assert abs(r["neutral_error_deg"] - EXPECTED["find_neutral"]["neutral_error_deg"]) < 2.0


def test_plie_tuck_kept_and_lost_told_apart():
    kept = run(ex.PlieTuck(), "plie_kept")
    lost = run(ex.PlieTuck(), "plie_lost")
    assert kept["missed"] == [] and lost["missed"] == []
    assert kept["tuck_kept"] is True and lost["tuck_kept"] is False
    assert "lost when the knees straightened" in lost["message"]
    assert kept["heels_lifted"] is False and lost["heels_lifted"] is False


def test_stretch_hold_timed_through_a_pose_loss():
    r = run(ex.stretch_hold(target_s=60), "stretch_hold")
    assert abs(r["held_s"] - EXPECTED["stretch_hold"]["hold_s"]) <= 0.5
    assert len(r["segments_s"]) == EXPECTED["stretch_hold"].get("holds", 2)


def test_pelvic_lifts_and_holds():
    r = run(ex.PelvicLift(3), "pelvic_lift")
    assert r["reps"] == EXPECTED["pelvic_lift"]["reps"]
    assert all(abs(h - EXPECTED["pelvic_lift"]["hold_s_each"]) <= 0.5 for h in r["holds_s"])


def test_child_pose_timed():
    r = run(ex.child_pose_hold(target_s=60), "child_pose")
    assert abs(r["held_s"] - EXPECTED["child_pose"]["child_pose_s"]) <= 0.6
