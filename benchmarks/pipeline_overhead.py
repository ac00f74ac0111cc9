"""Whole `analyze` run vs bare MediaPipe inference on the same frames.

Bare inference = decode every frame + colour conversion + PoseLandmarker
(VIDEO mode, same options: 2 poses, segmentation masks).  The analyze run adds
subject choice, silhouette features, the vectorised core, smoothing, states,
annotated video, CSV, JSON and plot.  Both run in this process, alternated,
and the best of N repeats of each is compared.

    python benchmarks/pipeline_overhead.py [CLIP] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402

from pelvis_tilt import analyze_clip  # noqa: E402
from pelvis_tilt.landmarker import Landmarker  # noqa: E402
from pelvis_tilt.model import resolve_model  # noqa: E402
from pelvis_tilt.sources import VideoSource  # noqa: E402


def bare(clip: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = 0
    with VideoSource(clip) as src, Landmarker(resolve_model(None), 2) as landmarker:
        for _, t, frame in src:
            landmarker(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), int(t * 1000))
            n += 1
    return time.perf_counter() - t0, n


def full(clip: str, out: str, annotate: bool) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = analyze_clip(clip, out, annotate=annotate)
    return time.perf_counter() - t0, r.summary["frames"]


def main() -> None:
    ap = argparse.ArgumentParser()
    default = Path(__file__).resolve().parents[1] / "sample_videos" / "pelvic_isolations.mp4"
    ap.add_argument("clip", nargs="?", default=str(default))
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    res = {"bare": [], "analyze": [], "analyze_no_video": []}
    with tempfile.TemporaryDirectory() as out:
        for _ in range(a.repeats):
            res["bare"].append(bare(a.clip))
            res["analyze"].append(full(a.clip, out, True))
            res["analyze_no_video"].append(full(a.clip, out, False))
    best = {k: min(v) for k, v in res.items()}
    n = best["bare"][1]
    print(f"clip: {a.clip} ({n} frames), best of {a.repeats}")
    for k, (s, _) in best.items():
        print(f"  {k:<18} {s:7.2f} s  {1000 * s / n:6.1f} ms/frame")
    print(f"ratio analyze / bare inference           = {best['analyze'][0] / best['bare'][0]:.3f}  (target <= 1.15)")
    print(f"ratio analyze(no video) / bare inference = {best['analyze_no_video'][0] / best['bare'][0]:.3f}")


if __name__ == "__main__":
    main()
