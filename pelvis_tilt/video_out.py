"""Annotated-video writing on a background thread, so drawing and encoding
overlap pose inference instead of adding to it."""
from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Callable

import cv2
import numpy as np


class VideoWriteError(RuntimeError):
    pass


def video_size(w: int, h: int, max_width: int | None = 1280) -> tuple[tuple[int, int], float]:
    """The annotated video's (width, height) for w x h frames (even, at most ``max_width``
    wide), and its scale."""
    scale = min(1.0, max_width / w) if max_width else 1.0
    return (int(round(w * scale)) // 2 * 2, int(round(h * scale)) // 2 * 2), scale


def held(frame: np.ndarray, over: float = 2.0) -> np.ndarray:
    """``frame`` as it waits to be drawn: at the video's size if it has more than ``over`` x
    the video's pixels (a 4K frame then takes 2.7 MB instead of 25), else as it is (the
    writer resizes it, on its own thread)."""
    size, _ = video_size(frame.shape[1], frame.shape[0])
    if frame.shape[0] * frame.shape[1] > over * size[0] * size[1]:
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return frame


class ThreadedWriter:
    """Queue of (frame, draw) jobs -> resize, draw, encode on a worker thread.

    ``draw(frame, scale)`` annotates the (possibly downscaled) frame in place.
    The queue is bounded, so a slow disk slows the producer instead of eating memory.
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], max_width: int | None = 1280,
                 fourcc: str = "mp4v", depth: int = 8):
        self.size, self.scale = video_size(*size, max_width)
        self._w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), self.size)
        if not self._w.isOpened():
            raise VideoWriteError(f"cannot write video {path}")
        self.frames = 0
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._err: BaseException | None = None
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while True:
            job = self._q.get()
            if job is None:
                break
            frame, draw = job
            try:
                if frame.shape[1] != self.size[0] or frame.shape[0] != self.size[1]:
                    # Linear, not INTER_AREA: ~10x cheaper at these (< 2x) reductions.
                    frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_LINEAR)
                if draw is not None:
                    draw(frame, self.scale)
                self._w.write(frame)
            except BaseException as exc:  # surfaced on the next write/close
                self._err = exc

    def write(self, frame: np.ndarray, draw: Callable[[np.ndarray, float], None] | None = None) -> None:
        if self._err:
            raise VideoWriteError(str(self._err))
        self._q.put((frame, draw))
        self.frames += 1

    def close(self) -> None:
        if self._t.is_alive():
            self._q.put(None)
            self._t.join()
        self._w.release()
        if self._err:
            err, self._err = self._err, None
            raise VideoWriteError(str(err))
