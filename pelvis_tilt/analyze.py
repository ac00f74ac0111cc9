"""Analyse a recorded clip: pose on every frame, measures, smoothing, states, outputs.

The clip is decoded once.  Annotated frames are drawn with a short delay (the
smoothing filter's radius), so the zero-lag smoothed tilt and the state drawn on
each frame are exactly the values written to the table.
"""
from __future__ import annotations

import contextlib
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from . import cues, filters, geometry, overlay, report
from .checks import ExitCode
from .pose import PoseRunner
from .sources import SourceError, SourceInfo, VideoSource
from .tilt import TiltModel
from .video_out import ThreadedWriter

EXIT_OK, EXIT_USAGE, EXIT_INPUT, EXIT_NOTHING_MEASURED = (ExitCode.OK, ExitCode.USAGE, ExitCode.IO,
                                                          ExitCode.NOTHING_MEASURED)


@dataclass
class FrameArrays:
    """What the pose stage produced for every frame of a clip."""

    t: np.ndarray          # (T,) seconds
    detected: np.ndarray   # (T,) bool
    n_people: np.ndarray   # (T,) int
    lm: np.ndarray         # (T, 33, 4) pixels + visibility
    world: np.ndarray      # (T, 33, 4) metres + visibility
    features: np.ndarray   # (T, outline.N_FEATURES) outline edges
    image_size: tuple[int, int]


@dataclass
class Estimates:
    """Everything derived from FrameArrays by the vectorised core."""

    measures: geometry.Measures
    tilt_raw: np.ndarray
    tilt_conf: np.ndarray
    reliable: np.ndarray
    tilt_smooth: np.ndarray
    state: np.ndarray


@dataclass
class AnalysisResult:
    clip: str
    info: SourceInfo | None
    frames: FrameArrays
    est: Estimates
    band: cues.Band
    summary: dict
    outputs: dict[str, Path] = field(default_factory=dict)
    drawn: tuple[np.ndarray, np.ndarray] | None = None  # (tilt, state) drawn on the annotated video

    def table(self) -> dict[str, np.ndarray]:
        return frame_table(self.frames, self.est, self.band)


def estimate(fr: FrameArrays, model: TiltModel, band: cues.Band, sigma: float | None = None,
             dwell_s: float = 0.4, roll_deg: float = 0.0) -> Estimates:
    """Vectorised core over all frames, then the (sequential) cue state machine.

    ``sigma`` is the smoothing width in frames (default: from the timestamps).
    """
    m = geometry.compute_measures(fr.lm, fr.image_size, roll_deg)
    tilt, conf, reliable = model.predict(fr.features, fr.lm, m, roll_deg)
    smooth = filters.zero_lag(tilt, conf, filters.sigma_frames(fr.t) if sigma is None else sigma)
    state = cues.CueMachine(band, dwell_s).run(fr.t, smooth, m.view, m.in_frame, fr.detected)
    return Estimates(m, tilt, conf, reliable, smooth, state)


def frame_table(fr: FrameArrays, est: Estimates, band: cues.Band) -> dict[str, np.ndarray]:
    m = est.measures
    return {
        "frame": np.arange(len(fr.t)),
        "time_s": fr.t,
        "detected": fr.detected,
        "people": fr.n_people,
        "view": np.array([geometry.VIEW_NAMES[int(v)] for v in m.view]),
        "view_conf": m.view_conf,
        "side": np.array(["left" if s == 0 else "right" if s == 1 else "" for s in m.side]),
        "tilt_deg": est.tilt_raw,
        "tilt_smooth_deg": est.tilt_smooth,
        "tilt_from_neutral_deg": est.tilt_smooth - band.baseline,
        "state": np.array([cues.STATE_NAMES[int(s)] for s in est.state]),
        "confidence": est.tilt_conf,
        "trunk_lean_deg": m.trunk_lean_deg,
        "hip_flex_deg": m.hip_flex_deg,
        "knee_flex_deg": m.knee_flex_deg,
        "head_fwd_deg": m.head_fwd_deg,
    }


