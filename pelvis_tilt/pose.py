"""The pose stage: MediaPipe on each frame, and the subject among the people found.

`PoseRunner` composes thin `landmarker.Landmarker`s with a `tracking.SubjectTracker`
and a crop window (`crop`), the way a detect-then-track pipeline wraps a model:
it looks at the whole frame for people now and then, and in between follows the
subject in a crop around them with the one-person landmarker.  For each frame it
returns the subject's landmarks, world landmarks and segmentation mask
(`PoseFrame`).  What those mean (view, angles, outline, tilt) is computed
downstream, by the pipeline.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import crop
from . import landmarks as L
from .crop import Window
from .landmarker import Detections, Landmarker
from .model import resolve_model
from .tracking import SubjectTracker

MAX_PEOPLE = 2
SCAN_MAX_SIDE = 1280   # a look at the whole frame sees at most this many pixels along its longer side


@dataclass
class PoseFrame:
    """The subject in one frame (NaN arrays when nobody is chosen).  Landmarks are in
    frame pixels; the mask covers ``mask_window`` (a crop of the frame, possibly
    downscaled; None: the whole frame at full size)."""

    lm: np.ndarray                 # (33, 4) x_px, y_px, z_px, visibility
    world: np.ndarray              # (33, 4) metres, hip-centred, + visibility
    mask: np.ndarray | None        # the subject's segmentation mask, or None
    n_people: int                  # people found (followed: people tracked within the tracker's max_gap_s)
    detected: bool
    person: int = -1               # the subject's track id (`tracking.Track.id`), -1 when nobody
    mask_window: Window | None = None


def empty_frame(n_people: int = 0) -> PoseFrame:
    nan = np.full((L.N_LANDMARKS, 4), np.nan)
    return PoseFrame(nan, nan.copy(), None, n_people, False)


class PoseRunner:
    """MediaPipe + subject choice.  Use as a context manager; ``process(frame_rgb, t_s)``
    or ``process_bgr(frame_bgr, t_s)`` per frame, in time order, on one thread.

    ``follow=True`` (every command): a look at the whole frame (the ``MAX_PEOPLE``
    landmarker) finds the people and `SubjectTracker` picks the subject; then the
    one-person landmarker follows the subject inside a crop (`crop.follow`), which
    skips the person detector and every pixel outside the crop.  The whole frame is
    looked at again every ``scan_every_s``, every ``rescan_s`` while the subject is
    not side-on (someone side-on may come in: they are picked up within a few
    frames) or out of sight, at once when the subject turns away from side-on,
    in the same frame when the follower loses them or finds someone else, and in
    every frame while there is no subject at all.  Both landmarkers run in VIDEO
    mode: the whole-frame one, called only at looks, still keeps people it saw a
    look before (IMAGE mode, the detector alone, missed the people in most frames
    of the Sports2D demo).  The follower restarts when it loses the subject or the
    subject changes: its tracking state lives in the old crop's coordinates.
    Frames more than ``follow_gap_s`` apart (under ~13 frames/s: the 10 fps still
    sequences of the truth fixtures, watch's samples) are each looked at whole:
    the follower's region of interest comes from the previous frame, which then
    shows the person elsewhere or in another pose (on tests/fixtures/tilt_varied.mp4,
    followed, a -10.1 deg step read -4.7 deg; looked at whole, -5.8 deg).
    ``follow=False``: the two-person landmarker on every whole frame (the
    reference the crop path is compared with).
    """

    scan_every_s = 0.8     # below the tracker's max_gap_s, so other people's tracks live on between looks
    rescan_s = 0.13        # ~ every 4th frame at 30 fps
    follow_gap_s = 0.075   # frames further apart than this (under ~13 fps) are each looked at whole

    def __init__(self, model: str | Path | None = None, follow: bool = False):
        self.model_path = resolve_model(model)
        self.follow = follow
        self.tracker = SubjectTracker()
        self._scan: Landmarker | None = None
        self._follower: Landmarker | None = None
        self._last_ms = -1
        self._last_t = -np.inf
        self._window: Window | None = None    # the crop the subject is followed in; None: look at the whole frame
        self._followed: int | None = None     # the track the follower has been following
        self._last_scan = -np.inf
        self._scan_now = False
        self._people = 0
        self.looks = 0                        # frames looked at whole (for tests and benchmarks)

    def __enter__(self) -> "PoseRunner":
        try:
            self._scan = Landmarker(self.model_path, MAX_PEOPLE)
            if self.follow:
                self._follower = Landmarker(self.model_path, 1)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for lm in (self._scan, self._follower):
            if lm is not None:
                lm.close()
        self._scan = self._follower = None

    def process(self, frame_rgb: np.ndarray, t_s: float) -> PoseFrame:
        """The subject's arrays in one RGB frame."""
        return self._step(frame_rgb, t_s, None)

    def process_bgr(self, frame_bgr: np.ndarray, t_s: float) -> PoseFrame:
        """The subject's arrays in one BGR frame (as decoded); only the pixels the model
        sees are colour-converted."""
        return self._step(frame_bgr, t_s, cv2.COLOR_BGR2RGB)

    def _clock(self, t_s: float) -> int:
        # VIDEO mode needs strictly increasing integer milliseconds; one clock for every landmarker.
        t_ms = max(int(round(t_s * 1000.0)), self._last_ms + 1)
        self._last_ms = t_ms
        return t_ms

    def _step(self, frame: np.ndarray, t_s: float, code: int | None) -> PoseFrame:
        t_ms = self._clock(t_s)
        gap, self._last_t = t_s - self._last_t, t_s
        if not self.follow or gap > self.follow_gap_s:
            return self._look(frame, t_s, t_ms, code)
        every = self.scan_every_s if self.tracker.subject_side_on else self.rescan_s
        due = self._scan_now or t_s - self._last_scan >= every
        if self._window is None and not due and self.tracker.subject is not None:
            return empty_frame(self._people)   # the subject is out of sight: looked for every `rescan_s`
        if self._window is None or due:
            pf = self._look(frame, t_s, t_ms, code)
            if pf.detected or self._window is None:
                return pf
            # the look missed the subject, who is still followed: follow them in this frame too
        return self._follow(frame, t_s, t_ms, code, looked=self._last_scan == t_s)

    def _follow(self, frame: np.ndarray, t_s: float, t_ms: int, code: int | None, looked: bool) -> PoseFrame:
        """The subject in the crop they are followed in (a look at the whole frame if they are lost)."""
        win = self._window
        det = Detections.from_result(self._follower(win.cut(frame, code), t_ms), *win.out, win)
        was_side_on = self.tracker.subject_side_on
        if not (len(det) and self.tracker.follow(det.lm[0], t_s)):
            # lost, or following someone else: start the follower afresh and look at this frame whole
            self._restart_follower()
            return empty_frame(self._people) if looked else self._look(frame, t_s, t_ms, code)
        self._scan_now = was_side_on and not self.tracker.subject_side_on
        h, w = frame.shape[:2]
        self._window = crop.follow(win, det.lm[0], (w, h))
        return PoseFrame(det.lm[0], det.world[0], det.mask(0), self.tracker.in_view(t_s), True,
                         int(self.tracker.subject), win)

    def _look(self, frame: np.ndarray, t_s: float, t_ms: int, code: int | None) -> PoseFrame:
        """Everyone in the whole frame; the subject among them; the crop to follow them in."""
        h, w = frame.shape[:2]
        win = crop.whole(w, h, SCAN_MAX_SIDE if self.follow else None)
        det = Detections.from_result(self._scan(win.cut(frame, code), t_ms), *win.out, win)
        self.looks += 1
        self._last_scan, self._scan_now, self._people = t_s, False, len(det)
        c = self.tracker.update(det.lm, t_s)
        if c < 0:
            if self.tracker.subject is None:
                self._window = None
            return empty_frame(len(det))
        if self.follow:
            same = self.tracker.subject == self._followed
            if not same and self._followed is not None:
                self._restart_follower()   # it tracks another person (or the old place) in its own coordinates
            self._followed = self.tracker.subject
            self._window = crop.follow(self._window if same else None, det.lm[c], (w, h))
        mw = None if win.out == (w, h) else win
        return PoseFrame(det.lm[c], det.world[c], det.mask(c), len(det), True, int(self.tracker.subject), mw)

    def _restart_follower(self) -> None:
        """Make the follower drop its track, so it looks for a person afresh in its next crop."""
        if self._follower is not None:
            # A blank picture loses the track at the cost of one call; a new landmarker costs ~110 ms.
            blank = np.zeros((64, 64, 3), np.uint8)
            if self._follower(blank, self._clock(self._last_ms / 1000.0)).pose_landmarks:
                self._follower.close()
                self._follower = Landmarker(self.model_path, 1)
        self._window, self._followed = None, None
