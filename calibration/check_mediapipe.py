"""Check rendered clips with MediaPipe Pose (legacy API, offline in mediapipe 0.10.21).

    python -m calibration.check_mediapipe sample_videos/*.mp4 [--png-dir /tmp/frames]

For every frame: is a pose detected, and the minimum visibility over the
landmarks of the side facing the camera and over all 33 landmarks. For clips
with a truth CSV, the segmentation-mask outline at pelvis height: the back
(PSIS row) and front (ASIS row) contour x positions, so one can see how much
the outline moves with the pelvis rotation.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys

import numpy as np

# MediaPipe Pose landmark indices
LEFT = [1, 2, 3, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31]
RIGHT = [4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32]
CORE = {"shoulder": (11, 12), "hip": (23, 24), "knee": (25, 26), "ankle": (27, 28)}


def read_truth(mp4: str):
    path = mp4[:-4] + ".truth.csv"
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        return list(csv.DictReader(fh))


def contour_x(mask: np.ndarray, row: float, band: int = 2) -> tuple[float, float]:
    """Leftmost and rightmost mask pixel x (mask > 0.5) around an image row."""
    h = mask.shape[0]
    r0, r1 = max(0, int(round(row)) - band), min(h, int(round(row)) + band + 1)
    cols = np.where((mask[r0:r1] > 0.5).any(axis=0))[0]
    if len(cols) == 0:
        return float("nan"), float("nan")
    return float(cols.min()), float(cols.max())


def check_clip(mp4: str, png_dir: str | None = None, png_frames=()) -> dict:
    import cv2
    import mediapipe as mp

    truth = read_truth(mp4)
    band_rows = []
    if truth is not None:
        ay = np.mean([float(t["asis_y"]) for t in truth])
        py = np.mean([float(t["psis_y"]) for t in truth])
        # ASIS->PSIS pixel distance ~ 0.12 x stature: use it as the scale
        d = np.mean([np.hypot(float(t["asis_x"]) - float(t["psis_x"]), float(t["asis_y"]) - float(t["psis_y"]))
                     for t in truth])
        hpx = d / 0.12
        band_rows = np.arange(int(py - 0.08 * hpx), int(ay + 0.12 * hpx) + 1, 2)
    cap = cv2.VideoCapture(mp4)
    res = {"clip": os.path.basename(mp4), "frames": 0, "detected": 0, "min_vis_near": 1.0,
           "min_vis_all": 1.0, "min_vis_core_near": 1.0, "contours": [],
           "band_rows": band_rows}
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, enable_segmentation=True,
                                smooth_landmarks=True) as pose:
        i = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            out = pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            res["frames"] += 1
            if out.pose_landmarks is not None:
                res["detected"] += 1
                vis = np.array([lm.visibility for lm in out.pose_landmarks.landmark])
                facing = truth[i]["facing"] if truth else "right"
                # facing right in the image -> camera sees the body's RIGHT side
                near = RIGHT if facing == "right" else LEFT
                core_near = [p[1] if facing == "right" else p[0] for p in CORE.values()]
                res["min_vis_near"] = min(res["min_vis_near"], float(vis[near].min()))
                res["min_vis_core_near"] = min(res["min_vis_core_near"], float(vis[core_near].min()))
                res["min_vis_all"] = min(res["min_vis_all"], float(vis.min()))
                if truth is not None and out.segmentation_mask is not None:
                    # outline (front and back mask edge) on FIXED rows spanning
                    # waist to crotch: the clip's mean PSIS row - 0.08 H to mean
                    # ASIS row + 0.12 H (H = image-space stature estimate)
                    t = truth[i]
                    m = out.segmentation_mask
                    edges = np.array([contour_x(m, r, band=0) for r in band_rows])
                    front = edges[:, 1] if facing == "right" else edges[:, 0]
                    back = edges[:, 0] if facing == "right" else edges[:, 1]
                    sgn = 1.0 if facing == "right" else -1.0  # + = towards the person's front
                    res["contours"].append((i, float(t["pelvis_rot_deg"]), float(t["tilt_true_deg"]),
                                            sgn * front, sgn * back))
                if png_dir and i in png_frames:
                    os.makedirs(png_dir, exist_ok=True)
                    vis_img = bgr.copy()
                    mp.solutions.drawing_utils.draw_landmarks(vis_img, out.pose_landmarks,
                                                              mp.solutions.pose.POSE_CONNECTIONS)
                    if out.segmentation_mask is not None:
                        edge = cv2.Canny((out.segmentation_mask > 0.5).astype(np.uint8) * 255, 50, 150)
                        vis_img[edge > 0] = (0, 255, 255)
                    if truth is not None:
                        t = truth[i]
                        cv2.circle(vis_img, (int(float(t["asis_x"])), int(float(t["asis_y"]))), 3, (0, 0, 255), -1)
                        cv2.circle(vis_img, (int(float(t["psis_x"])), int(float(t["psis_y"]))), 3, (0, 255, 0), -1)
                    name = f"{os.path.splitext(os.path.basename(mp4))[0]}_{i:04d}.png"
                    cv2.imwrite(os.path.join(png_dir, name), vis_img)
            i += 1
    cap.release()
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--png-dir", default=None)
    ap.add_argument("--png-frames", default="0,45,52,60,90,112,119")
    args = ap.parse_args(argv)
    frames = {int(x) for x in args.png_frames.split(",") if x}
    bad = 0
    for clip in args.clips:
        r = check_clip(clip, args.png_dir, frames)
        ok = r["detected"] == r["frames"] and r["frames"] > 0
        bad += not ok
        print(f"{r['clip']}: detected {r['detected']}/{r['frames']}, min visibility near-side "
              f"{r['min_vis_near']:.3f} (shoulder/hip/knee/ankle {r['min_vis_core_near']:.3f}), "
              f"all 33 {r['min_vis_all']:.3f}")
        c = r["contours"]
        rot = np.array([x[1] for x in c]) if c else np.zeros(0)
        if len(rot) and np.ptp(rot) > 1:
            lo = [x for x in c if x[1] <= rot.min() + 0.5]
            hi = [x for x in c if x[1] >= rot.max() - 0.5]
            tl, th = np.mean([x[2] for x in lo]), np.mean([x[2] for x in hi])
            print(f"   pelvis rot {rot.min():+.1f} -> {rot.max():+.1f} deg (truth {tl:.1f} -> {th:.1f}); "
                  "mask outline shift (+ = towards the front), rows from waist to crotch:")
            for name, k in (("front", 3), ("back", 4)):
                a = np.nanmean([x[k] for x in lo], axis=0)
                b = np.nanmean([x[k] for x in hi], axis=0)
                dd = b - a
                j = int(np.nanargmax(np.abs(dd)))
                print(f"     {name:5s}: " + " ".join(f"{v:+.0f}" for v in dd) +
                      f"  (max {dd[j]:+.1f} px at row {r['band_rows'][j]})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
