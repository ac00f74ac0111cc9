"""The v2 ground-truth sets: varied rendered clips -> what the pipeline sees, with truth.

    PYOPENGL_PLATFORM=osmesa python -m calibration.truthset [--fit N] [--test N] [--motion N]
                                 [--walk-fit N] [--walk-test N] [--workers 2]
    python -m calibration.truthset --contact-sheet /tmp/sheet.png --seeds 1,2,3   # look first
    python -m calibration.truthset --contact-sheet /tmp/walk.png --seeds 260000,260002 --walk-fit 1

Each clip (one seed) is one body, mechanism, arm pose, garment, camera and
light (`variety.draw_spec`); its frames are 3 neutral frames (the body's own
neutral with +-0.5 deg sway) and 9 pelvis offsets in -15..+25 deg, at 10 fps.
The ``walk_fit`` / ``walk_test`` sets are the same with the legs caught mid-stride
(a new stride phase every frame, `variety.stride_angles`).
The body is rendered once on a transparent background; each *variant* puts it
in a scene and applies one degradation (`scenes`), then runs the product's
pose stage (`pelvis_tilt.pose.PoseRunner`) and stores, per frame, the landmarks,
the old outline features and the body-grid mask patch (`pelvis_tilt.outline`).
Fit clips get 2 random variants; test clips one per degradation (the
robustness table).  Fit and test seeds are disjoint; the test-only deformation
mechanism is drawn only for test clips.

Output: ``$PELVIS_TILT_CALIB_CACHE/{renders,v3}/<set>/clip_<seed>.npz`` (default
``~/.cache/pelvis_tilt_calib``), written atomically; a rerun skips what exists.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from calibration import scenes, variety

FPS = 10.0
N_NEUTRAL, N_OFFSETS = 3, 9
OFFSET_RANGE = (-15.0, 25.0)
SEED0 = {"fit": 200000, "test": 700000, "motion": 900000, "walk_fit": 260000, "walk_test": 760000}
FIT_SETS = ("fit", "walk_fit")   # the others are test only (the test-only mechanism may be drawn)
# Continuous isolation clips (test only): 1 s still, then front-to-back isolations.
MOTION_FPS, MOTION_S = 15.0, 5.0


FOLLOW_STAGE = "v3_follow"   # the pose stage with the crop follower (`--follow`), beside the whole-frame one


def cache_dir(name: str, stage: str = "v3") -> Path:
    """Where a set's files live: ``renders/<set>`` (RGBA renders + truth) or ``v3/<set>``
    (what the pose stage saw)."""
    base = Path(os.environ.get("PELVIS_TILT_CALIB_CACHE", "~/.cache/pelvis_tilt_calib")).expanduser()
    return base / stage / name


def offsets_for(seed: int, kind: str = "stills") -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Pelvis offsets (deg), sway (deg), a neutral flag per frame, and the frame rate.

    ``stills``: 3 neutral frames (+-0.5 deg sway) then 9 random offsets, 10 fps.
    ``motion``: 1 s standing still, then front-to-back isolations (out to a forward
    peak of +15..+25 deg, back through neutral to a tuck of -6..-12 deg) at 15 fps.
    """
    rng = np.random.default_rng([seed, 11])
    if kind == "stills":
        off = np.r_[np.zeros(N_NEUTRAL), rng.uniform(*OFFSET_RANGE, N_OFFSETS)]
        sway = np.r_[rng.uniform(-0.5, 0.5, N_NEUTRAL), np.zeros(N_OFFSETS)]
        return off, sway, np.arange(off.size) < N_NEUTRAL, FPS
    t = np.arange(int(MOTION_S * MOTION_FPS)) / MOTION_FPS
    hi, lo, period = rng.uniform(15, 25), rng.uniform(6, 12), rng.uniform(1.6, 2.4)
    s = np.sin(2 * np.pi * np.clip(t - 1.0, 0, None) / period)
    off = np.where(s > 0, hi * s, lo * s)
    sway = 0.3 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6.3))
    return off, sway, t < 1.0, MOTION_FPS


