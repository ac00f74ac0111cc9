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
    if truth is not None:
        rows = (np.mean([float(t["asis_y"]) for t in truth]), np.mean([float(t["psis_y"]) for t in truth]))
    cap = cv2.VideoCapture(mp4)
    res = {"clip": os.path.basename(mp4), "frames": 0, "detected": 0, "min_vis_near": 1.0,
           "min_vis_all": 1.0, "min_vis_core_near": 1.0, "contours": []}
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
                    # outline at FIXED rows (the clip's mean ASIS and PSIS rows)
                    t = truth[i]
                    m = out.segmentation_mask
                    l1, r1 = contour_x(m, rows[0])
                    l2, r2 = contour_x(m, rows[1])
                    front = r1 if facing == "right" else l1
                    back = l2 if facing == "right" else r2
                    res["contours"].append((i, float(t["pelvis_rot_deg"]), float(t["tilt_true_deg"]), front, back))
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
        c = np.array(r["contours"]) if r["contours"] else None
        if c is not None and np.ptp(c[:, 1]) > 1:
            lo, hi = c[c[:, 1] <= c[:, 1].min() + 0.5], c[c[:, 1] >= c[:, 1].max() - 0.5]
            print(f"   pelvis rot {lo[:, 1].mean():+.1f} -> {hi[:, 1].mean():+.1f} deg "
                  f"(truth {lo[:, 2].mean():.1f} -> {hi[:, 2].mean():.1f}): mask front contour at mean ASIS row "
                  f"{lo[:, 3].mean():.1f} -> {hi[:, 3].mean():.1f} px, back contour at mean PSIS row "
                  f"{lo[:, 4].mean():.1f} -> {hi[:, 4].mean():.1f} px")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
