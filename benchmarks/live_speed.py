"""Live loop vs the plain one-person MediaPipe loop, and capture-to-cue latency.

1. Throughput: the headless live loop (capture thread, pose with the crop
   follower, tilt, One-Euro, cue, mirror drawing, gauge) processing every frame
   of a clip, vs a plain one-person `PoseLandmarker.detect_for_video` loop on the
   same frames (decoded and colour-converted beforehand, so the plain loop does
   strictly less).  Two clips: the isolations sample played forward, backward,
   forward (640x480, 540 frames of continuous motion, ~12 s per run), and the
   same with a second person in view (a person facing the camera, from
   tests/fixtures/facing_camera.mp4, beside it: 1280x480), where the loop used to
   fall back to the two-person landmarker.  Plain and live runs alternate and
   each pair's ratio is printed.
2. Latency: the clip replayed as a 30 fps camera (frames released at their
   timestamps, newest-frame-only capture); capture-to-cue latency per frame,
   median, in units of the camera's frame interval.

    python benchmarks/live_speed.py [CLIP] [--window] [--profile NAME]
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
import numpy as np  # noqa: E402

from pelvis_tilt.landmarker import Landmarker  # noqa: E402
from pelvis_tilt.live import LiveSession  # noqa: E402
from pelvis_tilt.model import resolve_model  # noqa: E402
from pelvis_tilt.settings import resolve  # noqa: E402
from pelvis_tilt.sources import VideoSource  # noqa: E402


def ping_pong_clip(src_clip: str, out_dir: str, passes: int = 3) -> str:
    """The clip played forward, backward, forward... as one mp4 (continuous motion, no cuts)."""
    with VideoSource(src_clip) as src:
        frames = [f for _, _, f in src]
        fps = src.info.fps
    out = str(Path(out_dir) / "ping_pong.mp4")
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for k in range(passes):
        for f in (frames if k % 2 == 0 else frames[::-1]):
            vw.write(f)
    vw.release()
    return out


def with_second_person(clip: str, out_dir: str) -> str:
    """``clip`` with a person facing the camera beside it (the fixture, scaled to its height, looped)."""
    other = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "facing_camera.mp4"
    with VideoSource(clip) as src, VideoSource(other) as o:
        frames, fps = [f for _, _, f in src], src.info.fps
        others = [f for _, _, f in o]
    h, w = frames[0].shape[:2]
    others = [cv2.resize(f, (round(f.shape[1] * h / f.shape[0]), h)) for f in others + others[::-1]]
    out = str(Path(out_dir) / "two_people.mp4")
    vw = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w + others[0].shape[1], h))
    for k, f in enumerate(frames):
        vw.write(np.hstack([f, others[(k // 3) % len(others)]]))   # the fixture runs at 10 fps
    vw.release()
    return out


def bare_fps(clip: str) -> tuple[float, int]:
    """Frames/s of the plain one-person loop: `PoseLandmarker` (VIDEO mode, 1 pose, masks) alone."""
    with VideoSource(clip) as src:
        frames = [(t, cv2.cvtColor(f, cv2.COLOR_BGR2RGB)) for _, t, f in src]
    with Landmarker(resolve_model(None), 1) as lm:
        lm(frames[0][1], 0)  # warm-up outside the timing
        t0 = time.perf_counter()
        for t, f in frames[1:]:
            lm(f, int(round(t * 1000)) + 1)
        dt = time.perf_counter() - t0
    return (len(frames) - 1) / dt, len(frames)


def live_fps(clip: str, window: bool = False, profile: str | None = None) -> float:
    """Steady-state frames/s of the whole live loop (after the first frame, like the bare loop);
    ``profile``: a calibrated profile's name (standing frames read against its neutral outline)."""
    settings = resolve(profile=profile) if profile else None
    return LiveSession(clip, settings, window=window, realtime=False).run()["loop_fps"]


def live_latency(clip: str) -> tuple[np.ndarray, float, dict]:
    s = LiveSession(clip, window=False, realtime=True)
    summary = s.run()
    lat = s.table()["latency_ms"]
    return lat, 1000.0 / VideoSource(clip).open().info.fps, summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("clip", nargs="?", help="a 640x480 clip (default: the isolations sample, ping-ponged)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--window", action="store_true",
                    help="show the live window too (needs a display, e.g. xvfb-run -s '-screen 0 1024x768x24')")
    ap.add_argument("--profile", help="run live with this calibrated profile (pelvis-tilt calibrate --profile NAME)")
    a = ap.parse_args()
    sample = str(Path(__file__).resolve().parents[1] / "sample_videos" / "pelvic_isolations.mp4")
    with tempfile.TemporaryDirectory() as tmp:
        one = a.clip or ping_pong_clip(sample, tmp)
        clips = {"one person": one, "a second person in view": with_second_person(one, tmp)}
        for name, clip in clips.items():
            bare, live = [], []
            for _ in range(a.repeats):  # alternate so both see the same machine load
                bare.append(bare_fps(clip)[0])
                live.append(live_fps(clip, a.window, a.profile))
            n_frames = VideoSource(clip).open().info.frame_count
            pairs = np.array(live) / np.array(bare)
            print(f"{name}: {a.clip or sample + ' (forward, backward, forward)'} ({n_frames} frames), "
                  f"{a.repeats} alternating runs")
            label = f"live loop{' + window' if a.window else ''}{' + profile' if a.profile else ''}, every frame:"
            width = max(len(label), 30)
            print(f"  {'plain one-person MediaPipe loop:':<{width}} median {np.median(bare):6.1f} fps   "
                  f"(runs: {', '.join(f'{x:.1f}' for x in bare)})")
            print(f"  {label:<{width}} median {np.median(live):6.1f} fps   (runs: {', '.join(f'{x:.1f}' for x in live)})")
            print(f"  per-pair ratios: {', '.join(f'{x:.3f}' for x in pairs)}")
            print(f"ratio live / plain one-person loop fps, {name} = {np.median(pairs):.3f} "
                  f"(range {pairs.min():.3f}-{pairs.max():.3f}; target >= 0.9; median of the pairs)")
    lat, interval, summ = live_latency(sample)
    print(f"{Path(sample).name} replayed as a {1000 / interval:.0f} fps camera: {summ['frames_processed']} processed, "
          f"{summ['frames_dropped']} dropped")
    print(f"  capture-to-cue latency: median {np.median(lat):.1f} ms, p90 {np.percentile(lat, 90):.1f} ms")
    print(f"ratio median latency / frame interval = {np.median(lat) / interval:.2f}  (target < 1)")


if __name__ == "__main__":
    main()
