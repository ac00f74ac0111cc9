"""Render tests/fixtures/camera_down.mp4 and camera_up.mp4 (+ .truth.csv).

    PYOPENGL_PLATFORM=osmesa python -m calibration.make_camera_fixtures

The sample body standing still in neutral, side-on, 2 s at 10 fps, 640x480,
seen from 3 m by a camera at about hip height (a laptop on a table) whose lid
is tipped so that it aims down 10 deg (camera_down) or up 10 deg (camera_up).
They pin the calibration's camera-pitch reading (tests/test_live.py).
"""
from __future__ import annotations

import os
from pathlib import Path

from calibration.make_samples import SAMPLE_BODY, SAMPLE_CAMERA, SAMPLE_SCENE

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
CAMERAS = {  # name: (camera height m, pitch deg, + = down)
    "camera_down": (0.95, 10.0),
    "camera_up": (0.85, -10.0),
}


def main() -> int:
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    from calibration.bodygen import render_clip

    for k, (name, (height, pitch)) in enumerate(CAMERAS.items()):
        out = OUT / f"{name}.mp4"
        camera = {**SAMPLE_CAMERA, "facing": "left" if k else "right", "cam_height_m": height, "pitch_deg": pitch,
                  "distance_m": 3.0, "yfov_deg": 60.0}
        render_clip(str(out), [0.0] * 20, body=SAMPLE_BODY, camera=camera, scene=SAMPLE_SCENE, fps=10.0,
                    regime="compensated", seed=80 + k, sway_deg=0.3)
        print(f"{out}: {out.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
