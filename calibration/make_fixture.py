"""Render the tiny test fixture tests/fixtures/tilt_steps.mp4 (+ .truth.csv).

    PYOPENGL_PLATFORM=osmesa python -m calibration.make_fixture [--seed 70004]

One random adult (seed outside the fit and held-out ranges), compensated
regime, 640x480: 3 neutral frames, then pelvis offsets -10, -5, 0, +5, +10 deg,
two frames each.  tests/test_tilt_estimator.py pins the estimator on it.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tilt_steps.mp4"
STEPS = (-10.0, -5.0, 0.0, 5.0, 10.0)
HOLD = 2
NEUTRAL = 3


def offsets() -> list[float]:
    return [0.0] * NEUTRAL + [s for s in STEPS for _ in range(HOLD)]


def main(argv=None) -> int:
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    from calibration.bodygen import render_clip, sample_job

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=70004)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    job = sample_job(a.seed, str(a.out), offsets(), regime="compensated", image_size=(640, 480), fps=10.0)
    render_clip(**job)
    print(f"{a.out}: {a.out.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
