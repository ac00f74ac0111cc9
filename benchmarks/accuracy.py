"""Accuracy of tilt_deg against known truth on held-out rendered people, from pixels.

    PYOPENGL_PLATFORM=osmesa /work/venvs/calib/bin/python benchmarks/accuracy.py [--n 40] [--plots DIR]

Renders (once, cached under ~/.cache/pelvis_tilt_calib/heldout) clips whose
bodies and cameras come from seeds never used in fitting, runs the full
pipeline on each (`pelvis_tilt.analyze_clip`: MediaPipe, silhouette, estimator),
and prints per regime, before and after per-person neutral calibration:
MAE, 95th-percentile absolute error, share of frames flagged unreliable, and
agreement of the anterior/neutral/posterior state with truth on frames more than
3 deg from a band edge.  Then jitter: SD of the smoothed output on a still clip.

Metrics use the per-frame estimate (`tilt_deg`, the table's column): each
held-out clip holds a pose for one frame, so time smoothing does not apply.
"Before calibration" compares absolute tilt with absolute truth and uses the
population band (model neutral +- 5 deg); "after" uses each person's own
neutral (median estimate over the clip's neutral segment, as the app's
`calibrate` does) against their true neutral.  With the render stack missing,
the cached set is used as is.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from calibration.dataset import DEFAULT_N, build, load_set  # noqa: E402
from calibration.fit import change_errors, per_clip_measures  # noqa: E402
from pelvis_tilt import analyze_clip, cues  # noqa: E402
from pelvis_tilt.tilt import TiltModel  # noqa: E402

HALF_WIDTH = 5.0
EDGE_MARGIN = 3.0


def state_agreement(pred: np.ndarray, truth: np.ndarray, base_pred: np.ndarray, base_true: np.ndarray) -> tuple[float, int]:
    """Share of frames whose state (vs. each band) agrees, on frames > EDGE_MARGIN from a true band edge."""
    dev_t = truth - base_true
    far = np.abs(np.abs(dev_t) - HALF_WIDTH) > EDGE_MARGIN
    ok = far & np.isfinite(pred) & np.isfinite(base_pred)
    sp = cues.Band(0.0, HALF_WIDTH).classify(pred[ok] - base_pred[ok])
    st = cues.Band(0.0, HALF_WIDTH).classify(dev_t[ok])
    return (float(np.mean(sp == st)) if ok.any() else float("nan")), int(ok.sum())


def evaluate(d: dict, model: TiltModel) -> dict[str, dict]:
    """Per-regime metrics (plus 'all') on a loaded held-out set."""
    meas = per_clip_measures(d)
    tilt, conf, rel = model.predict(d["features"], d["lm"], meas)
    y = d["tilt_true"]
    base_p = np.full(len(y), np.nan)
    base_t = np.full(len(y), np.nan)
    for c in np.unique(d["clip"]):
        s = d["clip"] == c
        n = s & d["neutral"]
        base_t[s] = np.median(y[n])
        if np.isfinite(tilt[n]).any():
            base_p[s] = np.nanmedian(tilt[n])
    ce = change_errors(np.where(rel, tilt, np.nan), y, d["clip"], d["neutral"] & rel)
    out = {}
    for reg in ("compensated", "uncompensated", "all"):
        s = (d["regime"] == reg) if reg != "all" else np.ones(len(y), bool)
        ev = s & rel & ~d["neutral"]        # scored frames: the posed ones
        ea = np.abs(tilt[ev] - y[ev])
        ec = np.abs(ce[ev])
        ec = ec[np.isfinite(ec)]
        pop = np.full(len(y), model.population_neutral_deg)
        agree_abs, n_abs = state_agreement(tilt[ev], y[ev], pop[ev], pop[ev])
        agree_cal, n_cal = state_agreement(tilt[ev], y[ev], base_p[ev], base_t[ev])
        out[reg] = {
            "bodies": int(len(np.unique(d["seed"][s]))), "frames": int((s & ~d["neutral"]).sum()),
            "flagged": float(1 - rel[s].mean()),
            "mae_abs": float(np.mean(ea)), "p95_abs": float(np.percentile(ea, 95)),
            "mae_change": float(np.mean(ec)), "p95_change": float(np.percentile(ec, 95)),
            "state_abs": agree_abs, "state_abs_n": n_abs, "state_cal": agree_cal, "state_cal_n": n_cal,
            "no_baseline": int(len(np.unique(d["clip"][s & ~np.isfinite(base_p)]))),
        }
    out["_frames"] = {"tilt": tilt, "rel": rel, "y": y, "change_err": ce, "conf": conf}
    return out


def jitter(clip: Path) -> tuple[float, float]:
    """(SD of tilt_smooth, SD of tilt_deg) over a still clip's reliable frames."""
    r = analyze_clip(clip, None, annotate=False, plot=False, table=False)
    sm, raw = r.est.tilt_smooth, r.est.tilt_raw
    return float(np.nanstd(sm)), float(np.nanstd(raw))


