"""Does following the subject in a crop change the tilt's accuracy?  Scored against truth.

The continuous isolation clips of the truth set (`calibration.truthset`, motion
set: 15 fps video, front-to-back isolations of rendered bodies never used in
fitting) are read through the product's pose stage twice from the same pixels:
on the whole frame (the two-person landmarker on every frame, the path the
estimator was fitted on) and with the crop follower (the one-person landmarker
in a crop around the subject, `PoseRunner(follow=True)`).  The shipped model
scores both against the rendered truth (change from each clip's first second,
per frame and smoothed as `analyze` smooths), and the per-clip median tilt of the
two readings is compared.

    PYOPENGL_PLATFORM=osmesa /work/venvs/calib/bin/python -m calibration.truthset --fit 0 --test 0 --motion 40
    PYOPENGL_PLATFORM=osmesa /work/venvs/calib/bin/python -m calibration.truthset --fit 0 --test 0 --motion 40 --follow
    python benchmarks/follow_accuracy.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from calibration import fit_tilt  # noqa: E402
from calibration.truthset import FOLLOW_STAGE  # noqa: E402
from pelvis_tilt.tilt import TiltModel  # noqa: E402

HEAD = ["motion clips", "clips", "measured", "change MAE", "p95", "gain", "smoothed MAE", "smoothed p95",
        "smoothed gain"]


def clip_medians(stage: str, params: TiltModel) -> tuple[dict[int, float], float]:
    """Median tilt per clip variant over its side-on, measured frames, and the absolute
    error (tilt - true tilt, mean |.|) over all those frames."""
    d = fit_tilt.load_set("motion", stage)
    m = fit_tilt.measures(d)
    tilt = fit_tilt.predict(params, d, m)
    ok = m.is_side_on() & d["detected"] & np.isfinite(tilt)
    out = {}
    for c in np.unique(d["clip"]):
        s = (d["clip"] == c) & ok
        if s.sum() >= 10:
            out[int(c)] = float(np.median(tilt[s]))
    return out, float(np.mean(np.abs(tilt[ok] - d["tilt_true"][ok])))


def main() -> int:
    params = TiltModel.load()   # the shipped model, its trees included
    for stage, label in (("v3", "whole frame"), (FOLLOW_STAGE, "crop follower")):
        rows = fit_tilt.motion_scores(params, stage)
        if rows is None:
            print(f"{label}: no readings in {stage}/ (see the commands above)")
            return 1
        print(f"\n{label} ({stage}):")
        print(fit_tilt.fmt_table(rows, HEAD))
    (a, abs_a), (b, abs_b) = clip_medians("v3", params), clip_medians(FOLLOW_STAGE, params)
    print(f"\nabsolute tilt MAE (side-on frames): whole frame {abs_a:.2f} deg, crop follower {abs_b:.2f} deg")
    both = sorted(set(a) & set(b))
    diff = np.array([b[c] - a[c] for c in both])
    print(f"\nper-clip median tilt, follower - whole frame, {len(both)} clips: median {np.median(diff):+.2f} deg, "
          f"mean |diff| {np.mean(np.abs(diff)):.2f}, max |diff| {np.max(np.abs(diff)):.2f}, "
          f"within 0.3 deg: {np.mean(np.abs(diff) <= 0.3):.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
