"""The crop window that follows the subject (numpy only).

MediaPipe's landmark model looks at a square region of interest around the
person: centred on the mid-hip, about 1.25 x the body's height across.  A crop
that holds that region with margin gives the model the same pixels as the whole
frame would, while the frame's other pixels are never converted, copied or
segmented.  The window stays put while the subject stays well inside it (so the
landmarker's own tracking, kept in the crop's coordinates, stays valid) and
moves only as far as needed when the subject nears an edge.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import landmarks as L

NEED = 1.6          # the region that must be inside the crop: this x the body's extent, around the mid-hip
KEEP = 2.1          # a new crop: this x the body's extent (the slack is how far the subject moves before it moves)
RESIZE = 1.35       # the body grew or shrank by more than this factor: a new crop
MAX_BODY_PX = 800   # the body's extent at most this many model pixels (larger crops are downscaled)


@dataclass(frozen=True)
class Window:
    """A crop ``[x0, x1) x [y0, y1)`` of the frame (pixels), fed to the model at ``out`` size."""

    x0: int
    y0: int
    x1: int
    y1: int
    body: float                  # the body's extent (pixels) the window was made for
    out: tuple[int, int]         # (width, height) the model sees (smaller than the crop when downscaled)

    @property
    def scale(self) -> tuple[float, float]:
        """Model pixels per frame pixel, x and y."""
        return self.out[0] / (self.x1 - self.x0), self.out[1] / (self.y1 - self.y0)

    def cut(self, frame: np.ndarray, code: int | None = cv2.COLOR_BGR2RGB) -> np.ndarray:
        """The window's pixels as the model takes them: cut, downscaled if needed, colour-converted
        (``code``; None: as they are).  Only the window's pixels are touched."""
        part = frame[self.y0:self.y1, self.x0:self.x1]
        if self.out != (part.shape[1], part.shape[0]):
            part = cv2.resize(part, self.out, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(part, code) if code is not None else np.ascontiguousarray(part)

    def to_frame(self, xy: np.ndarray) -> np.ndarray:
        """Model-pixel coordinates (..., 2) -> frame pixels."""
        return np.asarray(xy, float) / self.scale + (self.x0, self.y0)

    def to_model(self, xy: np.ndarray) -> np.ndarray:
        """Frame pixels (..., 2) -> model-pixel coordinates (the inverse of `to_frame`)."""
        return (np.asarray(xy, float) - (self.x0, self.y0)) * self.scale


def whole(width: int, height: int, max_side: int | None = None) -> Window:
    """The whole frame, downscaled so its longer side is at most ``max_side``."""
    s = min(1.0, max_side / max(width, height)) if max_side else 1.0
    return Window(0, 0, width, height, float("nan"), (max(1, round(width * s)), max(1, round(height * s))))


def body_extent(lm: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Mid-hip (2,) and the body's extent (pixels: the larger side of the landmarks' box) of
    one person's landmarks (33, >=2), or None without enough landmarks."""
    xy = lm[:, :2][np.isfinite(lm[:, :2]).all(axis=1)]
    if len(xy) < 4:
        return None
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    hip = lm[list(L.HIP), :2].mean(axis=0)
    centre = hip if np.isfinite(hip).all() else 0.5 * (lo + hi)
    return centre, float(max(hi - lo))


def follow(prev: Window | None, lm: np.ndarray, frame_size: tuple[int, int],
           max_body_px: float = MAX_BODY_PX) -> Window | None:
    """The crop for the next frame, from the subject's landmarks (33, >=2) in frame pixels.

    ``prev`` is kept while it holds the needed region (`NEED` x the body's extent around the
    mid-hip, where it lies inside the frame) and the body's size has not changed much; else it
    moves just far enough to hold it; a new window (`KEEP` x the body's extent) is made when there
    is none or the size changed.  None when the landmarks say too little.
    """
    got = body_extent(lm)
    if got is None:
        return None
    (cx, cy), body = got
    body = max(body, 16.0)
    w, h = frame_size
    half = 0.5 * NEED * body
    need = np.array([max(0.0, cx - half), max(0.0, cy - half), min(w, cx + half), min(h, cy + half)])
    if prev is not None and 1 / RESIZE <= body / prev.body <= RESIZE:
        lo = np.array([prev.x0, prev.y0], float)
        size = np.array([prev.x1 - prev.x0, prev.y1 - prev.y0], float)
        body = prev.body
    else:
        size = np.minimum(np.array([w, h], float), np.ceil(KEEP * body))
        lo = np.array([cx, cy]) - 0.5 * size
        prev = None
    hi = lo + size
    # move just far enough that the needed region is inside (it always fits: NEED < KEEP)
    lo = lo + np.minimum(0.0, need[:2] - lo) + np.maximum(0.0, need[2:] - hi)
    lo = np.clip(np.floor(lo), 0, np.array([w, h]) - size).astype(int)
    x0, y0 = (int(v) for v in lo)
    x1, y1 = x0 + int(size[0]), y0 + int(size[1])
    if prev is not None and (x0, y0, x1, y1) == (prev.x0, prev.y0, prev.x1, prev.y1):
        return prev
    s = min(1.0, max_body_px / body)
    out = (max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s)))
    return Window(x0, y0, x1, y1, body, out)
