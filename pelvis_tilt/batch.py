"""Score many clips: ``pelvis-tilt batch INPUT... --out DIR``.

The settings are resolved once, here (`make_job`), and every clip goes through
`analyze_clip` with them (the same code path as ``analyze``) in a worker process,
locally or on a Dask cluster (`engines`, `batch_worker`).  Only this process writes
into ``DIR`` (`batch_store.Store`), so there is one writer and no races.  A rerun
skips a clip whose record matches the file (size, mtime, hash of the first MiB)
and the settings; anything else is analysed again.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from . import engines
from .batch_store import Store
from .batch_worker import BatchJob, ClipTask
from .results import Status
from .settings import resolve
from .sources import VIDEO_EXTS, find_videos


def make_job(*, baseline: float | None = None, band: float | None = None, profile: str | None = None,
             baseline_first: float | None = None, model: str | None = None, video: bool = False,
             plot: bool = False, follow: bool = True, reference_s: float | None = None) -> BatchJob:
    """The batch's settings, resolved like every command's (`settings.resolve`), and its outputs."""
    return BatchJob(resolve(baseline=baseline, band=band, profile=profile, baseline_first=baseline_first,
                            pose_model=model, follow=follow, reference_s=reference_s), video, plot)


# --------------------------------------------------------------------------- inputs

def collect_inputs(inputs: Iterable[str]) -> tuple[list[str], list[str]]:
    """Files, folders (recursive, video extensions) and globs -> (paths in input order, notes).

    A file named explicitly is kept whatever its extension (it gets its own row,
    an error one if it is not a video); a missing path is kept too, so the user
    sees a row saying so.  Duplicates are dropped (first occurrence wins).
    """
    out: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        k = os.path.realpath(p)
        if k not in seen:
            seen.add(k)
            out.append(p)

    for item in inputs:
        p = Path(item)
        if p.is_dir():
            vids = find_videos(p)
            if not vids:
                notes.append(f"no video files ({', '.join(sorted(VIDEO_EXTS))}) under {item}")
            for v in vids:
                add(str(v))
        elif p.exists():
            add(item)
        elif glob.has_magic(item):
            hits = sorted(glob.glob(item, recursive=True))
            files = []
            for h in hits:
                if Path(h).is_dir():
                    files.extend(str(v) for v in find_videos(h))
                elif Path(h).suffix.lower() in VIDEO_EXTS:
                    files.append(h)
            if not files:
                notes.append(f"no video files match {item}")
            for f in files:
                add(f)
        else:
            add(item)   # a row with "error: no such file" beats a silent skip
    return out, notes


def clip_key(path: str) -> str:
    """Stable, unique output folder name for a clip: readable stem + hash of its absolute path."""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(path).stem)[:60] or "clip"
    return f"{stem}-{hashlib.sha1(os.path.realpath(path).encode()).hexdigest()[:8]}"


def fingerprint(path: str) -> dict | None:
    """Size, mtime and a hash of the first MiB: cheap, and catches a replaced file."""
    try:
        st = os.stat(path)
        with open(path, "rb") as fh:
            head = hashlib.sha256(fh.read(1 << 20)).hexdigest()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "head_sha256": head}


# --------------------------------------------------------------------------- progress

class Progress:
    """A tqdm bar of clips on stderr, shown from the start and moved by frames as workers report
    them (a clip half analysed counts half), with frames/s; in a log file, one line per clip."""

    def __init__(self, total: int, done: int, enabled: bool, tty: bool):
        from tqdm import tqdm

        self.tty, self.enabled = tty, enabled
        self.whole, self.partial = float(done), {}
        self.frames = self.analysed = 0
        self._running_frames: dict[int, int] = {}   # frames done so far of clips still running
        self.t0 = time.monotonic()
        self.bar = tqdm(total=total, initial=done, desc="batch", unit="clip", file=sys.stderr, disable=not enabled,
                        dynamic_ncols=True, mininterval=0.5 if tty else 30.0,
                        bar_format="{desc} {percentage:3.0f}%|{bar}| {n:.1f}/{total} clips [{elapsed}<{remaining}]{postfix}")
        self.bar.refresh()

    def _move(self) -> None:
        target = self.whole + sum(self.partial.values())
        fps = self.frames / max(time.monotonic() - self.t0, 1e-6)
        self.bar.set_postfix_str(f"{fps:.1f} frames/s", refresh=False)
        self.bar.update(max(target - self.bar.n, 0.0))

    def frames_done(self, index: int | None, done: int = 0, total: int = 0) -> None:
        """A worker's report (index None: just a clock tick, so elapsed time moves)."""
        if index is not None:
            prev = self.partial.get(index, 0.0)
            frac = min(done / total, 0.99) if total > 0 else 0.0
            self.partial[index] = max(frac, prev)
            self._running_frames[index] = done
            self.frames = self.analysed + sum(self._running_frames.values())
        self._move()

    def update(self, row: dict, analysed: bool, index: int | None = None) -> None:
        self.partial.pop(index, None)
        self._running_frames.pop(index, None)
        self.whole += 1
        if analysed:
            self.analysed += int(row["frames"] or 0)
        self.frames = self.analysed + sum(self._running_frames.values())
        if self.enabled and not self.tty:
            self.bar.write(f"{Path(row['path']).name}: {row['status']}", file=sys.stderr)
        self._move()

    def close(self) -> None:
        self.bar.close()


