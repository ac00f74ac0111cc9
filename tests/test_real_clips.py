"""The tilt reading on real people (``../shared/real_media`` and the Sports2D demo).

No real clip carries pelvic-tilt truth, so these are plausibility checks: on
side-on walking and running frames the tilt is read on most frames, sits in the
range a walking or running adult shows (about 0..+20 deg on the PSIS-ASIS
definition), reads the same when the clip is mirrored, and the trusted side
swaps when the walker faces the other way.  Numbers: benchmarks/real_clips.py.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.real_clips import REAL, mirrored, read_clip

pytestmark = pytest.mark.slow

RUNNER = REAL / "gaitlab_male_side_treadmill.mp4"
WALKER = REAL / "s2d_demo4_walk_wall.mp4"


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} is not here (../shared/real_media beside the repository)")
    return path


@pytest.mark.parametrize("clip", [RUNNER, WALKER], ids=["treadmill-runner", "walker"])
def test_real_gait_is_read_plausibly_and_mirror_invariant(clip, tmp_path):
    r = read_clip(_need(clip), clip.stem)
    assert r.side_on > 200
    assert r.measured >= 0.8, r
    assert 0.0 <= r.median <= 20.0, r
    assert -10.0 <= r.p10 and r.p90 <= 25.0, r
    # walking and running: on most frames read the feet are far enough apart (from MediaPipe's
    # ankles) for the estimator's mid-stride weights to take part
    # (measured 78 % runner, 81 % walker; 77 % of rendered walkers' frames)
    assert r.mid_stride >= 0.5, r
    rm = read_clip(mirrored(clip, tmp_path / "mirror.mp4"), clip.stem)
    assert abs(rm.median - r.median) < 1.0, (r, rm)
    assert abs(r.paired_shift(rm)) < 1.0, (r, rm)
    assert abs(rm.measured - r.measured) < 0.1, (r, rm)


def test_sports2d_walker_is_read_plausibly_and_mirror_invariant(demo_clip, tmp_path):
    """Outdoors, a loose T-shirt, long hair, a second person: read on most side-on frames, in
    the adult range, and the same whichever way she walks.  (Measured 2026-12-03: 89 % read,
    median +1.4 deg, p10..p90 -8.5..+13.9; mirrored: median -0.40 deg, paired +0.05.  With the
    stricter outline-shape gate before, 63 % were read and the mirrored median moved 1.7 deg:
    which frames passed the gate decided it.)"""
    walk = slice(62, 181)
    r = read_clip(demo_clip, "demo", walk)
    rm = read_clip(mirrored(demo_clip, tmp_path / "mirror.mp4"), "demo", walk)
    assert r.measured >= 0.8 and abs(rm.measured - r.measured) < 0.1, (r, rm)
    assert 0.0 <= r.median <= 20.0 and -10.0 <= r.p10 and r.p90 <= 25.0, r
    assert abs(r.paired_shift(rm)) < 1.0, (r, rm)
    assert abs(rm.median - r.median) < 1.0, (r, rm)


def test_trusted_side_swaps_when_the_walker_faces_the_other_way(tmp_path):
    """The walk clip (facing image-left throughout: its second half is the first played
    backwards) followed by its mirror image (facing image-right): the side facing the
    camera is her left side, then her right side."""
    src = _need(WALKER)
    out = tmp_path / "there_and_back.mp4"
    cap = cv2.VideoCapture(str(src))
    frames = []
    while len(frames) < 120:     # 1-5 s: she walks side-on across the picture
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    frames = frames[40:]
    h, w = frames[0].shape[:2]
    wr = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    for f in frames + [cv2.flip(f, 1) for f in frames]:
        wr.write(f)
    wr.release()
    from pelvis_tilt import analyze_clip, geometry

    res = analyze_clip(out, None, annotate=False, plot=False, table=False)
    m = res.est.measures
    n = len(frames)
    first, second = slice(10, n), slice(n + 10, 2 * n)
    on1, on2 = m.is_side_on()[first], m.is_side_on()[second]
    assert on1.mean() > 0.7 and on2.mean() > 0.7
    assert np.mean(m.view[first][on1] == geometry.VIEW_SIDE_LEFT) > 0.9
    assert np.mean(m.view[second][on2] == geometry.VIEW_SIDE_RIGHT) > 0.9
    assert np.mean(m.side[first][on1] == 0) > 0.9      # her left side faces the camera
    assert np.mean(m.side[second][on2] == 1) > 0.9     # then her right side
    # and the tilt reads alike both ways, compared on the same pictures (frame i and its
    # mirror): right after the turn fewer frames are read, and the reading swings with
    # the stride, so medians over different frames would differ by the gait phase alone
    a, b = res.est.tilt_raw[first], res.est.tilt_raw[second]
    both = np.isfinite(a) & np.isfinite(b)
    assert both.sum() > 0.5 * len(a)
    assert abs(np.median(a[both]) - np.median(b[both])) < 1.5
