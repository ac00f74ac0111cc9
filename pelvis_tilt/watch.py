"""Posture watch while you work: sample sparsely, nudge after a sustained problem.

The per-frame chain is the live one (`PoseRunner` -> `pipeline.Stream` with the
causal smoother), run on one thread because frames are few: a frame is
analysed every ``calm_s`` while all is well, every ``alert_s`` while a problem
builds, and every ``away_s`` while nobody is in view.  The decision to nudge is
`nudges.NudgeMachine` (pure); this module does the I/O: frames, window, bell,
desktop notification, and the day summary.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import cues, overlay
from .model import ModelError
from .nudges import BAD, MESSAGES, NudgeMachine, NudgeSettings, SamplingPlan, posture_flags, sample_status
from .pipeline import Pipeline
from .pose import PoseRunner
from .history_page import format_duration
from .session_log import time_stats
from .settings import Settings, resolve
from .sources import SourceError, VideoSource

WINDOW = "pelvis-tilt watch"


class FrameSampler:
    """Frames at (or just after) requested times, without decoding the ones in between
    more than the container forces.  Files: by their timestamps, optionally paced at
    real speed; cameras: by the wall clock, keeping only the newest frame."""

    def __init__(self, src: VideoSource, realtime: bool, wait=None):
        self.src, self.realtime = src, realtime
        self.cap = src.open().cap
        self.info = src.info
        self._wait = wait or time.sleep  # the window passes cv2.waitKey-based waiting
        self._t0 = time.monotonic()
        self._t = -1.0
        self._n = 0
        if src.is_camera:
            self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    def clock(self) -> float:
        """Seconds since the start, on the wall clock."""
        return time.monotonic() - self._t0

    def read_at(self, t_next: float) -> tuple[float, np.ndarray] | None:
        """The first frame at or after ``t_next`` seconds, or None at the end of the source."""
        if self.src.is_camera or self.realtime:
            lag = t_next - self.clock()
            if lag > 0:
                self._wait(lag)
        if self.src.is_camera:
            ok = self.cap.grab()  # the buffered frame may be old: take the next one
            ok = ok and self.cap.grab()
            t = self.clock()
        else:
            while True:
                ok = self.cap.grab()
                if not ok:
                    break
                t = float(self.cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
                if not np.isfinite(t) or t <= self._t:
                    t = self._t + 1.0 / self.info.fps if self._t >= 0 else 0.0
                self._t = t
                self._n += 1
                if t >= t_next - 1e-6:
                    break
        if not ok:
            return None
        ok, frame = self.cap.retrieve()
        if not ok or frame is None:
            return None
        return t, frame


def _notify_command() -> list[str] | None:
    """A desktop notifier if one is installed (``notify-send`` on Linux desktops)."""
    exe = shutil.which("notify-send")
    return [exe, "-a", "pelvis-tilt", "-u", "normal"] if exe else None


@dataclass
class WatchResult:
    """What a watch session leaves: per-sample arrays (numbers only) and the nudges."""

    t: np.ndarray
    state: np.ndarray
    side_on: np.ndarray
    flags: np.ndarray
    status: np.ndarray
    tilt: np.ndarray
    nudges: list
    ended: str
    duration_s: float
    baseline_deg: float
    band_half_width_deg: float
    cpu_s: float          # process CPU time (all threads) after the model was loaded
    wall_s: float         # wall time over the same span
    paced: bool           # frames came at real speed (camera, or a clip with --realtime)
    messages: list[str] = field(default_factory=list)

    def side_on_and_in_band_s(self, max_dt: float) -> tuple[float, float]:
        return time_stats(self.t, self.side_on, self.state == cues.NEUTRAL, max_dt)


class WatchSession:
    """The watch loop; `run()` returns a `WatchResult`.  `stop()` ends it from another thread."""

    def __init__(self, source: str | int, settings: Settings | None = None, *,
                 nudge: NudgeSettings = NudgeSettings(), plan: SamplingPlan = SamplingPlan(), window: bool = True,
                 realtime: bool | None = None, sound: bool = True, notify: bool = True,
                 max_seconds: float | None = None, out=sys.stdout):
        self.source = source
        # Frames come every `away_s` at most while nobody is in view: the smoother bridges that.
        self.settings = (settings or resolve()).live(max_gap_s=plan.away_s + 0.5)
        self.band = self.settings.band()
        self.nudge, self.plan = nudge, plan
        self.window, self.realtime, self.sound = window, realtime, sound
        self.notifier = _notify_command() if notify else None
        self.max_seconds, self.out = max_seconds, out
        self._stop = threading.Event()
        self._banner: tuple[str, float] | None = None  # (text, until clock time)

    def stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ alerts
    def _alert(self, nudge, t: float) -> None:
        msg = MESSAGES[nudge.reason]
        self.out.write(f"nudge at {t:7.1f} s: {msg} ({nudge.reason})\n")
        if self.sound:
            self.out.write("\a")
        self.out.flush()
        if self.notifier:
            try:  # fire and forget: a missing notification daemon must not stop the watch
                subprocess.Popen([*self.notifier, "pelvis-tilt", msg], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            except OSError:
                self.notifier = None
        self._banner = (msg, t + 5.0)

    def _wait(self, seconds: float) -> None:
        """Sleep, keeping the window responsive (q / Esc / close ends the watch)."""
        end = time.monotonic() + seconds
        while not self._stop.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            if self.window:
                key = cv2.waitKey(max(1, min(int(left * 1000), 100))) & 0xFF
                if key in (ord("q"), 27) or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                    self._stop.set()
            else:
                self._stop.wait(min(left, 0.5))

    def _show(self, frame: np.ndarray, state: int, tilt_s: float, t: float, n_nudges: int, mode: str) -> None:
        w = 320
        img = cv2.resize(cv2.flip(frame, 1), (w, int(round(frame.shape[0] * w / frame.shape[1]))),
                         interpolation=cv2.INTER_AREA)
        overlay.draw_banner(img, state, tilt_s, tilt_s - self.band.baseline)
        lines = [f"nudges {n_nudges}  ({mode})"]
        if self._banner and t < self._banner[1]:
            lines.insert(0, self._banner[0])
        overlay.draw_lines(img, lines, img.shape[0] - 70)
        cv2.imshow(WINDOW, img)

    # --------------------------------------------------------------------- run
    def run(self) -> WatchResult:
        src = VideoSource(self.source)
        src.open()
        realtime = self.realtime if self.realtime is not None else (src.is_camera or self.window)
        if self.window:
            cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        stream = None
        machine = NudgeMachine(self.nudge)
        rows: dict[str, list] = {k: [] for k in ("t", "state", "side_on", "flags", "status", "tilt")}
        ended = "end of clip" if not src.is_camera else "stopped"
        t_next, n_read = 0.0, 0
        cpu0, wall0 = time.process_time(), time.monotonic()
        try:
            with PoseRunner(self.settings.pose_model, follow=self.settings.follow) as runner:
                # Clocks start once the model is loaded: a camera or paced clip starts now.
                sampler = FrameSampler(src, realtime, wait=self._wait)
                cpu0, wall0 = time.process_time(), time.monotonic()
                while not self._stop.is_set():
                    if self.max_seconds is not None and t_next > self.max_seconds:
                        ended = "time limit"
                        break
                    item = sampler.read_at(t_next)
                    if item is None:
                        if src.is_camera:
                            ended = "camera stopped delivering frames (unplugged?)"
                        break
                    t, frame = item
                    if stream is None:
                        stream = Pipeline(self.settings, (frame.shape[1], frame.shape[0]),
                                          src.info.fps).stream()
                    n_read += 1
                    fp = runner.process_bgr(frame, t)
                    row = stream.push(n_read, t, fp)   # causal: final at once
                    m, state, tilt_s = row.measures, int(row.state[0]), float(row.tilt_smooth[0])
                    side_on = m.is_side_on() & row.detected
                    flags = posture_flags(np.array([state]), side_on, m.trunk_lean_deg, m.head_fwd_deg,
                                          self.nudge)
                    status = sample_status(np.array([state]), side_on, flags)
                    nudge = machine.update(t, int(status[0]), int(flags[0]))
                    if nudge is not None:
                        self._alert(nudge, t)
                    for k, v in (("t", t), ("state", state), ("side_on", bool(side_on[0])),
                                 ("flags", int(flags[0])), ("status", int(status[0])), ("tilt", tilt_s)):
                        rows[k].append(v)
                    alert = machine.building or int(status[0]) == BAD
                    mode = "away" if not fp.detected else "alert" if alert else "calm"
                    if self.window:
                        self._show(frame, state, tilt_s, t, len(machine.nudges), mode)
                    t_next = t + self.plan.interval(fp.detected, alert)
        except KeyboardInterrupt:
            ended = "stopped"
        except (SourceError, ModelError):
            raise
        except Exception as exc:  # a decoder or camera failure mid-watch: end cleanly with what we have
            ended = f"source failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        finally:
            src.close()
            if self.window:
                cv2.destroyAllWindows()
        if self._stop.is_set() and ended == "end of clip":
            ended = "stopped"
        arr = {k: np.asarray(v) for k, v in rows.items()}
        t_arr = arr["t"].astype(float)
        return WatchResult(
            t=t_arr, state=arr["state"].astype(np.int8), side_on=arr["side_on"].astype(bool),
            flags=arr["flags"].astype(np.int8), status=arr["status"].astype(np.int8), tilt=arr["tilt"].astype(float),
            nudges=list(machine.nudges), ended=ended,
            duration_s=float(t_arr[-1] - t_arr[0]) if t_arr.size > 1 else 0.0,
            baseline_deg=self.band.baseline, band_half_width_deg=self.band.half_width,
            cpu_s=time.process_time() - cpu0, wall_s=time.monotonic() - wall0, paced=realtime)


def summary_line(label: str, side_on_s: float, in_band_s: float, nudges: int, reasons: dict[str, int]) -> str:
    """One line: time side-on, time in band (and share), nudges by reason."""
    share = f" ({100 * in_band_s / side_on_s:.0f}%)" if side_on_s > 0 else ""
    why = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()) if v)
    return (f"{label}: side-on {format_duration(side_on_s)}, in band {format_duration(in_band_s)}{share}, "
            f"nudges {nudges}" + (f" ({why})" if why else ""))
