"""Plausibility of the tilt reading on real people (no tilt truth exists for them).

    python benchmarks/real_clips.py [--demo PATH]

For each real clip (``../shared/real_media``: a treadmill runner, an older woman
walking both ways; the Sports2D demo from the ``sports2d`` wheel) and for the
same clip mirrored left-right, the whole pipeline (`analyze_clip`) runs and this
prints, over the subject's side-on frames: the share with a tilt reading, the
median and p10-p90 of ``tilt_deg`` (a walking or running adult stands at
roughly 0..+20 deg on the PSIS-ASIS definition), the mirrored clip's median
minus the original's and the median of the per-frame differences over frames read
in both ("paired": the same pictures mirrored), the share of read frames the
estimator's mid-stride weights take part in (the feet apart), and, for the walk-both-ways clip, the trusted side in each
direction.  `tests/test_real_clips.py` asserts the same numbers.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REAL = ROOT.parent / "shared" / "real_media"


@dataclass
class ClipReading:
    name: str
    side_on: int
    measured: float
    median: float
    p10: float
    p90: float
    sides: dict
    mid_stride: float                      # share of the read frames given some of the mid-stride weights
    tilt: np.ndarray = field(repr=False)   # per frame: the reading on the subject's side-on frames, NaN elsewhere

    def paired_shift(self, other: "ClipReading") -> float:
        """Median over frames read in both of ``other``'s reading minus this one's: for the
        same pictures mirrored, how much mirroring moves a reading (the difference of the
        two medians also counts which frames happen to be read in each)."""
        both = np.isfinite(self.tilt) & np.isfinite(other.tilt)
        return float(np.median(other.tilt[both] - self.tilt[both])) if both.any() else float("nan")


def rewrite(clip: Path, out: Path, fn) -> Path:
    """``clip`` with ``fn`` applied to every frame (BGR), same frame rate, written to ``out``."""
    import cv2

    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    wr = None
    while True:
        ok, f = cap.read()
        if not ok:
            break
        if wr is None:
            wr = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (f.shape[1], f.shape[0]))
        wr.write(fn(f))
    cap.release()
    wr.release()
    return out


def mirrored(clip: Path, out: Path) -> Path:
    """The clip flipped left-right (same frame rate), written to ``out``."""
    import cv2

    return rewrite(clip, out, lambda f: cv2.flip(f, 1))


def read_clip(clip: Path, name: str, frames: slice | None = None) -> ClipReading:
    """Tilt statistics over the subject's side-on frames (optionally a frame range)."""
    from pelvis_tilt import analyze_clip, geometry

    r = analyze_clip(clip, None, annotate=False, plot=False, table=False)
    m, tilt = r.est.measures, r.est.tilt_raw
    sel = np.zeros(len(tilt), bool)
    sel[frames or slice(None)] = True
    side_on = sel & m.is_side_on() & r.frames.detected
    t = tilt[side_on]
    ok = t[np.isfinite(t)]
    q = (lambda p: float(np.percentile(ok, p))) if ok.size else (lambda p: float("nan"))  # noqa: E731
    sides = {geometry.VIEW_NAMES[v]: np.bincount(m.side[side_on & (m.view == v)].clip(0), minlength=2).tolist()
             for v in (geometry.VIEW_SIDE_LEFT, geometry.VIEW_SIDE_RIGHT)}
    read = side_on & np.isfinite(tilt)
    return ClipReading(name, int(side_on.sum()), float(np.mean(np.isfinite(t))) if t.size else 0.0,
                       q(50), q(10), q(90), sides, float(np.mean(r.frames.stride[read] > 0)) if read.any() else 0.0,
                       np.where(side_on, tilt, np.nan))


def clips(demo: Path | None) -> list[tuple[str, Path, slice | None]]:
    out = [("treadmill runner", REAL / "gaitlab_male_side_treadmill.mp4", None),
           ("woman walking both ways", REAL / "s2d_demo4_walk_wall.mp4", None)]
    if demo is not None:
        out.append(("sports2d demo walker", demo, slice(62, 181)))
    return [c for c in out if c[1].is_file()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", type=Path, default=Path.home() / ".cache" / "pelvis_tilt_tests" / "sports2d_demo.mp4")
    a = ap.parse_args(argv)
    print(f"{'clip':28s} {'side-on':>7s} {'measured':>8s} {'median':>7s} {'p10..p90':>13s} {'mirrored - original':>20s}"
          f" {'paired':>7s} {'mid-stride':>10s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, frames in clips(a.demo if a.demo.is_file() else None):
            r = read_clip(path, name, frames)
            rm = read_clip(mirrored(path, Path(tmp) / f"{path.stem}.mirror.mp4"), name, frames)
            print(f"{name:28s} {r.side_on:7d} {100 * r.measured:7.0f}% {r.median:+7.1f} {r.p10:+6.1f}..{r.p90:+5.1f} "
                  f"{rm.median - r.median:+20.2f} {r.paired_shift(rm):+7.2f} {100 * r.mid_stride:9.0f}%"
                  f"   sides by view {r.sides}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
