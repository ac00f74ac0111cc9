"""Live mirror checker: capture -> pose -> pipeline (One-Euro, cue) -> window, on four threads.

Each thread owns its own state and hands over through one-item mailboxes:

* capture (`FrameGrabber`): the source; keeps only the newest frame, so a slow
  inference never queues frames behind it (stale frames are dropped, never shown late);
* pose: MediaPipe and the subject (`PoseRunner.process_bgr`: the subject followed in a
  crop, so only the crop's pixels are converted and segmented);
* cue: the pipeline stream (causal smoothing, states), calibration,
  the routine and the per-frame table; key requests reach it through a queue;
* display (the caller's thread, `window.Display`): window, keys, mirror, recording.

With ``--no-window`` the same loop runs headless, for tests, CI and remote use,
writing the overlay video and the per-frame table.
"""
from __future__ import annotations

import queue
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from . import calibrate, cues, outputs, personal_range, results
from .pipeline import Pipeline, Stream
from .pose import PoseRunner
from .settings import Settings, estimator_id, resolve
from .sources import VideoSource, rgb_ahead
from .window import Display, Shown


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
        self.paused = threading.Event()   # set (by the display): a clip stops being read

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
                captured = time.monotonic()
                self.box.put((i, t, frame, captured, rgb_ahead(frame)))
        except Exception as exc:  # surfaced by the session as a clean message
            self.error = str(exc)
        finally:
            self.box.close()

    def get(self, timeout: float):
        """Newest frame (i, t, frame_bgr, captured_at, frame_rgb or None), or None if none came in time / ended."""
        return self.box.get(timeout)

    def stop(self) -> None:
        self._stop.set()
        self.box.close()


class SessionLog:
    """How the session ended (the first reason given wins) and messages for the user, from any thread."""

    def __init__(self, default: str):
        self._lock = threading.Lock()
        self._default, self._reason = default, None
        self.messages: list[str] = []

    def end(self, reason: str) -> None:
        with self._lock:
            if self._reason is None:
                self._reason = reason

    def say(self, msg: str) -> None:
        with self._lock:
            self.messages.append(msg)

    @property
    def reason(self) -> str:
        return self._reason or self._default


