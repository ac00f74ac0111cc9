"""Issue 13 (d, e): no native log lines unless --verbose; verdicts say what they rest on."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from pelvis_tilt.quiet import NATIVE_LOG
from pelvis_tilt.report import angle_trace, tilt_figure

REPO = Path(__file__).resolve().parents[1]
NEUTRAL = REPO / "sample_videos" / "neutral_stance.mp4"


def cli(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for k in ("GLOG_minloglevel", "TF_CPP_MIN_LOG_LEVEL", "PELVIS_TILT_DEBUG"):   # as a user's shell has it
        env.pop(k, None)
    return subprocess.run([sys.executable, "-m", "pelvis_tilt", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def native_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if NATIVE_LOG.match(ln.encode())]


def test_live_prints_no_native_log_lines_unless_verbose():
    quiet = cli("live", "--no-window", "--source", NEUTRAL, "--max-frames", "12")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "", quiet.stderr
    loud = cli("live", "--no-window", "--source", NEUTRAL, "--max-frames", "12", "--verbose")
    assert loud.returncode == 0, loud.stderr
    assert native_lines(loud.stderr), loud.stderr   # the filter, not luck, kept the quiet run clean


def test_a_five_frame_clip_is_not_a_reliable_verdict(tmp_path):
    cap = cv2.VideoCapture(str(NEUTRAL))
    frames = [cap.read()[1] for _ in range(5)]
    h, w = frames[0].shape[:2]
    clip = tmp_path / "five.mp4"
    vw = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30, (w, h))
    for f in frames:
        vw.write(f)
    vw.release()
    r = cli("analyze", clip, "--out", tmp_path / "o", "--no-video")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "o" / "five.summary.json").read_text())
    assert s["status"] == "ok" and s["reliable"] is False
    assert s["basis"]["usable_frames"] <= 5 and s["basis"]["usable_s"] < 2.0
    assert any("unreliable" in w and "s (" in w for w in s["warnings"])
    assert "UNRELIABLE" in r.stdout and "unreliable" in r.stderr


def test_real_clip_with_two_people_says_what_it_rests_on(demo_result):
    s = demo_result.summary
    assert s["status"] == "ok"
    # The summary says what it rests on; below the documented thresholds it is marked unreliable.
    # (The walker was 29.6 % usable, just under the 30 % line, until the outline-shape gate was
    # relaxed on 2026-12-03: 52.6 % now; the 5-frame clip above covers the unreliable verdict.)
    b = s["basis"]
    assert b["max_people"] == 2 and 0.0 < b["usable_fraction"] < 1.0
    assert b["usable_frames"] <= b["subject_frames"]
    assert any("people in view" in w for w in s["warnings"])
    low = b["usable_fraction"] < 0.30
    assert low == any(re.search(r"only \d+\.\d% of frames were usable", w) for w in s["warnings"])
    assert s["reliable"] is (not low and b["usable_s"] >= 2.0)


def test_trunk_lean_trace_has_no_wrap_spikes(demo_clip):
    # The whole-frame path: its raw series has the spikes the plot showed (the crop path,
    # which follows the walker more steadily, has fewer).
    from dataclasses import replace

    from pelvis_tilt import analyze_clip, resolve

    r = analyze_clip(demo_clip, None, replace(resolve(), follow=False), annotate=False, plot=False, table=False)
    lean = r.est.measures.trunk_lean_deg
    assert np.nanmax(np.abs(lean)) > 150
    side_on = r.est.measures.is_side_on() & r.frames.detected
    trace = angle_trace(lean, side_on)
    jumps = np.abs(np.diff(trace))
    assert np.nanmax(jumps) <= 90
    assert np.all(np.isnan(trace[~side_on]))
    w = angle_trace(np.array([179.0, -179.0, 190.0]))
    assert np.isnan(w[1]) and w[2] == -170.0


def test_plot_of_a_clip_with_nobody_spans_the_clip():
    t = np.arange(20) / 20.0
    nan = np.full(20, np.nan)
    fig = tilt_figure(t, nan, nan, 5.0, 15.0, "nobody", nan, nan, "nobody was detected")
    assert fig.axes[0].get_xlim() == (0.0, 0.95)


def test_a_lone_frame_stands_for_one_frame_interval():
    """A still image read as a 1-frame clip counts as 1/fps seconds of video, not a whole second."""
    from pelvis_tilt.results import frame_weights

    assert np.allclose(frame_weights(np.array([0.0]), 25.0), [0.04])
    assert np.allclose(frame_weights(np.array([0.0])), [1.0])               # no frame rate known
    assert np.allclose(frame_weights(np.array([0.0, 0.1, 0.2]), 25.0), [0.1, 0.1, 0.1])   # the clip's own timing wins
