"""Session history: an embedded SQLite store (numbers only, never frames).

One file, ``history.sqlite3``, beside the profiles (``$PELVIS_TILT_CONFIG``
overrides the folder).  The schema is versioned with ``PRAGMA user_version``
and upgraded by the ordered `MIGRATIONS`, each applied in its own transaction.
The database runs in WAL mode with ``synchronous=FULL``: a session is written
in one ``BEGIN IMMEDIATE`` transaction, so a process killed mid-write loses at
most that session, and two processes writing at once queue on the lock
(``busy_timeout``) instead of failing.
"""
from __future__ import annotations

import os
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from .profiles import config_dir

KINDS = ("calibrate", "live", "routine", "watch", "analyze", "batch")
DB_NAME = "history.sqlite3"
BUSY_TIMEOUT_S = 30.0

# Each entry upgrades the schema by one version (user_version = index + 1).  Never edit
# a released entry: append a new one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE sessions (
        id                     INTEGER PRIMARY KEY AUTOINCREMENT,
        kind                   TEXT NOT NULL,
        started_at             REAL NOT NULL,           -- unix seconds
        utc_offset_s           INTEGER NOT NULL DEFAULT 0,  -- local time = started_at + utc_offset_s
        duration_s             REAL NOT NULL DEFAULT 0,
        profile                TEXT,
        source                 TEXT,
        neutral_deg            REAL,
        band_half_width_deg    REAL,
        range_deg              REAL,
        side_on_s              REAL,
        in_band_s              REAL,
        nudges                 INTEGER NOT NULL DEFAULT 0,
        find_neutral_error_deg REAL
    );
    CREATE INDEX sessions_by_profile ON sessions (profile, started_at);
    CREATE TABLE exercises (
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        started    INTEGER NOT NULL DEFAULT 0,
        completed  INTEGER NOT NULL DEFAULT 0,
        reps       INTEGER,
        hold_s     REAL,
        PRIMARY KEY (session_id, name)
    );
    CREATE TABLE nudge_events (
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        at_s       REAL NOT NULL,                        -- seconds from the session start
        reason     TEXT NOT NULL
    );
    """,
]


class HistoryError(RuntimeError):
    """The history database cannot be opened, read or written (message is one line)."""


@dataclass
class ExerciseRecord:
    """One exercise of a routine session."""

    name: str
    started: bool = False
    completed: bool = False
    reps: int | None = None
    hold_s: float | None = None


@dataclass
class SessionRecord:
    """What one session leaves in the history."""

    kind: str
    started_at: float
    duration_s: float = 0.0
    profile: str | None = None
    source: str | None = None
    neutral_deg: float | None = None
    band_half_width_deg: float | None = None
    range_deg: float | None = None
    side_on_s: float | None = None
    in_band_s: float | None = None
    nudges: int = 0
    find_neutral_error_deg: float | None = None
    utc_offset_s: int = field(default_factory=lambda: local_utc_offset())
    exercises: list[ExerciseRecord] = field(default_factory=list)
    nudge_events: list[tuple[float, str]] = field(default_factory=list)  # (seconds from start, reason)


def local_utc_offset(at: float | None = None) -> int:
    """Seconds east of UTC of local time at ``at`` (now by default)."""
    return int(time.localtime(at).tm_gmtoff)


def db_path() -> Path:
    """The history file: ``<config dir>/history.sqlite3``."""
    return config_dir() / DB_NAME


def _num(x) -> float | None:
    """A finite float, or None (SQLite NULL) for NaN / inf / missing."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def connect(path: str | os.PathLike | None = None, migrations: Sequence[str] = MIGRATIONS) -> sqlite3.Connection:
    """Open (creating if needed) and upgrade the database; autocommit mode, WAL, foreign keys on."""
    p = Path(path) if path is not None else db_path()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(str(p), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise HistoryError(f"cannot open history database {p}: {exc}") from None
    try:
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        _retry_locked(lambda: con.execute("PRAGMA journal_mode = WAL"))
        con.execute("PRAGMA synchronous = FULL")
        con.execute("PRAGMA foreign_keys = ON")
        _retry_locked(lambda: _migrate(con, migrations))
    except sqlite3.DatabaseError as exc:
        con.close()
        raise HistoryError(f"history database {p} is unusable: {exc}") from None
    except HistoryError:
        con.close()
        raise
    return con


def _retry_locked(step):
    """``step()``, retried while SQLite says "database is locked" (for up to BUSY_TIMEOUT_S).
    Switching a brand-new file to WAL while another process creates it too can fail at once
    with that error: SQLite does not always wait on its busy handler there (seen: one of two
    processes opening a fresh database together failed in ~1 run in 10)."""
    end = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > end:
                raise
            time.sleep(0.05)


def _migrate(con: sqlite3.Connection, migrations: Sequence[str]) -> None:
    """Apply the migrations this file lacks, each in one immediate transaction (so two
    processes opening a new database at once cannot both apply the same step)."""
    while True:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version > len(migrations):
            raise HistoryError(f"history database schema v{version} is newer than this pelvis-tilt "
                               f"(knows v{len(migrations)}): upgrade pelvis-tilt")
        if version == len(migrations):
            return
        con.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have just migrated.
            if con.execute("PRAGMA user_version").fetchone()[0] == version:
                for stmt in _statements(migrations[version]):
                    con.execute(stmt)
                con.execute(f"PRAGMA user_version = {version + 1}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (executed one by one inside our transaction;
    ``executescript`` would commit on its own)."""
    out, buf = [], ""
    for line in script.splitlines():
        buf += line.split("--", 1)[0] + "\n"
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return [s for s in out if s.strip(" ;\n")]


def schema_version(con: sqlite3.Connection) -> int:
    return int(con.execute("PRAGMA user_version").fetchone()[0])


def insert_session(con: sqlite3.Connection, rec: SessionRecord) -> int:
    """Write one session with its exercises and nudges in a single transaction; returns its id."""
    if rec.kind not in KINDS:
        raise ValueError(f"unknown session kind {rec.kind!r}")
    con.execute("BEGIN IMMEDIATE")
    try:
        cur = con.execute(
            "INSERT INTO sessions (kind, started_at, utc_offset_s, duration_s, profile, source, neutral_deg, "
            "band_half_width_deg, range_deg, side_on_s, in_band_s, nudges, find_neutral_error_deg) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (rec.kind, float(rec.started_at), int(rec.utc_offset_s), _num(rec.duration_s) or 0.0, rec.profile,
             rec.source, _num(rec.neutral_deg), _num(rec.band_half_width_deg), _num(rec.range_deg),
             _num(rec.side_on_s), _num(rec.in_band_s), int(rec.nudges), _num(rec.find_neutral_error_deg)))
        sid = int(cur.lastrowid)
        con.executemany(
            "INSERT INTO exercises (session_id, name, started, completed, reps, hold_s) VALUES (?,?,?,?,?,?)",
            [(sid, e.name, int(e.started), int(e.completed), None if e.reps is None else int(e.reps), _num(e.hold_s))
             for e in rec.exercises])
        con.executemany("INSERT INTO nudge_events (session_id, at_s, reason) VALUES (?,?,?)",
                        [(sid, float(a), str(r)) for a, r in rec.nudge_events])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return sid


def record_session(rec: SessionRecord, path: str | os.PathLike | None = None) -> int | None:
    """Append a finished session to the history; never fails the command that called it.

    Returns the new id, or None if history is off (``PELVIS_TILT_NO_HISTORY=1``) or
    could not be written (one warning line on stderr says why).
    """
    if os.environ.get("PELVIS_TILT_NO_HISTORY"):
        return None
    try:
        con = connect(path)
        try:
            return insert_session(con, rec)
        finally:
            con.close()
    except (HistoryError, sqlite3.Error, OSError) as exc:
        print(f"pelvis-tilt: warning: session not saved to history: {str(exc).splitlines()[0]}", file=sys.stderr)
        return None


def _where(profile: str | None, kinds: Iterable[str] | None) -> tuple[str, list]:
    clauses, args = [], []
    if profile is not None:
        clauses.append("profile = ?")
        args.append(profile)
    kinds = list(kinds or [])
    if kinds:
        clauses.append(f"kind IN ({','.join('?' * len(kinds))})")
        args += kinds
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def list_sessions(profile: str | None = None, kinds: Iterable[str] | None = None,
                  path: str | os.PathLike | None = None) -> list[dict]:
    """Sessions oldest first, each a dict of its columns plus ``exercises`` and ``nudge_events`` lists."""
    con = connect(path)
    try:
        con.row_factory = sqlite3.Row
        where, args = _where(profile, kinds)
        # One read transaction: the three SELECTs see the same snapshot even while others write.
        con.execute("BEGIN")
        rows = [dict(r) for r in con.execute(f"SELECT * FROM sessions{where} ORDER BY started_at, id", args)]
        by_id = {r["id"]: r for r in rows}
        for r in rows:
            r["exercises"], r["nudge_events"] = [], []
        chosen = f"session_id IN (SELECT id FROM sessions{where})"
        for e in con.execute(f"SELECT session_id, name, started, completed, reps, hold_s FROM exercises "
                             f"WHERE {chosen} ORDER BY session_id, rowid", args):
            by_id[e["session_id"]]["exercises"].append(
                {"name": e["name"], "started": bool(e["started"]), "completed": bool(e["completed"]),
                 "reps": e["reps"], "hold_s": e["hold_s"]})
        for n in con.execute(f"SELECT session_id, at_s, reason FROM nudge_events WHERE {chosen} "
                             f"ORDER BY session_id, at_s", args):
            by_id[n["session_id"]]["nudge_events"].append({"at_s": n["at_s"], "reason": n["reason"]})
        con.execute("COMMIT")
        return rows
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot read history database: {exc}") from None
    finally:
        con.close()


def delete_sessions(ids: Iterable[int] = (), *, profile: str | None = None, before: float | None = None,
                    everything: bool = False, path: str | os.PathLike | None = None) -> int:
    """Delete sessions by id, or all (``everything``) / all started before ``before`` (unix s),
    within ``profile`` if given.  Returns how many were deleted."""
    ids = [int(i) for i in ids]
    con = connect(path)
    try:
        where, args = _where(profile, None)
        conds = [where[len(" WHERE "):]] if where else []
        if ids:
            conds.append(f"id IN ({','.join('?' * len(ids))})")
            args += ids
        if before is not None:
            conds.append("started_at < ?")
            args.append(float(before))
        if not (ids or before is not None or everything):
            return 0
        sql = "DELETE FROM sessions" + (" WHERE " + " AND ".join(conds) if conds else "")
        con.execute("BEGIN IMMEDIATE")
        try:
            n = con.execute(sql, args).rowcount
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return int(n)
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot delete from history database: {exc}") from None
    finally:
        con.close()


def as_dict(rec: SessionRecord) -> dict:
    """A record as plain data (for printing and tests)."""
    return asdict(rec)