class BodyRenderer:
    """RGBA renders of one `VariedPoser` (transparent background) plus optional hair."""

    def __init__(self, poser: variety.VariedPoser, spec: dict):
        from calibration import bodygen as bg

        cam = variety.resolve_camera(spec["camera"], poser.stature)
        self.camera = cam
        self.r = bg.Renderer(poser, cam, {"background": "none", **spec["light"]}, seed=spec["seed"])
        self.r.scene.bg_color = np.array([0.0, 0.0, 0.0, 0.0])
        self._hair = None
        self.hair_rgb = (np.asarray(spec["clothes"]["hair_color"]) * 255).astype(np.uint8)

    def render(self, fr: variety.Frame) -> np.ndarray:
        import cv2
        import pyrender
        import trimesh
        from scipy.spatial import ConvexHull

        r = self.r
        if self._hair is not None:
            r.scene.remove_node(self._hair)
            self._hair = None
        if fr.hair is not None:
            hull = ConvexHull(fr.hair)
            tm = trimesh.Trimesh(fr.hair, hull.simplices, process=True)
            trimesh.repair.fix_normals(tm)
            tm.visual.vertex_colors = np.r_[self.hair_rgb, 255]
            self._hair = r.scene.add(pyrender.Mesh.from_trimesh(tm, smooth=False))
        if r._node is not None:
            r.scene.remove_node(r._node)
        tm = trimesh.Trimesh(fr.vertices, r.faces, process=False)
        tm.visual.vertex_colors = r.colors
        r._node = r.scene.add(pyrender.Mesh.from_trimesh(tm, smooth=True))
        # OSMesa has no framebuffer objects, so pyrender returns RGB only: alpha from depth,
        # softened by one pixel so the edge looks anti-aliased like a camera's
        col, depth = r.renderer.render(r.scene)
        alpha = cv2.blur((depth > 0).astype(np.float32), (3, 3))
        return np.dstack([col[..., :3], np.round(alpha * 255).astype(np.uint8)])

    def in_frame(self, fr: variety.Frame) -> bool:
        from calibration import bodygen as bg

        pts = bg.project(fr.vertices[::7], self.r.cam_pose, self.camera)
        return bg.in_frame(pts, self.camera["image_size"], margin=2)

    def close(self) -> None:
        self.r.close()


def render_clip(spec: dict, kind: str = "stills") -> dict | None:
    """Poses and renders one clip; None if the camera crops the person."""
    poser = variety.VariedPoser(spec)
    rend = BodyRenderer(poser, spec)
    off, sway, neutral, fps = offsets_for(spec["seed"], kind)
    rng = np.random.default_rng([spec["seed"], 5])
    # stills: a random arm-swing phase per frame; motion: arms swing on at ~0.9 Hz
    phase = (rng.uniform(0, 2 * np.pi, off.size) if kind == "stills"
             else rng.uniform(0, 2 * np.pi) + 2 * np.pi * 0.9 * np.arange(off.size) / fps)
    check = {0, int(np.argmax(off)), int(np.argmin(off)), off.size - 1}
    try:
        frames, truth, skin, pel = [], [], [], []
        for i, (o, s) in enumerate(zip(off, sway)):
            fr = poser.frame(o, s, arms_t=float(phase[i]))
            if i in check and not rend.in_frame(fr):
                return None
            frames.append(rend.render(fr))
            truth.append(fr.tilt_true)
            skin.append(fr.tilt_skin)
            pel.append(fr.pelvis_deg)
    finally:
        rend.close()
    return {"rgba": frames, "tilt_true": np.array(truth), "tilt_skin": np.array(skin), "pelvis_deg": np.array(pel),
            "neutral": neutral, "offset": off, "fps": fps, "camera": rend.camera, "stature": poser.stature,
            "rest_tilt": poser.rest_tilt}


def save_render(path: Path, spec: dict, clip: dict) -> None:
    """One rendered clip: its RGBA frames as PNG, truth and spec (atomic)."""
    import cv2

    pngs = [cv2.imencode(".png", f, [cv2.IMWRITE_PNG_COMPRESSION, 3])[1].ravel() for f in clip["rgba"]]
    meta = {**spec, "camera_resolved": clip["camera"], "stature_m": clip["stature"], "rest_tilt": clip["rest_tilt"],
            "fps": clip["fps"], "image_size": list(clip["rgba"][0].shape[1::-1])}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, png=np.concatenate(pngs), png_end=np.cumsum([p.size for p in pngs]),
             tilt_true=clip["tilt_true"], tilt_skin=clip["tilt_skin"], pelvis_deg=clip["pelvis_deg"],
             neutral=clip["neutral"], offset=clip["offset"], meta=json.dumps(meta, default=list))
    os.replace(tmp, path)


