"""Issue 13 (g): the live window and its recording.  Real processes; the window tests run under Xvfb."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from pelvis_tilt import fonts, overlay
from tests.xserver import start_xvfb

REPO = Path(__file__).resolve().parents[1]
NEUTRAL = REPO / "sample_videos" / "neutral_stance.mp4"


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "pelvis_tilt", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=timeout)


def test_live_help_lists_every_key():
    out = cli("live", "--help").stdout
    for key in ("q/Esc", "c calibrate", "m mirror", "space pause", "s snapshot", "r record", "g guided routine",
                "n next exercise", "h help"):
        assert key in " ".join(out.split()), key


def test_recording_is_saved_as_the_camera_sees_it(tmp_path):
    rec = tmp_path / "take.mp4"
    r = cli("live", "--no-window", "--source", NEUTRAL, "--record", rec, "--max-frames", "3")
    assert r.returncode == 0, r.stderr
    ok, got = cv2.VideoCapture(str(rec)).read()
    ok2, src = cv2.VideoCapture(str(NEUTRAL)).read()
    assert ok and ok2
    top, bottom = overlay.strip_heights(src.shape[1])
    assert got.shape[0] == src.shape[0] + top + bottom   # banner and gauge beside the picture, not on it
    pic = got[top:top + src.shape[0]].astype(float)
    as_is = np.abs(pic - src).mean()
    flipped = np.abs(pic - cv2.flip(src, 1)).mean()
    assert as_is < 0.75 * flipped, (as_is, flipped)   # mirrored, the two swap (~3 vs ~6)


def test_text_in_any_language_is_drawn_not_question_marks():
    a = np.zeros((60, 200, 3), np.uint8)
    overlay.put_text(a, "plié", (5, 40), 1.0, (255, 255, 255), 2, outline=False)
    b = np.zeros_like(a)
    cv2.putText(b, "pli??", (5, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2, cv2.LINE_AA)
    c = np.zeros_like(a)
    overlay.put_text(c, "плие", (5, 40), 1.0, (255, 255, 255), 2, outline=False)
    assert a.any() and c.any()

    def ink_width(img):
        cols = np.flatnonzero(img.any(axis=(0, 2)))
        return cols[-1] - cols[0] + 1

    expected = overlay._font(fonts.dejavu_path(), 30).getlength("plié")   # DejaVu Sans, matplotlib's own
    assert abs(ink_width(a) - expected) <= 6, (ink_width(a), expected)
    assert ink_width(a) < 0.8 * ink_width(b)         # not OpenCV's "pli??"
    # Chinese: drawn with the Noto Sans CJK the package depends on, as glyphs, not boxes
    assert fonts.font_path_for("骨盆前倾") == fonts.cjk_path() is not None
    d = np.zeros((60, 200, 3), np.uint8)
    overlay.put_text(d, "骨盆前倾", (5, 40), 1.0, (255, 255, 255), 2, outline=False)
    box = np.zeros_like(d)
    overlay.put_text(box, "\u25a1" * 4, (5, 40), 1.0, (255, 255, 255), 2, outline=False)   # four empty boxes
    assert d.any() and (d[..., 0] > 0).sum() != (box[..., 0] > 0).sum()
    assert abs(ink_width(d) - overlay._font(fonts.cjk_path(), 30).getlength("骨盆前倾")) <= 8


@pytest.mark.parametrize("text, scale, thick", [
    ("last rep 80% of your forward range, 65% of your tuck range", 0.6, 2),
    ("Look away. Find neutral and hold still.", 1.2, 4),
])
def test_outlined_text_from_the_cache_looks_as_opencv_draws_it(text, scale, thick):
    """`put_text` draws an outlined line's coverage once and blends it every frame after (OpenCV's
    thick anti-aliased outline costs ~2 ms a line).  Against cv2.putText on a textured picture:
    the same pixels within 10 levels (OpenCV blends its own way); partly or wholly outside the
    picture: no error."""
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur(rng.integers(0, 255, (120, 800, 3), np.uint8), (0, 0), 3)
    ref, got = bg.copy(), bg.copy()
    cv2.putText(ref, text, (10, 70), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 3, cv2.LINE_AA)
    cv2.putText(ref, text, (10, 70), cv2.FONT_HERSHEY_SIMPLEX, scale, (40, 200, 255), thick, cv2.LINE_AA)
    for _ in range(2):   # drawn, then from the cache
        got = bg.copy()
        overlay.put_text(got, text, (10, 70), scale, (40, 200, 255), thick)
        assert np.abs(ref.astype(int) - got.astype(int)).max() <= 10   # blending rounding; 1 px off: 239
    edge = bg.copy()
    overlay.put_text(edge, text, (-40, 5), scale, (255, 255, 255), thick)
    overlay.put_text(edge, text, (900, 500), scale, (255, 255, 255), thick)
    assert (edge != bg).any()


def test_a_chinese_file_name_is_drawn_in_the_plot_title_without_font_warnings(tmp_path):
    """Before: matplotlib's 'Glyph ... missing from font(s) DejaVu Sans' warnings and boxes."""
    clip = tmp_path / "站立姿势.mp4"
    shutil.copy(NEUTRAL, clip)
    r = cli("analyze", clip, "--out", tmp_path / "out", "--no-video")
    assert r.returncode == 0, r.stderr
    assert "missing from font" not in r.stderr and "Warning" not in r.stderr, r.stderr[-1000:]
    assert (tmp_path / "out" / "站立姿势.tilt.png").stat().st_size > 10_000


def _wait(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return None


@pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xwd") and shutil.which("xdotool")),
                    reason="needs Xvfb, xwd and xdotool (Debian: xvfb x11-apps xdotool)")
