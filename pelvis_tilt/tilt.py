"""Sagittal pelvic tilt from the side-view outline (vectorised over frames).

Tilt is the angle of the PSIS->ASIS line against the horizontal, anterior
positive (see README).  MediaPipe has no ASIS/PSIS points and its hip/shoulder
/knee angles barely move when a person tips the pelvis with the trunk upright,
so the estimate comes from the outline at pelvis height: the lower back over
the sacrum, the buttock and the lower belly (`outline.frame_edges`, read on a
grid in body units — 0.3 x the standing height in the picture — around the
mid-hip, so it is the same at any resolution).

Model "outline_v3" (``data/tilt_model.json``, fitted by ``calibration/fit_tilt.py``
on rendered people that vary in how the body carries a tilt, arms, clothes,
camera and scene): a ridge regression over `outline_design` — the back and
front outline re-centred on the body's mid-depth (cancels the hip landmark's
forward/back jitter) and five body-line angles that tell it how the body sits
in the image (camera roll, lean) — with weights that may vary with the
outline's overall shape (`shape_interactions`), averaged for a standing frame
with a boosted-tree ensemble on the same inputs (``data/tilt_alone_trees.npz``):
the two err differently, and the average erred less than either in every
held-out group but one (`TiltModel.alone`).  A second weight set, fitted on
people caught mid-stride, takes over as the feet move apart (`stride_weight`),
and stays for half a second of walking after they pass each other (`StrideHold`):
the leading thigh and the trailing buttock change the low outline, and one set
of weights read walkers about 5 deg too tucked.  Outline levels the picture
cuts off are filled from the seen ones.  An arm over the outline is read as it
is (filling the levels it covers was measured to be worse); a frame is flagged
only when an arm lies on most of the lower back, the outline is mostly
missing, or its shape is unlike any rendered body's.

With a calibrated neutral (a profile from `calibrate`, which stores the neutral
outline beside the neutral tilt) a standing frame is read against that outline:
the change is another boosted-tree ensemble (`TreeEnsemble`, ``data/tilt_change_trees.npz``)
of the frame's design minus the neutral's, which is what differs between people
cancelled at the feature level; the ridge reading takes over as the feet move
apart, since a neutral is recorded standing.  Validation numbers:
calibration/README.md.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from . import landmarks as L
from . import outline
from .geometry import SIDE_JOINTS, Measures, axes, clip, midpoint, nan0

N = outline.N_LEVELS
# Levels the back outline must show for a frame to count (from under the
# buttock to the low lumbar spine): the contour the estimator leans on.
_CORE = (outline.LEVELS >= -0.25) & (outline.LEVELS <= 0.45)
# Confidence ramps from 0 to 1 as the share of those levels free of an arm goes
# from ARM_SEEN_LO to ARM_SEEN_HI (0.3 confidence at ~1/3 seen).  On held-out
# rendered bodies the error barely depends on this share (change MAE 3.25 with
# a third seen vs 3.22 with 62% seen), while a stricter ramp (0.5 -> 0.9) left
# 11% of arms-at-the-side frames and a hanging arm in our older renders
# unmeasured; so only an arm over most of it flags a frame.
ARM_SEEN_LO, ARM_SEEN_HI = 0.25, 0.55
# ... and from FOUND_LO to all of them found in the mask (0.3 at ~2/3 found).
FOUND_LO = 0.5


# The mid-stride weights take over as the feet's front-to-back spread (body units) goes
# from STRIDE_LO to STRIDE_HI.  95 % of standing fit frames spread less than 0.18
# (MediaPipe's ankles, both sides), the median mid-stride frame 0.6.
STRIDE_LO, STRIDE_HI = 0.2, 0.4
# ... and stay in for STRIDE_HOLD_S once the feet were fully apart for STRIDE_APART_S
# (`StrideHold`; a tenth of a walking stride, so a one-frame blip of the ankles does not count).
STRIDE_HOLD_S, STRIDE_APART_S = 0.5, 0.1


def _row_mean(a: np.ndarray) -> np.ndarray:
    """Mean of the finite values per row (NaN for an empty row), without warnings."""
    ok = np.isfinite(a)
    cnt = ok.sum(axis=1)
    return np.where(cnt > 0, np.where(ok, a, 0.0).sum(axis=1) / np.maximum(cnt, 1), np.nan)


# the body lines of `landmark_angles`, as indices into the mid-points of `SIDE_JOINTS`
_SEG_FROM, _SEG_TO = np.array([3, 3, 1, 2, 3]), np.array([0, 1, 0, 1, 2])


def landmark_angles(lm: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """Body-line angles (deg) from the image vertical, + = top of the line forward; (T, 5).

    Measured in the *image* frame, like the outline.  Together they tell the
    estimator how the body's axis sits in the image (camera roll, lean), so the
    fitted model can take the shear that roll puts on the outline back out:
    ankle->shoulder, ankle->hip, hip->shoulder, knee->hip, ankle->knee (mid-points
    of both sides, which MediaPipe places consistently even for the far side).
    """
    lm = np.asarray(lm, float)
    fwd, up = axes(0.0, facing)
    mid = 0.5 * (lm[:, SIDE_JOINTS[0], :2] + lm[:, SIDE_JOINTS[1], :2])   # (T, 4, 2): shoulder, hip, knee, ankle
    d = mid[:, _SEG_TO] - mid[:, _SEG_FROM]                  # (T, 5, 2)
    return np.degrees(np.arctan2((d * fwd[:, None]).sum(-1), (d * up[:, None]).sum(-1)))


def outline_design(edges: np.ndarray, lm: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """Per-frame regressors, (T, N_DESIGN); NaN where unknown: back and front outline
    shifted by half the difference of their means (the outline as if the hip landmark sat
    at mid-depth), then the body-line angles."""
    e = np.asarray(edges, float)
    back, front = e[:, :N], e[:, N:]
    shift = 0.5 * (_row_mean(back) - _row_mean(front))[:, None]
    return np.concatenate([back - shift, front + shift, landmark_angles(lm, facing)], axis=1)


N_DESIGN = 2 * N + 5


def feet_spread(lm: np.ndarray, facing: np.ndarray, unit_px: np.ndarray) -> np.ndarray:
    """Front-to-back distance between the two ankles in body units, (T,); 0 where unknown.
    Symmetric in left/right, so a swap of the legs by the landmarker does not matter."""
    lm = np.asarray(lm, float)
    fwd, _ = axes(0.0, facing)
    d = np.abs(np.sum((lm[:, L.ANKLE[0], :2] - lm[:, L.ANKLE[1], :2]) * fwd, axis=-1))
    return np.nan_to_num(d / np.where(unit_px > 0, unit_px, np.nan))


def stride_weight(spread: np.ndarray) -> np.ndarray:
    """How much of the mid-stride weight set a frame gets (0 standing .. 1 mid-stride)."""
    return np.clip((np.asarray(spread, float) - STRIDE_LO) / (STRIDE_HI - STRIDE_LO), 0.0, 1.0)


class StrideHold:
    """A walker caught with the feet passing each other is still walking: a frame gets the
    full mid-stride weight if the same person's feet were fully apart (`stride_weight` 1) for
    at least ``apart_s`` within the last ``hold_s`` seconds.  (With the weight of each frame
    alone, 23 % of rendered walkers' frames got the standing weights and read about 5 deg too
    tucked; ``apart_s`` keeps a one-frame blip of the ankles of someone standing from it.)
    Causal, so live and clips agree; call it on consecutive runs of frames in time order and
    it carries the recent moments the feet were apart from one call to the next."""

    def __init__(self, fps: float, hold_s: float = STRIDE_HOLD_S, apart_s: float = STRIDE_APART_S):
        self.hold_s = hold_s
        self.need = max(1, round(apart_s * fps))   # frames apart within the window
        self._person: int | None = None
        self._apart = np.zeros(0)    # when self._person's feet were fully apart, recently

    def __call__(self, t: np.ndarray, person: np.ndarray, weight: np.ndarray) -> np.ndarray:
        t, person, weight = np.asarray(t, float), np.asarray(person), np.asarray(weight, float)
        out = weight.copy()
        if not len(t):
            return out
        # runs of one person (few per call); the first continues the last call's if the same
        cuts = np.flatnonzero(np.r_[person[0] != self._person, person[1:] != person[:-1]])
        edges = np.r_[0, cuts[cuts > 0], len(t)]
        for a, b in zip(edges[:-1], edges[1:]):
            carried = self._apart if a == 0 and person[0] == self._person else np.zeros(0)
            ta = np.r_[carried, t[a:b][weight[a:b] >= 1.0]]
            n = np.searchsorted(ta, t[a:b], "right") - np.searchsorted(ta, t[a:b] - self.hold_s - 1e-9, "left")
            out[a:b] = np.where(n >= self.need, 1.0, weight[a:b])
            self._person, self._apart = person[b - 1], ta[ta >= t[b - 1] - self.hold_s - 1e-9]
        return out


def split_features(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(edges (T, 2 * N_LEVELS), body unit in torso lengths (T,)) from `outline.frame_edges` rows."""
    f = np.asarray(features, float)
    return f[:, :2 * N], f[:, 2 * N]