def load_render(path: Path) -> tuple[dict, dict]:
    """(clip dict with ``rgba`` frames, meta) of a `save_render` file."""
    import cv2

    z = np.load(path)
    ends = z["png_end"]
    starts = np.r_[0, ends[:-1]]
    rgba = [cv2.imdecode(z["png"][a:b], cv2.IMREAD_UNCHANGED) for a, b in zip(starts, ends)]
    clip = {k: z[k] for k in ("tilt_true", "tilt_skin", "pelvis_deg", "neutral", "offset")}
    clip["rgba"] = rgba
    return clip, json.loads(str(z["meta"]))


def variant_frames(clip: dict, bg_kind: str, degradation: str, rng: np.random.Generator,
                   fps: float = FPS) -> list[np.ndarray]:
    """The clip's frames in one scene with one degradation (RGB uint8)."""
    rgba = clip["rgba"]
    h, w = rgba[0].shape[:2]
    bgimg = scenes.background(bg_kind, rng, w, h)
    rows = np.flatnonzero(rgba[0][..., 3].max(axis=1) > 0)
    floor_row = int(rows[-1] - 0.01 * h) if rows.size and rng.uniform() < 0.8 else None
    floor_rgb = rng.uniform(30, 200, 3)
    pg, bgg = 1.0, 1.0
    if degradation == "backlight":
        pg, bgg = rng.uniform(0.35, 0.55), rng.uniform(1.3, 1.8)
    frames = [scenes.compose(f, bgimg, floor_row, floor_rgb, pg, bgg) for f in rgba]
    return scenes.degrade(frames, degradation, rng, fps)


def extract(frames: list[np.ndarray], fps: float = FPS, follow: bool = False) -> dict[str, np.ndarray]:
    """The product's pose stage and outline reader on frames (`pose.PoseRunner`,
    `pipeline.Pipeline.features`): landmarks, the estimator's features, and, to try
    other readings later, the mask on a torso-length grid, its extent and the v1 features.
    ``follow``: the subject followed in a crop (live's path) instead of the whole frame."""
    from calibration import ridge_v1
    from pelvis_tilt import geometry, outline
    from pelvis_tilt import landmarks as L
    from pelvis_tilt.pipeline import Pipeline
    from pelvis_tilt.pose import PoseRunner
    from pelvis_tilt.settings import Settings

    T = len(frames)
    lm = np.full((T, 33, 4), np.nan)
    world = np.full((T, 33, 4), np.nan)
    feats = np.full((T, 34), np.nan)
    features = np.full((T, outline.N_FEATURES), np.nan)     # what the estimator reads at run time
    patch = np.full((T, *outline.SHAPE), np.nan, np.float16)
    extent = np.full((T, 2), np.nan)       # the subject mask's top and bottom rows (pixels)
    detected = np.zeros(T, bool)
    people = np.zeros(T, int)
    h, w = frames[0].shape[:2]
    pipe = Pipeline(Settings(), (w, h), fps)
    with PoseRunner(follow=follow) as runner:
        for i, f in enumerate(frames):
            pf = runner.process(f, i / fps)
            detected[i], people[i] = pf.detected, pf.n_people
            if not pf.detected:
                continue
            lm[i], world[i] = pf.lm, pf.world
            features[i] = pipe.features(pf)
            if pf.mask is not None:
                m = geometry.compute_measures(pf.lm[None], (w, h))
                fwd, up = geometry.axes(0.0, m.facing)
                origin = geometry.midpoint(pf.lm[None], L.HIP)[0]
                patch[i] = outline.sample_patch(pf.mask, origin, fwd[0], up[0], float(m.torso_px[0]))
                extent[i] = outline.mask_extent(pf.mask, pf.lm)
                # the features the previous estimator (ridge_v1) read, for the comparison
                hip = pf.lm[L.HIP[int(max(m.side[0], 0))], :2]
                feats[i] = ridge_v1.profile(pf.mask, hip, fwd[0], up[0], float(m.torso_px[0]))
    return {"lm": lm, "world": world, "features": features, "v1_features": feats, "patch": patch, "extent": extent,
            "detected": detected, "people": people}


