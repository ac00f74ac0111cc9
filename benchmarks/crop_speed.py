"""`pelvis-tilt analyze` against the plain MediaPipe loop a user would write, whole processes.

The plain loop (`PLAIN`, run as its own Python process): decode every frame,
convert it to RGB, PoseLandmarker in VIDEO mode with 2 poses and segmentation
masks.  The analyze run is ``pelvis-tilt analyze CLIP --out DIR --quiet`` (the
crop follower, its default; ``--whole`` times ``analyze --whole-frame`` instead): all
four outputs (table, summary, annotated video, plot), start-up included.  The two
alternate, ``--repeats`` pairs per clip; printed: each pair's wall-time ratio, the
median and the range of the ratios, the median wall and CPU seconds of each (CPU:
analyze runs MediaPipe on a second thread, so it can use more CPU than wall time;
on a shared machine the CPU ratio moves less with the load), and each process's
peak memory (max RSS).

Targets (issue 12): <= 0.65 on the Sports2D demo, <= 0.7 on a 640x480 sample clip,
and <= 600 MB peak for analyze on a 3840x2160 clip (``--4k``: made from a sample
clip, upscaled, in a temporary folder).

    python benchmarks/crop_speed.py [CLIP ...] [--repeats 5] [--4k] [--4k-only]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

PLAIN = """
import sys, cv2, mediapipe as mp
from mediapipe.tasks.python import BaseOptions, vision
opts = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=sys.argv[2]),
                                    running_mode=vision.RunningMode.VIDEO, num_poses=2,
                                    output_segmentation_masks=True)
with vision.PoseLandmarker.create_from_options(opts) as landmarker:
    cap = cv2.VideoCapture(sys.argv[1])
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        landmarker.detect_for_video(image, int(i * 1000 / 30))
        i += 1
"""


def timed(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system) of one child process;
    raises if it fails."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed ({p.returncode}): {err.strip()[-300:]}")
    return wall, ru.ru_maxrss / 1024.0, ru.ru_utime + ru.ru_stime


def make_4k(src: Path, dst: Path, seconds: float = 4.0) -> Path:
    """An upscaled 3840x2160 copy of the first ``seconds`` of ``src`` (mp4v)."""
    import cv2

    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, (3840, 2160))
    for _ in range(int(seconds * fps)):
        ok, f = cap.read()
        if not ok:
            break
        h, w = f.shape[:2]
        s = 2160 / h
        big = cv2.resize(f, (int(round(w * s)), 2160), interpolation=cv2.INTER_CUBIC)
        canvas = np.full((2160, 3840, 3), np.median(f.reshape(-1, 3), axis=0), np.uint8)
        x0 = (3840 - big.shape[1]) // 2
        canvas[:, max(0, x0):max(0, x0) + min(3840, big.shape[1])] = big[:, max(0, -x0):max(0, -x0) + 3840]
        out.write(canvas)
    out.release()
    return dst


def main() -> None:
    from pelvis_tilt.model import resolve_model
    from tests.conftest import _sports2d_demo

    ap = argparse.ArgumentParser()
    ap.add_argument("clips", nargs="*", type=Path)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--4k", dest="k4", action="store_true", help="also a 3840x2160 clip (peak memory)")
    ap.add_argument("--4k-only", dest="k4_only", action="store_true")
    ap.add_argument("--whole", action="store_true", help="time analyze --whole-frame instead (the two-person landmarker on every frame)")
    a = ap.parse_args()
    model = str(resolve_model(None))
    clips = [] if a.k4_only else (a.clips or [_sports2d_demo(), ROOT / "sample_videos" / "pelvic_isolations.mp4"])
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores here; other jobs slow both sides)")
    with tempfile.TemporaryDirectory() as tmp:
        if a.k4 or a.k4_only:
            clips.append(make_4k(ROOT / "sample_videos" / "pelvic_isolations.mp4", Path(tmp) / "uhd_isolations.mp4"))
        print(f"{'clip':<26}{'pair ratios analyze/plain':<44}{'median':>7}{'range':>13}"
              f"{'plain s':>9}{'analyze s':>10}{'CPU ratio':>10}{'plain MB':>9}{'analyze MB':>11}")
        for clip in clips:
            ratios, plain, full = [], [], []
            for k in range(a.repeats):
                runs = {}
                order = ("plain", "analyze") if k % 2 == 0 else ("analyze", "plain")   # alternate who goes first
                for which in order:
                    if which == "plain":
                        runs[which] = timed([sys.executable, "-c", PLAIN, str(clip), model])
                    else:
                        runs[which] = timed([sys.executable, "-m", "pelvis_tilt", "analyze", str(clip), "--out",
                                             str(Path(tmp) / "out"), "--quiet", *(["--whole-frame"] if a.whole else [])])
                plain.append(runs["plain"])
                full.append(runs["analyze"])
                ratios.append(runs["analyze"][0] / runs["plain"][0])
            r = np.array(ratios)
            med = lambda v, i: float(np.median([x[i] for x in v]))  # noqa: E731
            print(f"{clip.name[:25]:<26}{' '.join(f'{x:.3f}' for x in r):<44}{np.median(r):>7.3f}"
                  f"{'%.3f-%.3f' % (r.min(), r.max()):>13}{med(plain, 0):>9.2f}{med(full, 0):>10.2f}"
                  f"{med(full, 2) / med(plain, 2):>10.3f}"
                  f"{max(x[1] for x in plain):>9.0f}{max(x[1] for x in full):>11.0f}")


if __name__ == "__main__":
    main()
