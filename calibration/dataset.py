"""Fitting and held-out sets: rendered clips with known tilt, plus the pipeline's pose output.

    PYOPENGL_PLATFORM=osmesa python -m calibration.dataset {fit,heldout} [--n N] [--workers 2]

Every clip is one random adult body, camera, scene and regime drawn from its
seed by `bodygen.sample_job`; the fit and held-out sets use disjoint seed
ranges, so no held-out body or camera is ever seen in fitting.  A clip holds a
short **neutral segment** (the body's own neutral with a little natural sway)
followed by random pelvis offsets in -15..+15 deg, one frame each.

Two cached stages under ``~/.cache/pelvis_tilt_calib/<set>/`` (override with
``$PELVIS_TILT_CALIB_CACHE``), never in the repository:
1. ``clip_<seed>.mp4`` + ``.truth.csv`` + ``.job.json`` (rendering, needs anny);
2. ``clip_<seed>.<key>.npz``: what ``pelvis_tilt.analyze_clip`` saw (landmarks,
   silhouette features) with the truth, keyed by a hash of the pose/silhouette code
   so changing the feature extraction re-runs MediaPipe but not the renderer.
`load_set` reads stage 2 and needs only numpy.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SETS = {"fit": 1000, "heldout": 90000}   # first seed of each set (disjoint ranges)
DEFAULT_N = {"fit": 120, "heldout": 40}
FPS = 10.0
NEUTRAL_FRAMES = {"fit": 2, "heldout": 6}
N_OFFSETS = 8
OFFSET_RANGE = 15.0
SWAY_DEG = 0.5


def cache_dir(name: str) -> Path:
    base = Path(os.environ.get("PELVIS_TILT_CALIB_CACHE", "~/.cache/pelvis_tilt_calib")).expanduser()
    return base / name


def feature_key() -> str:
    """Hash of the code that turns pixels into landmarks + outline features.

    Only the feature code counts (the outline sampler and the per-frame pose step),
    so unrelated edits to pose.py (subject tracking) keep the cache.
    """
    import inspect

    from pelvis_tilt import pose

    h = hashlib.sha1((ROOT / "pelvis_tilt" / "silhouette.py").read_bytes())
    for fn in (pose.PoseRunner.from_result, pose._to_array):
        h.update(inspect.getsource(fn).encode())
    return h.hexdigest()[:10]


def offsets_for(name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame pelvis offsets (deg) and a neutral-segment flag for one clip."""
    rng = np.random.default_rng([seed, 7])
    n0 = NEUTRAL_FRAMES[name]
    off = np.concatenate([np.zeros(n0), rng.uniform(-OFFSET_RANGE, OFFSET_RANGE, N_OFFSETS)])
    return off, np.arange(off.size) < n0


def job_for(name: str, seed: int) -> dict:
    from calibration.bodygen import sample_job

    off, _ = offsets_for(name, seed)
    job = sample_job(seed, str(cache_dir(name) / f"clip_{seed}.mp4"), off, fps=FPS)
    job["sway_deg"] = SWAY_DEG
    return job


def _render(job: dict) -> dict:
    """Worker: render one clip (skip if cached); record the camera actually used."""
    from calibration.bodygen import BodyPoser, render_clip, resolve_camera, resolved_pitch_deg

    mp4 = Path(job["out_mp4"])
    meta = mp4.with_suffix(".job.json")
    if mp4.exists() and meta.exists():
        return {"out_mp4": str(mp4), "ok": True, "cached": True}
    t0 = time.perf_counter()
    try:
        render_clip(**job)
    except ValueError as exc:  # person out of frame for this camera: the seed is skipped
        return {"out_mp4": str(mp4), "ok": False, "error": str(exc)}
    stature = BodyPoser(job["body"]).stature
    cam = resolve_camera(job["camera"], stature)
    cam["pitch_resolved_deg"] = resolved_pitch_deg(job["camera"], stature)
    meta.write_text(json.dumps({**job, "camera": cam, "stature_m": stature}, default=list))
    return {"out_mp4": str(mp4), "ok": True, "seconds": time.perf_counter() - t0}


