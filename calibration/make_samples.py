"""Render the sample clips in sample_videos/ (with their truth CSVs).

    PYOPENGL_PLATFORM=osmesa python -m calibration.make_samples [--out sample_videos] [--workers 1]

Deterministic: the same command gives the same truth CSVs (and, with the same
library versions, the same frames).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

FPS = 30.0
SIZE = (640, 480)

# One body for all three clips (an adult of average build, slightly female;
# anny: gender 0 = male, 1 = female; age 0.7 ~ 30 years).
SAMPLE_BODY = {
    "gender": 0.65, "age": 0.7, "muscle": 0.5, "weight": 0.5, "height": 0.5, "proportions": 0.55,
    "cupsize": 0.45, "buttocks": 0.2, "belly": 0.0,
    "skin": (0.85, 0.66, 0.54), "top": (0.16, 0.36, 0.66), "shorts": (0.13, 0.13, 0.15),
    "shorts_length": 0.35, "arm_abduction_deg": 10.0, "arm_forward_deg": -4.0, "elbow_flex_deg": 4.0,
}
SAMPLE_CAMERA = {"distance_m": 2.35, "cam_height_m": 0.85, "yfov_deg": 55.0, "image_size": SIZE,
                 "aim_height_frac": 0.5}
SAMPLE_SCENE = {"background": "wall", "wall_color": (0.55, 0.56, 0.55), "floor_color": (0.40, 0.36, 0.32),
                "noise": 0.03, "light_intensity": 2.5}


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def neutral_offsets(seconds: float = 4.0) -> np.ndarray:
    return np.zeros(int(round(seconds * FPS)))


def anterior_offsets(hold_s: float = 1.0, ramp_s: float = 1.0, end_s: float = 2.0,
                     amount: float = 12.0) -> np.ndarray:
    t = np.arange(int(round((hold_s + ramp_s + end_s) * FPS))) / FPS
    return amount * smoothstep((t - hold_s) / ramp_s)


def isolation_offsets(seconds: float = 6.0, cycles: int = 4, amp: float = 10.0) -> np.ndarray:
    t = np.arange(int(round(seconds * FPS))) / FPS
    return amp * np.sin(2 * np.pi * cycles * t / seconds)


def sample_jobs(out_dir: str) -> list[dict]:
    cam_r = {**SAMPLE_CAMERA, "facing": "right"}
    cam_l = {**SAMPLE_CAMERA, "facing": "left"}
    common = {"body": SAMPLE_BODY, "scene": SAMPLE_SCENE, "fps": FPS, "regime": "compensated"}
    return [
        {**common, "out_mp4": os.path.join(out_dir, "neutral_stance.mp4"),
         "tilt_offsets_deg": neutral_offsets().tolist(), "camera": cam_r, "seed": 1},
        {**common, "out_mp4": os.path.join(out_dir, "anterior_tilt.mp4"),
         "tilt_offsets_deg": anterior_offsets().tolist(), "camera": cam_l, "seed": 2},
        {**common, "out_mp4": os.path.join(out_dir, "pelvic_isolations.mp4"),
         "tilt_offsets_deg": isolation_offsets().tolist(), "camera": cam_r, "seed": 3},
    ]


def main(argv=None) -> int:
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    from calibration.bodygen import render_many

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "sample_videos"), help="output folder")
    ap.add_argument("--workers", type=int, default=1, help="parallel render processes")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    for r in render_many(sample_jobs(args.out), workers=args.workers):
        size = os.path.getsize(r["out_mp4"]) / 1e6
        print(f"{r['out_mp4']}: {r['frames']} frames, {size:.2f} MB, {r['seconds']:.1f} s")
    print(f"total {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
