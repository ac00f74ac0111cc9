"""How much of the estimator's error is MediaPipe's mask: the features read from each render's own
alpha (a perfect silhouette) with the same MediaPipe landmarks, fitted and scored as `fit_tilt` does.

    python -m calibration.mask_ceiling [--workers 2]

Reads the stored renders and pose stages (`truthset`); caches the alpha features in
``$PELVIS_TILT_CALIB_CACHE/alpha/<set>/``.  Prints change MAE on the test frames for the ridge fitted
on MediaPipe's mask and on the alpha, overall and per group (groups in the fit), and with a few
groups held out.  Findings: calibration/README.md, "How much of the error is the mask".
"""
from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from calibration import fit_tilt as F
from calibration.truthset import cache_dir, load_render

SETS = ("fit", "walk_fit", "test", "walk_test")


def _alpha_features(args: tuple[str, Path]) -> None:
    """One clip's features from its render's alpha, every variant's landmarks (cached)."""
    from pelvis_tilt.pipeline import Pipeline
    from pelvis_tilt.pose import PoseFrame
    from pelvis_tilt.settings import Settings

    name, f = args
    out = cache_dir(name, "alpha") / f.name
    if out.exists():
        return
    z = np.load(f)
    clip, _ = load_render(cache_dir(name, "renders") / f.name)
    masks = [r[..., 3].astype(np.float32) / 255.0 for r in clip["rgba"]]
    h, w = masks[0].shape
    pipe = Pipeline(Settings(), (w, h))
    n_var, T = z["lm"].shape[:2]
    feats = np.full((n_var, T, z["features"].shape[-1]), np.nan)
    for v in range(n_var):
        for i in np.flatnonzero(z["detected"][v]):
            feats[v, i] = pipe.features(PoseFrame(z["lm"][v, i], z["world"][v, i], masks[i], 1, True))
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, features=feats)
    tmp.replace(out)


def _files(name: str) -> list[Path]:
    return sorted(f for f in cache_dir(name, "v3").glob("clip_*.npz") if ".tmp" not in f.name)


def with_alpha(d: dict, names: tuple[str, ...]) -> dict:
    """``d`` (`fit_tilt.load_sets` of ``names``, same row order) with the alpha features."""
    feats = [np.load(cache_dir(n, "alpha") / f.name)["features"] for n in names for f in _files(n)]
    return {**d, "features": np.concatenate([v for x in feats for v in x])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    jobs = [(n, f) for n in SETS for f in _files(n)]
    with ProcessPoolExecutor(a.workers) as ex:
        list(ex.map(_alpha_features, jobs, chunksize=4))
    from pelvis_tilt.tilt import TiltModel

    alpha = float(TiltModel.load().info.get("alpha", 30.0))   # the shipped ridge strength, for both
    fit_d, test_d = F.load_sets("fit", "walk_fit"), F.load_sets("test", "walk_test")
    fit_m, test_m = F.measures(fit_d), F.measures(test_d)
    side = test_m.is_side_on() & test_d["detected"]
    tc = F.true_change(test_d)
    held = F.held_stride(test_d, test_m)
    for label, fd, td in (("MediaPipe mask", fit_d, test_d),
                          ("render alpha", with_alpha(fit_d, SETS[:2]), with_alpha(test_d, SETS[2:]))):
        rows = F.usable(fd, fit_m)
        params, _ = F.fit(fd, fit_m, rows, alpha)
        s = F.scores(F.predict(params, td, test_m, held), td, side, tc)
        print(f"{label}: change MAE {s['change_mae']:.2f} p95 {s['change_p95']:.1f} gain {s['gain']:.2f} "
              f"measured {100 * s['measured']:.0f}%")
        pred = F.predict(params, td, test_m, held)
        for fam in ("bg", "arms", "clothes", "mech", "legs", "deg"):
            print(f"  {fam}: " + "; ".join(f"{g} {F.scores(pred, td, side & (td[fam] == g), tc)['change_mae']:.2f}"
                                           for g in np.unique(td[fam])))
        for fam, g in (("bg", "clutter"), ("arms", "behind"), ("clothes", "long_hair")):
            p_g, _ = F.fit(fd, fit_m, rows & (fd[fam] != g), alpha)
            s_g = F.scores(F.predict(p_g, td, test_m, held), td, side & (td[fam] == g), tc)
            print(f"  {fam}={g} held out: change MAE {s_g['change_mae']:.2f} p95 {s_g['change_p95']:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
