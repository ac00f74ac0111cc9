"""Render tests/fixtures/range_step.mp4 (+ .truth.csv): the calibration's range step.

    PYOPENGL_PLATFORM=osmesa python -m calibration.make_range_fixture

The sample body, side-on, 10 fps, 480x360: 3 s of neutral stance (countdown
and hold), then 2.5 s tipping forward (0.5 s ramp to +12 deg, held), then
2.5 s tucking (0.5 s ramp to -10 deg, held), with a little natural sway.
`pelvis-tilt calibrate --range 2.5` on it must find about those ranges
(tests/test_personal_range.py).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from calibration.make_samples import SAMPLE_BODY, SAMPLE_CAMERA, SAMPLE_SCENE

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "range_step.mp4"
FPS = 10.0
FORWARD_DEG, TUCK_DEG = 12.0, -10.0


def offsets() -> np.ndarray:
    ramp = np.linspace(0, 1, 6)[1:]
    return np.r_[np.zeros(30), FORWARD_DEG * ramp, np.full(20, FORWARD_DEG), FORWARD_DEG + (TUCK_DEG - FORWARD_DEG) * ramp,
                 np.full(20, TUCK_DEG)]


def main() -> int:
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    from calibration.bodygen import render_clip

    camera = {**SAMPLE_CAMERA, "image_size": (480, 360)}
    render_clip(str(OUT), offsets(), body=SAMPLE_BODY, camera=camera, scene=SAMPLE_SCENE, fps=FPS,
                regime="compensated", seed=90, sway_deg=0.3)
    print(f"{OUT}: {OUT.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