def _weights_dt(t: np.ndarray) -> np.ndarray:
    """Duration each frame stands for (variable frame rate safe)."""
    if len(t) < 2:
        return np.ones(len(t))
    dt = np.diff(t)
    med = float(np.median(dt)) if dt.size else 1 / 30
    return np.clip(np.append(dt, med), 0, 4 * med)


def alignment_score(tilt: np.ndarray, band: cues.Band, w: np.ndarray | None = None) -> float:
    """0-100: full credit inside the neutral band, falling linearly to 0 at one
    more band half-width outside it; time-weighted over frames with a tilt."""
    ok = np.isfinite(tilt)
    if not ok.any():
        return float("nan")
    dev = np.abs(tilt[ok] - band.baseline)
    credit = np.clip(1.0 - (dev - band.half_width) / band.half_width, 0.0, 1.0)
    ww = np.ones(ok.sum()) if w is None else w[ok]
    return float(100.0 * np.sum(credit * ww) / np.sum(ww))


MIN_USABLE_FRACTION = 0.30   # below this share of usable frames a verdict is marked unreliable
MIN_USABLE_S = 2.0           # ... or below this many seconds of usable frames


def reliability(fr: FrameArrays, have: np.ndarray, w: np.ndarray, status: str) -> tuple[bool, dict, list[str]]:
    """What a verdict rests on (usable share and seconds, people in view, clip length), whether
    that is enough (`MIN_USABLE_FRACTION`, `MIN_USABLE_S`), and warnings saying so."""
    T = len(fr.t)
    usable_fraction = float(np.mean(have)) if T else 0.0
    usable_s = float(np.sum(w[have])) if have.any() else 0.0
    multi = float(np.mean(fr.n_people > 1)) if T else 0.0
    basis = {"usable_fraction": usable_fraction, "usable_s": usable_s, "usable_frames": int(have.sum()),
             "max_people": int(fr.n_people.max()) if T else 0, "multi_person_fraction": multi,
             "duration_s": float(fr.t[-1] - fr.t[0] + w[-1]) if T else 0.0}
    notes: list[str] = []
    if status != "ok":
        return False, basis, notes
    if usable_fraction < MIN_USABLE_FRACTION:
        notes.append(f"unreliable: only {100 * usable_fraction:.1f}% of frames were usable (side-on with a clear "
                     f"pelvis outline; needs {100 * MIN_USABLE_FRACTION:.0f}%)")
    if usable_s < MIN_USABLE_S:
        notes.append(f"unreliable: only {usable_s:.1f} s ({int(have.sum())} frames) of usable video; "
                     f"needs {MIN_USABLE_S:g} s")
    if basis["max_people"] > 1:
        notes.append(f"{basis['max_people']} people in view in {100 * multi:.0f}% of frames: "
                     "the measured person may have been mixed up with another")
    return not any(n.startswith("unreliable") for n in notes), basis, notes


