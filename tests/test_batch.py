"""`pelvis-tilt batch`: a folder of clips incl. bad ones, resume after SIGINT / SIGKILL,
the HTML report in a real headless browser, and a real Dask cluster on loopback.

The clips are the sample clips plus short (1 s) cuts, flips and shrinks of them made
here with OpenCV, so MediaPipe's work stays small.  Tilt values are never
hard-coded (the estimator is being refitted): the tests check statuses, row counts,
file validity and equality between runs.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from pelvis_tilt.batch import collect_inputs, fingerprint

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "sample_videos").glob("*.mp4"))
pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- clips

def _frames(src: Path, start: int = 0, n: int = 30) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    out = []
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    cap.release()
    return out, fps


def _write(path: Path, frames: list[np.ndarray], fps: float, fourcc: str = "mp4v") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert wr.isOpened(), path
    for f in frames:
        wr.write(f)
    wr.release()
    return path


def _short(src: Path, dst: Path, start: int = 0, n: int = 30, flip: bool = False, scale: float = 1.0,
           fourcc: str = "mp4v") -> Path:
    frames, fps = _frames(src, start, n)
    if flip:
        frames = [cv2.flip(f, 1) for f in frames]
    if scale != 1.0:
        frames = [cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for f in frames]
    return _write(dst, frames, fps, fourcc)


def _samples() -> dict[str, Path]:
    return {p.stem: p for p in SAMPLES}


@pytest.fixture(scope="session")
def clip_folder(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """>= 12 inputs: the 3 sample clips, 6 derived short clips (one in a sub-folder, one .avi),
    an empty room, a truncated mp4, a non-video with a video extension; plus files the
    folder scan must skip.  Returns (folder, {file name: expected status})."""
    s = _samples()
    d = tmp_path_factory.mktemp("clips")
    expect = {}
    for p in SAMPLES:
        shutil.copy(p, d / p.name)
        expect[p.name] = "ok"
    _short(s["anterior_tilt"], d / "anterior_1s.mp4", 40)
    _short(s["neutral_stance"], d / "neutral_flipped.mp4", 0, flip=True)
    _short(s["pelvic_isolations"], d / "isolations_small.mp4", 30, scale=0.5)
    _short(s["neutral_stance"], d / "sub" / "neutral_nested.mp4", 60)
    _short(s["anterior_tilt"], d / "anterior_mjpg.avi", 0, fourcc="MJPG")
    _short(s["pelvic_isolations"], d / "sub" / "deeper" / "isolations_flip_small.mp4", 90, flip=True, scale=0.5)
    for n in ("anterior_1s.mp4", "neutral_flipped.mp4", "isolations_small.mp4", "sub/neutral_nested.mp4",
              "anterior_mjpg.avi", "sub/deeper/isolations_flip_small.mp4"):
        expect[Path(n).name] = "ok"
    # Nobody in view: the sample's background with the person painted over.
    bg, fps = _frames(s["neutral_stance"], 0, 20)
    empty = [np.full_like(f, 0) + np.median(f.reshape(-1, 3), axis=0).astype(np.uint8) for f in bg]
    for k, f in enumerate(empty):   # a little noise so the encoder has something to code
        cv2.putText(f, f"{k}", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (40, 40, 40), 2)
    _write(d / "empty_room.mp4", empty, fps)
    expect["empty_room.mp4"] = "no-person"
    (d / "truncated.mp4").write_bytes(s["anterior_tilt"].read_bytes()[:20000])
    expect["truncated.mp4"] = "error"
    (d / "slides.mp4").write_text("%PDF-1.4 this is not a video\n" * 50)
    expect["slides.mp4"] = "error"
    (d / "notes.txt").write_text("not a clip: the folder scan skips it\n")
    (d / "sub" / "photo.jpg").write_bytes(cv2.imencode(".jpg", bg[0])[1].tobytes())
    return d, expect


def _run(args: list[str], timeout: float = 240, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), GLOG_minloglevel="2")
    return subprocess.run([sys.executable, "-m", "pelvis_tilt", "batch", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO, **kw)


def _table(out: Path, drop=("elapsed_s",)) -> list[dict]:
    with open(out / "scores.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def _status(row: dict) -> str:
    return row["status"]


# --------------------------------------------------------------------------- the folder

@pytest.fixture(scope="session")
def folder_run(clip_folder, tmp_path_factory):
    d, expect = clip_folder
    out = tmp_path_factory.mktemp("batch_out")
    notes = d / "notes.txt"   # named explicitly: a non-video gets an error row
    t0 = time.monotonic()
    r = _run([str(d), str(notes), "--out", str(out), "--workers", "2"])
    return d, expect, out, r, time.monotonic() - t0


def test_every_clip_has_a_row_with_the_right_status(folder_run):
    d, expect, out, r, secs = folder_run
    assert r.returncode == 0, r.stderr[-2000:]
    rows = _table(out)
    expect = dict(expect, **{"notes.txt": "error"})
    assert len(rows) == len(expect) >= 12
    got = {Path(row["path"]).name: _status(row) for row in rows}
    assert got == expect, r.stderr[-2000:]
    # Input order (folder, sorted and recursive, then the explicit file), whatever finished first.
    paths = [row["path"] for row in rows]
    assert paths == [str(p) for p in sorted(p for p in d.rglob("*") if p.suffix in (".mp4", ".avi"))] + [str(d / "notes.txt")]
    n_err = sum(v == "error" for v in expect.values())
    assert re.search(rf"^errors: {n_err}$", r.stdout, re.M), r.stdout
    for row in rows:
        if row["status"] == "ok":
            assert float(row["side_on_fraction"]) > 0 and row["tilt_median_deg"] and row["alignment_score"]
            assert (out / row["outputs"]).is_dir()
            assert 0 <= float(row["alignment_score"]) <= 100
            summary = json.loads(next((out / row["outputs"]).glob("*.summary.json")).read_text())
            if summary["basis"]["posture_frames"]:
                assert abs(sum(float(row[k]) for k in ("pct_anterior", "pct_neutral", "pct_posterior")) - 100) < 0.1
            else:   # the cue never showed a posture: empty shares, said so
                assert not row["pct_neutral"] and any("no posture" in w for w in summary["warnings"])
        elif row["status"] == "error":   # the reason is in message, one line
            assert row["message"] and "\n" not in row["message"]
            assert not row["tilt_median_deg"]
    # The no-person clip: analysed, nothing measured, no traceback anywhere.
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    js = json.loads((out / "scores.json").read_text())
    assert [x["path"] for x in js["rows"]] == paths and js["counts"]["errors"] == n_err
    assert js["rows"][0]["frames"] == int(rows[0]["frames"])


def test_per_clip_outputs_are_those_of_analyze(folder_run):
    _, _, out, _, _ = folder_run
    row = next(r for r in _table(out) if Path(r["path"]).name == "neutral_stance.mp4")
    clip = out / row["outputs"]
    summary = json.loads((clip / "neutral_stance.summary.json").read_text())
    assert summary["status"] == "ok" and summary["frames"] == int(row["frames"]) == 120
    with open(clip / "neutral_stance.frames.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 120
    assert cv2.imread(str(clip / "thumb.jpg")) is not None
    assert not list(clip.glob("*.mp4")) and not list(clip.glob("*.png"))   # --video / --plots are opt-in
    # No temporary files left behind (the batch lock file is kept on purpose: see README).
    assert not [p for p in out.rglob(".*") if p.is_file() and p.name != ".batch.lock"]


def test_strict_rerun_reuses_everything_and_fails_on_errors(folder_run):
    d, expect, out, _, _ = folder_run
    before = _table(out)
    r = _run([str(d), str(d / "notes.txt"), "--out", str(out), "--strict", "--quiet"], timeout=60)
    assert r.returncode == 2, r.stderr
    assert "(0 analysed," in r.stdout
    assert _table(out) == before


def test_changed_file_is_rescored_and_force_redoes_all(tmp_path):
    """Resume bookkeeping on cheap clips (errors need no MediaPipe): size/mtime/head hash, --force."""
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    a.write_bytes(b"x" * 100)
    b.write_bytes(b"y" * 100)
    out = tmp_path / "out"
    r1 = _run([str(tmp_path / "*.mp4"), "--out", str(out), "--workers", "1", "--quiet"], timeout=120)
    assert r1.returncode == 0 and "(2 analysed, 0 unchanged)" in r1.stdout, r1.stdout + r1.stderr
    fp = fingerprint(str(a))
    a.write_bytes(b"z" * 100)   # same size; new content
    os.utime(a, ns=(fp["mtime_ns"], fp["mtime_ns"]))   # even with the old mtime, the head hash differs
    r2 = _run([str(tmp_path / "*.mp4"), "--out", str(out), "--workers", "1", "--quiet"], timeout=120)
    assert "(1 analysed, 1 unchanged)" in r2.stdout, r2.stdout
    r3 = _run([str(tmp_path / "*.mp4"), "--out", str(out), "--workers", "1", "--quiet", "--force"], timeout=120)
    assert "(2 analysed, 0 unchanged)" in r3.stdout, r3.stdout


def test_collect_inputs_files_folders_globs(clip_folder):
    d, _ = clip_folder
    paths, notes = collect_inputs([str(d / "sub"), str(d / "*.avi"), str(d / "sub" / "neutral_nested.mp4"),
                                   str(d / "nothing-*.mp4")])
    names = [Path(p).name for p in paths]
    assert names == ["isolations_flip_small.mp4", "neutral_nested.mp4", "anterior_mjpg.avi"]  # no duplicate
    assert notes and "nothing-" in notes[0]


def test_bad_arguments_give_one_line(tmp_path):
    r = _run([str(tmp_path), "--out", str(tmp_path / "o"), "--workers", "0"], timeout=60)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    r = _run([str(tmp_path / "empty-folder-*.mp4"), "--out", str(tmp_path / "o")], timeout=60)
    assert r.returncode == 2 and "no clips" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "x.mp4").write_bytes(b"0" * 10)
    r = _run([str(tmp_path), "--out", str(tmp_path / "o2"), "--cluster", "tcp://127.0.0.1:9"], timeout=120)
    assert r.returncode == 2 and "Dask scheduler" in r.stderr and "Traceback" not in r.stderr


# --------------------------------------------------------------------------- the report in a browser

def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _browser(url: str, *extra: str) -> subprocess.CompletedProcess:
    exe = _chromium()
    with tempfile.TemporaryDirectory() as prof:
        return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update", "--disable-sync",
                               f"--user-data-dir={prof}", *extra, url],
                              capture_output=True, text=True, timeout=120)


def _dom_rows(dom: str) -> list[str]:
    return re.findall(r'<tr data-path="([^"]*)"', dom)


@pytest.mark.skipif(_chromium() is None, reason="chromium not installed")
def test_report_renders_and_sorts_in_headless_chromium(folder_run, tmp_path):
    import html

    _, _, out, _, _ = folder_run
    page = out / "report.html"
    text = page.read_text()
    # Self-contained: no fetched resource (scripts, styles, images all inline); <a href> links to
    # each clip's own files are navigation, not resources.
    assert not re.search(r'src="(?!data:)', text) and "<link" not in text
    rows = _table(out)
    url = page.resolve().as_uri()

    dom = _browser(url, "--dump-dom").stdout
    assert [html.unescape(p) for p in _dom_rows(dom)] == [r["path"] for r in rows]   # input order
    assert dom.count('src="data:image/jpeg;base64,') == sum(r["status"] in ("ok", "no-person") for r in rows)
    assert dom.count('<svg class="spark"') == sum(r["status"] == "ok" for r in rows)
    assert 'id="score-hist"' in dom

    def score(p: str) -> float:
        v = next(r["alignment_score"] for r in rows if r["path"] == p)
        return float(v) if v else float("nan")

    for key, desc in (("alignment_score", True), ("alignment_score", False), ("path", False)):
        dom = _browser(url + f"#sort={'-' if desc else ''}{key}", "--dump-dom", "--virtual-time-budget=2000").stdout
        assert f'data-sorted="{"-" if desc else ""}{key}"' in dom
        order = [html.unescape(p) for p in _dom_rows(dom)]
        assert sorted(order) == sorted(r["path"] for r in rows)
        if key == "path":
            assert order == sorted(order)
        else:
            vals = [score(p) for p in order]
            have = [v for v in vals if np.isfinite(v)]
            assert have == sorted(have, reverse=desc) and len(have) >= 9
            assert all(np.isfinite(v) for v in vals[:len(have)])   # clips without a score go last

    shot = tmp_path / "report.png"
    _browser(url + "#sort=-alignment_score", f"--screenshot={shot}", "--window-size=1400,900")
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (900, 1400) and img.std() > 10   # something was drawn


# --------------------------------------------------------------------------- interrupt and resume

@pytest.fixture(scope="session")
def kill_folder(tmp_path_factory) -> Path:
    """6 one-second clips and a bad one: enough steps to interrupt half-way."""
    s = _samples()
    d = tmp_path_factory.mktemp("kill_clips")
    for i, (name, start, flip) in enumerate((("anterior_tilt", 0, False), ("neutral_stance", 30, False),
                                             ("pelvic_isolations", 60, False), ("anterior_tilt", 60, True),
                                             ("neutral_stance", 60, True), ("pelvic_isolations", 120, True))):
        _short(s[name], d / f"k{i}_{name}.mp4", start, n=30, flip=flip, scale=0.75)
    (d / "k9_broken.mp4").write_bytes(b"\x00" * 5000)
    return d


@pytest.fixture(scope="session")
def kill_reference(kill_folder, tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("kill_ref")
    r = _run([str(kill_folder), "--out", str(out), "--workers", "1", "--quiet"])
    assert r.returncode == 0, r.stderr
    rows = _table(out)
    assert len(rows) == 7 and sum(_status(x) == "ok" for x in rows) == 6
    return rows


def _records(out: Path) -> dict[str, dict]:
    recs = {}
    for p in (out / "clips").glob("*/record.json"):
        recs[p.parent.name] = json.loads(p.read_text())
    return recs


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupt_then_rerun_equals_uninterrupted(kill_folder, kill_reference, tmp_path, sig):
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO), GLOG_minloglevel="2")
    # Own session: SIGINT/SIGKILL go to the batch process only, the way `kill PID` would;
    # its workers are cleaned up by it (SIGINT) or left orphaned (SIGKILL, the harsh case).
    log = open(tmp_path / "log.txt", "w+")   # not a pipe: a pipe would also wait for orphaned workers
    # SIGINT back to its default in the child: a test run started in the background by a
    # non-interactive shell ignores SIGINT, and that disposition would be inherited.
    p = subprocess.Popen([sys.executable, "-m", "pelvis_tilt", "batch", str(kill_folder), "--out", str(out),
                          "--workers", "1", "--quiet"], cwd=REPO, env=env, start_new_session=True,
                         stdout=log, stderr=log, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while len(_records(out) if (out / "clips").is_dir() else {}) < 3:
            assert p.poll() is None, log.read()
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.05)
        p.send_signal(sig)
        p.wait(timeout=60)
        # No worker outlives the batch: SIGINT stops them, after SIGKILL they notice and leave.
        deadline = time.monotonic() + 20
        while _group_alive(p.pid):
            assert time.monotonic() < deadline, "a worker process outlived the batch"
            time.sleep(0.2)
    finally:
        if p.poll() is None:
            p.kill()
        if _group_alive(p.pid):
            os.killpg(p.pid, signal.SIGKILL)   # only processes this test started
    log.seek(0)
    se = log.read()
    before = _records(out)
    assert 3 <= len(before) < 7, "the interrupt came too late to test anything"
    if sig == signal.SIGINT:
        assert p.returncode == 130, se
        assert "Traceback" not in se
        part = _table(out)   # a valid partial table of the clips done
        assert len(part) == len(before) and all(r["status"] for r in part)
    else:
        assert p.returncode == -signal.SIGKILL
        if (out / "scores.csv").exists():
            _table(out)   # whatever is there parses (atomic writes)
    r = _run([str(kill_folder), "--out", str(out), "--workers", "1", "--quiet"])
    assert r.returncode == 0, r.stderr
    assert f"({7 - len(before)} analysed, {len(before)} unchanged)" in r.stdout, r.stdout
    after = _records(out)
    for k, rec in before.items():   # not scored twice: the records of done clips are untouched
        assert after[k] == rec
    assert _table(out) == kill_reference


# --------------------------------------------------------------------------- a real Dask cluster

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """`dask scheduler` + 2 `dask worker` processes (1 thread each) on loopback."""
    pytest.importorskip("distributed")
    from distributed import Client

    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(REPO), GLOG_minloglevel="2")
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--dashboard-address", ":0", "--no-show"],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        time.sleep(0.5)
        for i in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", addr, "--nthreads", "1",
                                           "--nworkers", "1", "--no-dashboard", "--host", "127.0.0.1",
                                           "--name", f"w{i}", "--local-directory", str(tmp_path / f"w{i}")],
                                          cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with Client(addr, timeout="30s") as c:
            c.wait_for_workers(2, timeout=60)
        yield addr
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def test_dask_cluster_gives_the_local_table(dask_cluster, kill_folder, tmp_path):
    d = tmp_path / "few"
    d.mkdir()
    for p in sorted(kill_folder.glob("*.mp4"))[:2] + [kill_folder / "k9_broken.mp4"]:
        shutil.copy(p, d / p.name)
    local, dist = tmp_path / "local", tmp_path / "dist"
    r1 = _run([str(d), "--out", str(local), "--workers", "2", "--quiet"])
    r2 = _run([str(d), "--out", str(dist), "--cluster", dask_cluster, "--quiet"])
    assert r1.returncode == 0 and r2.returncode == 0, r2.stderr[-2000:]
    assert "(3 analysed, 0 unchanged)" in r2.stdout
    t = _table(dist)
    assert len(t) == 3 and [_status(x) for x in t] == ["ok", "ok", "error"]
    assert t == _table(local)
    # Files came back from the workers into this folder, as in a local run.
    for row in t[:2]:
        assert sorted(p.name for p in (dist / row["outputs"]).iterdir()) == \
               sorted(p.name for p in (local / row["outputs"]).iterdir())


# --------------------------------------------------------------------------- neutral: profile, per-clip

def test_profile_and_first_seconds_baseline(kill_folder, tmp_path, monkeypatch):
    from pelvis_tilt.profiles import Profile, save_profile

    monkeypatch.setenv("PELVIS_TILT_CONFIG", str(tmp_path / "cfg"))
    save_profile(Profile("me", baseline_deg=13.0, band_half_width_deg=3.0))
    clip = sorted(kill_folder.glob("k1_*.mp4"))[0]
    runs = {}
    for name, extra in (("population", []), ("profile", ["--profile", "me"]),
                        ("first", ["--baseline-first", "0.5", "--band", "4"])):
        out = tmp_path / name
        r = _run([str(clip), "--out", str(out), "--workers", "1", "--quiet", *extra])
        assert r.returncode == 0, r.stderr
        (runs[name],) = _table(out)
    assert runs["population"]["neutral"] == "population" and runs["population"]["change_from_neutral_deg"] == ""
    p = runs["profile"]
    assert p["neutral"] == "profile:me" and float(p["baseline_deg"]) == 13.0 and float(p["band_half_width_deg"]) == 3.0
    assert abs(float(p["change_from_neutral_deg"]) - (float(p["tilt_median_deg"]) - 13.0)) < 0.01
    f = runs["first"]
    assert f["neutral"] == "first-0.5s" and float(f["band_half_width_deg"]) == 4.0 and f["change_from_neutral_deg"]
    # A profile without a neutral outline changes only the baseline: the same tilt.  The clip's own
    # first half second is its neutral, and its standing frames are read against that half second's
    # outline (the change trees), its level pulled toward the population as a neutral stance's is
    # (the default reference, 2 s of whatever posture, is not): on this still clip, the plain
    # reading pulled.
    from pelvis_tilt.tilt import TiltModel

    assert p["tilt_median_deg"] == runs["population"]["tilt_median_deg"]
    assert f["tilt_median_deg"] != p["tilt_median_deg"]
    pulled = TiltModel.load().neutral_tilt(float(p["tilt_median_deg"]))
    assert abs(float(f["tilt_median_deg"]) - pulled) < 1.0
    assert abs(float(f["change_from_neutral_deg"]) - (float(f["tilt_median_deg"]) - float(f["baseline_deg"]))) < 0.01
