"""Issue 13: every failure of every command is one stderr line with the documented exit code,
nonsense is refused before any work, calibration refuses a moving pelvis.  Real processes, real files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from pelvis_tilt.checks import ExitCode

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_videos"
NEUTRAL = SAMPLES / "neutral_stance.mp4"


def cli(*args, env=None, unset=(), timeout=300):
    e = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    for k in unset:
        e.pop(k, None)
    return subprocess.run([sys.executable, "-m", "pelvis_tilt", *map(str, args)], capture_output=True, text=True,
                          env=e, timeout=timeout)


def one_line(r, code: int, *words: str) -> str:
    """Exactly one non-empty stderr line, no traceback, the documented code."""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == code, (r.returncode, r.stderr, r.stdout)
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def blocked(tmp_path: Path) -> Path:
    """A folder that cannot be created or written, for root too: its parent is a regular file."""
    f = tmp_path / "a_file"
    f.write_text("x")
    return f / "sub"


@pytest.fixture(scope="module")
def empty_room(tmp_path_factory) -> Path:
    """1 s of a room with nobody in it."""
    p = tmp_path_factory.mktemp("clips") / "empty_room.mp4"
    rng = np.random.default_rng(1)
    vw = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"mp4v"), 20, (320, 240))
    for _ in range(20):
        vw.write(np.clip(120 + rng.normal(0, 6, (240, 320, 3)), 0, 255).astype(np.uint8))
    vw.release()
    return p


# ----------------------------------------------------------------- (a) no display, tracebacks, exit codes

@pytest.mark.parametrize("cmd", [["live"], ["calibrate"], ["routine", "--exercise", "isolations"]])
def test_no_display_says_use_no_window(cmd, tmp_path):
    r = cli(*cmd, "--source", NEUTRAL, env={"PELVIS_TILT_CONFIG": str(tmp_path / "cfg")},
            unset=("DISPLAY", "WAYLAND_DISPLAY"), timeout=60)
    one_line(r, ExitCode.IO, "no display", "--no-window")


def test_baseline_nan_is_refused(tmp_path):
    one_line(cli("analyze", NEUTRAL, "--baseline", "nan", "--out", tmp_path), ExitCode.USAGE, "--baseline", "finite")


def test_unwritable_model_cache_is_one_line(tmp_path):
    home = blocked(tmp_path)
    r = cli("analyze", NEUTRAL, "--out", tmp_path / "o", "--no-video", env={"HOME": str(home)},
            unset=("XDG_CACHE_HOME", "PELVIS_TILT_CACHE", "XDG_CONFIG_HOME", "MPLCONFIGDIR"))
    one_line(r, ExitCode.IO, "cache folder", "PELVIS_TILT_CACHE")


def test_live_record_into_unwritable_folder_fails_before_processing(tmp_path):
    r = cli("live", "--no-window", "--source", NEUTRAL, "--record", blocked(tmp_path) / "rec.mp4", timeout=60)
    one_line(r, ExitCode.IO, "cannot write")
    assert "session:" not in r.stdout   # nothing was processed


def test_live_record_without_extension_is_a_usage_error(tmp_path):
    r = cli("live", "--no-window", "--source", NEUTRAL, "--record", tmp_path / "take1", timeout=60)
    one_line(r, ExitCode.USAGE, "--record", ".mp4")
    assert not list(tmp_path.iterdir())


def test_routine_out_unwritable_fails_before_processing(tmp_path):
    r = cli("routine", "--no-window", "--source", NEUTRAL, "--exercise", "isolations", "--out", blocked(tmp_path),
            timeout=60)
    one_line(r, ExitCode.IO, "cannot write to output folder")
    assert r.stdout == ""


def test_argparse_errors_use_the_documented_usage_code():
    r = cli("analyze", "--no-such-option", NEUTRAL)
    one_line(r, ExitCode.USAGE, "unrecognized arguments")
    readme = (REPO / "README.md").read_text()
    assert "| `1` |" in readme and "bad arguments" in readme


# ----------------------------------------------------------------- (b) nonsense refused early, same rules everywhere

@pytest.mark.parametrize("cmd, band", [("analyze", "-3"), ("analyze", "0"), ("live", "inf"), ("calibrate", "-1"),
                                       ("routine", "nan"), ("batch", "0")])
def test_band_must_be_positive_in_every_command(cmd, band, tmp_path):
    args = {"analyze": [NEUTRAL, "--out", tmp_path], "batch": [NEUTRAL, "--out", tmp_path],
            "live": ["--no-window", "--source", NEUTRAL], "calibrate": ["--no-window", "--source", NEUTRAL],
            "routine": ["--no-window", "--source", NEUTRAL, "--out", tmp_path]}[cmd]
    r = cli(cmd, *args, f"--band={band}", env={"PELVIS_TILT_CONFIG": str(tmp_path / "cfg")}, timeout=60)
    one_line(r, ExitCode.USAGE, "--band must be a number > 0")


@pytest.mark.parametrize("cmd", ["live", "calibrate", "routine", "batch"])
def test_bad_profile_name_is_refused_before_any_work(cmd, tmp_path):
    args = ["--no-window", "--source", NEUTRAL] if cmd != "batch" else [NEUTRAL, "--out", tmp_path / "b"]
    r = cli(cmd, *args, "--profile", "../evil", env={"PELVIS_TILT_CONFIG": str(tmp_path / "cfg")}, timeout=60)
    one_line(r, ExitCode.USAGE, "profile names", "../evil")
    assert "session:" not in r.stdout and not (tmp_path / "evil.json").exists()


def test_a_hand_damaged_neutral_outline_is_refused_or_left_out(tmp_path):
    """A profile's neutral_outline that is not a list of numbers: one line, exit 2.  One of the
    wrong length for this estimator: the profile is used without it, with the one-line note."""
    from pelvis_tilt.settings import estimator_id, load_estimator

    folder = tmp_path / "cfg" / "profiles"
    folder.mkdir(parents=True)
    ok_id = estimator_id(load_estimator(None))
    for name, outline in (("junk", "abc"), ("short", [0.0] * 45)):
        (folder / f"{name}.json").write_text(json.dumps({"name": name, "baseline_deg": 9.0, "neutral_outline": outline,
                                                         "outline_estimator": ok_id}))
    env = {"PELVIS_TILT_CONFIG": str(tmp_path / "cfg")}
    r = cli("analyze", NEUTRAL, "--profile", "junk", "--no-video", "--out", tmp_path / "j", env=env)
    one_line(r, 2, "damaged", "neutral_outline")
    r = cli("analyze", NEUTRAL, "--profile", "short", "--no-video", "--out", tmp_path / "s", env=env)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "has no neutral outline for this version" in r.stderr


def test_unwritable_config_folder_fails_before_the_countdown(tmp_path):
    r = cli("calibrate", "--no-window", "--source", NEUTRAL, env={"PELVIS_TILT_CONFIG": str(blocked(tmp_path))},
            timeout=60)
    one_line(r, ExitCode.IO, "PELVIS_TILT_CONFIG")
    assert "session:" not in r.stdout


def test_nobody_in_the_clip_gives_the_same_code_everywhere(empty_room, tmp_path):
    a = cli("analyze", empty_room, "--out", tmp_path / "a", "--no-video")
    assert a.returncode == ExitCode.NOTHING_MEASURED, a.stderr
    lv = cli("live", "--no-window", "--source", empty_room)
    one_line(lv, ExitCode.NOTHING_MEASURED, "nobody was in view")
    rt = cli("routine", "--no-window", "--source", empty_room, "--out", tmp_path / "r")
    one_line(rt, ExitCode.NOTHING_MEASURED, "nobody was in view")


# ----------------------------------------------------------------- (c) calibration

def test_calibration_refuses_a_moving_pelvis(tmp_path):
    cfg = tmp_path / "cfg"
    r = cli("calibrate", "--no-window", "--source", SAMPLES / "pelvic_isolations.mp4", "--hold", "2",
            "--profile", "mover", env={"PELVIS_TILT_CONFIG": str(cfg)})
    line = one_line(r, ExitCode.CALIBRATION_REFUSED, "moved", "stand still", "try again")
    assert "calibration refused" in line
    assert not (cfg / "profiles" / "mover.json").exists()


def test_calibration_with_nobody_says_so(empty_room, tmp_path):
    r = cli("calibrate", "--no-window", "--source", empty_room, "--hold", "0.5",
            env={"PELVIS_TILT_CONFIG": str(tmp_path / "cfg")})
    line = one_line(r, ExitCode.NOTHING_MEASURED, "nobody was in view")
    assert "clip" not in line.split("nobody")[0]   # not blamed on the clip's length


def test_calibration_on_a_short_clip_with_the_defaults(tmp_path):
    cfg = {"PELVIS_TILT_CONFIG": str(tmp_path / "cfg")}
    ok = cli("calibrate", "--no-window", "--source", NEUTRAL, env=cfg)   # a 4 s clip, default countdown and hold
    assert ok.returncode == 0, ok.stderr + ok.stdout
    assert json.loads((tmp_path / "cfg" / "profiles" / "default.json").read_text())["samples"] >= 40
    short = REPO / "tests" / "fixtures" / "camera_down.mp4"   # 2 s: too short for the 3 s hold
    r = cli("calibrate", "--no-window", "--source", short, env=cfg, timeout=60)
    one_line(r, ExitCode.USAGE, "s long", "--hold 1.")


def test_routine_on_a_clip_runs_every_exercise_and_says_where_files_went(tmp_path):
    r = cli("routine", "--no-window", "--source", SAMPLES / "pelvic_isolations.mp4", "--baseline-first", "0.2",
            "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Front-to-back isolations" in r.stdout   # not only the plié, which comes first
    assert not __import__("re").search(r"\d\.\d{4,}", r.stdout), r.stdout   # no raw floats
    assert str(tmp_path / "pelvic_isolations.routine.json") in r.stdout
    assert str(tmp_path / "pelvic_isolations.routine.png") in r.stdout


def test_profiles_command_checks_the_name_too(tmp_path):
    r = cli("profiles", "../evil", env={"PELVIS_TILT_CONFIG": str(tmp_path)}, timeout=60)
    one_line(r, ExitCode.USAGE, "profile names")


def test_rerun_without_video_or_plot_removes_the_stale_ones(tmp_path):
    """An earlier run's annotated video and plot would sit beside a new table they no longer
    match: a --no-video --no-plot rerun into the same folder removes them and says so."""
    out = tmp_path / "out"
    r = cli("analyze", NEUTRAL, "--out", out)
    assert r.returncode == ExitCode.OK, r.stderr
    assert (out / "neutral_stance.annotated.mp4").is_file() and (out / "neutral_stance.tilt.png").is_file()
    r = cli("analyze", NEUTRAL, "--out", out, "--no-video", "--no-plot")
    assert r.returncode == ExitCode.OK, r.stderr
    assert not (out / "neutral_stance.annotated.mp4").exists() and not (out / "neutral_stance.tilt.png").exists()
    assert "removed neutral_stance.annotated.mp4 from an earlier run" in r.stderr
    summary = json.loads((out / "neutral_stance.summary.json").read_text())
    assert any("removed neutral_stance.tilt.png" in w for w in summary["warnings"])
