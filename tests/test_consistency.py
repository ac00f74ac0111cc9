"""Issue 11: every output of a run tells the same story.

Each test here but `test_routine_on_a_clip_runs_mediapipe_once` (which held before
too) was first run against the code before the issue was fixed and failed there;
they check what a user sees: the files each command writes, the pictures drawn
and the numbers in the summaries.
"""
import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_videos"
TREADMILL = Path(os.environ.get("PELVIS_TILT_REAL_MEDIA", REPO.parent / "shared" / "real_media")) / \
    "gaitlab_male_side_treadmill.mp4"
COMMON_COLUMNS = ["frame", "time_s", "detected", "people", "view", "view_conf", "side", "tilt_deg", "tilt_smooth_deg",
                  "tilt_from_neutral_deg", "tilt_from_neutral_sd_deg", "state", "confidence", "trunk_lean_deg", "hip_flex_deg", "knee_flex_deg",
                  "head_fwd_deg"]
POSTURE = ("anterior", "neutral", "posterior")
DWELL_S = 0.4


def cli(*args, env=None, timeout=900):
    e = dict(os.environ, PYTHONPATH=str(REPO), GLOG_minloglevel="2", **(env or {}))
    return subprocess.run([sys.executable, "-m", "pelvis_tilt", *map(str, args)], capture_output=True, text=True,
                          env=e, timeout=timeout, cwd=REPO)


def read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([r[k] for r in rows]) for k in (rows[0] if rows else {})}


def num(col):
    return np.array([float(v) if v != "" else np.nan for v in col])


# ----------------------------------------------------------------------------- what was drawn

# BGR colour of the cue text per state (cues.COLOURS), grouped where the colours coincide
CUE_COLOURS = {"anterior": (40, 40, 235), "neutral": (60, 200, 60), "posterior": (235, 140, 30),
               "frontal/out_of_frame": (0, 200, 255), "unclear": (200, 200, 200), "absent": (160, 160, 160)}