def arm_over_outline(lm: np.ndarray, meas: Measures, edges: np.ndarray,
                     unit_px: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(back_covered, front_covered), (T, N_LEVELS) each: outline levels an arm lies *on*.

    Points along each arm (elbow, mid-forearm, wrist, hand) are compared with the
    outline at their height.  A point near the edge means the arm and the body
    merge in the mask there, so the levels around it are not the body's; a point
    well inside the body (a hand hanging at the side) or well clear of it (an arm
    swinging behind with a gap: the outline walk stops at the body first) is fine.
    ``unit_px`` is the grid's unit in pixels (default: the torso length).
    """
    lm = np.asarray(lm, float)
    fwd, up = axes(0.0, meas.facing)
    hip = midpoint(lm, L.HIP)
    unit = meas.torso_px if unit_px is None else unit_px
    torso = np.where(unit > 0, unit, np.nan)
    back, front = edges[:, :N], edges[:, N:]
    step = outline.LEVELS[1] - outline.LEVELS[0]
    rows = np.arange(len(lm))
    el, wr, hand = (lm[:, list(p), :2] for p in (L.ELBOW, L.WRIST, L.INDEX))
    pts = np.concatenate([el, 0.5 * (el + wr), wr, hand], axis=1) - hip[:, None, :]   # (T, 8, 2)
    u = (pts * fwd[:, None]).sum(-1) / torso[:, None]
    k = (pts * up[:, None]).sum(-1) / torso[:, None]
    lvl = np.round((k - outline.LEVELS[0]) / step)
    lvl = clip(nan0(lvl), 0, N - 1).astype(int)
    b = back[rows[:, None], lvl]
    f = front[rows[:, None], lvl]
    # an arm is ~0.1 body units thick: its surface meets the edge from this far either side
    reach = 0.09
    on_back = np.abs(-u - b) < reach     # (T, 8); False where unknown (NaN)
    on_front = np.abs(u - f) < reach
    # levels within reach (vertically) of a point on the edge are covered
    near = np.abs(outline.LEVELS[None, None, :] - k[..., None]) <= reach          # (T, 8, N)
    return np.any(near & on_back[..., None], axis=1), np.any(near & on_front[..., None], axis=1)


def impute(edges: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Missing edge levels replaced by their expectation given the levels seen (Gaussian
    conditional mean with the fit set's mean and covariance); rows with nothing seen stay NaN."""
    e = np.array(edges, float)
    miss = np.isnan(e)
    todo = miss.any(axis=1) & ~miss.all(axis=1)
    if not todo.any():
        return e
    patterns, inv = np.unique(miss[todo], axis=0, return_inverse=True)
    idx = np.flatnonzero(todo)
    for j, pat in enumerate(patterns):
        r = idx[inv.ravel() == j]
        o, m_ = ~pat, pat
        gain = np.linalg.solve(cov[np.ix_(o, o)] + 1e-6 * np.eye(o.sum()), cov[np.ix_(o, m_)])   # (O, M)
        e[np.ix_(r, m_)] = mean[m_] + (e[np.ix_(r, o)] - mean[o]) @ gain
    return e


def shape_interactions(X: np.ndarray, shape: dict) -> np.ndarray:
    """The design with each regressor also multiplied by the frame's first few outline shape
    coordinates (principal components of the z-scored design, unit variance), so the weight
    a regressor gets can differ between body shapes: the same outline change means a
    different tilt change on a flat and on a rounded back.  (T, D) -> (T, D * (1 + k))."""
    z = (np.asarray(X, float) - np.asarray(shape["mean"])) / np.asarray(shape["scale"])
    z = clip(nan0(z), -4.0, 4.0)
    s = z @ np.asarray(shape["components"]).T / np.asarray(shape["sd"])
    # [z, z * s_0, z * s_1, ...] in one product (z * 1 is z exactly)
    factors = np.concatenate([np.ones((len(z), 1)), s], axis=1)
    return (factors[:, :, None] * z[:, None, :]).reshape(len(z), -1)


def _ridge(params: dict, X: np.ndarray) -> np.ndarray:
    """Ridge prediction from a design matrix; missing regressors count as their mean."""
    if "shape" in params:
        X = shape_interactions(X, params["shape"])
    z = np.asarray(X, float) - np.asarray(params["mean"])
    z /= np.asarray(params["scale"])                      # in place: long clips stay cheap
    z[np.isnan(z)] = 0.0
    # Clipping keeps one wild outline sample (a hand, a mask blob) from dominating.
    c = params.get("z_clip", 4.0)
    np.minimum(np.maximum(z, -c, out=z), c, out=z)
    return params["bias"] + z @ np.asarray(params["weights"])


class TreeEnsemble:
    """A boosted ensemble of regression trees (the change from one's neutral, or a frame's
    tilt alone), stored as one array per node field over all trees' nodes (children as
    absolute node indices) and ``roots``, the first node of each tree.  A node sends x left when x[feature] <= threshold,
    a missing x where ``missing_left`` says; the leaves' values add to ``base``."""

    FIELDS = ("feature", "threshold", "left", "right", "leaf", "value", "missing_left", "roots")
    BLOCK = 4096   # rows walked together: (rows x trees) index arrays stay a few MB on long clips

    def __init__(self, feature, threshold, left, right, leaf, value, missing_left, roots, base: float, depth: int):
        leaf = np.asarray(leaf, bool)
        idx = np.arange(leaf.size)
        # A leaf points to itself both ways (and compares +inf), so walking on from it stays there
        # and every tree can be walked the same number of steps without a test per node.
        # flat: node n's right child at 2n, its left at 2n + 1 (one 1-D gather per level)
        self.children = np.stack([np.where(leaf, idx, right), np.where(leaf, idx, left)], axis=1).astype(np.intp).ravel()
        self.feature = np.where(leaf, 0, feature).astype(np.intp)
        self.threshold = np.where(leaf, np.inf, threshold).astype(float)
        self.missing_left = np.asarray(missing_left, bool) & ~leaf
        self.leaf, self.value = leaf, np.asarray(value, float)
        self.roots, self.base, self.depth = np.asarray(roots, np.intp), float(base), int(depth)

    @classmethod
    def load(cls, data: bytes) -> "TreeEnsemble":
        """From an ``.npz`` file's bytes (the node fields, ``base`` and ``depth``)."""
        with np.load(io.BytesIO(data)) as z:
            return cls(*(z[k] for k in cls.FIELDS), float(z["base"]), int(z["depth"]))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """The ensemble's output for each row of ``X`` (T, features): every tree at once, one
        level per step (the cost is the depth, not the number of trees, in Python calls)."""
        X = np.asarray(X, float)
        if len(X) > self.BLOCK:
            return np.concatenate([self(X[i:i + self.BLOCK]) for i in range(0, len(X), self.BLOCK)])
        missing = bool(np.isnan(X).any())
        flat = X.ravel()
        row0 = (np.arange(len(X)) * X.shape[1])[:, None]
        node = np.empty((len(X), self.roots.size), np.intp)
        node[:] = self.roots
        for step in range(self.depth):
            x = flat[row0 + self.feature[node]]
            go = x <= self.threshold[node]
            if missing:
                go |= np.isnan(x) & self.missing_left[node]
            node = self.children[2 * node + go]
            if step % 4 == 3 and self.leaf[node].all():
                break
        return self.base + self.value[node].sum(axis=1)


def _load_trees(folder, entry: dict) -> TreeEnsemble:
    """A model file's tree ensemble (``entry``: its file beside the model and sha256)."""
    where = folder.joinpath(entry["file"])
    try:
        blob = where.read_bytes()
    except OSError as exc:
        raise ValueError(f"the tilt model's trees {where} cannot be read: {exc}") from None
    if hashlib.sha256(blob).hexdigest() != entry["sha256"]:
        raise ValueError(f"the tilt model's trees {entry['file']} do not match its file (sha256 differs)")
    return TreeEnsemble.load(blob)


@dataclass(frozen=True)
class NeutralOutline:
    """A calibrated neutral as the change trees compare frames with it: the median of its
    frames' `TiltModel.change_inputs`, and its tilt (deg) from its frames read alone
    (`TiltModel.alone`)."""

    inputs: tuple[float, ...]
    tilt_deg: float
    start_s: float | None = None   # a clip's own reference: when its seconds began (None: calibrated)


def _as_arrays(params: dict) -> dict:
    """``params`` with every list of numbers a float array (dicts within converted too)."""
    def conv(v):
        if isinstance(v, dict):
            return _as_arrays(v)
        if isinstance(v, list):
            try:
                return np.asarray(v, float)
            except (TypeError, ValueError):   # not numbers (a calibration's notes): as it is
                return v
        return v
    return {k: conv(v) for k, v in params.items()}


@dataclass
class Reading:
    """`TiltModel.read` of many frames: one value per frame in each array."""

    tilt: np.ndarray       # degrees, NaN where not reliable
    conf: np.ndarray       # 0..1
    reliable: np.ndarray   # bool: conf >= the model's min_confidence
    unusual: np.ndarray    # 0..1: how far the back outline lies from rendered bodies' (`TiltModel.shape_checks`)


@dataclass
class TiltModel:
    """Fitted parameters that turn outline edges and landmarks into degrees of tilt."""

    kind: str = "outline_v3"
    params: dict = field(default_factory=dict)
    population_neutral_deg: float = 10.0
    min_confidence: float = 0.3
    info: dict = field(default_factory=dict)
    trees: TreeEnsemble | None = field(default=None, repr=False, compare=False)          # change from a neutral
    alone_trees: TreeEnsemble | None = field(default=None, repr=False, compare=False)    # a frame on its own
    # `params` with its lists as float arrays, made once: converting them again for every
    # frame cost live more than the arithmetic did
    arrays: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.arrays = _as_arrays(self.params)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "TiltModel":
        """Load a model file; the default is the one shipped in ``pelvis_tilt/data``."""
        folder = resources.files("pelvis_tilt").joinpath("data") if path is None else Path(path).parent
        text = (folder.joinpath("tilt_model.json") if path is None else Path(path)).read_text()
        d = json.loads(text)
        if d.get("kind") != "outline_v3":
            raise ValueError(f"unsupported tilt model kind {d.get('kind')!r} (expected 'outline_v3')")
        trees = {k: _load_trees(folder, d["params"][k]) for k in ("change_trees", "alone_trees") if k in d["params"]}
        return cls(d["kind"], d["params"], d.get("population_neutral_deg", 10.0), d.get("min_confidence", 0.3),
                   d.get("info", {}), trees.get("change_trees"), trees.get("alone_trees"))

    def alone(self, inputs: np.ndarray, stride: np.ndarray | float = 0.0) -> np.ndarray:
        """Each frame's tilt read on its own, before any frame is flagged, from its
        `change_inputs`: standing, the ridge averaged with the alone trees (the two err
        differently, and on held-out groups the average erred less than either:
        calibration/README.md); as the feet move apart (``stride``, `stride_weight` per frame)
        the mid-stride weight set takes over."""
        inputs = np.asarray(inputs, float)
        tilt = _ridge(self.arrays, inputs[:, :N_DESIGN])
        if self.alone_trees is not None:
            tilt += self.params["alone_trees"]["weight"] * (self.alone_trees(inputs) - tilt)
        return self._with_stride(tilt, inputs[:, :N_DESIGN], stride)

    def raw_design(self, X: np.ndarray, stride: np.ndarray | float = 0.0) -> np.ndarray:
        """The ridge's prediction alone from a design matrix (no trees), before any frame is
        flagged; ``stride`` as in `alone`."""
        return self._with_stride(_ridge(self.arrays, X), X, stride)

    def _with_stride(self, tilt: np.ndarray, X: np.ndarray, stride: np.ndarray | float) -> np.ndarray:
        if "stride" not in self.params:
            return tilt
        w = np.broadcast_to(np.asarray(stride, float), tilt.shape)
        if not w.any():
            return tilt
        return tilt + w * (_ridge(self.arrays["stride"], X) - tilt)

    @staticmethod
    def stride(features: np.ndarray, lm: np.ndarray, meas: Measures) -> np.ndarray:
        """`stride_weight` of each frame, from the feet's spread in the grid's body units."""
        _, ratio = split_features(features)
        return stride_weight(feet_spread(lm, meas.facing, meas.torso_px * ratio))

    def change_sd(self, change_deg: np.ndarray, stride: np.ndarray | float = 0.0,
                  unusual: np.ndarray | float = 0.0, relative: bool | np.ndarray = False) -> np.ndarray:
        """The SD (deg) of a reading's error as a change from one's neutral, for a read change
        of ``change_deg``: a per-frame part and a part that grows with the change (the read
        scale varies between bodies), both from the fit's held-out-body residuals; standing
        and mid-stride apart, blended by ``stride`` (`stride_weight`) as the reading is, and
        widened for an unusual outline (``unusual``, `Reading.unusual`: such frames err more).
        ``relative`` (per frame or for all): read against a neutral outline (`read`'s
        ``neutral``): the standing part is the change trees' own held-out curve."""
        def sd(p: dict) -> np.ndarray:
            c = p.get("change_sd", {"a": float("nan"), "b": float("nan")})
            return np.hypot(c["a"], c["b"] * np.asarray(change_deg, float))

        out = sd(self.params)
        if self.trees is not None and np.any(relative):
            out = np.where(relative, sd(self.params["change_trees"]), out)
        if "change_sd" in self.params.get("stride", {}):
            out = out + np.asarray(stride, float) * (sd(self.params["stride"]) - out)
        return out * (1.0 + self.params.get("unusual_sd_gain", 0.0) * np.asarray(unusual, float))

    def shape_checks(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(plausible, unusual) per frame of an `outline_design`, from the back outline's
        distance to the fit's shape space.  ``plausible`` is False beyond 99.9% of the fitting
        frames' distance (a mask error, a bag merged into the outline: only gross failures,
        not loose clothes or hair).  ``unusual`` goes 0 .. 1 from the fit frames' median to
        their 90th percentile distance: readings of such outlines err more (held-out bodies:
        change MAE 2.6 deg below the median, 4.0 beyond the 75th percentile), which
        `change_sd` states."""
        p = self.arrays
        if "shape_components" not in p:
            return np.ones(len(X), bool), np.zeros(len(X))
        back = X[:, :N]
        b = back - _row_mean(back)[:, None] - p["shape_mean"]
        comp = p["shape_components"]
        res = np.linalg.norm(b - b @ comp.T @ comp, axis=1)   # NaN without an outline
        plausible = ~(res > p["shape_max_residual"])
        if "shape_unusual" not in p:
            return plausible, np.zeros(len(X))
        lo, hi = p["shape_unusual"]
        unusual = clip((res - lo) / (hi - lo), 0.0, 1.0)
        return plausible, nan0(unusual)

    @staticmethod
    def back_seen(features: np.ndarray, lm: np.ndarray, meas: Measures) -> tuple[np.ndarray, np.ndarray]:
        """Shares (T,) of the lower-back levels the estimator leans on (`_CORE`): found in
        the mask, and found with no arm lying on them."""
        edges, ratio = split_features(features)
        back_cov, _ = arm_over_outline(lm, meas, edges, meas.torso_px * ratio)
        found = np.isfinite(edges[:, :N])[:, _CORE]
        n = found.shape[1]
        return found.sum(axis=1) / n, (found & ~back_cov[:, _CORE]).sum(axis=1) / n

    def design(self, features: np.ndarray, lm: np.ndarray, meas: Measures) -> np.ndarray:
        """`outline_design` of the features, levels cut off by the picture filled in."""
        edges, _ = split_features(features)
        full = impute(edges, self.arrays["edge_mean"], self.arrays["edge_cov"])
        return outline_design(full, np.asarray(lm, float), meas.facing)

    def predict(self, features: np.ndarray, lm: np.ndarray, meas: Measures,
                roll_deg: float | np.ndarray = 0.0,
                stride: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-frame (tilt_deg, confidence 0..1, reliable bool): `read` without the rest.

        ``roll_deg`` is accepted for callers that know the camera roll; the
        outline and the body-line angles are both read in the image, and the fit
        takes roll out, so it is not needed here.
        """
        r = self.read(features, lm, meas, stride)
        return r.tilt, r.conf, r.reliable

    def change_inputs(self, features: np.ndarray, lm: np.ndarray, meas: Measures,
                      X: np.ndarray | None = None) -> np.ndarray:
        """What the change trees compare with a neutral's (T, N_DESIGN + 1): the `design`
        (``X`` if already known) and the body unit in torso lengths."""
        X = self.design(features, lm, meas) if X is None else X
        return np.hstack([X, split_features(features)[1][:, None]])

    def neutral_tilt(self, alone_deg: float | np.ndarray) -> float | np.ndarray:
        """A held stance's tilt (deg, scalar or array) from the median of its frames read alone
        (`alone`), pulled toward the population mean (``params["neutral_pull"]``, unchanged
        without one).  A frame alone tells change within a person better than how people
        differ at rest (its spread exceeds the truth's), so the pulled value errs less:
        held-out neutral MAE 3.0 -> 2.5 deg (calibration/fit_neutral_pull.py)."""
        p = self.params.get("neutral_pull")
        if p is None:
            return alone_deg
        return p["mean"] + p["slope"] * (np.asarray(alone_deg, float) - p["mean"])

    def neutral_outline(self, inputs: np.ndarray, start_s: float | None = None,
                        neutral: bool = True) -> NeutralOutline:
        """The outline standing frames are read against, from a stance's frames' `change_inputs`
        (T, N_DESIGN + 1; frames read standing): their median, and the median of them read
        alone, pulled toward the population (`neutral_tilt`) when the stance is known
        to be a ``neutral`` one (a calibration's hold, ``--baseline-first``).  A clip's default
        reference seconds are not pulled: they show whatever posture someone started in, and
        pulling, say, a forward tilt held throughout a clip would read it near the population's
        neutral (tests/test_pipeline.py).  ``start_s``: where a clip's seconds began."""
        inputs = np.asarray(inputs, float)
        alone = float(np.nanmedian(self.alone(inputs)))
        tilt = float(self.neutral_tilt(alone)) if neutral else alone
        return NeutralOutline(tuple(float(v) for v in np.nanmedian(inputs, axis=0)), tilt, start_s)

    def read(self, features: np.ndarray, lm: np.ndarray, meas: Measures,
             stride: np.ndarray | None = None, neutral: NeutralOutline | None = None) -> Reading:
        """The tilt of each frame from `outline.frame_edges` rows and landmarks; unreliable
        frames are NaN.  ``stride``: `stride` of these frames if the caller has it already.
        ``neutral``: a calibrated neutral's outline; standing frames are then read as that
        neutral's tilt plus the change trees' reading of how the frame differs from it."""
        lm = np.asarray(lm, float)
        X = self.design(features, lm, meas)
        w = self.stride(features, lm, meas) if stride is None else np.asarray(stride, float)
        inputs = self.change_inputs(features, lm, meas, X)
        tilt = self.alone(inputs, w)
        if neutral is not None and self.trees is not None:
            rel = neutral.tilt_deg + self.trees(inputs - np.asarray(neutral.inputs))
            # the neutral is recorded standing: a walker's outline is read without it
            tilt = tilt + (1.0 - w) * (rel - tilt)
        found, seen = self.back_seen(features, lm, meas)
        # Levels missing from the mask are guessed from the others (`impute`), so most of
        # them must be there; levels under an arm are read as they are (see ARM_SEEN_LO).
        conf = (meas.view_conf * meas.lm_conf * clip((found - FOUND_LO) / (1.0 - FOUND_LO), 0.0, 1.0)
                * clip((seen - ARM_SEEN_LO) / (ARM_SEEN_HI - ARM_SEEN_LO), 0.0, 1.0))
        plausible, unusual = self.shape_checks(X)
        ok = meas.is_side_on() & meas.in_frame & np.isfinite(tilt) & plausible
        conf = np.where(ok, conf, 0.0)
        reliable = conf >= self.min_confidence
        return Reading(np.where(reliable, tilt, np.nan), conf, reliable, unusual)
