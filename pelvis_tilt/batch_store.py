"""A batch's output folder: per-clip records (commit marks), the combined tables, the lock.

    DIR/clips/<stem>-<hash>/   <stem>.frames.csv, <stem>.summary.json, thumb.jpg,
                               [<stem>.annotated.mp4, <stem>.tilt.png], record.json
    DIR/scores.csv, DIR/scores.json, DIR/report.html

``record.json`` is written last, atomically: it is the commit mark of a clip.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from . import report
from .batch_worker import SCORE_COLUMNS, BatchJob, ClipOutcome, ClipTask

RECORD_VERSION = 2   # 2: settings resolved once (pipeline), status "error" with the reason in "message"


class BatchBusy(report.OutputError):
    """Another batch holds the output folder's lock."""


class Store:
    """The output folder: per-clip records (commit marks) and the combined tables."""

    def __init__(self, out: str | os.PathLike):
        self.out = report.ensure_writable_dir(out)
        self.clips = self.out / "clips"
        self.clips.mkdir(exist_ok=True)

    def lock(self):
        """Hold an exclusive lock on ``DIR/.batch.lock`` for this run; `BatchBusy` if another run has it."""
        f = open(self.out / ".batch.lock", "a+")
        try:
            import fcntl
        except ImportError:   # not POSIX: no lock, as before
            return f
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            who = f.read().strip() or "?"
            f.close()
            raise BatchBusy(f"another pelvis-tilt batch (pid {who}) is writing into {self.out}: wait for it to "
                            "finish, or use another --out") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        return f

    def record_path(self, task: ClipTask) -> Path:
        return self.clips / task.key / "record.json"

    def cached(self, task: ClipTask, fp: dict | None) -> dict | None:
        """The stored record if it is still valid for this file and these settings."""
        try:
            rec = json.loads(self.record_path(task).read_text())
        except (OSError, ValueError):
            return None
        if (rec.get("version") != RECORD_VERSION or rec.get("settings_key") != task.job.key()
                or rec.get("fingerprint") != fp or rec.get("realpath") != os.path.realpath(task.path)):
            return None
        rec["row"]["path"] = task.path  # the same file may be named differently this time
        return rec

    def commit(self, task: ClipTask, fp: dict | None, result: ClipOutcome) -> dict:
        """Write a clip's files, then its record (atomically, last)."""
        d = self.clips / task.key
        d.mkdir(exist_ok=True)
        for p in d.iterdir():   # leftovers of an interrupted write or a previous, different result
            if p.is_file() and p.name != "record.json":
                p.unlink()
        for name, data in result.files.items():
            with report.atomic_path(d / name) as tmp:
                tmp.write_bytes(data)
        if result.thumb:
            with report.atomic_path(d / "thumb.jpg") as tmp:
                tmp.write_bytes(result.thumb)
        rec = {"version": RECORD_VERSION, "key": task.key, "settings_key": task.job.key(), "settings": task.job.as_dict(),
               "realpath": os.path.realpath(task.path), "fingerprint": fp, "row": result.row,
               "spark": result.spark, "thumb": "thumb.jpg" if result.thumb else "",
               "scored_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "scored_by": os.getpid()}
        # Keep exactly what a rerun will read back (rounded, NaN -> null): fresh and reused rows must match.
        rec = report.to_jsonable(rec)
        report.write_json(d / "record.json", rec)
        return rec

    def write_tables(self, records: list[dict], counts: dict, job: BatchJob) -> None:
        rows = [r["row"] for r in records]
        # Reused records come from JSON, where a missing number is null: write it as an empty cell.
        cols = {c: ["" if row.get(c) is None else row.get(c) for row in rows] for c in SCORE_COLUMNS}
        report.write_csv(self.out / "scores.csv", cols)
        report.write_json(self.out / "scores.json", {
            "settings": job.as_dict(), "counts": counts, "columns": SCORE_COLUMNS, "rows": rows})
