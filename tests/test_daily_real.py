"""Daily practice on the real sample clips with real MediaPipe: calibrate, live, routine and watch
under one profile land in the history with the right numbers; watch nudges on time."""
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_videos"
AFTER, QUIET = 2.0, 5.0
BAND = 5.0


def cli(*args, env, timeout=600):
    e = dict(os.environ, PYTHONPATH=str(REPO), **env)
    return subprocess.run([sys.executable, "-m", "pelvis_tilt", *map(str, args)], capture_output=True, text=True,
                          env=e, timeout=timeout)


def truth(stem):
    with open(SAMPLES / f"{stem}.truth.csv") as fh:
        return np.array([float(r["tilt_true_deg"]) for r in csv.DictReader(fh)])


def long_tip_clip(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """anterior_tilt.mp4 stretched into 23 s: tip and hold to 12 s, neutral 12-16 s, tip again and hold to 23 s.
    Returns (time_s, true tilt) of every frame written."""
    cap = cv2.VideoCapture(str(SAMPLES / "anterior_tilt.mp4"))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    last = len(frames) - 1
    order = list(range(len(frames))) + [last] * 240 + [0] * 120 + list(range(len(frames))) + [last] * 90
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    for i in order:
        out.write(frames[i])
    out.release()
    return np.arange(len(order)) / 30.0, truth("anterior_tilt")[order]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One profile, four real headless sessions, in order."""
    tmp = tmp_path_factory.mktemp("daily")
    env = {"PELVIS_TILT_CONFIG": str(tmp / "config")}
    out = {"env": env, "tmp": tmp}
    r = cli("calibrate", "--source", SAMPLES / "neutral_stance.mp4", "--no-window", "--countdown", "0.5", "--hold", "2.5",
            "--profile", "pat", env=env)
    assert r.returncode == 0, r.stderr
    out["profile"] = json.loads((tmp / "config" / "profiles" / "pat.json").read_text())
    r = cli("live", "--source", SAMPLES / "anterior_tilt.mp4", "--no-window", "--profile", "pat",
            "--record", tmp / "live.mp4", env=env)
    assert r.returncode == 0, r.stderr
    r = cli("routine", "--source", SAMPLES / "pelvic_isolations.mp4", "--no-window", "--exercise", "isolations",
            "--reps", "3", "--profile", "pat", "--out", tmp / "routine", env=env)
    assert r.returncode == 0, r.stderr
    out["routine"] = json.loads((tmp / "routine" / "pelvic_isolations.routine.json").read_text())
    clip = tmp / "long_tip.mp4"
    out["clip_t"], out["clip_truth"] = long_tip_clip(clip)
    # A stand-in desktop notifier on PATH records what it is asked to show.
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    notifier = bin_dir / "notify-send"
    notifier.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp / 'notified.txt'}\n")
    notifier.chmod(0o755)
    r = cli("watch", "--source", clip, "--no-window", "--profile", "pat", "--nudge-after", AFTER, "--quiet", QUIET,
            env={**env, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    assert r.returncode == 0, r.stderr
    out["watch_stdout"] = r.stdout
    r = cli("history", "--profile", "pat", "--json", env=env)
    assert r.returncode == 0, r.stderr
    out["history"] = json.loads(r.stdout)
    return out


def test_history_lists_the_real_sessions_with_their_numbers(runs):
    h = runs["history"]
    assert [s["kind"] for s in h] == ["calibrate", "live", "routine", "watch"]
    assert all(s["profile"] == "pat" for s in h)
    cal, live, rout, watch = h
    prof = runs["profile"]
    # calibrate: the neutral saved in the profile; the clip is all side-on and neutral
    assert cal["neutral_deg"] == pytest.approx(prof["baseline_deg"], abs=1e-3)  # the JSON keeps 4 decimals
    from tests.test_live import estimator_neutral   # the neutral as the estimator reads this body

    assert abs(cal["neutral_deg"] - estimator_neutral()) < 1.0
    assert cal["in_band_s"] == pytest.approx(cal["side_on_s"], abs=0.1) and cal["side_on_s"] > 2.5
    # live: times from its own per-frame table (same rule: time to the next frame, capped)
    with open(runs["tmp"] / "live.frames.csv") as fh:
        rows = list(csv.DictReader(fh))
    t = np.array([float(r["time_s"]) for r in rows])
    w = np.clip(np.append(np.diff(t), 0), 0, 0.5)
    side = np.array([r["view"] in ("side_left", "side_right") for r in rows])
    neutral = np.array([r["state"] == "neutral" for r in rows])
    assert live["neutral_deg"] == pytest.approx(prof["baseline_deg"], abs=1e-6)
    assert live["side_on_s"] == pytest.approx(w[side].sum(), abs=0.01)  # the CSV keeps ms
    assert live["in_band_s"] == pytest.approx(w[side & neutral].sum(), abs=0.01)
    # the truth tips 12 deg from 1 s to 2 s and holds: roughly half the clip is in band
    # a session lasts from its first frame to the end of its last (the summary's one definition)
    assert 1.0 < live["in_band_s"] < 2.8 and live["duration_s"] == pytest.approx(t[-1] - t[0] + np.median(np.diff(t)), abs=0.01)
    assert 5.0 < live["range_deg"] < 15.0
    # routine: the isolations' reps and mean range, as the routine's own summary reports them
    iso = next(e for e in runs["routine"]["routine"]["exercises"] if e["name"] == "isolations_front_back")
    assert rout["exercises"] == [{"name": "isolations_front_back", "started": True, "completed": iso["completed"],
                                  "reps": iso["reps"], "hold_s": None}]
    assert iso["reps"] == 3 and rout["range_deg"] == pytest.approx(iso["mean_range_deg"], abs=1e-3)  # JSON: 4 dp
    # +-10 deg sinusoid: 20 deg.  Read against the profile's neutral outline this body reads
    # ~1.17x (22.9 deg; the ridge alone read 0.9x); held-out bodies' gains spread about +-30 %
    true_range = np.ptp(truth("pelvic_isolations"))
    assert 0.7 * true_range < rout["range_deg"] < 1.3 * true_range
    assert rout["in_band_s"] == pytest.approx(runs["routine"]["routine"]["time_in_neutral_band_s"], abs=1e-3)
    assert rout["duration_s"] == pytest.approx(179 / 30, abs=0.05)
    # watch: its nudges, side-on time ~ the whole (side-on) clip, some time out of band
    assert watch["nudges"] == len(watch["nudge_events"]) == 3
    assert watch["side_on_s"] == pytest.approx(watch["duration_s"], abs=0.6) and watch["duration_s"] > 22
    assert 3.0 < watch["in_band_s"] < 0.5 * watch["side_on_s"]


def test_watch_nudges_after_the_delay_then_stays_quiet(runs):
    t, tru = runs["clip_t"], runs["clip_truth"]
    dev = tru - tru[0]
    # true onsets of the two forward tips: the tilt leaves the band (5 deg from neutral)
    rising = np.flatnonzero((dev[1:] > BAND) & (dev[:-1] <= BAND)) + 1
    assert len(rising) == 2
    on1, on2 = t[rising]
    events = runs["history"][3]["nudge_events"]
    n = [e["at_s"] for e in events]
    print(f"true tip onsets {on1:.2f} s, {on2:.2f} s\n{runs['watch_stdout']}")
    printed = [float(x) for x in re.findall(r"nudge at\s+([\d.]+) s", runs["watch_stdout"])]
    assert printed == pytest.approx(n, abs=0.05)
    assert [e["reason"] for e in events] == ["tip"] * 3
    # 1st: the tip must last AFTER s; detection (smoothing, dwell, sparse sampling) may add up to ~1.5 s
    assert AFTER <= n[0] - on1 <= AFTER + 1.5
    # 2nd: the tip is held, so exactly one quiet period later (to the sampling step, 0.2 s)
    assert QUIET <= n[1] - n[0] <= QUIET + 0.25
    # none while neutral (12-16 s); 3rd: AFTER s into the second tip
    assert AFTER <= n[2] - on2 <= AFTER + 1.5
    # each nudge rang the bell and went to the desktop notifier
    assert runs["watch_stdout"].count("\a") == 3
    notified = (runs["tmp"] / "notified.txt").read_text().splitlines()
    assert len(notified) == 3 and all("Tuck under" in x for x in notified)
    # the watch analysed far fewer frames than the clip has (reduced sampling)
    frames = int(re.search(r"(\d+) frames analysed", runs["watch_stdout"]).group(1))
    assert frames < len(t) / 4


def test_watch_stopped_by_sigterm_still_saves_the_day(tmp_path):
    import signal
    import time

    env = dict(os.environ, PYTHONPATH=str(REPO), PELVIS_TILT_CONFIG=str(tmp_path / "config"))
    p = subprocess.Popen([sys.executable, "-m", "pelvis_tilt", "watch", "--source", str(SAMPLES / "pelvic_isolations.mp4"),
                          "--no-window", "--realtime", "--no-notify"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    time.sleep(4.0)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "watch ended: stopped" in out and "this session: side-on" in out and "Traceback" not in err
    r = cli("history", "--json", env={"PELVIS_TILT_CONFIG": str(tmp_path / "config")})
    assert [s["kind"] for s in json.loads(r.stdout)] == ["watch"]


def test_analyze_and_batch_with_a_profile_are_kept(runs, tmp_path):
    import shutil

    cfg = tmp_path / "config"
    (cfg / "profiles").mkdir(parents=True)
    shutil.copy(Path(runs["env"]["PELVIS_TILT_CONFIG"]) / "profiles" / "pat.json", cfg / "profiles")
    env = {"PELVIS_TILT_CONFIG": str(cfg)}
    clip = SAMPLES / "anterior_tilt.mp4"
    r = cli("analyze", clip, "--profile", "pat", "--out", tmp_path / "a", "--no-video", "--no-plot", "--json", env=env)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    r = cli("batch", clip, "--profile", "pat", "--out", tmp_path / "b", "--workers", "1", "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    h = json.loads(cli("history", "--json", env=env).stdout)
    assert [x["kind"] for x in h] == ["analyze", "batch"]
    for x in h:
        assert x["profile"] == "pat" and x["neutral_deg"] == pytest.approx(runs["profile"]["baseline_deg"], abs=1e-6)
        assert x["duration_s"] == pytest.approx(s["duration_s"], abs=1e-3)
        assert x["side_on_s"] == pytest.approx(s["duration_s"] * s["side_on_fraction"], abs=1e-3)
        assert x["in_band_s"] == pytest.approx(x["side_on_s"] * s["pct_neutral"] / 100, abs=0.01)


def test_watch_nudges_a_whole_body_lean(tmp_path):
    """neutral_stance.mp4's still body, upright for 3 s, then the picture rotated 22 deg about the feet so the
    whole body leans forward (trunk about 22 deg from vertical).  The pelvis leans with it, so the
    estimator reads it tipped forward too, and "tip" comes first in a nudge's reasons (the slump rule
    on its own: tests/test_nudges.py)."""
    cap = cv2.VideoCapture(str(SAMPLES / "neutral_stance.mp4"))
    ok, f = cap.read()
    cap.release()
    h, w = f.shape[:2]
    # facing image-right: a clockwise turn (negative angle in OpenCV) about the feet leans the body forward
    lean = cv2.warpAffine(f, cv2.getRotationMatrix2D((w / 2, h * 0.92), -22.0, 1.0), (w, h),
                          borderMode=cv2.BORDER_REPLICATE)
    clip = tmp_path / "slump.mp4"
    vw = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    for img in [f] * 90 + [lean] * 150:
        vw.write(img)
    vw.release()
    env = {"PELVIS_TILT_CONFIG": str(tmp_path / "config")}
    r = cli("watch", "--source", clip, "--no-window", "--no-notify", "--nudge-after", AFTER, "--quiet", "100", env=env)
    assert r.returncode == 0, r.stderr
    ev = json.loads(cli("history", "--json", env=env).stdout)[0]["nudge_events"]
    assert [e["reason"] for e in ev] in (["slump"], ["tip"])
    assert AFTER <= ev[0]["at_s"] - 3.0 <= AFTER + 1.0