def _hms(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


# --------------------------------------------------------------------------- the batch

@dataclass
class BatchResult:
    records: list[dict]
    counts: dict
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    out: Path | None = None


def run_batch(inputs: list[str], out: str | os.PathLike, job: BatchJob, *, workers: int | None = None,
              engine: str = "local", address: str | None = None, force: bool = False, progress: bool = True,
              html: bool = True, on_result: Callable[[dict], None] | None = None) -> BatchResult:
    """Score every clip in ``inputs`` into ``out``; see the module docstring.

    Ctrl-C (KeyboardInterrupt) stops the workers, writes the tables and report
    for the clips done so far, and returns with ``interrupted=True``.
    """
    paths, notes = collect_inputs(inputs)
    store = Store(out)
    lock = store.lock()   # one batch per output folder; released when this process ends, even by kill -9
    # `batch . --out scores --video` must not score its own annotated videos on the next run.
    own = [p for p in paths if Path(os.path.realpath(p)).is_relative_to(store.out.resolve())]
    if own:
        notes.append(f"skipped {len(own)} file(s) inside the output folder {store.out}")
        paths = [p for p in paths if p not in own]
    tasks = [ClipTask(i, p, clip_key(p), job) for i, p in enumerate(paths)]
    earlier = sorted(d.name for d in store.clips.iterdir()
                     if (d / "record.json").is_file() and d.name not in {t.key for t in tasks})
    if earlier:   # the tables list this run's inputs; say so rather than drop rows silently
        notes.append(f"{len(earlier)} clip(s) scored earlier into {store.out} are not among these inputs: their "
                     f"files stay in {store.clips}, but scores.csv and report.html list only this run's clips")
    fps = {t.index: fingerprint(t.path) for t in tasks}
    records: dict[int, dict] = {}
    todo: list[ClipTask] = []
    for t in tasks:
        rec = None if force else store.cached(t, fps[t.index])
        if rec is not None:
            records[t.index] = rec
        else:
            todo.append(t)
    counts = {"clips": len(tasks), "reused": len(records), "analysed": 0, "errors": 0}
    bar = Progress(len(tasks), len(records), progress, sys.stderr.isatty())
    last_write = 0.0

    def flush(final: bool = False) -> None:
        ordered = [records[i] for i in sorted(records)]   # input order, whatever the completion order
        counts["errors"] = sum(r["row"]["status"] == Status.ERROR.value for r in ordered)
        store.write_tables(ordered, counts, job)
        if html and final:
            from .html_report import write_report
            write_report(store.out / "report.html", ordered, store.clips, job, counts)

    interrupted = False
    try:
        if todo:
            with contextlib.closing(engines.run(todo, engine=engine, workers=workers, address=address,
                                                on_progress=bar.frames_done if progress else None)) as it:
                for task, result in it:
                    records[task.index] = store.commit(task, fps[task.index], result)
                    counts["analysed"] += 1
                    bar.update(result.row, analysed=True, index=task.index)
                    if on_result:
                        on_result(result.row)
                    if time.monotonic() - last_write > 1.0:   # keep scores.csv current, not O(n^2) writes
                        flush()
                        last_write = time.monotonic()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        try:
            flush(final=True)
        finally:
            lock.close()
    ordered = [records[i] for i in sorted(records)]
    return BatchResult(ordered, counts, interrupted, notes, store.out)