def noisy_copy(clip: Path, sigma: float = 4.0) -> Path:
    """The clip with fresh per-frame sensor-like noise (cached): a still person, a live camera."""
    import cv2

    from calibration.dataset import cache_dir

    out = cache_dir("still") / f"{clip.stem}.noise{sigma:g}.mp4"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    rng = np.random.default_rng(0)
    tmp = out.with_suffix(".tmp.mp4")
    wr = None
    while True:
        ok, f = cap.read()
        if not ok:
            break
        if wr is None:
            wr = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (f.shape[1], f.shape[0]))
        wr.write(np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8))
    cap.release()
    wr.release()
    tmp.replace(out)
    return out


def print_table(res: dict[str, dict]) -> None:
    print(f"{'regime':14s} {'bodies':>6s} {'frames':>6s} {'flagged':>7s} | {'abs MAE':>7s} {'p95':>5s} "
          f"{'state':>6s} | {'chg MAE':>7s} {'p95':>5s} {'state':>6s}")
    for reg in ("compensated", "uncompensated", "all"):
        m = res[reg]
        print(f"{reg:14s} {m['bodies']:6d} {m['frames']:6d} {100 * m['flagged']:6.1f}% | {m['mae_abs']:6.2f}° "
              f"{m['p95_abs']:4.1f}° {100 * m['state_abs']:5.1f}% | {m['mae_change']:6.2f}° {m['p95_change']:4.1f}° "
              f"{100 * m['state_cal']:5.1f}%  (state frames {m['state_abs_n']}/{m['state_cal_n']})")
    print("abs = before neutral calibration (absolute tilt, population band); "
          "chg = after (change from the person's own neutral, personal band).\n"
          "state = anterior/neutral/posterior agreement on frames > 3° from a band edge (band ±5°).")


def main(argv=None) -> int:
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=DEFAULT_N["heldout"], help="held-out clips (bodies)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--plots", type=Path, default=None, help="write the validation plots here")
    ap.add_argument("--still", type=Path, default=ROOT / "sample_videos" / "neutral_stance.mp4")
    a = ap.parse_args(argv)
    try:
        build("heldout", a.n, a.workers)
    except ImportError as exc:  # no render stack: use what is cached
        print(f"(render stack unavailable: {exc}; using the cached held-out set)")
    d = load_set("heldout", a.n)
    model = TiltModel.load()
    print(f"model {model.kind} ({model.info.get('bodies', '?')} fit bodies, seeds {model.info.get('fit_seeds')}); "
          f"held-out seeds {int(d['seed'].min())}-{int(d['seed'].max())}")
    res = evaluate(d, model)
    print_table(res)
    for clip in (a.still, noisy_copy(a.still)):
        sd, sd_raw = jitter(clip)
        print(f"jitter on {clip.name} (still): SD {sd:.3f}° smoothed, {sd_raw:.3f}° per frame")
    if a.plots is not None:
        from calibration.plots import validation_plots

        for p in validation_plots(d, res["_frames"], a.plots):
            print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