def _variants(name: str, seed: int) -> list[tuple[str, str]]:
    """(background, degradation) pairs a clip is seen in: test stills once per degradation
    (the robustness table) in one scene; fit stills twice, mostly clean; motion once."""
    rng = np.random.default_rng([seed, 9])
    bg = lambda: variety.BACKGROUNDS[rng.integers(len(variety.BACKGROUNDS))]  # noqa: E731
    if name in ("test", "walk_test"):
        b = bg()
        return [(b, d) for d in variety.DEGRADATIONS]
    p = np.array([0.4] + [0.12] * 5)
    n = 2 if name in FIT_SETS else 1
    return [(bg(), variety.DEGRADATIONS[rng.choice(len(variety.DEGRADATIONS), p=p)]) for _ in range(n)]


def _job(args: tuple[str, int, bool, bool, bool]) -> str:
    """Render one clip (unless rendered) and run its variants through the pose stage
    (unless done and not ``redo``, or ``render_only``); ``follow``: the crop follower's
    pose stage, stored apart (`FOLLOW_STAGE`)."""
    name, seed, render_only, redo, follow = args
    rpath = cache_dir(name, "renders") / f"clip_{seed}.npz"
    out = cache_dir(name, FOLLOW_STAGE if follow else "v3") / f"clip_{seed}.npz"
    if rpath.with_suffix(".skip").exists():
        return "skip"
    t0 = time.perf_counter()
    kind = "motion" if name == "motion" else "stills"
    if not rpath.exists():
        spec = variety.draw_spec(seed, test=name not in FIT_SETS, walk=name.startswith("walk"))
        clip = render_clip(spec, kind)
        if clip is None:
            rpath.with_suffix(".skip").write_text("person not in frame\n")
            return "skip"
        save_render(rpath, spec, clip)
    if render_only or (out.exists() and not redo):
        return f"{time.perf_counter() - t0:.1f}s"
    clip, meta = load_render(rpath)
    rng = np.random.default_rng([seed, 10])
    variants = _variants(name, seed)
    arrays: dict[str, list] = {}
    for bg_kind, deg in variants:
        ex = extract(variant_frames(clip, bg_kind, deg, rng, meta["fps"]), meta["fps"], follow)
        for k, v in ex.items():
            arrays.setdefault(k, []).append(v)
    meta["variants"] = variants
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **{k: np.stack(v) for k, v in arrays.items()},
                        **{k: clip[k] for k in ("tilt_true", "tilt_skin", "pelvis_deg", "neutral", "offset")},
                        meta=json.dumps(meta, default=list))
    os.replace(tmp, out)
    return f"{time.perf_counter() - t0:.1f}s"


def contact_sheet(seeds: list[int], path: str, test: bool = False, walk: bool = False) -> None:
    """Neutral and most-anterior frames of some clips side by side (to look at the variety)."""
    import cv2

    tiles = []
    for s in seeds:
        spec = variety.draw_spec(s, test, walk)
        clip = render_clip(spec)
        if clip is None:
            continue
        rng = np.random.default_rng(s)
        fr = variant_frames(clip, variety.BACKGROUNDS[s % 4], "clean", rng)
        i = int(np.argmax(clip["offset"]))
        pair = np.concatenate([cv2.resize(fr[0], (240, 320)), cv2.resize(fr[i], (240, 320))], 1)
        label = f"{s} {spec['mechanism']['name']} {spec['arms']['kind']} {spec['clothes']['kind']} {spec['placement']}"
        cv2.putText(pair, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 0, 0), 1)
        tiles.append(pair)
    rows = [np.concatenate(tiles[i:i + 3] + [np.zeros_like(tiles[0])] * (3 - len(tiles[i:i + 3])), 1)
            for i in range(0, len(tiles), 3)]
    cv2.imwrite(path, cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))


FIXTURE_STEPS = (-10.0, -5.0, 5.0, 10.0, 15.0)


