"""The live session's display thread: the window, its keys, snapshots and the recording.

`Display.run` takes each `Shown` item the cue thread hands over, draws it
(mirrored or not), records it, shows it and reads keys.  Everything it changes
(mirror, pause, help, recording) is its own; what the other threads must know
goes out as requests (``c``, ``g``, ``n``) or through the grabber's pause event.
"""
from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import overlay
from .cues import Band
from .results import FrameResults
from .video_out import ThreadedWriter

TITLE = "pelvis-tilt"
KEYS_HELP = [
    "q / Esc  quit", "c        calibrate neutral", "m        mirror on/off", "space    pause",
    "s        snapshot", "r        start/stop recording", "g        guided routine", "n        next exercise",
    "h        this help",
]
REQUEST_KEYS = {ord("c"): "calibrate", ord("g"): "routine", ord("n"): "next"}


def screen_size() -> tuple[int, int] | None:
    """The X screen's size in pixels (None if unknown: not X11, or libX11 missing)."""
    import ctypes
    import ctypes.util
    import os

    if not os.environ.get("DISPLAY"):
        return None
    lib = ctypes.util.find_library("X11")
    if not lib:
        return None
    try:
        x = ctypes.CDLL(lib)
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XDefaultScreen.argtypes = [ctypes.c_void_p]
        x.XDisplayWidth.argtypes = x.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        d = x.XOpenDisplay(None)
        if not d:
            return None
        try:
            n = x.XDefaultScreen(d)
            return int(x.XDisplayWidth(d, n)), int(x.XDisplayHeight(d, n))
        finally:
            x.XCloseDisplay(d)
    except (OSError, AttributeError):
        return None


def fit_to_screen(w: int, h: int, screen: tuple[int, int] | None = None) -> tuple[int, int]:
    """Window size for a w x h picture: as is, or scaled down (aspect kept) to leave room for
    the window frame and panels on the screen."""
    screen = screen if screen is not None else screen_size()
    if not screen:
        return w, h
    k = min(1.0, 0.92 * screen[0] / w, 0.85 * screen[1] / h)
    return max(1, int(w * k)), max(1, int(h * k))


@dataclass
class Shown:
    """One processed frame, handed from the cue thread to the display thread."""

    frame: np.ndarray          # BGR, as captured
    row: FrameResults          # its one-row results
    band: Band                 # the band it was judged against
    lines: list[str]           # calibration / routine / range text
    status: str                # frame rate and latency ("" unless asked for)


class Display:
    """Draws, records and shows `Shown` items; reads keys.  ``run`` returns the frames recorded."""

    def __init__(self, window: bool, mirror: bool, record: Path | None, record_mirrored: bool, fps: float,
                 snapshot_dir: Path, requests: queue.SimpleQueue, log):
        self.window, self.mirror, self.fps = window, mirror, fps
        self.record_path, self.record_mirrored = record, record_mirrored
        self.snapshot_dir, self.requests, self.log = snapshot_dir, requests, log

    def _picture(self, s: Shown, status: str, lines: list[str], mirror: bool) -> np.ndarray:
        return overlay.session_picture(s.frame, s.row, 0, s.band, lines, status, mirror)

    def run(self, results, grabber) -> tuple[int, np.ndarray | None]:
        """Until the results end or the user quits; returns (frames recorded, last picture)."""
        rec: ThreadedWriter | None = None
        rec_path = self.record_path
        recording = rec_path is not None  # --record starts recording at once; 'r' toggles
        show_help = paused = opened = False
        recorded = 0
        img = None
        try:
            while True:
                # paused: leave the next frame waiting, once there is a picture to hold
                s = None if paused and img is not None else results.get(timeout=0.03)
                if s is None and results.closed and not paused:
                    break
                if s is not None:
                    lines = s.lines + (KEYS_HELP if show_help else [])
                    status = (s.status + ("  REC" if recording else "")).strip()
                    img = self._picture(s, status, lines, self.mirror)
                    if rec is None and recording:
                        rec = ThreadedWriter(rec_path, self.fps, (img.shape[1], img.shape[0]), max_width=None)
                    if rec is not None:
                        # Saved as the camera sees it (the mirror is for the person in front of it).
                        rec.write(self._picture(s, status, lines, self.record_mirrored)
                                  if self.mirror != self.record_mirrored else img)
                        recorded += 1
                if not self.window:
                    continue
                if img is not None:
                    if not opened:
                        # The window appears with its first picture, not before: a close pressed
                        # while the model loads would otherwise hit a window not yet watched and
                        # be lost (imshow reopens it and the session runs on).
                        # No Qt toolbar: the picture is the interface.
                        cv2.namedWindow(TITLE, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
                        cv2.resizeWindow(TITLE, *fit_to_screen(img.shape[1], img.shape[0]))
                        opened = True
                    shown = img
                    if paused:
                        shown = img.copy()
                        overlay.draw_lines(shown, ["Paused: space to resume"], shown.shape[0] // 2, (0, 220, 255))
                    cv2.imshow(TITLE, shown)
                key = cv2.waitKey(30 if paused else 1) & 0xFF
                if key in (ord("q"), 27) or (opened and not window_open()):
                    self.log.end("quit")
                    break
                if key == ord(" "):
                    paused = not paused
                    # a clip really stops being read; a live camera only freezes the picture
                    (grabber.paused.set if paused else grabber.paused.clear)()
                elif key in REQUEST_KEYS:
                    self.requests.put(REQUEST_KEYS[key])
                elif key == ord("m"):
                    self.mirror = not self.mirror
                elif key == ord("h"):
                    show_help = not show_help
                elif key == ord("s") and img is not None:
                    snap = self.snapshot_dir / f"pelvis_tilt_snapshot_{time.strftime('%Y%m%d_%H%M%S')}.png"
                    cv2.imwrite(str(snap), img)
                    self.log.say(f"snapshot saved: {snap}")
                elif key == ord("r"):
                    recording = not recording
                    if not recording and rec is not None:
                        rec.close()
                        self.log.say(f"recording saved: {rec_path}")
                        rec = None
                    if recording and (rec_path is None or rec_path.exists()):
                        rec_path = self.snapshot_dir / f"pelvis_tilt_{time.strftime('%Y%m%d_%H%M%S')}.mp4"
        finally:
            if rec is not None:
                rec.close()  # keep what was recorded, whatever ended the session
                self.log.say(f"recording saved: {rec_path}")
        return recorded, img

    def hold_last(self, img: np.ndarray, reason: str, notice: list[str]) -> None:
        """The session ended by itself (end of clip, camera gone, calibrated): keep the last
        picture up with the reason until q/Esc or the window is closed, so it can be read."""
        last = img.copy()
        text = f"{reason[0].upper()}{reason[1:]}: press q to close"
        overlay.draw_lines(last, [*notice, text], last.shape[0] // 2)
        cv2.imshow(TITLE, last)
        print(f"{text} the window", flush=True)
        while window_open() and (cv2.waitKey(50) & 0xFF) not in (ord("q"), 27):
            pass


def window_open() -> bool:
    """False once the user has closed the window with its close button."""
    return cv2.getWindowProperty(TITLE, cv2.WND_PROP_VISIBLE) >= 1
