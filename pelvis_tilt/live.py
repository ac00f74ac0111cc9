"""Live mirror checker: capture -> pose -> tilt -> One-Euro -> cue, drawn as a mirror.

Capture runs on its own thread and keeps only the newest frame, so a slow
inference never queues frames behind it (stale frames are dropped, never shown
late).  With ``--no-window`` the same loop runs headless, for tests, CI and
remote use, writing the overlay video and the per-frame table.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import camera_pose, cues, filters, geometry, overlay, personal_range, report
from .pose import PoseRunner
from .profiles import Profile, save_profile
from .sources import VideoSource
from .tilt import TiltModel
from .video_out import ThreadedWriter

KEYS_HELP = [
    "q / Esc  quit", "c        calibrate neutral", "m        mirror on/off", "space    pause",
    "s        snapshot", "r        start/stop recording", "g        guided routine", "n        next exercise",
    "h        this help",
]


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


class Mailbox:
    """A one-item hand-over between threads.  ``drop=True``: a new item replaces an
    unread one (counted in ``dropped``); ``drop=False``: the sender waits."""

    def __init__(self, drop: bool):
        self.drop = drop
        self._cond = threading.Condition()
        self._item = None
        self.closed = False
        self.dropped = 0

    def put(self, item) -> None:
        with self._cond:
            if not self.drop:
                while self._item is not None and not self.closed:
                    self._cond.wait(0.1)
            elif self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def get(self, timeout: float):
        """The item, or None if none came within ``timeout`` (or the box is closed and empty)."""
        with self._cond:
            if self._item is None and not self.closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class FrameGrabber(threading.Thread):
    """Reads frames on a thread into a `Mailbox`: newest-only for live cameras and
    real-time replay (``drop=True``), every frame for headless clip runs."""

    def __init__(self, src: VideoSource, drop: bool, realtime: bool):
        super().__init__(daemon=True)
        self.src, self.realtime = src, realtime
        self.box = Mailbox(drop)
        self.error: str | None = None
        self._stop = threading.Event()
        self.paused = threading.Event()   # set: a clip stops being read (a camera keeps streaming)

    @property
    def finished(self) -> bool:
        return self.box.closed

    @property
    def dropped(self) -> int:
        return self.box.dropped

    def run(self) -> None:
        t_start = time.monotonic()
        try:
            for i, t, frame in self.src:
                if self._stop.is_set():
                    break
                if self.paused.is_set() and not self.src.is_camera:
                    p0 = time.monotonic()
                    while self.paused.is_set() and not self._stop.is_set():
                        time.sleep(0.05)
                    t_start += time.monotonic() - p0   # real-time pacing resumes where it stopped
                if self.realtime and not self.src.is_camera:
                    lag = t - (time.monotonic() - t_start)
                    if lag > 0:
                        time.sleep(lag)
                # Colour conversion here, off the inference thread's critical path.
                self.box.put((i, t, frame, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), time.monotonic()))
        except Exception as exc:  # surfaced by the session as a clean message
            self.error = str(exc)
        finally:
            self.box.close()

    def get(self, timeout: float):
        """Newest frame (i, t, frame_bgr, frame_rgb, captured_at), or None if none came in time / ended."""
        return self.box.get(timeout)

    def stop(self) -> None:
        self._stop.set()
        self.box.close()


MAX_CALIBRATION_SPREAD_DEG = 6.0  # p10-p90 of the hold's per-frame tilt; still standing gives < 1.5


class CalibrationError(ValueError):
    """Calibration refused; ``kind`` is "nobody", "unclear" or "moving"; the message says how to retry."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class Calibration:
    """Countdown, a few seconds of neutral stance -> baseline and camera roll/pitch; then,
    with ``range_s`` > 0, the guided range step: tip forward as far as is comfortable,
    then tuck as far as is comfortable (the method's front-to-back isolation), each
    for ``range_s`` seconds -> the user's own forward and tuck range."""

    countdown_s: float = 3.0
    hold_s: float = 3.0
    started: float = 0.0
    range_s: float = 0.0
    tilts: list = field(default_factory=list)
    lms: list = field(default_factory=list)      # image landmarks of frames with a trusted side
    worlds: list = field(default_factory=list)   # their world landmarks
    sides: list = field(default_factory=list)
    image_h: int = 0
    range_tilts: dict = field(default_factory=lambda: {"forward": [], "tuck": []})
    with_person: int = 0                         # hold frames in which someone was detected

    def phase(self, now: float) -> str:
        e = now - self.started
        ends = np.cumsum([self.countdown_s, self.hold_s, self.range_s, self.range_s])
        names = ["countdown", "hold", "forward", "tuck"]
        for name, end in zip(names, ends):
            if e < end:
                return name
        return "done"

    def message(self, now: float) -> str:
        e = now - self.started
        ph = self.phase(now)
        if ph == "countdown":
            return f"Calibrating: stand side-on, neutral... {int(np.ceil(self.countdown_s - e))}"
        if ph == "hold":
            return f"Hold still ({self.countdown_s + self.hold_s - e:.0f} s)"
        left = self.countdown_s + self.hold_s + self.range_s * (1 if ph == "forward" else 2) - e
        if ph == "forward":
            return f"Tip your pelvis forward, as far as is comfortable ({left:.0f} s)"
        return f"Now tuck your tail under, as far as is comfortable ({left:.0f} s)"

    def add(self, tilt: float, lm: np.ndarray, world: np.ndarray, side: int, image_h: int,
            detected: bool = True, phase: str = "hold") -> None:
        if phase in self.range_tilts:
            if np.isfinite(tilt):
                self.range_tilts[phase].append(tilt)
            return
        self.image_h = image_h
        self.with_person += bool(detected)
        if np.isfinite(tilt):
            self.tilts.append(tilt)
        if side >= 0:
            self.lms.append(lm)
            self.worlds.append(world)
            self.sides.append(side)

    def result(self, name: str, half_width: float, model_kind: str, frames_seen: int) -> Profile:
        t = np.asarray(self.tilts)
        if frames_seen and self.with_person == 0:
            raise CalibrationError("nobody", f"nobody was in view during the {self.hold_s:g} s hold: stand in the "
                                             "picture, side-on, hips to feet visible, and try again")
        if t.size < max(5, 0.5 * frames_seen):
            raise CalibrationError("unclear", f"only {t.size} of {frames_seen} frames had a clear side-on pelvis: "
                                   "stand side-on, whole body in view, arms away from the hips, and try again")
        spread = float(np.percentile(t, 90) - np.percentile(t, 10))
        if spread > MAX_CALIBRATION_SPREAD_DEG:
            raise CalibrationError("moving", f"the pelvis moved during the hold (tilt varied by {spread:.1f} deg "
                                   f"between its 10th and 90th percentile; at most {MAX_CALIBRATION_SPREAD_DEG:g} "
                                   "allowed): stand still in your neutral stance for the whole hold and try again")
        # Medians over the hold: one frame's landmarks (world ones especially) are noisy.
        roll = pitch = float("nan")
        if self.lms:
            lm = np.stack(self.lms)
            roll = float(np.nanmedian(camera_pose.roll_deg(lm, np.array(self.sides))))
            pitch = float(np.nanmedian(camera_pose.pitch_deg(np.stack(self.worlds), lm, self.image_h)))
        base = float(np.median(t))
        fwd = tuck = float("nan")
        if self.range_s > 0:
            try:
                fwd, tuck = personal_range.from_phases(base, self.range_tilts["forward"], self.range_tilts["tuck"])
            except personal_range.RangeError as exc:
                raise CalibrationError("range", str(exc)) from None
        return Profile(name=name, baseline_deg=base, band_half_width_deg=half_width,
                       roll_deg=roll if np.isfinite(roll) else 0.0, pitch_deg=pitch, samples=int(t.size),
                       spread_deg=float(np.std(t)), tilt_model=model_kind,
                       range_forward_deg=fwd, range_tuck_deg=tuck)