def summarise(clip: str, fr: FrameArrays, est: Estimates, band: cues.Band, model: TiltModel,
              info: SourceInfo | None = None, warnings: list[str] | None = None) -> dict:
    """Per-clip summary (the numbers `summary.json` and batch scores use)."""
    m, T = est.measures, len(fr.t)
    w = _weights_dt(fr.t)
    side_on = m.is_side_on() & fr.detected
    tilt = np.where(side_on, est.tilt_smooth, np.nan)
    have = np.isfinite(tilt)
    cls = band.classify(tilt[have])
    tot = float(np.sum(w[have])) if have.any() else 0.0

    def pct(code: int) -> float:
        return float(100.0 * np.sum(w[have][cls == code]) / tot) if tot > 0 else float("nan")

    def q(a: np.ndarray, p: float) -> float:
        a = a[np.isfinite(a)]
        return float(np.percentile(a, p)) if a.size else float("nan")

    if T == 0 or not fr.detected.any():
        status, msg = "no-person", "nobody was detected in the clip"
    elif not side_on.any():
        status, msg = "not-side-on", "the person never stood side-on to the camera (turn sideways)"
    elif not have.any():
        status, msg = "no-reliable-tilt", "side-on, but the pelvis outline was never clear (arms, cropping or clothing)"
    else:
        status, msg = "ok", ""
    reliable, basis, notes = reliability(fr, have, w, status)
    warnings = list(warnings or [])
    warnings += [n for n in notes if n not in warnings]   # summarise may run twice on one clip (batch)
    return {
        "clip": clip,
        "status": status,
        "message": msg,
        "reliable": reliable,
        "basis": basis,
        "frames": T,
        "duration_s": float(fr.t[-1] - fr.t[0] + w[-1]) if T else 0.0,
        "fps": float(info.fps) if info else float("nan"),
        "width": fr.image_size[0],
        "height": fr.image_size[1],
        "detected_fraction": float(np.mean(fr.detected)) if T else 0.0,
        "side_on_fraction": float(np.mean(side_on)) if T else 0.0,
        "reliable_fraction": float(np.mean(est.reliable)) if T else 0.0,
        "max_people": int(fr.n_people.max()) if T else 0,
        "tilt_median_deg": q(tilt, 50),
        "tilt_p10_deg": q(tilt, 10),
        "tilt_p90_deg": q(tilt, 90),
        "baseline_deg": band.baseline,
        "band_half_width_deg": band.half_width,
        "tilt_from_neutral_median_deg": q(tilt - band.baseline, 50),
        "pct_anterior": pct(cues.ANTERIOR),
        "pct_neutral": pct(cues.NEUTRAL),
        "pct_posterior": pct(cues.POSTERIOR),
        "alignment_score": alignment_score(tilt, band, w),
        "trunk_lean_median_deg": q(np.where(side_on, m.trunk_lean_deg, np.nan), 50),
        "knee_flex_median_deg": q(np.where(side_on, m.knee_flex_deg, np.nan), 50),
        "knee_flex_max_deg": q(np.where(side_on, m.knee_flex_deg, np.nan), 100),
        "head_fwd_median_deg": q(np.where(side_on, m.head_fwd_deg, np.nan), 50),
        "tilt_model": model.kind,
        "warnings": warnings,
    }


