"""Fit the tilt estimator on the rendered fit set and write ``pelvis_tilt/data/tilt_model.json``.

    python -m calibration.dataset fit              # once: render + MediaPipe (cached)
    python -m calibration.fit [--n N] [--out FILE] # seconds; numpy only

Model ``ridge_v1``: robust (Huber) ridge regression of the true tilt on
`pelvis_tilt.tilt.design_matrix` (outline distances, outline shape, sacral
angle, body-line angles), z-scored.  The ridge strength is chosen by 5-fold
cross-validation *grouped by body* (a body's frames are never split between
training and validation), so the printed CV errors are for unseen people.
Only frames the runtime would trust are used: side-on, in frame, outline
found, no arm over the outline (the same `TiltModel.predict` flags).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
from pathlib import Path

import numpy as np

from calibration.dataset import SETS, load_set
from pelvis_tilt import geometry
from pelvis_tilt.tilt import N_DESIGN, TiltModel, design_matrix

OUT = Path(__file__).resolve().parent.parent / "pelvis_tilt" / "data" / "tilt_model.json"
ALPHAS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
HUBER_DEG = 3.0
Z_CLIP = 4.0
MIN_CONFIDENCE = 0.3


def per_clip_measures(d: dict) -> geometry.Measures:
    """compute_measures clip by clip (image sizes differ), concatenated."""
    parts = []
    for c in np.unique(d["clip"]):
        s = d["clip"] == c
        parts.append(geometry.compute_measures(d["lm"][s], (int(d["image_w"][s][0]), int(d["image_h"][s][0]))))
    return geometry.Measures(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in parts[0].__dict__})


def usable(d: dict, meas: geometry.Measures) -> tuple[np.ndarray, np.ndarray]:
    """(reliable, confidence) per frame as the runtime flags them, whatever the weights."""
    probe = TiltModel("ridge_v1", {"mean": [0.0] * N_DESIGN, "scale": [1.0] * N_DESIGN,
                                   "weights": [0.0] * N_DESIGN, "bias": 0.0}, min_confidence=MIN_CONFIDENCE)
    _, conf, rel = probe.predict(d["features"], d["lm"], meas)
    return rel, conf


def ridge(X: np.ndarray, y: np.ndarray, alpha: float, iters: int = 4) -> dict:
    """Huber-weighted ridge on z-scored columns (missing -> column mean); returns params."""
    mean = np.nanmean(X, axis=0)
    scale = np.nanstd(X, axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    Z = np.clip(np.nan_to_num((X - mean) / scale), -Z_CLIP, Z_CLIP)
    w = np.ones(len(y))
    for _ in range(iters):
        ybar = np.sum(w * y) / np.sum(w)
        zbar = (w[:, None] * Z).sum(0) / np.sum(w)
        Zc = Z - zbar
        A = Zc.T @ (w[:, None] * Zc) + alpha * np.eye(Z.shape[1])
        beta = np.linalg.solve(A, Zc.T @ (w * (y - ybar)))
        r = y - (ybar - zbar @ beta) - Z @ beta
        w = np.minimum(1.0, HUBER_DEG / np.maximum(np.abs(r), 1e-9))
    r6 = lambda a: [float(f"{v:.6g}") for v in a]  # noqa: E731 - short file, same predictions
    return {"mean": r6(mean), "scale": r6(scale), "weights": r6(beta),
            "bias": float(f"{ybar - zbar @ beta:.6g}"), "z_clip": Z_CLIP}


def predict(params: dict, X: np.ndarray) -> np.ndarray:
    return TiltModel("ridge_v1", params).raw_design(X)


def cv_predict(X: np.ndarray, y: np.ndarray, groups: np.ndarray, alpha: float, k: int = 5) -> np.ndarray:
    """Out-of-fold predictions, folds grouped by body (seed)."""
    ug = np.unique(groups)
    fold = {g: i % k for i, g in enumerate(np.random.default_rng(0).permutation(ug))}
    f = np.array([fold[g] for g in groups])
    out = np.full(len(y), np.nan)
    for i in range(k):
        p = ridge(X[f != i], y[f != i], alpha)
        out[f == i] = predict(p, X[f == i])
    return out


def change_errors(pred: np.ndarray, y: np.ndarray, clip: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """Error of change-from-neutral, per frame (baseline = median over the clip's neutral frames)."""
    err = np.full(len(y), np.nan)
    for c in np.unique(clip):
        s = clip == c
        n = s & neutral
        if n.any():
            err[s] = (pred[s] - np.median(pred[n])) - (y[s] - np.median(y[n]))
    return err


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=None, help="use only the first N fit clips")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)

    d = load_set("fit", a.n)
    meas = per_clip_measures(d)
    rel, _ = usable(d, meas)
    X = design_matrix(d["features"], d["lm"], meas.facing)
    y = d["tilt_true"]
    s = rel & np.isfinite(y)
    print(f"fit set: {len(np.unique(d['seed']))} bodies, {len(y)} frames, {s.sum()} usable "
          f"({100 * s.mean():.0f}%)")
    best = None
    for alpha in ALPHAS:
        e = cv_predict(X[s], y[s], d["seed"][s], alpha) - y[s]
        mae = float(np.mean(np.abs(e)))
        print(f"  alpha {alpha:6.1f}: CV MAE {mae:.2f} deg, p95 {np.percentile(np.abs(e), 95):.2f}")
        if best is None or mae < best[1]:
            best = (alpha, mae)
    alpha = best[0]
    cvp = cv_predict(X[s], y[s], d["seed"][s], alpha)
    ce = change_errors(cvp, y[s], d["clip"][s], d["neutral"][s])
    params = ridge(X[s], y[s], alpha)
    neutral_true = [float(np.median(y[(d["clip"] == c) & d["neutral"]])) for c in np.unique(d["clip"])]
    model = {
        "kind": "ridge_v1",
        "params": params,
        "population_neutral_deg": round(float(np.median(neutral_true)), 1),
        "min_confidence": MIN_CONFIDENCE,
        "info": {
            "fitted": _dt.date.today().isoformat(),
            "script": "python -m calibration.fit",
            "fit_seeds": [SETS["fit"], int(d["seed"].max())],
            "bodies": int(len(np.unique(d["seed"]))), "frames": int(s.sum()), "alpha": alpha,
            "cv_mae_deg": round(best[1], 2),
            "cv_change_mae_deg": round(float(np.nanmean(np.abs(ce))), 2),
            "note": "ridge on outline + body-line angles; see calibration/README.md",
        },
    }
    text = json.dumps(model, indent=1)
    text = re.sub(r"\[\s*([-0-9.e,\s]+?)\s*\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    a.out.write_text(text + "\n")
    print(f"alpha {alpha}: CV MAE {best[1]:.2f} deg absolute, {np.nanmean(np.abs(ce)):.2f} deg change-from-neutral;"
          f" population neutral {model['population_neutral_deg']} deg -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