def test_window_fits_the_screen_and_space_really_pauses_a_clip(tmp_path, demo_clip):
    from tests.xwd import read_xwd

    xvfb, display = start_xvfb("1280x800x24", 120)
    env = dict(os.environ, DISPLAY=display, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="xcb")
    apps = []

    def xdo(*a):
        return subprocess.run(["xdotool", *a], env=env, capture_output=True, text=True).stdout

    def start(clip, log):
        p = subprocess.Popen([sys.executable, "-m", "pelvis_tilt", "live", "--source", str(clip)], env=env,
                             stdout=open(log, "w"), stderr=subprocess.PIPE, text=True)
        apps.append(p)
        # --onlyvisible: a window found before it is mapped cannot take the focus, and a key sent
        # then is lost (CI, loaded: the space never arrived and the clip played on)
        wid = _wait(lambda: xdo("search", "--onlyvisible", "--name", "pelvis-tilt").split(), 90)
        assert wid, "the window never appeared"
        return p, wid[0]

    try:
        # 1. A clip wider than the screen (the sports2d demo, 1768 x 994 on 1280 x 800).
        big, wid = start(demo_clip, tmp_path / "big.log")
        time.sleep(1.5)
        geo = xdo("getwindowgeometry", wid)
        w, h = map(int, geo.split("Geometry:")[1].split()[0].split("x"))
        assert w <= 1280 and h <= 800, geo
        xdo("windowfocus", "--sync", wid, "key", "q")
        big.communicate(timeout=60)
        # 2. Space pauses the clip for real: the notice shows, and a 4 s clip paused for 6 s has not ended.
        log = tmp_path / "pause.log"
        painted = []

        def paused_on_screen() -> bool:
            shot = read_xwd(subprocess.run(["xwd", "-root", "-silent"], env=env, capture_output=True).stdout)
            painted.append(bool(shot.any()))
            yellow = (shot[..., 2] > 200) & (shot[..., 1] > 180) & (shot[..., 0] < 60)   # "Paused" (BGR 0,220,255)
            return yellow.sum() > 200

        app, wid = start(NEUTRAL, log)
        xdo("windowfocus", "--sync", wid, "key", "space")
        # looked at for a while: on a loaded machine Xvfb can show the window black for a moment.
        # Under CI load this bare Xvfb (no window manager) also showed the whole screen black for
        # 2 x 20 s, the app started twice (as in test_live.test_real_window_under_xvfb; not
        # root-caused): then the notice cannot be looked for, and only what the pause does is
        # checked below (a paused 4 s clip does not end in 6 s, and ends once resumed).
        seen = _wait(paused_on_screen, 20)
        assert seen or not any(painted), ("no 'Paused' notice on a painted screen", app.poll(), log.read_text()[-300:])
        time.sleep(6.0)
        assert app.poll() is None and "press q to close" not in log.read_text()   # still paused
        if seen:
            assert _wait(paused_on_screen, 20), "the 'Paused' notice went away by itself"
        xdo("windowfocus", "--sync", wid, "key", "space")
        assert _wait(lambda: "press q to close" in log.read_text(), 60), "the clip did not resume"
        xdo("windowfocus", "--sync", wid, "key", "q")
        _, err = app.communicate(timeout=60)
        assert app.returncode == 0, err
    finally:
        for p in apps:
            if p.poll() is None:
                p.kill()
        xvfb.terminate()
        xvfb.wait()


@pytest.mark.skipif(not all(shutil.which(t) for t in ("Xvfb", "openbox", "wmctrl")),
                    reason="needs Xvfb, openbox and wmctrl (apt: xvfb openbox wmctrl)")
def test_closing_through_the_window_manager_ends_cleanly(tmp_path):
    """The window's close button (a window manager's WM_DELETE_WINDOW, sent by wmctrl) ends
    the run like q does: exit 0, 'ended: quit', nothing on stderr; several times, closed at
    different moments (it once crashed with 'terminate called without an active exception')."""
    xvfb, display = start_xvfb("1280x800x24", 120)
    env = dict(os.environ, DISPLAY=display, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="xcb")
    wm = None
    try:
        wm_log = tmp_path / "openbox.log"
        with open(wm_log, "a") as log:   # openbox keeps its own copy of the descriptor
            for _ in range(3):   # the window manager is harness, not product: retried if it did not come up
                wm = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=log)
                if _wait(lambda: subprocess.run(["wmctrl", "-m"], env=env, capture_output=True).returncode == 0, 15):
                    break
                wm.kill()
                wm.wait()
        assert wm.poll() is None, ("openbox did not start", xvfb.poll(), wm_log.read_text()[-500:])
        clip = REPO / "sample_videos" / "pelvic_isolations.mp4"
        for i, delay in enumerate((0.0, 0.7, 1.9, 3.1)):
            out = tmp_path / f"run{i}.txt"
            app = subprocess.Popen([sys.executable, "-m", "pelvis_tilt", "live", "--source", str(clip)], env=env,
                                   stdout=open(out, "w"), stderr=subprocess.PIPE, text=True)
            try:
                seen = _wait(lambda: "pelvis-tilt" in subprocess.run(["wmctrl", "-l"], env=env, capture_output=True,
                                                                     text=True).stdout, 90)
                assert seen, "the window never appeared"
                time.sleep(delay)
                subprocess.run(["wmctrl", "-c", "pelvis-tilt"], env=env, check=True)
                _, err = app.communicate(timeout=60)
            finally:
                if app.poll() is None:
                    app.kill()
            assert app.returncode == 0 and err.strip() == "", (i, app.returncode, err[-500:])
            assert "ended: quit" in out.read_text(), out.read_text()[-500:]
    finally:
        if wm is not None:
            wm.terminate()
        xvfb.terminate()
        xvfb.wait()