class _DelayedAnnotator:
    """Draws frame i once frames up to i + r are in, r = smoothing radius.

    Uses the same per-frame core functions and the same kernel as `estimate`,
    so the drawn tilt/state equal the table's values.
    """

    CHUNK = 8  # frames per vectorised core call
    def __init__(self, writer: ThreadedWriter, model: TiltModel, band: cues.Band, sigma: float,
                 image_size: tuple[int, int], dwell_s: float, roll_deg: float):
        self.writer, self.model, self.band = writer, model, band
        self.kernel = filters.gaussian_kernel(sigma)
        self.r = len(self.kernel) // 2
        self.size, self.roll = image_size, roll_deg
        self.machine = cues.CueMachine(band, dwell_s)
        self.frames: deque = deque()
        self.tilt: list[float] = []
        self.conf: list[float] = []
        self.per: list[tuple] = []
        self.next = 0
        self._pending: list[tuple] = []
        self.drawn_tilt: list[float] = []   # what was drawn, kept to check against the table
        self.drawn_state: list[int] = []

    def push(self, frame: np.ndarray, t: float, lm: np.ndarray, feats: np.ndarray, detected: bool) -> None:
        self.frames.append(frame)
        self._pending.append((t, lm, feats, detected))
        if len(self._pending) >= self.CHUNK:
            self._compute()
        while self.next + self.r < len(self.tilt):
            self._emit()

    def _compute(self) -> None:
        """The per-frame core on the pending frames at once (vectorised; a few frames of extra delay)."""
        if not self._pending:
            return
        t, lm, feats, det = (list(c) for c in zip(*self._pending))
        lm_a = np.stack(lm)
        m = geometry.compute_measures(lm_a, self.size, self.roll)
        tilt, conf, _ = self.model.predict(np.stack(feats), lm_a, m, self.roll)
        self.tilt.extend(tilt.tolist())
        self.conf.extend(conf.tolist())
        self.per.extend((t[j], lm[j], int(m.view[j]), bool(m.in_frame[j]), det[j], int(m.side[j]),
                         float(m.facing[j]), float(m.torso_px[j])) for j in range(len(t)))
        self._pending = []

    def _emit(self) -> None:
        i, r, n = self.next, self.r, len(self.tilt)
        lo, hi = max(0, i - r), min(n, i + r + 1)
        x = np.asarray(self.tilt[lo:hi])
        w = np.where(np.isfinite(x), np.asarray(self.conf[lo:hi]), 0.0)
        k = self.kernel[lo - (i - r): hi - (i - r)]
        den = float(np.sum(k * w))
        smooth = float(np.sum(k * w * np.nan_to_num(x)) / den) if den > 1e-9 and np.isfinite(self.tilt[i]) else float("nan")
        t, lm, view, in_frame, detected, side, facing, torso = self.per[i]
        state = self.machine.update(t, smooth, view, in_frame, detected)
        self.drawn_tilt.append(smooth)
        self.drawn_state.append(state)
        frame = self.frames.popleft()
        dev, extra = smooth - self.band.baseline, f"t={t:5.2f}s"

        def draw(img: np.ndarray, scale: float) -> None:
            pts = lm.copy()
            pts[:, :2] *= scale
            overlay.draw_frame(img, pts, side, facing, torso * scale, smooth, state, dev, extra=extra)

        self.writer.write(frame, draw)
        self.per[i] = None  # free the landmarks we no longer need
        self.next += 1

    def finish(self) -> None:
        self._compute()
        while self.next < len(self.tilt):
            self._emit()


