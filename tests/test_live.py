"""The live loop, headless and in a real window under Xvfb, on sample clips fed as the camera."""
import csv
import functools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from pelvis_tilt.live import LiveSession
from pelvis_tilt.sources import VideoSource
from tests.xserver import start_xvfb

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_videos"



@functools.lru_cache(maxsize=1)
def estimator_neutral() -> float:
    """The neutral the estimator reads on the still neutral sample clip (what calibrating on it
    records): the median of each frame read alone, pulled toward the population
    (`TiltModel.neutral_tilt`)."""
    from pelvis_tilt import analyze_clip
    from pelvis_tilt.settings import resolve

    settings = resolve(reference_s=0.0)
    r = analyze_clip(SAMPLES / "neutral_stance.mp4", None, settings, annotate=False, plot=False, table=False)
    return float(settings.estimator().neutral_tilt(float(np.nanmedian(r.est.tilt_raw))))

def cli(*args, env_extra=None, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(REPO), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "pelvis_tilt", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture()
def config(tmp_path):
    return {"PELVIS_TILT_CONFIG": str(tmp_path / "config")}


def truth(stem):
    with open(SAMPLES / f"{stem}.truth.csv") as fh:
        return np.array([float(r["tilt_true_deg"]) for r in csv.DictReader(fh)])


def read_rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_calibrate_then_live_headless_cues_follow_truth(tmp_path, config):
    # 1. calibrate on the neutral-stance clip fed as the camera
    r = cli("calibrate", "--source", SAMPLES / "neutral_stance.mp4", "--no-window", "--countdown", "0.5",
            "--hold", "2.5", "--profile", "tester", env_extra=config)
    assert r.returncode == 0, r.stderr + r.stdout
    prof = json.loads((Path(config["PELVIS_TILT_CONFIG"]) / "profiles" / "tester.json").read_text())
    assert prof["samples"] >= 40
    # Calibration records the neutral as the estimator reads this body (absolute readings
    # carry several degrees of per-person error, calibration/README.md): the ridge's median on
    # the clip pulled toward the population, and within that error of the truth.
    assert abs(prof["baseline_deg"] - estimator_neutral()) < 1.0
    assert abs(prof["baseline_deg"] - np.median(truth("neutral_stance"))) < 8.0
    # The samples' camera: 0.85 m high, 2.35 m away, aimed at half the body's 1.813 m
    # stature -> pitch atan((0.85 - 0.907) / 2.35) = -1.4 deg (calibration/make_samples.py).
    assert abs(prof["pitch_deg"] - (-1.4)) < 4.0
    assert abs(prof["roll_deg"]) < 4.0
    listed = cli("profiles", env_extra=config)
    assert "tester" in listed.stdout

    # 2. live, headless, with that profile on the clip that tips forward
    out = tmp_path / "rec" / "ant.mp4"
    r = cli("live", "--source", SAMPLES / "anterior_tilt.mp4", "--no-window", "--record", out,
            "--profile", "tester", env_extra=config)
    assert r.returncode == 0, r.stderr + r.stdout
    rows = read_rows(out.with_suffix(".frames.csv"))
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    cap = cv2.VideoCapture(str(out))
    n_video = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    assert n_video == len(rows) == summary["frames_processed"] == summary["frames_recorded"]
    assert summary["baseline_deg"] == pytest.approx(prof["baseline_deg"], abs=1e-3)

    tru = truth("anterior_tilt")
    cue = np.array([r["cue"] for r in rows])
    frames = np.array([int(r["frame"]) for r in rows])
    dev_true = tru[frames] - tru[0]
    # Where the truth is clearly neutral / clearly tipped (settled for 0.5 s), the cue must match.
    settled_neutral = frames[(dev_true < 1.0)][:-15]
    settled_tipped = frames[(dev_true > 10.0)][15:]
    assert np.all(cue[np.isin(frames, settled_neutral)] == "Good")
    assert np.all(cue[np.isin(frames, settled_tipped)] == "Tuck under")
    # No flicker: at most one cue change per second of clip.
    t = np.array([float(r["time_s"]) for r in rows])
    changes = np.count_nonzero(cue[1:] != cue[:-1])
    assert changes <= max(1, t[-1] - t[0])


@pytest.mark.parametrize("clip, pitch_true", [("camera_down", 10.0), ("camera_up", -10.0)])
def test_calibration_reads_camera_pitch(tmp_path, monkeypatch, clip, pitch_true):
    """A laptop camera at hip height with its lid tipped (tests/fixtures/README.md): the
    profile's pitch is within 4 deg of the truth and the neutral is unaffected."""
    monkeypatch.setenv("PELVIS_TILT_CONFIG", str(tmp_path))
    fixture = REPO / "tests" / "fixtures" / f"{clip}.mp4"
    sess = LiveSession(str(fixture), window=False, realtime=False, calibrate_only=True, countdown_s=0.3,
                       hold_s=1.5, profile_name=clip)
    summary = sess.run()
    assert summary["ended"] == "calibrated", summary["messages"]
    prof = sess.profile
    assert abs(prof.pitch_deg - pitch_true) < 4.0
    # the same body seen by a level camera (neutral_stance.mp4): a pitched camera leaves its neutral alone
    assert abs(prof.baseline_deg - estimator_neutral()) < 1.5
    assert json.loads((tmp_path / "profiles" / f"{clip}.json").read_text())["pitch_deg"] == pytest.approx(prof.pitch_deg, abs=1e-3)


def test_camera_that_does_not_open():
    r = cli("live", "--camera", "9", "--no-window")
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == ["pelvis-tilt: error: camera 9 could not be opened (is it connected and free?)"]


class _UnpluggedCamera(VideoSource):
    """A 'camera' (a sample clip read as one) that stops delivering after 25 frames."""

    def __init__(self, clip):
        super().__init__(str(clip))
        self.is_camera = True

    def open(self):
        if self.cap is None:
            self.cap = cv2.VideoCapture(str(self.spec))
            from pelvis_tilt.sources import SourceInfo

            self.info = SourceInfo("fake-camera", 640, 480, 30.0, -1, 0)
        return self

    def __iter__(self):
        for k, (i, t, f) in enumerate(super().__iter__()):
            if k == 25:
                return  # unplugged
            yield i, t, f


def test_camera_unplugged_mid_session_keeps_summary_and_recording(tmp_path):
    out = tmp_path / "unplug.mp4"
    sess = LiveSession(_UnpluggedCamera(SAMPLES / "neutral_stance.mp4"), window=False, record=out, realtime=False)
    summary = sess.run()
    assert "camera stopped" in summary["ended"]
    assert summary["frames_processed"] == 25 == len(sess.table()["frame"])
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 25


def _live_window_until_cue(env: dict, log: Path) -> tuple[subprocess.Popen, np.ndarray | None, bool]:
    """Start live on the anterior sample in the display of ``env``; watch the screen until the
    red "Tuck under" cue shows.  (app, the screenshot with the cue or None, anything drawn)."""
    from tests.xwd import read_xwd

    # the body's neutral as calibration would record it (the estimator's own reading)
    with open(log, "w") as out:   # the app keeps its own copy of the descriptor
        app = subprocess.Popen([sys.executable, "-m", "pelvis_tilt", "live", "--source",
                                str(SAMPLES / "anterior_tilt.mp4"), "--fps", "--no-realtime",
                                "--baseline", f"{estimator_neutral():.2f}"],
                               env=env, stdout=out, stderr=subprocess.PIPE, text=True)
    # Wait for the window, then until the clip has tipped forward (~2.5 s of video).
    deadline = time.time() + 120
    wid = ""
    while time.time() < deadline and not wid:
        wid = subprocess.run(["xdotool", "search", "--name", "pelvis-tilt"], env=env,
                             capture_output=True, text=True).stdout.strip()
        time.sleep(0.3)
    assert wid, "the live window never appeared"
    painted, shown = False, time.time()
    while time.time() < deadline and app.poll() is None:
        shot = read_xwd(subprocess.run(["xwd", "-root", "-silent"], env=env, capture_output=True).stdout)
        painted = painted or bool(shot.any())
        if not painted and time.time() - shown > 30:   # the 4 s clip is long over: nothing will be drawn
            break
        red = (shot[..., 2] > 200) & (shot[..., 1] < 80) & (shot[..., 0] < 80)  # "Tuck under" text (BGR)
        if red.sum() > 300:
            return app, shot, True
        time.sleep(0.3)
    return app, None, painted


@pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xwd") and shutil.which("xdotool")),
                    reason="needs Xvfb, xwd and xdotool (Debian: xvfb x11-apps xdotool)")
