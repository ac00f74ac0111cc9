"""Batch throughput: 2 workers vs 1 on the same folder, and per-worker speed vs bare MediaPipe.

* clips/s with ``--workers 2`` over clips/s with ``--workers 1`` (target >= 1.7 on 2 cores),
  wall time of the whole `run_batch`, worker start-up included;
* frames/s per worker (frames / the clip's own scoring time, summed over clips) over
  frames/s of bare inference (decode + colour conversion + the two-person `landmarker.Landmarker`, this
  process, same clips) (target >= 0.9);
* CPU use of the bare loop (process CPU time / wall time): ~1.0 means MediaPipe runs
  on one core, so N single-threaded workers can use N cores.

    python benchmarks/batch_speed.py [--clips 8] [--repeats 1] [--whole-frame]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402

from pelvis_tilt.batch import make_job, run_batch  # noqa: E402
from pelvis_tilt.landmarker import Landmarker  # noqa: E402
from pelvis_tilt.model import resolve_model  # noqa: E402
from pelvis_tilt.sources import VideoSource  # noqa: E402

SAMPLES = sorted((Path(__file__).resolve().parents[1] / "sample_videos").glob("*.mp4"))


def make_folder(d: Path, n: int) -> list[Path]:
    """n clips: the sample clips repeated (distinct files, so none is skipped as a duplicate)."""
    out = []
    for i in range(n):
        src = SAMPLES[i % len(SAMPLES)]
        dst = d / f"{i:02d}_{src.name}"
        shutil.copy(src, dst)
        out.append(dst)
    return out


def bare(clips: list[Path]) -> tuple[float, int, float]:
    """(seconds, frames, CPU use) of bare inference over the clips, one landmarker per clip as in batch."""
    r0, t0, n = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter(), 0
    for c in clips:
        with VideoSource(c) as src, Landmarker(resolve_model(None), 2) as landmarker:
            for _, t, frame in src:
                landmarker(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), int(t * 1000))
                n += 1
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return wall, n, cpu / wall


def batch(folder: Path, workers: int, follow: bool = True) -> tuple[float, int, float, int]:
    """(wall seconds, clips, summed per-clip seconds, frames) of a fresh batch run."""
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        res = run_batch([str(folder)], out, make_job(follow=follow), workers=workers, progress=False, html=True)
        wall = time.perf_counter() - t0
    rows = [r["row"] for r in res.records]
    assert all(r["status"] == "ok" for r in rows), [r["status"] for r in rows]
    return wall, len(rows), sum(r["elapsed_s"] for r in rows), sum(int(r["frames"]) for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=8, help="clips in the folder (default 8: ~1100 frames, 640x480)")
    ap.add_argument("--repeats", type=int, default=1, help="best of N for each measurement")
    ap.add_argument("--whole-frame", action="store_true", help="batch --whole-frame (the two-person landmarker on every frame)")
    a = ap.parse_args()
    print(f"cores usable: {len(os.sched_getaffinity(0))}, load average now: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        clips = make_folder(Path(tmp), a.clips)
        # Warm up (model bundle cache, page cache), then alternate so background load hits all alike.
        bare(clips[:1])
        res: dict[str, list] = {"bare": [], "w1": [], "w2": []}
        for _ in range(a.repeats):
            res["w1"].append(batch(Path(tmp), 1, not a.whole_frame))
            res["w2"].append(batch(Path(tmp), 2, not a.whole_frame))
            res["bare"].append(bare(clips))
    b_wall, b_frames, b_cpu = min(res["bare"])
    w1, w2 = min(res["w1"]), min(res["w2"])
    bare_fps = b_frames / b_wall
    print(f"folder: {w1[1]} clips, {w1[3]} frames; best of {a.repeats}")
    print(f"  bare inference (1 process)   {b_wall:7.2f} s  {bare_fps:6.1f} frames/s  CPU use {b_cpu:.2f} cores")
    for name, (wall, n, busy, frames) in (("batch --workers 1", w1), ("batch --workers 2", w2)):
        print(f"  {name:<28} {wall:7.2f} s  {n / wall:6.3f} clips/s  {frames / wall:6.1f} frames/s total  "
              f"{frames / busy:6.1f} frames/s per worker")
    print(f"ratio clips/s 2 workers / 1 worker          = {(w2[1] / w2[0]) / (w1[1] / w1[0]):.2f}  (target >= 1.7)")
    print(f"ratio per-worker frames/s / bare, 1 worker  = {(w1[3] / w1[2]) / bare_fps:.2f}  (target >= 0.9)")
    print(f"ratio per-worker frames/s / bare, 2 workers = {(w2[3] / w2[2]) / bare_fps:.2f}")


if __name__ == "__main__":
    main()
