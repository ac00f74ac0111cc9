"""One clip of a batch, in a worker process (local pool or Dask): `score_clip` analyses it and
returns a typed `ClipOutcome`; it never raises for a bad clip (the row says why).

Workers analyse into a private temporary folder and send the files back; only the
batch process writes into the output folder (`batch_store.Store`).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .results import Status
from .settings import Settings

SCORE_COLUMNS = [
    "path", "status", "reliable", "duration_s", "frames", "fps", "detected_fraction", "side_on_fraction",
    "reliable_fraction", "tilt_median_deg", "tilt_p10_deg", "tilt_p90_deg", "neutral", "baseline_deg",
    "band_half_width_deg", "change_from_neutral_deg", "pct_anterior", "pct_neutral", "pct_posterior",
    "alignment_score", "elapsed_s", "message", "outputs",
]
SPARK_POINTS = 120      # sparkline resolution (points per clip)
THUMB_WIDTH = 160


@dataclass(frozen=True)
class BatchJob:
    """Everything that changes a clip's result (a change re-scores cached clips)."""

    settings: Settings
    video: bool = False
    plot: bool = False

    def key(self) -> str:
        return hashlib.sha1(json.dumps([self.settings.key(), self.video, self.plot]).encode()).hexdigest()[:16]

    def as_dict(self) -> dict:
        return {"settings": self.settings.as_dict(), "video": self.video, "plot": self.plot}


@dataclass
class ClipTask:
    index: int
    path: str                  # as found (shown in the table)
    key: str                   # output sub-folder name
    job: BatchJob
    attempt: int = 0


@dataclass
class ClipOutcome:
    """A scored clip: its table row, sparkline, files (name -> bytes) and thumbnail."""

    row: dict
    spark: dict = field(default_factory=lambda: {"t": [], "tilt": []})
    files: dict[str, bytes] = field(default_factory=dict)
    thumb: bytes = b""

    @property
    def status(self) -> Status:
        return Status(self.row["status"])


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

    from .memory import release_large_buffers

    cv2.setNumThreads(cv_threads)
    release_large_buffers()
    _exit_with_parent()
    # Pay the per-process costs (imports, estimator, first landmarker) once, up front.
    try:
        from .pose import PoseRunner
        from .settings import load_estimator

        load_estimator()
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


def make_row(task: ClipTask, summary: dict | None, elapsed: float, error: str = "") -> dict:
    """The clip's scores row: the summary's fields, or an error row."""
    s = summary or {}
    nan = float("nan")
    row = {c: s.get(c, nan) for c in SCORE_COLUMNS}
    personal = bool(summary) and summary["neutral"] not in ("population", "")
    row.update(path=task.path, status=Status.ERROR.value if error else s["status"], elapsed_s=round(elapsed, 3),
               message=error or "; ".join(([s["message"]] if s["message"] else []) + list(s["warnings"])),
               neutral=s.get("neutral", ""), outputs=f"clips/{task.key}" if summary else "",
               change_from_neutral_deg=s.get("tilt_from_neutral_median_deg", nan) if personal else nan,
               frames=int(s["frames"]) if summary else "")
    return row


def error_outcome(task: ClipTask, message: str, elapsed: float = 0.0) -> ClipOutcome:
    """An error row (a clip that could not be read, or whose worker died)."""
    return ClipOutcome(make_row(task, None, elapsed, message))


def score_clip(task: ClipTask) -> ClipOutcome:
    """Analyse one clip (worker side) with the batch's settings, resolved once in the parent:
    the files are those `analyze` writes, each written once."""
    from .analyze import analyze_clip

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pelvis-batch-") as tmp:
        try:
            q = _PROGRESS_QUEUE
            report_frames = (lambda done, total: q.put((task.index, done, total))) if q is not None else False
            res = analyze_clip(task.path, tmp, task.job.settings, annotate=task.job.video, plot=task.job.plot,
                               table=True, progress=report_frames, overlap=False)   # a worker per core
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # SourceError, ModelError, or a bug: one line in the row, the batch goes on
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            msg = msg.replace(task.path, Path(task.path).name)   # the path has its own column
            if not isinstance(exc, (RuntimeError, OSError, ValueError)):
                msg = f"{type(exc).__name__}: {msg}"
            return error_outcome(task, msg, time.perf_counter() - t0)
        files = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file() and not p.name.startswith(".")}
    r = res.frames
    # Thumbnail: the middle of the stretch where the subject was seen.
    mine = np.flatnonzero(r.person == res.summary["basis"]["person"])
    thumb = _thumbnail(task.path, int(r.frame[mine[len(mine) // 2]]) if mine.size else len(r.t) // 2)
    tilt = np.where(r.person == res.summary["basis"]["person"], r.tilt_smooth, np.nan)
    return ClipOutcome(make_row(task, res.summary, time.perf_counter() - t0), _spark(r.t - r.t[0], tilt), files, thumb)