def test_real_window_under_xvfb(tmp_path):
    xvfb, display = start_xvfb("1024x768x24", 90)
    env = dict(os.environ, DISPLAY=display, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="xcb")
    try:
        log = tmp_path / "app.out"
        # Under heavy load (CI, 2 cores, tests side by side) a window on this bare Xvfb (no window
        # manager) was seen once in ~10 loaded runs to stay unpainted: the whole screen black for
        # two minutes while the app ran to the end of the clip.  Not root-caused; the app is started
        # again once if, and only if, nothing at all was ever drawn.
        for _attempt in range(2):
            app, best, painted = _live_window_until_cue(env, log)
            if best is not None or painted:
                break
            app.kill()
            app.wait()
        assert best is not None, ("no 'Tuck under' cue seen in the window", app.poll(), log.read_text()[-500:])
        cv2.imwrite(str(tmp_path / "live_window.png"), best)
        if os.environ.get("PELVIS_TILT_SCREENSHOT"):
            shutil.copy(tmp_path / "live_window.png", os.environ["PELVIS_TILT_SCREENSHOT"])
        # The picture is there too: the green neutral band of the gauge.
        green = (best[..., 1] > 150) & (best[..., 2] < 100) & (best[..., 0] < 100)
        assert green.sum() > 500
        # At the end of the clip the window stays up (last picture and "press q") until q.
        t_end = time.time() + 60
        while time.time() < t_end and "press q to close" not in log.read_text():
            time.sleep(0.5)
        time.sleep(1.0)
        assert app.poll() is None, "the window closed by itself at the end of the clip"
        subprocess.run(["xdotool", "search", "--name", "pelvis-tilt", "windowfocus", "--sync", "key", "q"],
                       env=env, capture_output=True)
        _, err = app.communicate(timeout=60)
        assert app.returncode == 0, err
        assert "End of clip: press q to close the window" in log.read_text()
        assert "ended: end of clip" in log.read_text()
    finally:
        if "app" in locals() and app.poll() is None:
            app.kill()
        xvfb.terminate()
        xvfb.wait()
