"""Frame sources: a video file, a camera index or a folder of clips.

Frames come out once, in order, as (index, time_s, frame_bgr).  Files are
rotated upright from their rotation metadata (phone clips) and carry their true
presentation timestamps, so variable-frame-rate clips keep real time.
"""
from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

import cv2
import numpy as np

from .quiet import StderrMuter, native_stderr_silenced

VIDEO_EXTS = {".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".3gp"}


T = TypeVar("T")


class SourceError(RuntimeError):
    """A source that cannot be read; the message is one line for the user."""


@dataclass
class SourceInfo:
    name: str
    width: int
    height: int
    fps: float            # nominal; real timing comes from per-frame timestamps
    frame_count: int      # container's claim, -1 if unknown (camera)
    rotation: int         # degrees applied to make frames upright


def is_camera_spec(spec: str | int) -> bool:
    return isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit())


# FFmpeg's "tty" family of demuxers renders any text file as a video (a README "plays" as
# 259 frames of 640x400); such a file is not a recording of anyone.
TEXT_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})


def _fourcc(cap: cv2.VideoCapture) -> str:
    """The capture's codec as four characters ('' when it does not say)."""
    code = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
    return code.to_bytes(4, "little").decode("latin-1").strip("\x00 ").lower()


class VideoSource:
    """Iterate over a video file or camera; use as a context manager."""

    def __init__(self, spec: str | int | os.PathLike, max_width: int | None = None):
        self.spec = spec
        self.is_camera = is_camera_spec(spec) if not isinstance(spec, os.PathLike) else False
        self.max_width = max_width
        self.cap: cv2.VideoCapture | None = None
        self.info: SourceInfo | None = None
        self.frames_read = 0
        self.ended_early = False  # stream stopped before the container's frame count
        # A read on one thread and a release on another (the live grabber stopped by a
        # window close) crashed FFmpeg (SIGABRT: "fctx->async_lock failed"); they take turns.
        self._lock = threading.Lock()

    def open(self) -> "VideoSource":
        if self.cap is not None:
            return self
        if self.is_camera:
            idx = int(self.spec)
            with native_stderr_silenced():
                cap = cv2.VideoCapture(idx)
            if not cap.isOpened():
                raise SourceError(f"camera {idx} could not be opened (is it connected and free?)")
            name = f"camera{idx}"
        else:
            path = Path(self.spec)
            if not path.exists():
                raise SourceError(f"no such file: {path}")
            if path.is_dir():
                raise SourceError(f"expected a video file, got a directory: {path}")
            if path.stat().st_size == 0:
                raise SourceError(f"empty file (0 bytes): {path}")
            with native_stderr_silenced():
                cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
            if not cap.isOpened() or _fourcc(cap) in TEXT_CODECS:
                cap.release()
                raise SourceError(f"not a readable video: {path}")
            # Rotate phone clips upright from their metadata (OpenCV does it when asked).
            cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
            name = path.name
        self.cap = cap
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        rot = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 360
        if rot in (90, 270):
            w, h = h, w
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 30.0
        count = -1 if self.is_camera else int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.info = SourceInfo(name, w, h, fps, count, rot)
        return self

    def __enter__(self) -> "VideoSource":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the capture; safe while another thread is iterating (its read ends first)."""
        with self._lock:
            if self.cap is not None:
                self.cap.release()
                self.cap = None

    def __iter__(self) -> Iterator[tuple[int, float, np.ndarray]]:
        if self.cap is None:
            self.open()
        import time

        mute = StderrMuter()
        try:
            t0 = time.monotonic()
            last_t = -1.0
            nominal_dt = 1.0 / self.info.fps
            while True:
                with self._lock:
                    if self.cap is None:   # closed meanwhile (by another thread)
                        break
                    with mute:  # decoder complaints on damaged files
                        ok, frame = self.cap.read()
                    # POS_MSEC after a read is the frame's presentation time.
                    pos_ms = None if self.is_camera else float(self.cap.get(cv2.CAP_PROP_POS_MSEC))
                if not ok or frame is None:
                    break
                if pos_ms is None:
                    t = time.monotonic() - t0
                else:
                    t = pos_ms / 1000.0
                    if not np.isfinite(t) or t <= last_t:
                        t = last_t + nominal_dt if last_t >= 0 else 0.0
                if self.max_width and frame.shape[1] > self.max_width:
                    s = self.max_width / frame.shape[1]
                    frame = cv2.resize(frame, (self.max_width, int(round(frame.shape[0] * s))), interpolation=cv2.INTER_AREA)
                if self.frames_read == 0:
                    # Trust decoded frames over container headers (rotation, resizing).
                    self.info.height, self.info.width = frame.shape[:2]
                last_t = t
                yield self.frames_read, t, frame
                self.frames_read += 1
        finally:  # also when the consumer stops early (generator closed)
            mute.close()
        if self.info.frame_count > 0 and self.frames_read < self.info.frame_count - 1:
            self.ended_early = True


def find_videos(root: str | os.PathLike) -> list[Path]:
    """Video files under a folder (recursive), sorted."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTS)


RGB_AHEAD_MAX_PIXELS = 1_000_000   # up to ~1280x720 the crop is most of the frame anyway


def rgb_ahead(frame: np.ndarray) -> np.ndarray | None:
    """MediaPipe's RGB copy of a decoded frame, made by the thread that decodes (off the pose
    thread, which sets the pace), or None for frames above `RGB_AHEAD_MAX_PIXELS`: there the
    pose stage converts only the crop it reads.  (640x480 analyze: 6.65 s against 7.04 s
    converting the crop; 1768x994: 11.7 s against 11.4 s; in-process medians of 5.)"""
    if frame.shape[0] * frame.shape[1] > RGB_AHEAD_MAX_PIXELS:
        return None
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items``, produced on a worker thread at most ``depth`` ahead of the consumer.

    For decoding plus pose inference: OpenCV and MediaPipe release the GIL while they
    work, so the consumer's own work on earlier items (the pipeline, drawing, encoding)
    runs on another core meanwhile.  The producer's state stays on its one thread.  An
    exception in the producer is raised here; leaving the loop early stops the producer.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(x) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        it = iter(items)
        try:
            for x in it:
                if not put((x, None)):
                    break
        except BaseException as exc:  # handed to the consumer
            put((done, exc))
            return
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
        put((done, None))

    worker = threading.Thread(target=produce, name="ahead", daemon=True)
    worker.start()
    try:
        while True:
            x, exc = q.get()
            if exc is not None:
                raise exc
            if x is done:
                return
            yield x
    finally:
        stop.set()
        worker.join()