class _Progress:
    """Frames done: a tqdm bar on stderr and/or ``callback(done, total)`` at most twice a second
    (batch workers report to the parent that way)."""

    def __init__(self, total: int, enabled: bool, label: str, callback=None):
        self.total, self.callback, self.last = total, callback, 0.0
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total if total > 0 else None, desc=label, unit="frame", file=sys.stderr,
                            dynamic_ncols=True, leave=True)

    def update(self, done: int, final: bool = False) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
        now = time.monotonic()
        if self.callback is not None and (final or now - self.last >= 0.5):
            self.last = now
            self.callback(done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def analyze_clip(path: str | Path, out_dir: str | Path | None = None, *, model: str | Path | None = None,
                 tilt_model: TiltModel | None = None, band: cues.Band | None = None, annotate: bool = True,
                 plot: bool = True, table: bool = True, progress: bool | Callable[[int, int], None] = False,
                 dwell_s: float = 0.4,
                 roll_deg: float = 0.0, max_width: int | None = None) -> AnalysisResult:
    """Analyse one clip; write outputs into ``out_dir`` (if given) and return the result.

    ``progress``: True draws a bar on stderr; a callable gets ``(frames_done, frames_total)``.
    Raises `SourceError` (unreadable input) or `ModelError`; a clip with nobody
    or no side view is *not* an error: its summary says why nothing was measured.
    """
    path = Path(path)
    tilt_model = tilt_model or TiltModel.load()
    band = band or cues.Band(baseline=tilt_model.population_neutral_deg)
    out_dir = Path(out_dir) if out_dir is not None else None
    stem = path.stem
    outputs: dict[str, Path] = {}
    warnings: list[str] = []

    t_list, det, npeople, lms, worlds, feats = [], [], [], [], [], []
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(VideoSource(path, max_width=max_width))
        if out_dir is not None:
            report.ensure_writable_dir(out_dir)
        runner = stack.enter_context(PoseRunner(model))
        info = src.info
        annot = None
        video_final = out_dir / f"{stem}.annotated.mp4" if (annotate and out_dir) else None
        video_tmp = stack.enter_context(report.atomic_path(video_final)) if video_final else None
        bar = _Progress(info.frame_count, progress is True, stem, progress if callable(progress) else None)
        stack.callback(bar.close)
        for i, t, frame in src:
            if i == 0 and video_tmp is not None:
                h, w = frame.shape[:2]
                writer = ThreadedWriter(video_tmp, info.fps, (w, h))
                stack.callback(writer.close)
                annot = _DelayedAnnotator(writer, tilt_model, band, filters.ZERO_LAG_SIGMA_S * info.fps,
                                          (w, h), dwell_s, roll_deg)
            fp = runner.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), t)
            t_list.append(t)
            det.append(fp.detected)
            npeople.append(fp.n_people)
            lms.append(fp.lm)
            worlds.append(fp.world)
            feats.append(fp.features)
            if annot is not None:
                annot.push(frame, t, fp.lm, fp.features, fp.detected)
            bar.update(i + 1)
        bar.update(src.frames_read, final=True)
        if src.frames_read == 0:
            raise SourceError(f"no frames could be decoded from {path}")
        if src.ended_early:
            warnings.append(f"video ended early: decoded {src.frames_read} of {info.frame_count} frames (truncated?)")
        if annot is not None:
            annot.finish()
            writer.close()
            outputs["annotated"] = video_final

    n = len(t_list)
    fr = FrameArrays(
        t=np.asarray(t_list, float), detected=np.asarray(det, bool), n_people=np.asarray(npeople, int),
        lm=np.stack(lms), world=np.stack(worlds), features=np.stack(feats), image_size=(info.width, info.height),
    )
    # The annotator drew with the nominal frame rate's sigma; use the same here.
    est = estimate(fr, tilt_model, band, filters.ZERO_LAG_SIGMA_S * info.fps, dwell_s, roll_deg)
    summary = summarise(str(path), fr, est, band, tilt_model, info, warnings)
    summary["frames"] = n
    drawn = (np.asarray(annot.drawn_tilt), np.asarray(annot.drawn_state)) if annot is not None else None
    result = AnalysisResult(str(path), info, fr, est, band, summary, outputs, drawn)
    if out_dir is not None:
        # An output this run does not write, left by an earlier run into the same folder, would
        # sit beside tables it no longer matches: remove it and say so.
        for kind, name, written in (("annotated", f"{stem}.annotated.mp4", annotate),
                                    ("plot", f"{stem}.tilt.png", plot), ("frames_csv", f"{stem}.frames.csv", table)):
            old = out_dir / name
            if not written and old.is_file():
                old.unlink()
                summary["warnings"].append(f"removed {name} from an earlier run: it no longer matched these results")
        if table:
            outputs["frames_csv"] = report.write_csv(out_dir / f"{stem}.frames.csv", result.table())
        if plot:
            note = "" if summary["status"] == "ok" else summary["message"]
            outputs["plot"] = report.plot_tilt(
                out_dir / f"{stem}.tilt.png", fr.t, est.tilt_raw, est.tilt_smooth,
                band.baseline - band.half_width, band.baseline + band.half_width,
                f"{path.name}: pelvic tilt (alignment score {summary['alignment_score']:.0f})"
                if np.isfinite(summary["alignment_score"]) else f"{path.name}: pelvic tilt",
                est.measures.knee_flex_deg, est.measures.trunk_lean_deg, note,
                side_on=est.measures.is_side_on() & fr.detected)
        summary["outputs"] = {k: str(v) for k, v in outputs.items()}
        outputs["summary"] = report.write_json(out_dir / f"{stem}.summary.json", summary)
    return result