class LiveSession:
    """The live loop; `run()` returns the session summary.  Used by `live` and `calibrate`."""

    def __init__(self, source: str | int | VideoSource, *, model: str | None = None, tilt_model: TiltModel | None = None,
                 band: cues.Band | None = None, roll_deg: float = 0.0, window: bool = True, mirror: bool = True,
                 record: str | Path | None = None, realtime: bool | None = None, show_fps: bool = False,
                 sound: bool = False, profile_name: str = "default", calibrate_only: bool = False,
                 countdown_s: float = 3.0, hold_s: float = 3.0, range_s: float = 0.0, dwell_s: float = 0.4,
                 max_frames: int | None = None, snapshot_dir: str | Path = ".", num_poses: int = 1, routine=None,
                 profile: Profile | None = None, record_mirrored: bool = False):
        self.source = source
        self.model, self.tilt_model = model, tilt_model or TiltModel.load()
        self.band = band or cues.Band(baseline=self.tilt_model.population_neutral_deg)
        self.roll = roll_deg
        self.window, self.mirror, self.record_path = window, mirror, Path(record) if record else None
        self.record_mirrored = record_mirrored
        self.realtime = realtime
        self.show_fps, self.sound = show_fps, sound
        self.profile_name, self.calibrate_only = profile_name, calibrate_only
        self.countdown_s, self.hold_s, self.range_s, self.dwell_s = countdown_s, hold_s, range_s, dwell_s
        self.max_frames = max_frames
        self.snapshot_dir = Path(snapshot_dir)
        # One person by default: MediaPipe then re-runs its detector only when the
        # track is lost, which halves the per-frame cost (21 vs 41 ms at 640x480 here).
        self.num_poses = num_poses
        self.routine = routine  # a routine.RoutineRunner, started now or with the 'g' key
        self.rows: list[dict] = []
        self._done_at: list[float] = []
        self.messages: list[str] = []
        self.profile: Profile | None = profile   # a loaded profile (its range words the cue), or the one calibrated
        self.calibration_error: Exception | None = None  # why the last calibration was refused

    # ------------------------------------------------------------------ helpers
    def _draw(self, frame: np.ndarray, lm: np.ndarray, m: geometry.Measures, tilt_s: float, state: int,
              extra_lines: list[str], status: str, mirror: bool | None = None) -> np.ndarray:
        """The picture between a cue banner above and the gauge below (neither covers the body)."""
        mirror = self.mirror if mirror is None else mirror
        side, facing, torso = int(m.side[0]), float(m.facing[0]), float(m.torso_px[0])
        img, top = overlay.with_strips(cv2.flip(frame, 1) if mirror else frame)
        pts = lm.copy()
        pts[:, 1] += top
        if mirror:  # a mirror: flip the picture, then draw text the right way round
            pts[:, 0] = frame.shape[1] - 1 - pts[:, 0]
            facing = -facing
        overlay.draw_frame(img, pts, side, facing, torso, tilt_s, state, tilt_s - self.band.baseline, extra=status)
        overlay.draw_gauge(img, tilt_s, self.band)
        if extra_lines:
            overlay.draw_lines(img, extra_lines, top, (255, 255, 255))
        return img

    def _open_recorder(self, size: tuple[int, int], fps: float, path: Path) -> ThreadedWriter:
        path.parent.mkdir(parents=True, exist_ok=True)
        return ThreadedWriter(path, fps, size, max_width=None)

    # --------------------------------------------------------------------- run
    def run(self) -> dict:
        """Capture -> MediaPipe -> subject, tilt and cue -> drawing/window (this, main thread).

        Each stage runs on its own thread and hands over through a one-item
        mailbox: a slow inference never stalls the window (it keeps redrawing and
        reading keys), live stale frames are dropped instead of queued, and the
        numpy work of frame i overlaps MediaPipe's work on frame i+1 (which
        releases the GIL).
        """
        src = self.source if isinstance(self.source, VideoSource) else VideoSource(self.source)
        src.open()
        self._is_file = not src.is_camera
        realtime = self.realtime if self.realtime is not None else (self.window or not self._is_file)
        grabber = FrameGrabber(src, drop=realtime, realtime=realtime)
        inferred = Mailbox(drop=realtime)
        results = Mailbox(drop=realtime)
        self._stop = threading.Event()
        self._requests: list[str] = []  # keys for the inference thread: calibrate, routine, next
        self._end_reason = "end of clip" if self._is_file else "quit"
        self._processed = 0
        self._notice: tuple[list[str], float] | None = None  # (screen lines, until clip time)
        self._fps = self._lat = 0.0
        recorded = 0
        try:
            with PoseRunner(self.model, num_poses=self.num_poses) as runner:
                grabber.start()
                workers = [threading.Thread(target=self._infer_loop, args=(runner, grabber, inferred), daemon=True),
                           threading.Thread(target=self._cue_loop, args=(runner, inferred, results), daemon=True)]
                for w in workers:
                    w.start()
                self._grabber = grabber
                recorded = self._display_loop(results, src.info)
                self._stop.set()
                grabber.stop()
                inferred.close()
                results.close()
                for w in workers:
                    w.join()
        finally:
            grabber.stop()
            src.close()
            if self.window:
                cv2.destroyAllWindows()
        return self._summary(self._end_reason, self._processed, grabber.dropped, recorded, src.info)

    # ------------------------------------------------------------ inference
    def _infer_loop(self, runner: PoseRunner, grabber: FrameGrabber, inferred: Mailbox) -> None:
        """MediaPipe only: newest frame in, raw result out."""
        try:
            while not self._stop.is_set():
                item = grabber.get(timeout=2.0)
                if item is None:
                    if grabber.error:
                        self._end_reason = f"source failed: {grabber.error}"
                    elif not self._is_file and not self._stop.is_set():
                        self._end_reason = "camera stopped delivering frames (unplugged?)"
                        self.messages.append(self._end_reason)
                    if grabber.finished or not self._is_file:
                        break
                    continue
                i, t, frame, rgb, captured = item
                res = runner.infer(rgb, t)
                inferred.put((i, t, frame, captured, res))
        except Exception as exc:  # never a traceback from a worker: end the session cleanly
            self._end_reason = f"source failed: {exc}"
        finally:
            inferred.close()

    def _cue_loop(self, runner: PoseRunner, inferred: Mailbox, results: Mailbox) -> None:
        """Subject, tilt, smoothing, cue, calibration and routine for each inferred frame."""
        euro = filters.OneEuro(1)
        machine = cues.CueMachine(self.band, self.dwell_s)
        calib = Calibration(self.countdown_s, self.hold_s, started=0.0, range_s=self.range_s) \
            if self.calibrate_only else None
        calib_frames, last_state, t_prev = 0, None, None
        try:
            while not self._stop.is_set():
                item = inferred.get(timeout=0.5)
                if item is None:
                    if inferred.closed:
                        break
                    continue
                i, t, frame, captured, res = item
                while self._requests:
                    req = self._requests.pop(0)
                    if req == "calibrate":
                        calib, calib_frames = Calibration(self.countdown_s, self.hold_s, started=t,
                                                          range_s=self.range_s), 0
                    elif req == "routine":
                        from .routine import RoutineRunner

                        self.routine = RoutineRunner() if self.routine is None else None
                    elif req == "next" and self.routine is not None:
                        self.routine.skip()
                fp = runner.from_result(res, frame.shape[1], frame.shape[0], t)
                m = fp.measures if (fp.measures is not None and self.roll == 0.0) else \
                    geometry.compute_measures(fp.lm[None], (frame.shape[1], frame.shape[0]), self.roll)
                tilt, conf, _ = self.tilt_model.predict(fp.features[None], fp.lm[None], m, self.roll)
                tilt_s = float(euro.step(tilt[0], t)[0])
                state = machine.update(t, tilt_s, int(m.view[0]), bool(m.in_frame[0]), fp.detected)
                now = time.monotonic()
                latency = now - captured  # capture to cue
                if state == cues.ANTERIOR and last_state != cues.ANTERIOR and self.sound:
                    sys.stdout.write("\a")
                    sys.stdout.flush()
                last_state = state
                if t_prev is not None:
                    rate = 1.0 / max(now - t_prev, 1e-6)
                    self._fps = 0.9 * self._fps + 0.1 * rate if self._fps else rate
                t_prev = now
                self._lat = 0.9 * self._lat + 0.1 * latency if self._lat else latency

                lines: list[str] = list(self._notice[0]) if self._notice and t < self._notice[1] else []
                if calib is not None:
                    if calib.started == 0.0:
                        calib.started = t
                    ph = calib.phase(t)
                    if ph in ("hold", "forward", "tuck"):
                        calib.add(float(tilt[0]), fp.lm, fp.world, int(m.side[0]), frame.shape[0], fp.detected, ph)
                        calib_frames += ph == "hold"
                    if ph == "done":
                        # The result stays on screen for 5 s.
                        self._notice = (self._finish_calibration(calib, calib_frames), t + 5.0)
                        calib = None
                        if self.calibrate_only:
                            self._end_reason = "calibrated" if self.calibration_error is None else "calibration refused"
                            self._stop.set()
                            break
                    else:
                        lines.append(calib.message(t))
                if self.routine is not None:
                    from .routine import frame_signals

                    sig = frame_signals(np.array([t]), fp.lm[None], m, np.array([tilt_s]), self.band.baseline,
                                        np.array([fp.detected]), self.roll)[0]
                    self.routine.update(sig, self.band.half_width)
                    lines += self.routine.status_lines()
                if calib is None and self.profile is not None and state in (cues.ANTERIOR, cues.NEUTRAL, cues.POSTERIOR):
                    where = personal_range.describe(tilt_s - self.band.baseline, self.profile.range_forward_deg,
                                                    self.profile.range_tuck_deg)
                    if where:
                        lines.append(where)
                self.rows.append({
                    "frame": i, "time_s": t, "detected": fp.detected, "view": geometry.VIEW_NAMES[int(m.view[0])],
                    "tilt_deg": float(tilt[0]), "tilt_smooth_deg": tilt_s,
                    "tilt_from_neutral_deg": tilt_s - self.band.baseline,
                    "state": cues.STATE_NAMES[state], "cue": cues.CUES[state], "confidence": float(conf[0]),
                    "trunk_lean_deg": float(m.trunk_lean_deg[0]), "knee_flex_deg": float(m.knee_flex_deg[0]),
                    "head_fwd_deg": float(m.head_fwd_deg[0]), "latency_ms": 1000 * latency,
                })
                self._processed += 1
                self._done_at.append(now)
                results.put((frame, fp.lm, m, tilt_s, state, lines))
                if self.max_frames and self._processed >= self.max_frames:
                    self._end_reason = "frame limit"
                    self._stop.set()
                    break
        except Exception as exc:  # never a traceback from the worker: end the session cleanly
            self._end_reason = f"source failed: {exc}"
        finally:
            results.close()

    # -------------------------------------------------------------- display
    def _display_loop(self, results: Mailbox, info) -> int:
        """Draw, record and show results; handle keys.  Returns frames recorded."""
        rec: ThreadedWriter | None = None
        rec_path = self.record_path
        recording = rec_path is not None  # --record starts recording at once; 'r' toggles
        show_help = paused = sized = False
        recorded = 0
        img = None
        if self.window:
            # No Qt toolbar: the picture is the interface.
            cv2.namedWindow("pelvis-tilt", cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        try:
            while True:
                res = None if paused else results.get(timeout=0.03)   # paused: leave the next frame waiting
                if res is None and results.closed and not paused:
                    if self.window and img is not None:
                        self._hold_last(img)
                    break
                if res is not None:
                    frame, lm, m, tilt_s, state, lines = res
                    if show_help:
                        lines = lines + KEYS_HELP
                    status = f"{self._fps:4.1f} fps  {1000 * self._lat:3.0f} ms" if self.show_fps else ""
                    if recording:
                        status = (status + "  REC").strip()
                    img = self._draw(frame, lm, m, tilt_s, state, lines, status)
                    if rec is None and recording:
                        rec = self._open_recorder((img.shape[1], img.shape[0]), info.fps, rec_path)
                    if rec is not None:
                        # Saved as the camera sees it (the mirror is for the person in front of it).
                        rec.write(self._draw(frame, lm, m, tilt_s, state, lines, status, mirror=self.record_mirrored)
                                  if self.mirror != self.record_mirrored else img)
                        recorded += 1
                if not self.window:
                    continue
                if img is not None:
                    if not sized:
                        cv2.resizeWindow("pelvis-tilt", *fit_to_screen(img.shape[1], img.shape[0]))
                        sized = True
                    shown = img
                    if paused:
                        shown = img.copy()
                        overlay.draw_lines(shown, ["Paused: space to resume"], shown.shape[0] // 2, (0, 220, 255))
                    cv2.imshow("pelvis-tilt", shown)
                key = cv2.waitKey(30 if paused else 1) & 0xFF
                if key in (ord("q"), 27) or (sized and not self._window_open()):
                    self._end_reason = "quit"
                    break
                elif key == ord(" "):
                    paused = not paused
                    grabber = getattr(self, "_grabber", None)
                    if grabber is not None:   # a clip really stops; a live camera only freezes the picture
                        (grabber.paused.set if paused else grabber.paused.clear)()
                elif key == ord("c"):
                    self._requests.append("calibrate")
                elif key == ord("g"):
                    self._requests.append("routine")
                elif key == ord("n"):
                    self._requests.append("next")
                elif key == ord("m"):
                    self.mirror = not self.mirror
                elif key == ord("h"):
                    show_help = not show_help
                elif key == ord("s") and img is not None:
                    snap = self.snapshot_dir / f"pelvis_tilt_snapshot_{time.strftime('%Y%m%d_%H%M%S')}.png"
                    cv2.imwrite(str(snap), img)
                    self.messages.append(f"snapshot saved: {snap}")
                elif key == ord("r"):
                    recording = not recording
                    if not recording and rec is not None:
                        rec.close()
                        self.messages.append(f"recording saved: {rec_path}")
                        rec = None
                    if recording and (rec_path is None or rec_path.exists()):
                        rec_path = self.snapshot_dir / f"pelvis_tilt_{time.strftime('%Y%m%d_%H%M%S')}.mp4"
        finally:
            if rec is not None:
                rec.close()  # keep what was recorded, whatever ended the session
                self.messages.append(f"recording saved: {rec_path}")
        return recorded

    @staticmethod
    def _window_open() -> bool:
        """False once the user has closed the window with its close button."""
        return cv2.getWindowProperty("pelvis-tilt", cv2.WND_PROP_VISIBLE) >= 1

    def _hold_last(self, img: np.ndarray) -> None:
        """The session ended by itself (end of clip, camera gone, calibrated): keep the last
        picture up with the reason until q/Esc or the window is closed, so it can be read."""
        last = img.copy()
        text = f"{self._end_reason[0].upper()}{self._end_reason[1:]}: press q to close"
        notice = self._notice[0] if self._notice else []  # e.g. the calibration's result
        overlay.draw_lines(last, [*notice, text], last.shape[0] // 2)
        cv2.imshow("pelvis-tilt", last)
        print(f"{text} the window", flush=True)
        while self._window_open() and (cv2.waitKey(50) & 0xFF) not in (ord("q"), 27):
            pass

    def _finish_calibration(self, calib: Calibration, frames: int) -> list[str]:
        """Save the profile and adopt its baseline; returns short lines for the screen."""
        try:
            prof = calib.result(self.profile_name, self.band.half_width, self.tilt_model.kind, frames)
        except CalibrationError as exc:
            self.calibration_error = exc
            self.messages.append(f"calibration failed: {exc}")
            first = {"nobody": "Calibration failed: nobody in view;", "moving": "Calibration failed: you moved;",
                     "unclear": "Calibration failed: stand side-on,",
                     "range": "Calibration failed: range step unclear;"}[exc.kind]
            return [first, "stand still, side-on, whole body in view; press c to retry"]
        try:
            save_profile(prof)
        except (OSError, RuntimeError) as exc:  # e.g. a read-only config folder: keep the session going
            self.calibration_error = exc
            self.messages.append(f"calibration not saved: {exc}")
            return ["Calibration not saved:", "the profile folder is not writable"]
        self.calibration_error = None
        self.profile = prof
        self.band.baseline = prof.baseline_deg
        self.messages.append(f"calibrated profile {prof.name!r}: neutral {prof.baseline_deg:+.1f} deg "
                             f"(SD {prof.spread_deg:.1f}, {prof.samples} frames), camera roll {prof.roll_deg:+.1f} deg, "
                             f"pitch {prof.pitch_deg:+.0f} deg")
        screen = [f"Neutral saved: {prof.baseline_deg:+.1f} deg ({prof.name})"]
        if np.isfinite(prof.range_forward_deg):
            self.messages.append(f"range: {prof.range_forward_deg:.1f} deg forward, {prof.range_tuck_deg:.1f} deg tuck")
            screen.append(f"Range: {prof.range_forward_deg:.0f} deg forward, {prof.range_tuck_deg:.0f} deg tuck")
        tip = camera_pose.advice(prof.roll_deg, prof.pitch_deg)
        if tip:
            self.messages.append(f"camera set-up: {tip}")
            screen.append(tip[0].upper() + tip[1:])
        return screen

    def _summary(self, reason: str, processed: int, dropped: int, recorded: int, info) -> dict:
        lat = np.array([r["latency_ms"] for r in self.rows]) if self.rows else np.zeros(0)
        states = [r["state"] for r in self.rows]
        t = np.array([r["time_s"] for r in self.rows]) if self.rows else np.zeros(0)
        tilt = np.array([r["tilt_smooth_deg"] for r in self.rows]) if self.rows else np.zeros(0)
        changes = int(sum(a != b for a, b in zip(states, states[1:])))
        done = np.asarray(self._done_at)
        # Steady-state rate: model loading and the first frame's graph set-up excluded.
        loop_fps = (len(done) - 2) / (done[-1] - done[1]) if len(done) > 3 else float("nan")
        return {
            "source": str(self.source), "ended": reason, "frames_processed": processed, "frames_dropped": dropped,
            "frames_recorded": recorded, "loop_fps": loop_fps, "duration_s": float(t[-1] - t[0]) if len(t) > 1 else 0.0,
            "baseline_deg": self.band.baseline, "band_half_width_deg": self.band.half_width,
            "tilt_median_deg": float(np.nanmedian(tilt)) if np.isfinite(tilt).any() else float("nan"),
            "pct_anterior": 100.0 * states.count("anterior") / max(len(states), 1),
            "pct_neutral": 100.0 * states.count("neutral") / max(len(states), 1),
            "pct_posterior": 100.0 * states.count("posterior") / max(len(states), 1),
            "frames_with_person": int(sum(bool(r["detected"]) for r in self.rows)),
            "cue_changes": changes, "latency_ms_median": float(np.median(lat)) if lat.size else float("nan"),
            "profile": self.profile.__dict__ if self.profile else None,
            "routine": self.routine.summary() if self.routine is not None else None,
            "messages": self.messages,
        }

    def write_table(self, path: str | Path) -> Path:
        cols = {k: [r[k] for r in self.rows] for k in (self.rows[0] if self.rows else {"frame": 0})}
        return report.write_csv(path, cols)
