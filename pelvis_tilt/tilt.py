"""Sagittal pelvic tilt from the side-view silhouette (vectorised over frames).

Tilt is the angle of the PSIS->ASIS line against the horizontal, anterior
positive (see README).  MediaPipe has no ASIS/PSIS points and its hip/shoulder
/knee angles barely move when a person tips the pelvis with the trunk upright,
so the estimate comes from the outline at pelvis height (`silhouette.profile`).

Model "ridge_v1" (the shipped one, ``data/tilt_model.json``): a ridge regression
fitted on rendered people with known tilt (``calibration/fit.py``) over
`design_matrix`: the back/front outline distances at 17 heights, the same
outline re-centred (cancels hip-landmark jitter), the sacral angle below, and
five body-line angles measured in the image.  The outline is sampled along the
image axes; the body-line angles let the fit undo the shear that camera roll
and pitch put on it, so the estimate needs no roll input (``roll_deg`` is used
only by the arm check).  Validation numbers: calibration/README.md.

Model "sacral_v1" (first version, kept for comparison): the back outline from
the buttock's furthest point up to the lumbar hollow, whose angle against the
body's vertical grows with anterior tilt; tilt = offset + gain * angle.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from . import landmarks as L
from . import silhouette
from .geometry import Measures, axes, midpoint

_BUTTOCK = silhouette.LEVELS <= 0.10
_LUMBAR = silhouette.LEVELS >= 0.05


def sacral_angle(features: np.ndarray) -> np.ndarray:
    """Angle (deg) of the buttock-peak -> lumbar-hollow back-outline line, per frame."""
    back = np.asarray(features, float)[:, : silhouette.N_LEVELS]
    k = silhouette.LEVELS
    b_but = np.where(_BUTTOCK, back, -np.inf)
    b_lum = np.where(_LUMBAR, back, np.inf)
    i_peak = np.argmax(np.nan_to_num(b_but, nan=-np.inf), axis=1)
    i_hollow = np.argmin(np.nan_to_num(b_lum, nan=np.inf), axis=1)
    rows = np.arange(back.shape[0])
    peak, hollow = back[rows, i_peak], back[rows, i_hollow]
    ang = np.degrees(np.arctan2(peak - hollow, k[i_hollow] - k[i_peak]))
    return np.where(np.isfinite(peak) & np.isfinite(hollow) & (i_hollow > i_peak), ang, np.nan)


def outline_valid_fraction(features: np.ndarray) -> np.ndarray:
    """Share of the outline levels (back and front) where the edge was found."""
    return np.mean(np.isfinite(features), axis=1)


def _row_mean(a: np.ndarray) -> np.ndarray:
    """Mean of the finite values per row (NaN for an empty row), without warnings."""
    ok = np.isfinite(a)
    cnt = ok.sum(axis=1)
    return np.where(cnt > 0, np.where(ok, a, 0.0).sum(axis=1) / np.maximum(cnt, 1), np.nan)


def landmark_angles(lm: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """Body-line angles (deg) from the image vertical, + = top of the line forward; (T, 5).

    Measured in the *image* frame, like the silhouette profile.  Together they tell
    the estimator how the body's axis sits in the image (camera roll, lean), so
    the fitted model can take the shear that roll puts on the outline back out:
    ankle->shoulder, ankle->hip, hip->shoulder, knee->hip, ankle->knee (mid-points
    of both sides, which MediaPipe places consistently even for the far side).
    """
    lm = np.asarray(lm, float)
    fwd, up = axes(0.0, facing)
    sh, hip, knee, ank = (midpoint(lm, p) for p in (L.SHOULDER, L.HIP, L.KNEE, L.ANKLE))
    segs = [(ank, sh), (ank, hip), (hip, sh), (knee, hip), (ank, knee)]
    return np.stack([np.degrees(np.arctan2(np.sum((b - a) * fwd, -1), np.sum((b - a) * up, -1)))
                     for a, b in segs], axis=1)


def design_matrix(features: np.ndarray, lm: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """Per-frame regressors of the ridge model, (T, N_DESIGN); NaN where unknown.

    Columns: the 34 outline distances; the same outline re-centred on the body's
    mid-depth (back and front shifted by half the difference of their means, which
    cancels hip-landmark jitter along the forward axis); the sacral angle; five
    body-line angles (roll / lean).
    """
    f = np.asarray(features, float)
    n = silhouette.N_LEVELS
    back, front = f[:, :n], f[:, n:]
    shift = 0.5 * (_row_mean(back) - _row_mean(front))[:, None]
    shape = np.concatenate([back - shift, front + shift], axis=1)   # outline as if the hip sat mid-body
    return np.concatenate([f, shape, sacral_angle(f)[:, None], landmark_angles(lm, facing)], axis=1)


N_DESIGN = 2 * silhouette.N_FEATURES + 1 + 5


def arm_occludes(lm: np.ndarray, meas: Measures, features: np.ndarray, roll_deg: float | np.ndarray = 0.0) -> np.ndarray:
    """True where an elbow or wrist sits on or outside the pelvis outline.

    Hands on the hips or arms swinging past the buttock change the outline the
    estimator reads, so such frames are flagged instead of guessed.
    """
    fwd, up = axes(roll_deg, meas.facing)
    s = np.clip(meas.side, 0, 1)
    hip = lm[np.arange(len(lm)), np.asarray(L.HIP)[s], :2]
    torso = np.where(meas.torso_px > 0, meas.torso_px, np.nan)
    back, front = features[:, : silhouette.N_LEVELS], features[:, silhouette.N_LEVELS:]
    hit = np.zeros(len(lm), bool)
    for j in (*L.ELBOW, *L.WRIST):
        d = lm[:, j, :2] - hip
        u = np.sum(d * fwd, -1) / torso
        k = np.sum(d * up, -1) / torso
        step = silhouette.LEVELS[1] - silhouette.LEVELS[0]
        lvl = np.clip(np.nan_to_num(np.round((k - silhouette.LEVELS[0]) / step)), 0, silhouette.N_LEVELS - 1).astype(int)
        rows = np.arange(len(lm))
        band = (k >= silhouette.LEVELS[0]) & (k <= silhouette.LEVELS[-1])
        near = (u > front[rows, lvl] - 0.06) | (-u > back[rows, lvl] - 0.06)
        hit |= band & np.nan_to_num(near, nan=False).astype(bool)
    return hit


@dataclass
class TiltModel:
    """Fitted parameters that turn silhouette features into degrees of tilt."""

    kind: str = "sacral_v1"
    params: dict = field(default_factory=lambda: {"offset": 0.0, "gain": 1.0})
    population_neutral_deg: float = 10.0
    min_confidence: float = 0.5
    info: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "TiltModel":
        """Load a model file; the default is the one shipped in ``pelvis_tilt/data``."""
        if path is None:
            text = resources.files("pelvis_tilt").joinpath("data/tilt_model.json").read_text()
        else:
            text = Path(path).read_text()
        d = json.loads(text)
        return cls(d["kind"], d["params"], d.get("population_neutral_deg", 10.0), d.get("min_confidence", 0.5), d.get("info", {}))

    def raw(self, features: np.ndarray) -> np.ndarray:
        if self.kind == "sacral_v1":
            return self.params["offset"] + self.params["gain"] * sacral_angle(features)
        if self.kind == "ridge_v1":
            raise ValueError("ridge_v1 needs landmarks: use predict() or raw_design()")
        if self.kind == "linear":
            f = np.asarray(features, float)
            mean, scale = np.asarray(self.params["mean"]), np.asarray(self.params["scale"])
            z = np.where(np.isfinite(f), (f - mean) / scale, 0.0)  # missing -> feature mean
            return self.params["bias"] + z @ np.asarray(self.params["weights"])
        raise ValueError(f"unknown tilt model kind {self.kind!r}")

    def raw_design(self, X: np.ndarray) -> np.ndarray:
        """Ridge prediction from a design matrix; missing regressors count as their mean."""
        p = self.params
        z = np.asarray(X, float) - np.asarray(p["mean"])
        z /= np.asarray(p["scale"])                      # in place: 100k-frame arrays stay cheap
        np.nan_to_num(z, copy=False, nan=0.0)            # missing regressor -> its mean
        # Clipping keeps one wild outline sample (a hand, a mask blob) from dominating.
        c = p.get("z_clip", 4.0)
        np.clip(z, -c, c, out=z)
        return p["bias"] + z @ np.asarray(p["weights"])

    def predict(self, features: np.ndarray, lm: np.ndarray, meas: Measures,
                roll_deg: float | np.ndarray = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-frame (tilt_deg, confidence 0..1, reliable bool).  Unreliable frames are NaN."""
        features = np.asarray(features, float)
        lm = np.asarray(lm, float)
        if self.kind == "ridge_v1":
            tilt = self.raw_design(design_matrix(features, lm, meas.facing))
        else:
            tilt = self.raw(features)
        valid = outline_valid_fraction(features)
        occl = arm_occludes(lm, meas, features, roll_deg)
        conf = meas.view_conf * meas.lm_conf * np.clip((valid - 0.5) / 0.4, 0, 1)
        conf = np.where(meas.is_side_on() & meas.in_frame & ~occl & np.isfinite(tilt), conf, 0.0)
        reliable = conf >= self.min_confidence
        return np.where(reliable, tilt, np.nan), conf, reliable
