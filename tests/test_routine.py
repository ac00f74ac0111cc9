"""The guided routine on real and rendered clips."""
import json
import os
import subprocess
import sys
from pathlib import Path


from pelvis_tilt.routine import RoutineRunner, frame_signals

REPO = Path(__file__).resolve().parents[1]


def test_walking_check_on_real_clip_with_second_person(demo_result):
    r = demo_result
    runner = RoutineRunner(["walking"])
    for s in frame_signals(r.frames.t, r.frames.lm, r.est.measures, r.est.tilt_smooth, r.band.baseline,
                           r.frames.detected, smooth_sigma=3.0):
        runner.update(s)
    w = runner.summary()["exercises"][0]
    # The walker takes ~10 steps across the view (about 100 steps/min), leaning slightly back.
    assert 3 <= w["strides"] <= 6 and 8 <= w["steps"] <= 12
    assert 80 <= w["cadence_steps_per_min"] <= 130
    lean_mean, lean_sd = w["trunk_lean_deg_mean_sd"]
    head_mean, _ = w["head_fwd_deg_mean_sd"]
    assert -20 < lean_mean < 20 and lean_sd < 8
    assert 0 < head_mean < 45
    assert w["pelvis_leads_fraction"] is not None


def test_routine_cli_on_a_clip_writes_summary_and_plot(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "pelvis_tilt", "routine", "--source",
                        str(REPO / "sample_videos" / "pelvic_isolations.mp4"), "--no-window", "--exercise",
                        "isolations", "--baseline-first", "0.2", "--out", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "pelvic_isolations.routine.json").read_text())
    iso = s["routine"]["exercises"][0]
    assert iso["name"] == "isolations_front_back" and iso["reps"] >= 3
    assert (tmp_path / "pelvic_isolations.routine.png").stat().st_size > 10_000
    assert "Front-to-back isolations" in r.stdout


def test_a_profile_with_a_range_makes_isolation_reps_speak_in_it(tmp_path, monkeypatch):
    """`routine --profile NAME`: a profile from `calibrate --range` reaches the isolations, whose
    reps then say how far into the user's own range they went (forward and tuck shares
    that add back up to each rep's range in degrees)."""
    import csv

    from pelvis_tilt.profiles import Profile, save_profile

    env = dict(os.environ, PYTHONPATH=str(REPO), PELVIS_TILT_CONFIG=str(tmp_path / "cfg"))
    clip = REPO / "sample_videos" / "pelvic_isolations.mp4"
    with open(clip.with_suffix(".truth.csv")) as fh:
        neutral = float(next(csv.DictReader(fh))["tilt_true_deg"])   # the clip starts at neutral
    monkeypatch.setenv("PELVIS_TILT_CONFIG", env["PELVIS_TILT_CONFIG"])
    save_profile(Profile("ranged", baseline_deg=neutral, tilt_estimator="outline_v3",
                         range_forward_deg=16.0, range_tuck_deg=12.0))
    r = subprocess.run([sys.executable, "-m", "pelvis_tilt", "routine", "--source", str(clip), "--no-window",
                        "--exercise", "isolations", "--profile", "ranged", "--out", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    iso = json.loads((tmp_path / "pelvic_isolations.routine.json").read_text())["routine"]["exercises"][0]
    assert iso["reps"] >= 3 and len(iso["reach_pct"]) == iso["reps"]
    for (fwd, tuck), deg in zip(iso["reach_pct"], iso["ranges_deg"]):
        assert fwd > 0 and tuck > 0
        assert abs(fwd / 100 * 16.0 + tuck / 100 * 12.0 - deg) < 0.2   # hi - lo, each side in its own range
    assert "mean_reach_forward_pct=" in r.stdout


def test_unknown_exercise_is_a_clear_error(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "pelvis_tilt", "routine", "--source",
                        str(REPO / "sample_videos" / "neutral_stance.mp4"), "--no-window", "--exercise", "jumping"],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 1 and "unknown exercise" in r.stderr and "Traceback" not in r.stderr
