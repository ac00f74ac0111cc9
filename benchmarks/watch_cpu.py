"""CPU cost of `pelvis-tilt watch`: nobody in view, and a person standing well (targets: <= 15% and
<= 40% of one core).

Each scenario is a 30 s clip played at real speed as if it were a camera (the watch sleeps
between the frames it analyses, as it does live).  CPU is the process's CPU time over all
threads (`time.process_time`, cross-checked with `resource.getrusage`) divided by wall time,
from when the model is loaded to the end.

    python benchmarks/watch_cpu.py [--seconds 30]
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pelvis_tilt.watch import WatchSession  # noqa: E402

SAMPLES = REPO / "sample_videos"


def read_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    cap.release()
    return out


def write_clip(path: Path, frames: list[np.ndarray], n: int) -> Path:
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    for i in range(n):
        vw.write(frames[i % len(frames)])
    vw.release()
    return path


def empty_room(frames: list[np.ndarray], n: int, seed: int = 0) -> list[np.ndarray]:
    """The sample's background without the person (its left margin stretched across), with sensor
    noise that changes every frame so the decoder has real work."""
    bg = cv2.resize(frames[0][:, :60], (frames[0].shape[1], frames[0].shape[0]), interpolation=cv2.INTER_LINEAR)
    rng = np.random.default_rng(seed)
    return [np.clip(bg.astype(np.int16) + rng.integers(-4, 5, bg.shape), 0, 255).astype(np.uint8)
            for _ in range(min(n, 60))]


def measure(clip: Path) -> dict:
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    sess = WatchSession(str(clip), window=False, realtime=True, sound=False, notify=False)
    res = sess.run()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"frames": len(res.t), "wall_s": res.wall_s, "cpu_s": res.cpu_s,
            "cpu_pct": 100 * res.cpu_s / res.wall_s,
            "rusage_cpu_s_incl_model_load": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
            "nudges": len(res.nudges)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    a = ap.parse_args()
    n = int(a.seconds * 30)
    with tempfile.TemporaryDirectory() as d:
        stand = read_frames(SAMPLES / "neutral_stance.mp4")
        clips = {"nobody in view": write_clip(Path(d) / "empty.mp4", empty_room(stand, n), n),
                 "all is well (standing in band)": write_clip(Path(d) / "well.mp4", stand, n)}
        limits = {"nobody in view": 15.0, "all is well (standing in band)": 40.0}
        print(f"watch CPU, {a.seconds:.0f} s clips paced at real speed (640x480, 30 fps), % of one core:")
        for name, clip in clips.items():
            r = measure(clip)
            ok = "ok" if r["cpu_pct"] <= limits[name] else "OVER"
            print(f"  {name:<32} {r['cpu_pct']:5.1f}%  (target <= {limits[name]:.0f}%: {ok}); "
                  f"{r['frames']} frames analysed in {r['wall_s']:.1f} s, CPU {r['cpu_s']:.2f} s "
                  f"({r['rusage_cpu_s_incl_model_load']:.2f} s with model loading)")


if __name__ == "__main__":
    main()
