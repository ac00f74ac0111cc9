"""The pose stage: MediaPipe on each frame, and the subject among the people found.

`PoseRunner` composes a thin `landmarker.Landmarker` (one, or two while it
searches) with a `tracking.SubjectTracker`; for each frame it returns the
subject's landmarks, world landmarks and segmentation mask (`PoseFrame`).  What
those mean (view, angles, outline, tilt) is computed downstream, by the pipeline.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import landmarks as L
from .landmarker import Detections, Landmarker
from .model import resolve_model
from .tracking import SubjectTracker

MAX_PEOPLE = 2


@dataclass
class PoseFrame:
    """The subject in one frame (NaN arrays when nobody is chosen)."""

    lm: np.ndarray                 # (33, 4) x_px, y_px, z_px, visibility
    world: np.ndarray              # (33, 4) metres, hip-centred, + visibility
    mask: np.ndarray | None        # the subject's segmentation mask (H, W), or None
    n_people: int
    detected: bool
    person: int = -1               # the subject's track id (`tracking.Track.id`), -1 when nobody


def empty_frame(n_people: int = 0) -> PoseFrame:
    nan = np.full((L.N_LANDMARKS, 4), np.nan)
    return PoseFrame(nan, nan.copy(), None, n_people, False)


class PoseRunner:
    """MediaPipe landmarker(s) + subject choice.  Use as a context manager;
    ``process(frame_rgb, t_s)`` per frame, in time order.

    ``num_poses=1`` (live) makes MediaPipe skip its person detector while it can
    track the one person it has (about half the cost per frame), but it then
    keeps whoever it found first.  So a second landmarker that looks for
    ``MAX_PEOPLE`` people takes over while the subject is missing or not side-on
    (``search_after_s``), and hands back once it has seen one side-on person and
    nobody else for ``settle_s``: with someone else in view the subject choice
    stays with the tracker, which prefers the side-on person.
    """

    search_after_s = 0.5
    settle_s = 1.0

    def __init__(self, model: str | Path | None = None, num_poses: int = MAX_PEOPLE):
        self.model_path = resolve_model(model)
        self.num_poses = num_poses
        self.tracker = SubjectTracker()
        self._lms: dict[int, Landmarker] = {}   # num_poses -> landmarker
        self._last_ms = -1
        # Decided by `from_result`, read by `infer`: in the live loop they run on two threads,
        # so the decision crosses over as an Event.
        self._search = threading.Event()        # set: use the MAX_PEOPLE landmarker
        self._since: float | None = None        # when the condition for switching mode began

    def __enter__(self) -> "PoseRunner":
        try:
            for n in {self.num_poses, MAX_PEOPLE}:
                self._lms[n] = Landmarker(self.model_path, n)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for lm in self._lms.values():
            lm.close()
        self._lms.clear()

    def infer(self, frame_rgb: np.ndarray, t_s: float):
        """Bare MediaPipe inference (also used by the benchmarks as the baseline)."""
        # VIDEO mode needs strictly increasing integer milliseconds (per landmarker;
        # one clock for both keeps that true across switches).
        t_ms = max(int(round(t_s * 1000.0)), self._last_ms + 1)
        self._last_ms = t_ms
        return self._lms[MAX_PEOPLE if self.searching else self.num_poses](frame_rgb, t_ms)

    @property
    def searching(self) -> bool:
        """Whether the MAX_PEOPLE landmarker is in use."""
        return self._search.is_set()

    def _update_mode(self, n_people: int, side_on: bool, t_s: float) -> None:
        """Switch between the one-person and the search landmarker (see the class doc)."""
        if self.num_poses >= MAX_PEOPLE:
            return
        want_change = (n_people == 1 and side_on) if self.searching else not side_on
        if not want_change:
            self._since = None
        elif self._since is None:
            self._since = t_s
        elif t_s - self._since >= (self.settle_s if self.searching else self.search_after_s):
            (self._search.clear if self.searching else self._search.set)()
            self._since = None

    def process(self, frame_rgb: np.ndarray, t_s: float) -> PoseFrame:
        """The subject's arrays in one frame."""
        h, w = frame_rgb.shape[:2]
        return self.from_result(self.infer(frame_rgb, t_s), w, h, t_s)

    def from_result(self, res, w: int, h: int, t_s: float) -> PoseFrame:
        """The subject's arrays from one inference result (split from `infer` so the
        live loop can run this on another thread while the next frame is inferred)."""
        det = Detections.from_result(res, w, h)
        c = self.tracker.update(det.lm, t_s)
        self._update_mode(len(det), self.tracker.subject_side_on, t_s)
        if c < 0:
            return empty_frame(len(det))
        return PoseFrame(det.lm[c], det.world[c], det.mask(c), len(det), True, int(self.tracker.subject))