def write_fixture(out_mp4: Path, seed: int, overrides: dict) -> None:
    """A small test clip from the v2 generator: 3 neutral frames, then 2 frames at each of
    ``FIXTURE_STEPS`` pelvis offsets; mp4 (after its degradation) + ``.truth.csv``."""
    import csv

    import cv2

    spec = variety.draw_spec(seed, test=True)
    for k, v in overrides.items():
        if k in ("bg", "deg"):
            continue
        if isinstance(v, dict):
            spec[k].update(v)
        else:
            spec[k] = v
    if "arms" in overrides:   # redraw the arm angles for the chosen pose
        spec["arms"].update(variety._draw_arms(spec["arms"]["kind"], np.random.default_rng(seed)))
    poser = variety.VariedPoser(spec)
    rend = BodyRenderer(poser, spec)
    offs = [0.0] * N_NEUTRAL + [s for s in FIXTURE_STEPS for _ in range(2)]
    rng = np.random.default_rng(seed)
    frames, truth = [], []
    try:
        for i, o in enumerate(offs):
            fr = poser.frame(o, float(rng.uniform(-0.3, 0.3)) if i < N_NEUTRAL else 0.0)
            if not rend.in_frame(fr):
                raise SystemExit("person not in frame: choose another seed")
            frames.append(rend.render(fr))
            truth.append(fr.tilt_true)
    finally:
        rend.close()
    clip = {"rgba": frames}
    rgb = variant_frames(clip, overrides.get("bg", "photo"), overrides.get("deg", "h264"), rng)
    h, w = rgb[0].shape[:2]
    wr = cv2.VideoWriter(str(out_mp4), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (w, h))
    for f in rgb:
        wr.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    wr.release()
    with open(out_mp4.with_suffix(".truth.csv"), "w", newline="") as fh:
        wcsv = csv.writer(fh)
        wcsv.writerow(["frame", "time_s", "tilt_true_deg", "pelvis_offset_deg", "neutral"])
        for i, (t, o) in enumerate(zip(truth, offs)):
            wcsv.writerow([i, round(i / FPS, 3), round(float(t), 4), o, int(i < N_NEUTRAL)])
    (out_mp4.with_suffix(".spec.json")).write_text(json.dumps(spec, default=list, indent=1))


def main(argv=None) -> int:
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit", type=int, default=600)
    ap.add_argument("--test", type=int, default=240)
    ap.add_argument("--motion", type=int, default=40, help="continuous isolation clips (test only)")
    ap.add_argument("--walk-fit", type=int, default=0, help="stills caught mid-stride, for fitting")
    ap.add_argument("--walk-test", type=int, default=0, help="stills caught mid-stride, test only")
    ap.add_argument("--render-only", action="store_true", help="render, but do not run the pose stage yet")
    ap.add_argument("--reextract", action="store_true",
                    help="run the pose stage again on every rendered clip (after the pose stage or outline changed)")
    ap.add_argument("--follow", action="store_true",
                    help=f"run the pose stage with the crop follower (live's path) into {FOLLOW_STAGE}/")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--contact-sheet")
    ap.add_argument("--seeds", default="1,2,3,4,5,6")
    ap.add_argument("--fixture", type=Path, help="write one small test clip here (see write_fixture)")
    ap.add_argument("--seed", type=int, default=990001)
    a = ap.parse_args(argv)
    if a.fixture:
        over = {"mechanism": {"name": "lag", "counter": "even", "lag": 0.45, "rebind": 0.0, "trunk_follow": 0.0,
                              "knee_deg": 0.0},
                "arms": {"kind": "side"}, "clothes": {"kind": "loose_top", "hem_frac": 0.1},
                "body": {"waist_frac": 0.1}, "camera": {"image_size": (640, 480), "cam_height_m": 1.05},
                "placement": "laptop", "bg": "photo", "deg": "h264"}
        write_fixture(a.fixture, a.seed, over)
        print(f"{a.fixture}: {a.fixture.stat().st_size / 1e3:.0f} kB")
        return 0
    if a.contact_sheet:
        contact_sheet([int(s) for s in a.seeds.split(",")], a.contact_sheet, walk=a.walk_fit > 0 or a.walk_test > 0)
        return 0
    counts = {k: v for k, v in {"fit": a.fit, "test": a.test, "motion": a.motion,
                                "walk_fit": a.walk_fit, "walk_test": a.walk_test}.items() if v > 0}
    for n in counts:
        cache_dir(n, FOLLOW_STAGE if a.follow else "v3").mkdir(parents=True, exist_ok=True)
        cache_dir(n, "renders").mkdir(parents=True, exist_ok=True)
    # interleave the sets in proportion, so all of them grow together and a partial run is usable
    total = sum(counts.values())
    keyed = [((i + 0.5) / c, n, SEED0[n] + i) for n, c in counts.items() for i in range(c)]
    jobs = [(n, seed, a.render_only, a.reextract, a.follow) for _, n, seed in sorted(keyed)]
    import multiprocessing as mp

    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(a.workers, maxtasksperchild=20) as pool:
        for k, r in enumerate(pool.imap(_job, jobs, chunksize=1)):
            print(f"{k + 1}/{total} {jobs[k][:2]} {r} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