def _extract(mp4: str) -> str:
    """Worker: run the full pipeline's pose stage on one clip, save arrays + truth."""
    from pelvis_tilt import analyze_clip

    mp4p = Path(mp4)
    out = mp4p.with_suffix(f".{feature_key()}.npz")
    if out.exists():
        return str(out)
    res = analyze_clip(mp4p, None, annotate=False, plot=False, table=False)
    with open(mp4p.with_suffix(".truth.csv")) as fh:
        rows = list(csv.DictReader(fh))
    job = json.loads(mp4p.with_suffix(".job.json").read_text())
    name = mp4p.parent.name
    _, neutral = offsets_for(name, int(job["seed"]))
    fr = res.frames
    cam = job["camera"]
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp, t=fr.t, detected=fr.detected, lm=fr.lm, world=fr.world, features=fr.features,
        image_size=np.asarray(fr.image_size), tilt_true=np.array([float(r["tilt_true_deg"]) for r in rows]),
        neutral=neutral, seed=int(job["seed"]), regime=job["regime"], facing=cam["facing"],
        roll_deg=float(cam["roll_deg"]), pitch_deg=float(cam["pitch_resolved_deg"]), yaw_deg=float(cam["yaw_deg"]),
        yfov_deg=float(cam["yfov_deg"]), distance_m=float(cam["distance_m"]), cam_height_m=float(cam["cam_height_m"]),
        gender=float(job["body"]["gender"]),
    )
    os.replace(tmp, out)
    return str(out)


def build(name: str, n: int, workers: int = 2) -> list[str]:
    """Render (if needed) and extract ``n`` clips of set ``name``; returns the npz paths."""
    import multiprocessing as mp

    cache_dir(name).mkdir(parents=True, exist_ok=True)
    seeds = range(SETS[name], SETS[name] + n)
    jobs = [job_for(name, s) for s in seeds]
    ctx = mp.get_context("spawn")
    t0 = time.perf_counter()
    with ctx.Pool(workers) as pool:
        rendered = pool.map(_render, jobs, chunksize=1)
        ok = [r["out_mp4"] for r in rendered if r["ok"]]
        print(f"{name}: {len(ok)}/{n} clips rendered ({time.perf_counter() - t0:.0f} s)", flush=True)
        paths = pool.map(_extract, ok, chunksize=1)
    print(f"{name}: {len(paths)} clips extracted ({time.perf_counter() - t0:.0f} s)", flush=True)
    return paths


def load_set(name: str, n: int | None = None) -> dict[str, np.ndarray]:
    """All cached frames of a set, concatenated; per-frame clip id in ``clip``."""
    key = feature_key()
    files = sorted(cache_dir(name).glob(f"clip_*.{key}.npz"))
    if n is not None:
        files = [f for f in files if int(f.name.split("_")[1].split(".")[0]) < SETS[name] + n]
    if not files:
        raise FileNotFoundError(f"no cached '{name}' set for feature key {key}: run python -m calibration.dataset {name}")
    parts: dict[str, list] = {}
    for i, f in enumerate(files):
        z = np.load(f)
        T = len(z["t"])
        for k in ("t", "detected", "lm", "world", "features", "tilt_true", "neutral"):
            parts.setdefault(k, []).append(z[k])
        for k in ("seed", "regime", "facing", "roll_deg", "pitch_deg", "yaw_deg", "yfov_deg", "distance_m",
                  "cam_height_m", "gender"):
            parts.setdefault(k, []).append(np.repeat(z[k], T))
        parts.setdefault("image_w", []).append(np.repeat(z["image_size"][0], T))
        parts.setdefault("image_h", []).append(np.repeat(z["image_size"][1], T))
        parts.setdefault("clip", []).append(np.full(T, i))
    return {k: np.concatenate(v) for k, v in parts.items()}


def main(argv=None) -> int:
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set", choices=sorted(SETS))
    ap.add_argument("--n", type=int, default=None, help="number of clips (bodies)")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    build(a.set, a.n or DEFAULT_N[a.set], a.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
