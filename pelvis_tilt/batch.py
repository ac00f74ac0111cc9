"""Score many clips: ``pelvis-tilt batch INPUT... --out DIR``.

Each clip goes through `analyze_clip` (the same code path as ``analyze``) in a
worker process, locally or on a Dask cluster (see `engines`).  Workers analyse
into a private temporary folder and send the files back; only this (parent)
process writes into ``DIR``, so there is one writer and no races:

    DIR/clips/<stem>-<hash>/   <stem>.frames.csv, <stem>.summary.json, thumb.jpg,
                               [<stem>.annotated.mp4, <stem>.tilt.png], record.json
    DIR/scores.csv, DIR/scores.json, DIR/report.html

``record.json`` is written last, atomically: it is the commit mark of a clip.
A rerun skips a clip whose record matches the file (size, mtime, hash of the
first MiB) and the settings; anything else is analysed again.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import report
from .sources import VIDEO_EXTS, find_videos

SCORE_COLUMNS = [
    "path", "status", "reliable", "duration_s", "frames", "fps", "detected_fraction", "side_on_fraction",
    "reliable_fraction", "tilt_median_deg", "tilt_p10_deg", "tilt_p90_deg", "neutral", "baseline_deg",
    "band_half_width_deg", "change_from_neutral_deg", "pct_anterior", "pct_neutral", "pct_posterior",
    "alignment_score", "elapsed_s", "message", "outputs",
]
RECORD_VERSION = 1
SPARK_POINTS = 120      # sparkline resolution (points per clip)
THUMB_WIDTH = 160


# --------------------------------------------------------------------------- settings and tasks

@dataclass(frozen=True)
class BatchSettings:
    """Everything that changes a clip's result (a change re-scores cached clips)."""

    baseline_deg: float = 10.0
    band_half_width_deg: float = 5.0
    neutral: str = "population"          # population | fixed | profile:NAME | first-<S>s
    baseline_first_s: float | None = None
    roll_deg: float = 0.0
    model: str | None = None             # pose .task bundle (None = built-in)
    video: bool = False
    plot: bool = False
    tilt_model: str = ""                 # estimator kind + file hash

    def key(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    @property
    def personal(self) -> bool:
        """True when the neutral is the user's (profile, own baseline, per-clip), not the population's."""
        return self.neutral != "population"


def make_settings(*, baseline: float | None = None, band: float | None = None, profile: str | None = None,
                  baseline_first: float | None = None, model: str | None = None, video: bool = False,
                  plot: bool = False) -> BatchSettings:
    """Resolve the neutral band like ``analyze``: profile, then --baseline / --band override it;
    ``baseline_first`` (seconds) replaces the baseline by each clip's own."""
    from .profiles import load_profile
    from .tilt import TiltModel

    tm = TiltModel.load()
    base, half, roll, neutral = tm.population_neutral_deg, 5.0, 0.0, "population"
    if profile:
        p = load_profile(profile)
        base, half, roll, neutral = p.baseline_deg, p.band_half_width_deg, p.roll_deg, f"profile:{profile}"
    if baseline is not None:
        base, neutral = baseline, "fixed"
    if band is not None:
        half = band
    if baseline_first is not None:
        neutral = f"first-{baseline_first:g}s"
    # Re-score cached clips when the estimator changes (kind or fitted numbers).
    blob = json.dumps([tm.kind, getattr(tm, "params", None), tm.population_neutral_deg], sort_keys=True, default=str)
    tm_id = f"{tm.kind}:{hashlib.sha1(blob.encode()).hexdigest()[:10]}"
    return BatchSettings(float(base), float(half), neutral, baseline_first, float(roll),
                         str(Path(model).resolve()) if model else None, video, plot, tm_id)


@dataclass
class ClipTask:
    index: int
    path: str                  # as found (shown in the table)
    key: str                   # output sub-folder name
    settings: BatchSettings
    attempt: int = 0


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


# --------------------------------------------------------------------------- worker side

_TILT_MODEL = None


def _tilt_model():
    # Loaded once per worker process, not once per clip.
    global _TILT_MODEL
    if _TILT_MODEL is None:
        from .tilt import TiltModel
        _TILT_MODEL = TiltModel.load()
    return _TILT_MODEL


_PROGRESS_QUEUE = None   # set in pool workers: (clip index, frames done, frames total) go to the parent


def init_worker(cv_threads: int = 1, progress_queue=None) -> None:
    """Process-pool initializer: quiet native logs, one OpenCV thread, Ctrl-C handled by the parent,
    per-frame progress into ``progress_queue`` (if given)."""
    import signal

    global _PROGRESS_QUEUE
    _PROGRESS_QUEUE = progress_queue
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import cv2
    cv2.setNumThreads(cv_threads)
    _exit_with_parent()
    # Pay the per-process costs (imports, estimator, first landmarker) once, up front.
    try:
        from .pose import PoseRunner
        _tilt_model()
        with PoseRunner():
            pass
    except Exception:  # noqa: BLE001 - the clip that needs it will report the problem
        pass


def _exit_with_parent(period_s: float = 0.5) -> None:
    """If the batch process dies (SIGKILL, OOM), a pool worker would otherwise finish its clip
    and then wait forever for the next one: watch the parent and leave with it."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(period_s)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _spark(t: np.ndarray, tilt: np.ndarray, n: int = SPARK_POINTS) -> dict:
    """Down-sample the smoothed tilt to <= n points (bin medians; gaps stay None)."""
    if len(t) == 0:
        return {"t": [], "tilt": []}
    edges = np.linspace(0, len(t), min(n, len(t)) + 1).astype(int)
    ts, vs = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        seg = tilt[a:b]
        seg = seg[np.isfinite(seg)]
        ts.append(round(float(np.mean(t[a:b])), 3))
        vs.append(round(float(np.median(seg)), 2) if seg.size else None)
    return {"t": ts, "tilt": vs}


def _thumbnail(path: str, frame_index: int) -> bytes:
    """A small JPEG of one frame (upright, like the analysis sees it); b'' if it cannot be read."""
    import cv2

    from .sources import VideoSource

    try:
        with VideoSource(path) as src:
            if frame_index > 0:
                src.cap.set(cv2.CAP_PROP_POS_FRAMES, frame_index)
            ok, frame = src.cap.read()
            if not ok or frame is None:
                return b""
        h, w = frame.shape[:2]
        small = cv2.resize(frame, (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w))), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
        return buf.tobytes() if ok else b""
    except Exception:   # a thumbnail is decoration: never fail a clip for it
        return b""


def _first_seconds_baseline(res, seconds: float) -> float:
    """Median smoothed side-on tilt over the first ``seconds`` of the clip (NaN if none)."""
    t = res.frames.t
    side_on = res.est.measures.is_side_on() & res.frames.detected
    sel = (t - t[0] < seconds) & side_on & np.isfinite(res.est.tilt_smooth)
    return float(np.median(res.est.tilt_smooth[sel])) if sel.any() else float("nan")


def _row(task: ClipTask, summary: dict | None, status: str, message: str, elapsed: float,
         neutral: str, personal: bool) -> dict:
    s = summary or {}
    nan = float("nan")
    row = {c: s.get(c, nan) for c in SCORE_COLUMNS}
    row.update(path=task.path, status=status, message=message, elapsed_s=round(elapsed, 3),
               neutral=neutral if summary else "", outputs=f"clips/{task.key}" if summary else "",
               change_from_neutral_deg=s.get("tilt_from_neutral_median_deg", nan) if personal else nan)
    for c in ("frames",):
        row[c] = int(s[c]) if c in s else ""
    return row


def score_clip(task: ClipTask) -> dict:
    """Analyse one clip (worker side).  Never raises for a bad clip: errors become the row's status.

    Returns ``{"row", "spark", "files": {name: bytes}, "thumb": bytes}``.
    """
    from .analyze import analyze_clip, estimate, summarise
    from .cues import Band
    from .filters import ZERO_LAG_SIGMA_S

    st = task.settings
    t0 = time.perf_counter()
    model = _tilt_model()
    band = Band(baseline=st.baseline_deg, half_width=st.band_half_width_deg)
    with tempfile.TemporaryDirectory(prefix="pelvis-batch-") as tmp:
        try:
            q = _PROGRESS_QUEUE
            report_frames = (lambda done, total: q.put((task.index, done, total))) if q is not None else False
            res = analyze_clip(task.path, tmp, model=st.model, tilt_model=model, band=band, annotate=st.video,
                               plot=st.plot, table=True, progress=report_frames, roll_deg=st.roll_deg)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # SourceError, ModelError, or a bug: one line in the row, the batch goes on
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            msg = msg.replace(task.path, Path(task.path).name)   # the path has its own column
            if not isinstance(exc, (RuntimeError, OSError, ValueError)):
                msg = f"{type(exc).__name__}: {msg}"
            row = _row(task, None, f"error: {msg}", "", time.perf_counter() - t0, "", False)
            return {"row": row, "spark": {"t": [], "tilt": []}, "files": {}, "thumb": b""}
        summary, neutral, personal = res.summary, st.neutral, st.personal
        stem = Path(task.path).stem
        if st.baseline_first_s is not None:
            # Per-clip neutral: re-run the cheap vectorised core with the clip's own baseline
            # (MediaPipe is not run again), then rewrite the table and summary.
            base = _first_seconds_baseline(res, st.baseline_first_s)
            if np.isfinite(base):
                band = Band(baseline=base, half_width=st.band_half_width_deg)
                sigma = ZERO_LAG_SIGMA_S * res.info.fps
                res.est = estimate(res.frames, model, band, sigma, 0.4, st.roll_deg)
                res.band = band
                summary = summarise(res.clip, res.frames, res.est, band, model, res.info, summary["warnings"])
                report.write_csv(Path(tmp) / f"{stem}.frames.csv", res.table())
            else:
                neutral, personal = "population", False
                summary["warnings"].append(f"no side-on tilt in the first {st.baseline_first_s:g} s: "
                                           f"population neutral used")
        summary["outputs"] = {k: Path(v).name for k, v in res.outputs.items() if k != "summary"}
        summary["outputs"]["summary"] = f"{stem}.summary.json"
        summary["neutral"] = neutral
        report.write_json(Path(tmp) / f"{stem}.summary.json", summary)
        files = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file() and not p.name.startswith(".")}
    # Thumbnail: the middle of the stretch where the subject was seen.
    det = np.flatnonzero(res.frames.detected)
    thumb = _thumbnail(task.path, int(det[len(det) // 2]) if det.size else len(res.frames.t) // 2)
    msg = "; ".join(([summary["message"]] if summary["message"] else []) + list(summary["warnings"]))
    tilt = np.where(res.est.measures.is_side_on() & res.frames.detected, res.est.tilt_smooth, np.nan)
    row = _row(task, summary, summary["status"], msg, time.perf_counter() - t0, neutral, personal)
    return {"row": row, "spark": _spark(res.frames.t - res.frames.t[0], tilt), "files": files, "thumb": thumb}


def error_result(task: ClipTask, message: str) -> dict:
    """A result for a clip whose worker could not return one (crashed, killed)."""
    return {"row": _row(task, None, f"error: {message}", "", 0.0, "", False),
            "spark": {"t": [], "tilt": []}, "files": {}, "thumb": b""}


# --------------------------------------------------------------------------- parent side: storage

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
        if (rec.get("version") != RECORD_VERSION or rec.get("settings_key") != task.settings.key()
                or rec.get("fingerprint") != fp or rec.get("realpath") != os.path.realpath(task.path)):
            return None
        rec["row"]["path"] = task.path  # the same file may be named differently this time
        return rec

    def commit(self, task: ClipTask, fp: dict | None, result: dict) -> dict:
        """Write a clip's files, then its record (atomically, last)."""
        d = self.clips / task.key
        d.mkdir(exist_ok=True)
        for p in d.iterdir():   # leftovers of an interrupted write or a previous, different result
            if p.is_file() and p.name != "record.json":
                p.unlink()
        for name, data in result["files"].items():
            with report.atomic_path(d / name) as tmp:
                tmp.write_bytes(data)
        if result["thumb"]:
            with report.atomic_path(d / "thumb.jpg") as tmp:
                tmp.write_bytes(result["thumb"])
        rec = {"version": RECORD_VERSION, "key": task.key, "settings_key": task.settings.key(), "settings": asdict(task.settings),
               "realpath": os.path.realpath(task.path), "fingerprint": fp, "row": result["row"],
               "spark": result["spark"], "thumb": "thumb.jpg" if result["thumb"] else "",
               "scored_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "scored_by": os.getpid()}
        # Keep exactly what a rerun will read back (rounded, NaN -> null): fresh and reused rows must match.
        rec = report.to_jsonable(rec)
        report.write_json(d / "record.json", rec)
        return rec

    def write_tables(self, records: list[dict], counts: dict, settings: BatchSettings) -> None:
        rows = [r["row"] for r in records]
        # Reused records come from JSON, where a missing number is null: write it as an empty cell.
        cols = {c: ["" if row.get(c) is None else row.get(c) for row in rows] for c in SCORE_COLUMNS}
        report.write_csv(self.out / "scores.csv", cols)
        report.write_json(self.out / "scores.json", {
            "settings": asdict(settings), "counts": counts, "columns": SCORE_COLUMNS, "rows": rows})


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


def run_batch(inputs: list[str], out: str | os.PathLike, settings: BatchSettings, *, workers: int | None = None,
              engine: str = "local", address: str | None = None, force: bool = False, progress: bool = True,
              html: bool = True, on_result: Callable[[dict], None] | None = None) -> BatchResult:
    """Score every clip in ``inputs`` into ``out``; see the module docstring.

    Ctrl-C (KeyboardInterrupt) stops the workers, writes the tables and report
    for the clips done so far, and returns with ``interrupted=True``.
    """
    from . import engines

    paths, notes = collect_inputs(inputs)
    store = Store(out)
    lock = store.lock()   # one batch per output folder; released when this process ends, even by kill -9
    # `batch . --out scores --video` must not score its own annotated videos on the next run.
    own = [p for p in paths if Path(os.path.realpath(p)).is_relative_to(store.out.resolve())]
    if own:
        notes.append(f"skipped {len(own)} file(s) inside the output folder {store.out}")
        paths = [p for p in paths if p not in own]
    tasks = [ClipTask(i, p, clip_key(p), settings) for i, p in enumerate(paths)]
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
        counts["errors"] = sum(r["row"]["status"].startswith("error") for r in ordered)
        store.write_tables(ordered, counts, settings)
        if html and final:
            from .html_report import write_report
            write_report(store.out / "report.html", ordered, store.clips, settings, counts)

    interrupted = False
    try:
        if todo:
            with contextlib.closing(engines.run(todo, engine=engine, workers=workers, address=address,
                                                on_progress=bar.frames_done if progress else None)) as it:
                for task, result in it:
                    records[task.index] = store.commit(task, fps[task.index], result)
                    counts["analysed"] += 1
                    bar.update(result["row"], analysed=True, index=task.index)
                    if on_result:
                        on_result(result["row"])
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


def default_workers() -> int:
    """Usable cores (respects CPU affinity / container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
