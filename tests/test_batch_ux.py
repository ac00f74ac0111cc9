"""Issue 13 (f): batch progress from the start, one batch per output folder, report rows link
to each clip's files, and the report's table fits a 1280 px window.  Real processes and files."""
from __future__ import annotations

import fcntl
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest

from benchmarks.damaged_inputs import base_clip
from pelvis_tilt.checks import ExitCode

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_videos"


def _env():
    return dict(os.environ, PYTHONPATH=str(REPO))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two short clips (same stem, different folders) scored with --plots; progress captured."""
    d = tmp_path_factory.mktemp("ux")
    for sub in ("a", "b"):
        (d / "in" / sub).mkdir(parents=True, exist_ok=True)
    a = base_clip(d / "in" / "a" / "clip.mp4", SAMPLES / "neutral_stance.mp4", n=20)
    b = base_clip(d / "in" / "b" / "clip.mp4", SAMPLES / "anterior_tilt.mp4", n=20)
    out = d / "out"
    log = d / "stderr.txt"
    with open(log, "w") as fh:
        p = subprocess.Popen([sys.executable, "-m", "pelvis_tilt", "batch", str(a), str(b), "--out", str(out),
                              "--workers", "1", "--plots"], env=_env(), stdout=subprocess.PIPE, stderr=fh, text=True)
        seen_before_first_clip = None
        deadline = time.monotonic() + 120
        while p.poll() is None and time.monotonic() < deadline and seen_before_first_clip is None:
            if "batch" in log.read_text():
                seen_before_first_clip = not list(out.glob("clips/*/record.json"))
            time.sleep(0.05)
        stdout, _ = p.communicate(timeout=240)
    return {"rc": p.returncode, "out": out, "stderr": log.read_text(), "stdout": stdout,
            "early": seen_before_first_clip, "clips": [a, b]}


def test_progress_shows_before_the_first_clip_is_done(run):
    assert run["rc"] == 0, run["stderr"]
    assert run["early"] is True, run["stderr"]
    assert "0.0/2 clips" in run["stderr"] and "2.0/2 clips" in run["stderr"]
    assert "Traceback" not in run["stderr"]


def test_report_rows_link_to_each_clips_video_plot_and_summary(run):
    out = run["out"]
    page = (out / "report.html").read_text()
    rows = re.findall(r'<tr data-path="([^"]*)">(.*?)</tr>', page, re.S)
    assert len(rows) == 2
    for (path, cells), clip in zip(rows, run["clips"]):
        links = dict((label, urllib.parse.unquote(html.unescape(href)))
                     for href, label in re.findall(r'<a href="([^"]+)">(\w+)</a>', cells))
        assert set(links) == {"video", "plot", "summary"}, cells
        for label, href in links.items():
            assert (out / href).resolve().is_file(), (label, href)
        assert (out / links["video"]).resolve() == clip.resolve()   # no --video: the clip itself
        assert links["plot"].endswith("clip.tilt.png")
    # Same stem, two folders: two folders of results, not one overwritten.
    assert len({re.search(r'href="(clips/[^/]+)/', c).group(1) for _, c in rows}) == 2


def test_a_second_batch_on_the_same_folder_is_refused(run, tmp_path):
    out = run["out"]
    with open(out / ".batch.lock", "a+") as held:   # a running batch holds this lock
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = subprocess.run([sys.executable, "-m", "pelvis_tilt", "batch", str(run["clips"][0]), "--out", str(out),
                            "--quiet"], env=_env(), capture_output=True, text=True, timeout=120)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == ExitCode.IO and len(lines) == 1, r.stderr
    assert "another pelvis-tilt batch" in lines[0] and "--out" in lines[0]
    # Once the other batch is gone the folder is usable again (its records are reused).
    r = subprocess.run([sys.executable, "-m", "pelvis_tilt", "batch", str(run["clips"][0]), "--out", str(out),
                        "--quiet", "--plots"], env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "(0 analysed, 1 unchanged)" in r.stdout, r.stderr + r.stdout


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="chromium not installed")
def test_report_table_fits_1280_px(run):
    url = (run["out"] / "report.html").resolve().as_uri()
    with tempfile.TemporaryDirectory() as prof:
        dom = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync",
                              f"--user-data-dir={prof}", "--window-size=1280,800", "--dump-dom", url],
                             capture_output=True, text=True, timeout=120).stdout
    width = int(re.search(r'data-scroll-width="(\d+)"', dom).group(1))
    assert width <= 1280, width


def test_a_rerun_with_other_inputs_says_earlier_rows_are_left_out(run):
    r = subprocess.run([sys.executable, "-m", "pelvis_tilt", "batch", str(run["clips"][1]), "--out", str(run["out"]),
                        "--quiet", "--plots"], env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "1 clip(s) scored earlier" in r.stderr and "not among these inputs" in r.stderr
