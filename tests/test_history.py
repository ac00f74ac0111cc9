"""The session history store: round trip, migrations, kill -9 mid-write, two writers at once, the CLI, the page."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pelvis_tilt import history
from pelvis_tilt.history import ExerciseRecord, SessionRecord

REPO = Path(__file__).resolve().parents[1]
NUDGES_PER_SESSION = 400

# A writer process: records sessions in a loop, printing each id once committed.
WRITER = f"""
import sys, time
from pelvis_tilt import history
path, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
con = history.connect(path)
for i in range(n):
    rec = history.SessionRecord(kind="watch", started_at=time.time(), duration_s=60.0 + i, profile=tag, nudges={NUDGES_PER_SESSION},
        nudge_events=[(k * 0.5, "tip") for k in range({NUDGES_PER_SESSION})],
        exercises=[history.ExerciseRecord(f"ex{{k}}", True, True, k, 1.0) for k in range(5)])
    sid = history.insert_session(con, rec)
    print(sid, flush=True)
"""


def cli(*args, env_extra=None, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(REPO), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "pelvis_tilt", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def make(kind="live", **kw):
    base = dict(kind=kind, started_at=time.time(), duration_s=120.0, profile="ann", neutral_deg=11.0,
                band_half_width_deg=5.0, side_on_s=100.0, in_band_s=80.0)
    base.update(kw)
    return SessionRecord(**base)


def complete_sessions(path):
    """(integrity result, {session id: (nudge events, exercises)})."""
    con = sqlite3.connect(path)
    ok = con.execute("PRAGMA integrity_check").fetchone()[0]
    rows = {sid: (ne, ex) for sid, ne, ex in con.execute(
        "SELECT id, (SELECT COUNT(*) FROM nudge_events WHERE session_id = s.id), "
        "(SELECT COUNT(*) FROM exercises WHERE session_id = s.id) FROM sessions s")}
    con.close()
    return ok, rows


def test_round_trip_with_exercises_and_nudges(tmp_path):
    db = tmp_path / "h.sqlite3"
    r = make("routine", range_deg=14.5, find_neutral_error_deg=1.25, neutral_deg=float("nan"),
             exercises=[ExerciseRecord("isolations", True, True, 8, None), ExerciseRecord("stretch", True, False, None, 12.5)])
    sid = history.record_session(r, db)
    w = history.record_session(make("watch", profile="bob", nudges=2, nudge_events=[(30.0, "tip"), (400.5, "head")]), db)
    assert (sid, w) == (1, 2)
    got = history.list_sessions(path=db)
    assert [s["kind"] for s in got] == ["routine", "watch"]
    a = got[0]
    assert a["range_deg"] == 14.5 and a["find_neutral_error_deg"] == 1.25 and a["neutral_deg"] is None  # NaN -> NULL
    assert a["exercises"] == [{"name": "isolations", "started": True, "completed": True, "reps": 8, "hold_s": None},
                              {"name": "stretch", "started": True, "completed": False, "reps": None, "hold_s": 12.5}]
    assert got[1]["nudge_events"] == [{"at_s": 30.0, "reason": "tip"}, {"at_s": 400.5, "reason": "head"}]
    assert [s["id"] for s in history.list_sessions(profile="bob", path=db)] == [2]
    assert [s["id"] for s in history.list_sessions(kinds=["routine"], path=db)] == [1]
    con = history.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert history.schema_version(con) == len(history.MIGRATIONS)
    con.close()
    assert history.delete_sessions([1], path=db) == 1
    assert [s["id"] for s in history.list_sessions(path=db)] == [2]
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM exercises").fetchone()[0] == 0  # cascaded
    con.close()


def test_migrations_upgrade_old_files_and_refuse_newer_ones(tmp_path):
    db = tmp_path / "h.sqlite3"
    history.connect(db).close()
    history.record_session(make(), db)
    # A later release adds a column: the old file is upgraded in place, rows kept.
    extra = history.MIGRATIONS + ["ALTER TABLE sessions ADD COLUMN mood INTEGER;"]
    con = history.connect(db, migrations=extra)
    assert history.schema_version(con) == len(extra)
    assert con.execute("SELECT COUNT(*), MAX(mood) FROM sessions").fetchone() == (1, None)
    con.close()
    # ...and this release, which knows fewer migrations, refuses it with one clear line.
    with pytest.raises(history.HistoryError, match="newer than this pelvis-tilt"):
        history.connect(db)


def test_failed_write_warns_and_never_raises(tmp_path, capsys):
    bad = tmp_path / "not_a_db.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    assert history.record_session(make(), bad) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "session not saved to history" in err


def test_kill_9_during_writes_loses_at_most_the_session_in_flight(tmp_path):
    db = tmp_path / "h.sqlite3"
    history.connect(db).close()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    acknowledged = 0
    for round_ in range(4):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(db), "100000", "k"], stdout=subprocess.PIPE, text=True,
                             env=env)
        seen = []
        deadline = time.monotonic() + 20
        while len(seen) < 3 + round_ and time.monotonic() < deadline:  # let it commit a few, then kill mid-stream
            seen.append(p.stdout.readline())
        time.sleep(0.013 * (round_ + 1))
        os.kill(p.pid, signal.SIGKILL)
        rest = p.stdout.read()
        p.wait()
        acknowledged += len([x for x in seen + rest.splitlines() if x.strip()])
        ok, rows = complete_sessions(db)
        assert ok == "ok"
        assert acknowledged <= len(rows) <= acknowledged + 1   # at most the one in flight is lost (or just made it)
        acknowledged = len(rows)
        # No half-written session: each has all its nudges and exercises.
        assert set(rows.values()) == {(NUDGES_PER_SESSION, 5)}
    # The file is still writable after the crashes.
    assert history.record_session(make(), db) == max(rows) + 1


def test_two_processes_writing_at_once(tmp_path):
    db = tmp_path / "fresh" / "h.sqlite3"   # both also race to create and migrate it
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), "40", tag], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for tag in ("a", "b")]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
    ids = [int(x) for o in outs for x in o[0].split()]
    assert len(ids) == 80 and len(set(ids)) == 80
    ok, rows = complete_sessions(db)
    assert ok == "ok" and sorted(rows) == sorted(ids)
    assert set(rows.values()) == {(NUDGES_PER_SESSION, 5)}
    assert {s["profile"] for s in history.list_sessions(path=db)} == {"a", "b"}


def test_history_cli_outputs_delete_and_errors(tmp_path):
    cfg = tmp_path / "cfg"
    env = {"PELVIS_TILT_CONFIG": str(cfg)}
    db = cfg / "history.sqlite3"
    day = 86400.0
    # Local noon 20 days ago: a start near midnight would push the 1-hour-later watch sessions across the
    # "before:DATE" cut below, and the count would depend on when the suite runs.
    noon = time.localtime(time.time() - 20 * day)
    t0 = time.mktime((noon.tm_year, noon.tm_mon, noon.tm_mday, 12, 0, 0, 0, 0, -1))
    for k in range(6):
        history.record_session(make("calibrate", started_at=t0 + k * 3 * day, neutral_deg=10 + k, duration_s=6), db)
        history.record_session(make("watch", started_at=t0 + k * 3 * day + 3600, duration_s=7200, nudges=k,
                                    nudge_events=[(60.0 * i, "tip") for i in range(k)]), db)
    history.record_session(make("routine", profile="other", range_deg=12.0,
                                exercises=[ExerciseRecord("isolations", True, True, 8, None)]), db)
    r = cli("history", "--profile", "ann", "--json", env_extra=env)
    assert r.returncode == 0, r.stderr
    js = json.loads(r.stdout)
    assert len(js) == 12 and {s["kind"] for s in js} == {"calibrate", "watch"}
    assert [s["neutral_deg"] for s in js if s["kind"] == "calibrate"] == [10, 11, 12, 13, 14, 15]
    table = cli("history", env_extra=env)
    assert table.returncode == 0 and len(table.stdout.splitlines()) == 14 and "routine" in table.stdout
    out = tmp_path / "o"
    r = cli("history", "--csv", out / "h.csv", "--html", out / "h.html", env_extra=env)
    assert r.returncode == 0, r.stderr
    assert len((out / "h.csv").read_text().splitlines()) == 14
    page = (out / "h.html").read_text()
    assert page.count("<svg") == 6 and "src=" not in page and "http" not in page.replace('xmlns="http', "")
    # deleting: bad spec -> 1; before:DATE -> only older ones; ids
    assert cli("history", "--delete", "yesterday", env_extra=env).returncode == 1
    cut = time.strftime("%Y-%m-%d", time.localtime(t0 + 7 * day))
    r = cli("history", "--profile", "ann", "--delete", f"before:{cut}", env_extra=env)
    assert r.returncode == 0 and r.stdout.startswith("deleted 6 sessions"), r.stdout
    assert len(history.list_sessions(path=db)) == 7
    # a damaged database: one line, exit 2, no traceback
    db.unlink()
    for p in cfg.glob("history.sqlite3-*"):
        p.unlink()
    db.write_bytes(b"garbage" * 1000)
    r = cli("history", env_extra=env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_trend_numbers():
    from pelvis_tilt.history_page import trends

    day = 86400.0
    t0 = 1_700_000_000.0
    s = [dict(kind="watch", started_at=t0, utc_offset_s=0, duration_s=1800, side_on_s=1500, in_band_s=900, nudges=3),
         dict(kind="watch", started_at=t0 + 3600, utc_offset_s=0, duration_s=1800, side_on_s=1200, in_band_s=600,
              nudges=1),
         dict(kind="routine", started_at=t0 + day, utc_offset_s=0, duration_s=600, side_on_s=300, in_band_s=120,
              nudges=0, range_deg=10.0, exercises=[dict(started=True, completed=True), dict(started=True, completed=False)]),
         dict(kind="calibrate", started_at=t0 + 2 * day, utc_offset_s=0, duration_s=6, side_on_s=6, in_band_s=6,
              nudges=0, neutral_deg=12.5)]
    tr = trends(s)
    assert tr["nudges_per_hour"][1] == [4.0]                       # 4 nudges in 1 h of watch that day
    assert tr["in_band_min"][1] == pytest.approx([25.0, 2.0, 0.1])
    assert tr["routine_completion_pct"][1] == [50.0]
    assert tr["neutral"][1] == [12.5] and tr["range_per_week"][1] == [10.0]


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed")
def test_page_renders_in_headless_chromium(tmp_path):
    from pelvis_tilt.history_page import write_page

    day = 86400.0
    t0 = time.time() - 10 * day
    sessions = []
    for k in range(8):
        sessions.append(dict(id=k + 1, kind="watch" if k % 2 else "routine", started_at=t0 + k * day, utc_offset_s=0,
                             duration_s=3600, profile="ann", side_on_s=3000, in_band_s=2000 + 100 * k, nudges=5 - k // 2,
                             range_deg=8.0 + k, neutral_deg=None, find_neutral_error_deg=None,
                             exercises=[dict(name="isolations", started=True, completed=k > 2, reps=8, hold_s=None)]))
    page = write_page(tmp_path / "p.html", sessions, "ann")
    prof = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    shot = tmp_path / "shot.png"
    r = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={prof}", "--window-size=1280,900", f"--screenshot={shot}",
                        "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    dom = r.stdout
    assert dom.count("<svg") == 6 and dom.count("<rect") >= 8 * 2
    import cv2
    import numpy as np

    img = cv2.imread(str(shot))
    assert img is not None, r.stderr[-500:]
    # the bars are painted: pixels in the nudge bars' and the range bars' colours (BGR)
    for bgr in ((81, 111, 231), (157, 79, 123)):
        assert (np.abs(img.astype(int) - bgr).sum(axis=2) < 12).sum() > 500