def drawn_states(video: Path) -> list[str]:
    """The cue each frame of an annotated video shows, read from the colour of the big cue text
    at the top left of the banner."""
    cap = cv2.VideoCapture(str(video))
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        s = img.shape[1] / 640.0
        roi = img[int(10 * s): int(46 * s), int(12 * s): img.shape[1] // 2].reshape(-1, 3).astype(float)
        text = roi[roi.max(axis=1) > 120]          # the letters, not the dark banner
        c = np.median(text, axis=0)
        out.append(min(CUE_COLOURS, key=lambda k: np.sum((np.array(CUE_COLOURS[k]) - c) ** 2)))
    return out


def as_drawn(state: str) -> str:
    return "frontal/out_of_frame" if state in ("frontal", "out_of_frame") else state


def agreement(video: Path, states) -> float:
    drawn = drawn_states(video)
    assert len(drawn) == len(states)
    return float(np.mean([d == as_drawn(s) for d, s in zip(drawn, states)]))


def band_rows(png: Path) -> tuple[int, int]:
    """Top and bottom pixel rows of the shaded neutral band of a tilt plot (its upper axes)."""
    img = cv2.imread(str(png)).astype(int)
    b, g, r = img[..., 0], img[..., 1], img[..., 2]
    shade = (g - r > 8) & (g - b > 8) & (g > 200)       # the pale green band (#5cb85c, translucent)
    # over a tenth of the width: where an exercise's shading overlaps the band it is another colour
    rows = np.flatnonzero(shade.sum(axis=1) > 0.1 * img.shape[1])
    rows = rows[rows < img.shape[0] * 0.75]
    return int(rows.min()), int(rows.max())


def line_pixels(png: Path) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the smoothed-tilt line (#1f4e79) of a plot."""
    img = cv2.imread(str(png)).astype(int)
    hit = (np.abs(img - np.array([121, 78, 31])).max(axis=2) < 30)
    return np.nonzero(hit)


# ----------------------------------------------------------------------------- routine

@pytest.fixture(scope="module")
def demo_routines(demo_clip, tmp_path_factory):
    """The walking check on the Sports2D demo, headless, without and with --record."""
    out = tmp_path_factory.mktemp("routine")
    plain = cli("routine", "--source", demo_clip, "--no-window", "--exercise", "walking", "--out", out / "plain")
    rec = cli("routine", "--source", demo_clip, "--no-window", "--exercise", "walking", "--out", out / "rec",
              "--record", out / "rec" / "walk.mp4")
    assert plain.returncode == 0 and rec.returncode == 0, plain.stderr + rec.stderr
    return out, plain, rec


def test_routine_same_results_with_and_without_record(demo_routines):
    out, plain, rec = demo_routines
    a, b = (json.loads(next((out / d).glob("*.routine.json")).read_text()) for d in ("plain", "rec"))
    walk_a, walk_b = (next(e for e in s.get("routine", s)["exercises"] if e["name"] == "walking") for s in (a, b))
    assert walk_a == walk_b and walk_a["steps"] >= 8
    # the same per-frame table, written by both
    ta, tb = (read_csv(next((out / d).glob("*frames.csv"))) for d in ("plain", "rec"))
    assert list(ta) == list(tb) and np.array_equal(ta["state"], tb["state"])
    # the recording shows each frame's row: one frame per row, the cue of its state
    assert agreement(out / "rec" / "walk.mp4", tb["state"]) > 0.97


def test_routine_on_a_clip_runs_mediapipe_once(demo_clip, tmp_path, monkeypatch):
    """In-process: the pose stage runs once per frame, with --record too."""
    from pelvis_tilt import cli as cli_mod
    from pelvis_tilt.pose import PoseRunner

    calls = []
    step = PoseRunner._step
    monkeypatch.setattr(PoseRunner, "_step", lambda self, f, t, code: calls.append(t) or step(self, f, t, code))
    monkeypatch.setenv("PELVIS_TILT_NO_HISTORY", "1")
    code = cli_mod.main(["routine", "--source", str(demo_clip), "--no-window", "--exercise", "walking",
                         "--out", str(tmp_path), "--record", str(tmp_path / "walk.mp4")])
    assert code == 0
    assert len(calls) == 230 == len(set(calls))   # the clip's 230 frames, each inferred once


def test_routine_uses_the_band_and_profile_band(tmp_path):
    clip = SAMPLES / "pelvic_isolations.mp4"
    cfg = {"PELVIS_TILT_CONFIG": str(tmp_path / "cfg")}
    from pelvis_tilt.profiles import Profile

    prof = Profile("narrow", baseline_deg=6.0, band_half_width_deg=3.0)
    (tmp_path / "cfg" / "profiles").mkdir(parents=True)
    (tmp_path / "cfg" / "profiles" / "narrow.json").write_text(json.dumps(prof.__dict__))
    runs = {}
    for name, extra in (("b2", ["--band", "2"]), ("b8", ["--band", "8"]), ("prof", ["--profile", "narrow"])):
        r = cli("routine", "--source", clip, "--no-window", "--exercise", "isolations", "--baseline", "6",
                "--out", tmp_path / name, *extra, env=cfg)
        assert r.returncode == 0, r.stderr
        runs[name] = json.loads((tmp_path / name / "pelvic_isolations.routine.json").read_text())
    assert runs["b2"]["band_half_width_deg"] == 2.0 and runs["b8"]["band_half_width_deg"] == 8.0
    assert runs["prof"]["band_half_width_deg"] == 3.0 and runs["prof"]["baseline_deg"] == 6.0
    # time in the band grows with the band
    assert runs["b2"]["routine"]["time_in_neutral_band_s"] < runs["b8"]["routine"]["time_in_neutral_band_s"]
    # the plots shade that band: relative to the same swings, the +-8 band is far taller than +-2
    height = {}
    for name in ("b2", "b8"):
        png = tmp_path / name / "pelvic_isolations.routine.png"
        top, bottom = band_rows(png)
        rows, _ = line_pixels(png)
        height[name] = (bottom - top) / (np.percentile(rows, 99) - np.percentile(rows, 1))
    assert height["b8"] > 2.5 * height["b2"]


def test_routine_leaves_analyze_files_alone(tmp_path):
    clip = SAMPLES / "anterior_tilt.mp4"
    r = cli("analyze", clip, "--out", tmp_path, "--baseline", "4", "--no-video", "--no-plot")
    assert r.returncode == 0, r.stderr
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    r = cli("routine", "--source", clip, "--no-window", "--exercise", "isolations", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir() if p.name in before}
    assert after == before
    assert (tmp_path / "anterior_tilt.routine.json").is_file()


def test_walking_cadence_on_the_real_treadmill_runner():
    """Cadence measured from raw pixels, without a pose model: 168.9 +- 0.5 steps/min
    (real_media/gaitlab_male_side_treadmill.groundtruth.json)."""
    if not TREADMILL.is_file():
        pytest.skip(f"{TREADMILL} not available")
    truth = json.loads(TREADMILL.with_name("gaitlab_male_side_treadmill.groundtruth.json").read_text())
    from pelvis_tilt import analyze_clip, filters
    from pelvis_tilt.routine import RoutineRunner, frame_signals

    r = analyze_clip(TREADMILL, None, annotate=False, plot=False, table=False)
    f = r.frames
    runner = RoutineRunner(["walking"])
    for s in frame_signals(f.t, f.lm, r.est.measures, r.est.tilt_smooth, r.band.baseline, f.detected,
                           smooth_sigma=filters.sigma_frames(f.t, 0.08)):
        runner.update(s)
    walk = runner.summary()["exercises"][0]
    assert walk["steps"] >= 30
    assert abs(walk["cadence_steps_per_min"] / truth["cadence_spm"]["value"] - 1) < 0.01


# ----------------------------------------------------------------------------- batch

def test_batch_first_seconds_neutral_is_the_one_drawn_and_plotted(tmp_path):
    """--baseline-first with --video and --plots: the video's cues and the plot's band are
    those of the table and summary (the clip's own neutral), not the neutral known before."""
    clip = SAMPLES / "anterior_tilt.mp4"   # still neutral for 1 s, then tips forward 12 deg
    out = tmp_path / "b"
    r = cli("batch", clip, "--out", out, "--workers", "1", "--quiet", "--baseline-first", "1", "--band", "3",
            "--video", "--plots")
    assert r.returncode == 0, r.stderr
    d = next((out / "clips").iterdir())
    tab = read_csv(d / "anterior_tilt.frames.csv")
    summary = json.loads((d / "anterior_tilt.summary.json").read_text())
    assert summary["neutral"] == "first-1s" and "anterior" in set(tab["state"])
    assert agreement(d / "anterior_tilt.annotated.mp4", tab["state"]) > 0.97
    # the plot's band is around the first second's tilt: the line starts inside it
    top, bottom = band_rows(d / "anterior_tilt.tilt.png")
    rows, cols = line_pixels(d / "anterior_tilt.tilt.png")
    start = rows[cols < cols.min() + 0.15 * (cols.max() - cols.min())]
    assert top <= np.median(start) <= bottom


# ----------------------------------------------------------------------------- the cue and the picture

def test_demo_cues_follow_what_is_seen(demo_result):
    """Sports2D demo: nobody detected is the only "No one in view"; "Turn sideways" never outlasts
    the frontal view by more than the dwell (so not over the woman walking side-on at t = 2 s)."""
    tab = demo_result.table()
    t, state = num(tab["time_s"]), tab["state"]
    detected = tab["detected"].astype(bool)
    assert not np.any((state == "absent") & detected)
    frontal_seen = (tab["view"] == "frontal") & detected
    for k in np.flatnonzero(state == "frontal"):
        recent = (t <= t[k]) & (t >= t[k] - DWELL_S - 1 / 30)
        assert frontal_seen[recent].any(), f"'Turn sideways' at {t[k]:.2f} s with no frontal view for {DWELL_S} s"
    assert state[np.argmin(np.abs(t - 2.0))] != "frontal"


def test_demo_summary_is_the_state_column_and_one_person(demo_result):
    """The summary's shares are those of the state column; its numbers rest on the walker only
    (the man is left out: on the box, hips high in the picture, and side-on on the ground after
    she has walked out at the left edge, by frame ~200) and it says on how many frames."""
    s, est = demo_result.summary, demo_result.est
    tab = demo_result.table()
    hip_y = demo_result.frames.lm[:, [23, 24], 1].mean(axis=1)   # NaN where nobody was measured
    walker = (hip_y > 550) & (np.arange(len(hip_y)) >= 55) & (np.arange(len(hip_y)) < 205)
    used = np.isfinite(est.tilt_smooth) & est.measures.is_side_on() & demo_result.frames.detected
    assert s["basis"]["usable_frames"] == int((used & walker).sum()) > 30
    assert s["tilt_median_deg"] == pytest.approx(float(np.median(est.tilt_smooth[used & walker])), abs=1e-6)
    posture = np.isin(tab["state"], POSTURE) & walker
    t = num(tab["time_s"])
    w = np.append(np.diff(t), np.median(np.diff(t)))
    for name in POSTURE:
        share = 100 * w[posture & (tab["state"] == name)].sum() / w[posture].sum()
        assert s[f"pct_{name}"] == pytest.approx(share, abs=0.01)


def test_live_routine_cue_never_contradicts_the_gauge(tmp_path):
    """A live routine recording of isolations (docs/routine_step.png): a posture cue always points
    the way the drawn tilt lies from the neutral (within the hysteresis), and each recorded frame
    shows its table row's cue."""
    from pelvis_tilt import analyze_clip

    clip = SAMPLES / "pelvic_isolations.mp4"
    middle = float(np.nanmedian(analyze_clip(clip, None, annotate=False, plot=False, table=False).est.tilt_raw))
    out = tmp_path / "iso.mp4"
    # a 3 deg band: the isolations (about +-9 deg as read) then stay beyond it for longer than
    # the dwell on both sides, so both posture cues are drawn and checked
    hw, h = 3.0, 1.0
    r = cli("live", "--source", clip, "--no-window", "--record", out, "--baseline", f"{middle:.2f}", "--band", hw)
    assert r.returncode == 0, r.stderr
    tab = read_csv(tmp_path / "iso.frames.csv")
    dev, state = num(tab["tilt_from_neutral_deg"]), tab["state"]
    assert not np.any((state == "anterior") & (dev <= hw - h))
    assert not np.any((state == "posterior") & (dev >= -hw + h))
    assert {"anterior", "posterior"} <= set(state)
    assert agreement(out, state) > 0.97


def test_live_table_and_summary_match_analyze(tmp_path):
    """live --record and routine write the columns analyze writes (live: plus its latency), and live
    summarises them the same way: posture shares over time, summing to 100."""
    clip = SAMPLES / "anterior_tilt.mp4"
    out = tmp_path / "live.mp4"
    r = cli("live", "--source", clip, "--no-window", "--record", out, "--baseline", "5")
    assert r.returncode == 0, r.stderr
    r = cli("analyze", clip, "--out", tmp_path / "a", "--baseline", "5", "--no-video", "--no-plot")
    assert r.returncode == 0, r.stderr
    r = cli("routine", "--source", clip, "--no-window", "--exercise", "isolations", "--out", tmp_path / "r",
            "--baseline", "5")
    assert r.returncode == 0, r.stderr
    live_tab = read_csv(tmp_path / "live.frames.csv")
    analyze_cols = list(read_csv(tmp_path / "a" / "anterior_tilt.frames.csv"))
    assert all(c in analyze_cols for c in COMMON_COLUMNS)
    assert list(live_tab) == analyze_cols + ["latency_ms"]
    assert list(read_csv(next((tmp_path / "r").glob("*frames.csv")))) == analyze_cols
    live = json.loads((tmp_path / "live.summary.json").read_text())
    shares = [live[f"pct_{k}"] for k in POSTURE]
    assert sum(shares) == pytest.approx(100.0, abs=0.01)
    t, state = num(live_tab["time_s"]), live_tab["state"]
    w = np.append(np.diff(t), np.median(np.diff(t)))
    posture = np.isin(state, POSTURE)
    assert live["pct_neutral"] == pytest.approx(100 * w[state == "neutral"].sum() / w[posture].sum(), abs=0.01)