class LiveSession:
    """The live loop; `run()` returns the session summary.  Used by `live`, `calibrate` and live `routine`."""

    def __init__(self, source: str | int | VideoSource, settings: Settings | None = None, *, window: bool = True,
                 mirror: bool = True, record: str | Path | None = None, realtime: bool | None = None,
                 show_fps: bool = False, sound: bool = False, profile_name: str = "default",
                 calibrate_only: bool = False, countdown_s: float = 3.0, hold_s: float = 3.0, range_s: float = 0.0,
                 max_frames: int | None = None, snapshot_dir: str | Path = ".", routine=None,
                 record_mirrored: bool = False):
        self.source = source
        self.settings = (settings or resolve()).live()
        self.window, self.mirror, self.record_path = window, mirror, Path(record) if record else None
        self.record_mirrored, self.realtime = record_mirrored, realtime
        self.show_fps, self.sound = show_fps, sound
        self.profile_name, self.calibrate_only = profile_name, calibrate_only
        self.countdown_s, self.hold_s, self.range_s = countdown_s, hold_s, range_s
        self.max_frames = max_frames
        self.snapshot_dir = Path(snapshot_dir)
        self.routine = routine  # a routine.RoutineRunner, started now or with the 'g' key
        self.profile = None     # the profile calibrated in this session, if any
        self.calibration_error: Exception | None = None  # why the last calibration was refused
        self._tables: list[dict] = []   # per-frame table rows (cue thread)
        self._notice: tuple[list[str], float] | None = None  # (screen lines, until clip time) (cue thread)

    # --------------------------------------------------------------------- run
    def run(self) -> dict:
        """Capture -> MediaPipe -> subject, pipeline and cue -> drawing/window (this thread).

        A slow inference never stalls the window (it keeps redrawing and reading
        keys), live stale frames are dropped instead of queued, and the numpy work
        of frame i overlaps MediaPipe's work on frame i+1 (which releases the GIL).
        With ``record``, the table and summary are written beside the video, whatever
        ended the session.
        """
        src = self.source if isinstance(self.source, VideoSource) else VideoSource(self.source)
        src.open()
        is_file = not src.is_camera
        realtime = self.realtime if self.realtime is not None else (self.window or not is_file)
        grabber = FrameGrabber(src, drop=realtime, realtime=realtime)
        inferred, shown = Mailbox(drop=realtime), Mailbox(drop=realtime)
        self._stop = threading.Event()
        self.log = SessionLog("end of clip" if is_file else "quit")
        requests: queue.SimpleQueue = queue.SimpleQueue()
        display = Display(self.window, self.mirror, self.record_path, self.record_mirrored, src.info.fps,
                          self.snapshot_dir, requests, self.log)
        recorded, last, self._done_at = 0, None, []
        try:
            with PoseRunner(self.settings.pose_model, follow=self.settings.follow) as runner:
                grabber.start()
                workers = [threading.Thread(target=self._infer_loop, args=(runner, grabber, inferred, is_file),
                                            daemon=True),
                           threading.Thread(target=self._cue_loop, args=(inferred, shown, requests, src),
                                            daemon=True)]
                for w in workers:
                    w.start()
                try:
                    recorded, last = display.run(shown, grabber)
                finally:   # also on Ctrl-C: the workers stop before the landmarkers close and the table is read
                    self._stop.set()
                    grabber.stop()
                    inferred.close()
                    shown.close()
                    for w in workers:
                        w.join()
            if self.window and last is not None and self.log.reason != "quit":
                display.hold_last(last, self.log.reason, self._notice[0] if self._notice else [])
        finally:
            grabber.stop()
            src.close()
            if self.window:
                cv2.destroyAllWindows()
            summary = self._summary(grabber.dropped, recorded, src.info)
            if self.record_path is not None:
                stem = self.record_path.with_suffix("")
                if self._tables:
                    self.write_table(f"{stem}.frames.csv")
                outputs.write_summary(f"{stem}.summary.json", summary)
        return summary

    # ------------------------------------------------------------ inference
    def _infer_loop(self, runner: PoseRunner, grabber: FrameGrabber, inferred: Mailbox, is_file: bool) -> None:
        """MediaPipe and the subject: newest frame in, the subject's `PoseFrame` out."""
        try:
            while not self._stop.is_set():
                item = grabber.get(timeout=2.0)
                if item is None:
                    if grabber.error:
                        self.log.end(f"source failed: {grabber.error}")
                    elif not is_file and not self._stop.is_set():
                        self.log.end("camera stopped delivering frames (unplugged?)")
                        self.log.say("camera stopped delivering frames (unplugged?)")
                    if grabber.finished or not is_file:
                        break
                    continue
                i, t, frame, captured, rgb = item
                pf = runner.process_bgr(frame, t) if rgb is None else runner.process(rgb, t)
                inferred.put((i, t, frame, captured, pf))
        except Exception as exc:  # never a traceback from a worker: end the session cleanly
            self.log.end(f"source failed: {exc}")
        finally:
            inferred.close()

    def _cue_loop(self, inferred: Mailbox, shown: Mailbox, requests: queue.SimpleQueue,
                  src: VideoSource) -> None:
        """Pipeline, calibration and routine for each frame the pose thread hands over."""
        stream: Stream | None = None
        calib = calibrate.Calibration(self.countdown_s, self.hold_s, started=0.0, range_s=self.range_s) \
            if self.calibrate_only else None
        calib_frames, last_state, t_prev, fps, lat = 0, None, None, 0.0, 0.0
        try:
            while not self._stop.is_set():
                item = inferred.get(timeout=0.5)
                if item is None:
                    if inferred.closed:
                        break
                    continue
                i, t, frame, captured, pf = item
                h, w = frame.shape[:2]
                if stream is None:
                    stream = Pipeline(self.settings, (w, h), src.info.fps).stream()
                while not requests.empty():
                    req = requests.get()
                    if req == "calibrate":
                        calib, calib_frames = calibrate.Calibration(self.countdown_s, self.hold_s, started=t,
                                                                    range_s=self.range_s), 0
                    elif req == "routine":
                        from .routine import RoutineRunner

                        own = self.settings if self.profile is None else self.settings.with_profile(self.profile)
                        self.routine = RoutineRunner(own_range=own.own_range) if self.routine is None else None
                    elif req == "next" and self.routine is not None:
                        self.routine.skip()
                if calib is not None:   # 'c' or the calibrate command: a hold is read one way throughout
                    stream.stop_looking()
                row = stream.push(i, t, pf)   # causal: final at once
                state, tilt_s, base = int(row.state[0]), float(row.tilt_smooth[0]), float(row.baseline[0])
                now = time.monotonic()
                latency = now - captured  # capture to cue
                if state == cues.ANTERIOR and last_state != cues.ANTERIOR and self.sound:
                    sys.stdout.write("\a")
                    sys.stdout.flush()
                last_state = state
                if t_prev is not None:
                    rate = 1.0 / max(now - t_prev, 1e-6)
                    fps = 0.9 * fps + 0.1 * rate if fps else rate
                t_prev = now
                lat = 0.9 * lat + 0.1 * latency if lat else latency

                lines: list[str] = list(self._notice[0]) if self._notice and t < self._notice[1] else []
                if calib is not None:
                    if calib.started == 0.0:
                        calib.started = t
                    ph = calib.phase(t)
                    if ph in ("hold", "forward", "tuck"):
                        est = stream.p.estimator
                        inputs = (est.change_inputs(row.features, row.lm, row.measures)[0]
                                  if est.trees is not None else None)
                        calib.add(float(row.tilt_raw[0]), row.lm[0], row.world[0], int(row.measures.side[0]), h,
                                  bool(row.detected[0]), ph, inputs)
                        calib_frames += ph == "hold"
                    if ph == "done":
                        self._notice = (self._conclude(calib, calib_frames, stream), t + 5.0)  # shown for 5 s
                        calib = None
                        if self.calibrate_only:
                            self.log.end("calibrated" if self.calibration_error is None else "calibration refused")
                            self._stop.set()
                            break
                    else:
                        lines.append(calib.message(t))
                if self.routine is not None:
                    from .routine import frame_signals

                    sig = frame_signals(row.t, row.lm, row.measures, row.tilt_smooth, row.baseline, row.detected,
                                        self.settings.roll_deg, tilt_raw=row.tilt_raw)[0]
                    self.routine.update(sig, self.settings.band_half_width_deg)
                    lines += self.routine.status_lines()
                if calib is None and state in cues.POSTURE:
                    s = self.settings if self.profile is None else self.settings.with_profile(self.profile)
                    where = personal_range.describe(tilt_s - base, s.range_forward_deg, s.range_tuck_deg)
                    lines += [where] if where else []
                tab = results.table(row)
                tab["latency_ms"] = np.array([1000 * latency])
                self._tables.append(tab)
                self._done_at.append(now)
                status = f"{fps:4.1f} fps  {1000 * lat:3.0f} ms" if self.show_fps else ""
                shown.put(Shown(frame, row, stream.machine.band, lines, status))
                if self.max_frames and len(self._tables) >= self.max_frames:
                    self.log.end("frame limit")
                    self._stop.set()
                    break
        except Exception as exc:  # never a traceback from the worker: end the session cleanly
            self.log.end(f"source failed: {exc}")
        finally:
            self._neutral = stream.neutral if stream is not None else self.settings.neutral
            shown.close()

    def _conclude(self, calib: calibrate.Calibration, frames: int, stream: Stream) -> list[str]:
        """Save the profile and judge the frames from now on against its neutral; lines for the screen."""
        est = self.settings.estimator()
        out = calibrate.conclude(calib, self.profile_name, self.settings.band_half_width_deg, est,
                                 estimator_id(est), frames)
        for msg in out.messages:
            self.log.say(msg)
        self.calibration_error = out.error
        if out.profile is not None:
            self.profile = out.profile
            stream.rebase(self.settings.with_profile(out.profile).neutral)
        return out.screen

    # -------------------------------------------------------------- outputs
    def table(self) -> dict[str, np.ndarray]:
        """The per-frame table so far (`results.FRAME_COLUMNS` + ``latency_ms``)."""
        if not self._tables:
            return {k: np.zeros(0) for k in [*results.FRAME_COLUMNS, "latency_ms"]}
        return {k: np.concatenate([tb[k] for tb in self._tables]) for k in self._tables[0]}

    def write_table(self, path: str | Path) -> Path:
        tab = self.table()
        return outputs.write_table(path, tab, {"latency_ms": tab["latency_ms"]})

    def _summary(self, dropped: int, recorded: int, info) -> dict:
        tab = self.table()
        neutral = getattr(self, "_neutral", self.settings.neutral)
        band = self.settings.band(neutral.baseline_deg)
        summary = results.summarise(tab, band, source=str(self.source), neutral=neutral.label,
                                    estimator=self.settings.estimator().kind,
                                    read_against=Pipeline(self.settings, (info.width, info.height),
                                                          info.fps).read_against(neutral), fps=info.fps,
                                    image_size=(info.width, info.height))
        done = np.asarray(self._done_at)
        lat = tab["latency_ms"]
        summary.update({
            "ended": self.log.reason, "frames_processed": len(tab["frame"]), "frames_dropped": dropped,
            "frames_recorded": recorded, "frames_with_person": int(np.sum(tab["detected"])),
            # Steady-state rate: model loading and the first frame's graph set-up excluded.
            "loop_fps": (len(done) - 2) / (done[-1] - done[1]) if len(done) > 3 else float("nan"),
            "latency_ms_median": float(np.median(lat)) if len(lat) else float("nan"),
            "cue_changes": int(np.count_nonzero(tab["state"][1:] != tab["state"][:-1])),
            "profile": self.profile.__dict__ if self.profile else None,
            "routine": self.routine.summary() if self.routine is not None else None,
            "messages": list(self.log.messages),
        })
        return summary
