"""Sagittal pelvic tilt from the side-view silhouette (vectorised over frames).

Tilt is the angle of the PSIS->ASIS line against the horizontal, anterior
positive (see README).  MediaPipe has no ASIS/PSIS points and its hip/shoulder
/knee angles barely move when a person tips the pelvis with the trunk upright,
so the estimate comes from the outline at pelvis height (`silhouette.profile`).

Model "sacral_v1" (first version): the skin over the sacrum follows the sacrum,
which tips with the pelvis.  We take the back outline from the buttock's
furthest point (below the hip joint) up to the lumbar hollow (above it); the
angle of that line against the body's vertical axis grows with anterior tilt.
tilt = offset + gain * angle, with offset/gain from ``data/tilt_model.json``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from . import landmarks as L
from . import silhouette
from .geometry import Measures, axes

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
    return np.mean(np.isfinite(features), axis=1)


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
        if self.kind == "linear":
            f = np.asarray(features, float)
            mean, scale = np.asarray(self.params["mean"]), np.asarray(self.params["scale"])
            z = np.where(np.isfinite(f), (f - mean) / scale, 0.0)  # missing -> feature mean
            return self.params["bias"] + z @ np.asarray(self.params["weights"])
        raise ValueError(f"unknown tilt model kind {self.kind!r}")

    def predict(self, features: np.ndarray, lm: np.ndarray, meas: Measures,
                roll_deg: float | np.ndarray = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-frame (tilt_deg, confidence 0..1, reliable bool).  Unreliable frames are NaN."""
        features = np.asarray(features, float)
        tilt = self.raw(features)
        valid = outline_valid_fraction(features)
        occl = arm_occludes(lm, meas, features, roll_deg)
        conf = meas.view_conf * meas.lm_conf * np.clip((valid - 0.5) / 0.4, 0, 1)
        conf = np.where(meas.is_side_on() & meas.in_frame & ~occl & np.isfinite(tilt), conf, 0.0)
        reliable = conf >= self.min_confidence
        return np.where(reliable, tilt, np.nan), conf, reliable
