"""Guided hip-alignment routine: exercises in order, live or on a recorded clip.

The runner feeds one frame of signals at a time to the current exercise and
moves on when it is done, so the same code serves `pelvis-tilt routine` live,
the `g` key in the live window, and `routine --source CLIP` on a recording.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from . import exercises as ex
from . import filters, results, signals
from . import landmarks as L
from .geometry import Measures
from .settings import Settings

# Each factory takes the routine's settings: reps for isolations, hold seconds, lifts, and the
# user's own range (`Settings.own_range`; front-to-back reps then say how far into it they reach).
EXERCISES: dict[str, Callable[..., ex.Exercise]] = {
    "plie_tuck": lambda **k: ex.PlieTuck(),
    "isolations": lambda reps=8, own_range=None, **k: ex.Isolations(target=reps, find_neutral=True,
                                                                    own_range=own_range),
    "lateral": lambda reps=8, **k: ex.Isolations(signal="lateral", target=reps, min_range=6.0),
    "stretch": lambda hold_s=30.0, **k: ex.stretch_hold(hold_s),
    "pelvic_lift": lambda lifts=3, **k: ex.PelvicLift(lifts),
    "child_pose": lambda hold_s=30.0, **k: ex.child_pose_hold(hold_s),
    "walking": lambda **k: ex.WalkCheck(),
}
FULL_ROUTINE = ["plie_tuck", "isolations", "lateral", "stretch", "pelvic_lift", "child_pose", "walking"]


def frame_signals(t: np.ndarray, lm: np.ndarray, m: Measures, tilt_smooth: np.ndarray, baseline: float | np.ndarray,
                  detected: np.ndarray, roll_deg: float = 0.0, smooth_sigma: float | None = None,
                  tilt_raw: np.ndarray | None = None) -> list[ex.FrameSignals]:
    """Per-frame detector inputs from the pipeline's arrays (vectorised, then split into frames).

    ``smooth_sigma`` (frames): zero-lag smoothing of the landmark-based signals for
    recorded clips; None leaves them raw (live applies its own filter).  ``tilt_raw``: the
    frames' own tilt readings (`FrameResults.tilt_raw`), for the isolations' rep extremes.
    """
    knees = signals.knee_flex_both(lm)
    s = np.clip(m.side, 0, 1)
    rows = np.arange(len(lm))
    heel = lm[rows, np.asarray(L.HEEL)[s], 1]
    toe = lm[rows, np.asarray(L.FOOT)[s], 1]
    tl = np.where(m.torso_px > 1, m.torso_px, np.nan)
    sep, lead = signals.walking(lm, m.facing, roll_deg)
    cols = {
        "knee_max": np.nanmax(np.where(np.isfinite(knees), knees, -np.inf), axis=1),
        "knee_min": np.nanmin(np.where(np.isfinite(knees), knees, np.inf), axis=1),
        "heel_lift": (toe - heel) / tl,
        "lateral": signals.lateral_tilt_deg(lm, roll_deg),
        "lift": signals.hip_lift(lm, roll_deg),
        "ankle_sep": sep,
        "pelvis_lead": lead,
    }
    cols = {k: np.where(np.isfinite(v), v, np.nan) for k, v in cols.items()}
    if smooth_sigma:
        for k in ("lateral", "lift", "ankle_sep", "pelvis_lead", "heel_lift"):
            cols[k] = filters.zero_lag(cols[k], sigma=smooth_sigma)
    child = signals.child_pose(lm, roll_deg)
    side_on = m.is_side_on() & detected
    frontal = (m.view == 3) & detected
    dev = tilt_smooth - baseline
    dev_raw = np.full(len(t), np.nan) if tilt_raw is None else tilt_raw - baseline
    return [
        ex.FrameSignals(t=float(t[i]), detected=bool(detected[i]), side_on=bool(side_on[i]), frontal=bool(frontal[i]),
                        tilt_dev=float(dev[i]), tilt_dev_raw=float(dev_raw[i]), knee_flex=float(m.knee_flex_deg[i]), knee_max=float(cols["knee_max"][i]),
                        knee_min=float(cols["knee_min"][i]), heel_lift=float(cols["heel_lift"][i]),
                        lateral=float(cols["lateral"][i]), lift=float(cols["lift"][i]), child=bool(child[i]),
                        ankle_sep=float(cols["ankle_sep"][i]), pelvis_lead=float(cols["pelvis_lead"][i]),
                        trunk_lean=float(m.trunk_lean_deg[i]), head_fwd=float(m.head_fwd_deg[i]))
        for i in range(len(t))
    ]


class UnknownExercise(ValueError):
    pass


class RoutineRunner:
    """Runs exercises in order; each ends when its detector says done (or on `skip`)."""

    def __init__(self, names: list[str] | None = None, factories: dict | None = None, **settings):
        self.names = names or list(FULL_ROUTINE)
        unknown = [n for n in self.names if n not in EXERCISES and not (factories and n in factories)]
        if unknown:
            raise UnknownExercise(f"unknown exercise(s): {', '.join(unknown)}; choose from {', '.join(EXERCISES)}")
        f = {**EXERCISES, **(factories or {})}
        self.exercises = [f[n](**settings) for n in self.names]
        self.index = 0
        self.in_band_s = 0.0
        self.trace: list[tuple[float, float, int]] = []  # (t, tilt_dev, exercise index)
        self._prev_t: float | None = None

    @property
    def current(self) -> ex.Exercise | None:
        return self.exercises[self.index] if self.index < len(self.exercises) else None

    @property
    def finished(self) -> bool:
        return self.current is None

    def update(self, s: ex.FrameSignals, band_half_width: float = 5.0) -> None:
        if self._prev_t is not None and np.isfinite(s.tilt_dev) and abs(s.tilt_dev) <= band_half_width and s.side_on:
            self.in_band_s += min(s.t - self._prev_t, 0.5)
        self._prev_t = s.t
        self.trace.append((s.t, s.tilt_dev, self.index))
        cur = self.current
        if cur is None:
            return
        cur.update(s)
        if cur.done:
            self.index += 1

    def skip(self) -> None:
        if self.current is not None:
            self.index += 1

    def status_lines(self) -> list[str]:
        cur = self.current
        if cur is None:
            return ["Routine complete. Well done!"]
        lines = [f"{self.index + 1}/{len(self.exercises)} {cur.title}"]
        if cur.t0 is None:
            lines += [x for x in cur.instructions if x]
        return lines + cur.status()

    def summary(self) -> dict:
        return {
            "exercises": [{"name": e.name, "title": e.title, "completed": e.done,
                           "started": e.t0 is not None, **e.result()} for e in self.exercises],
            "time_in_neutral_band_s": round(self.in_band_s, 2),
        }


def plot_routine(path: str | Path, runner: RoutineRunner, title: str, band_half_width: float) -> Path:
    """Tilt from neutral over time with the neutral band, each exercise's reps / holds marked."""
    from .report import atomic_path, load_pyplot

    plt = load_pyplot()

    tr = np.array(runner.trace, float) if runner.trace else np.zeros((0, 3))
    fig, ax = plt.subplots(figsize=(9, 3.6))
    if len(tr):
        ax.plot(tr[:, 0], tr[:, 1], color="#1f4e79", lw=1.5, label="tilt from neutral (deg)")
    ax.axhspan(-band_half_width, band_half_width, color="#5cb85c", alpha=0.15, label="neutral band")
    colours = ["#d9822b", "#7b4f9d", "#2a9d8f", "#e76f51", "#264653", "#8ab17d", "#b5838d"]
    for k, e in enumerate(runner.exercises):
        r = e.result()
        c = colours[k % len(colours)]
        for a, b in r.get("rep_times_s", []):
            ax.axvspan(a, b, color=c, alpha=0.12)
        for a, b in r.get("segments_s", []):
            ax.axvspan(a, b, color=c, alpha=0.2)
        if e.t0 is not None:
            ax.axvline(e.t0, color=c, lw=1, ls="--")
            ax.text(e.t0, ax.get_ylim()[1] if len(tr) else 1, f" {e.title}", color=c, fontsize=7, va="top", rotation=90)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("deg")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)


def clip_files(out_dir: str | Path, clip: str | Path) -> dict[str, Path]:
    """Where a routine on ``clip`` writes (named apart from analyze's files in the same folder)."""
    out, stem = Path(out_dir), Path(clip).stem
    return {"summary": out / f"{stem}.routine.json", "plot": out / f"{stem}.routine.png",
            "frames_csv": out / f"{stem}.routine.frames.csv"}


def run_on_clip(path: str | Path, out_dir: str | Path | None, names: list[str] | None, settings: Settings, *,
                record: str | Path | None = None, **exercise_settings) -> dict:
    """The routine on a recorded clip: analyse it once (MediaPipe once, the clip pipeline with
    ``settings``), feed every frame to the exercises, write the routine's files once and, with
    ``record``, the clip drawn as the live view draws it (cue, gauge, routine lines) from the
    same rows.  Returns the summary: `results.summarise`'s fields plus ``routine``.
    """
    from . import outputs, overlay
    from .analyze import analyze_clip, redraw
    from .report import atomic_path
    from .video_out import ThreadedWriter

    runner = RoutineRunner(names, **exercise_settings)   # unknown names fail before any work
    res = analyze_clip(path, None, settings, annotate=False, plot=False, table=False)
    r, band = res.frames, res.band
    sig = frame_signals(r.t, r.lm, r.measures, r.tilt_smooth, r.baseline, r.detected, settings.roll_deg,
                        smooth_sigma=filters.sigma_frames(r.t, 0.08), tilt_raw=r.tilt_raw)
    lines: list[list[str]] = []
    if names:
        for s in sig:
            runner.update(s, band.half_width)
            lines.append(runner.status_lines())
    else:
        # No --exercise on a recording: every detector looks at the whole clip (a live routine
        # waits for each exercise in turn; a clip of one exercise would stop at the first).
        singles = [RoutineRunner([n], **exercise_settings) for n in runner.names]
        for s in sig:
            for one in singles:
                one.update(s, band.half_width)
        runner.exercises = [one.exercises[0] for one in singles]
        runner.trace, runner.in_band_s = singles[0].trace, singles[0].in_band_s
        runner.index = len(runner.exercises)
    summary = {**res.summary, "routine": runner.summary()}
    if out_dir is not None:
        files = clip_files(out_dir, path)
        outputs.write_table(files["frames_csv"], res.table())
        plot_routine(files["plot"], runner, f"{Path(path).name}: routine", band.half_width)
        if record:
            w, h = r.image_size
            size = (w, h + sum(overlay.strip_heights(w)))   # the picture with the banner and gauge strips
            with atomic_path(record) as tmp:
                writer = ThreadedWriter(tmp, res.info.fps, size, max_width=None)
                try:
                    redraw(path, r, lambda frame, k: writer.write(overlay.session_picture(
                        frame, results.take(r, [k]), 0, band, lines[k] if lines else [], "REC")))
                finally:
                    writer.close()
            files["video"] = Path(record)
        summary["outputs"] = {k: str(v) for k, v in files.items()}
        outputs.write_summary(files["summary"], summary)
    return summary
