"""Boosted regression trees for the estimator: fitted with scikit-learn (a development
dependency), exported as the arrays the product walks itself (`pelvis_tilt.tilt.TreeEnsemble`)."""
from __future__ import annotations

import hashlib
import io

import numpy as np

from pelvis_tilt.tilt import TreeEnsemble

# Depth 8: 0.15 ms a frame one at a time, standing change MAE 2.22 deg; unlimited (23 deep):
# 0.32 ms, 2.19; 100 trees: 0.07 ms, 2.27 (change trees, test frames, all groups fitted;
# 2026-12-03).  Up to 300 trees: scikit-learn's default early stopping (over 10 000 rows)
# holds 10 % of them out.
TREES = dict(max_iter=300, learning_rate=0.06, max_leaf_nodes=31, max_depth=8, min_samples_leaf=40,
             l2_regularization=1.0, random_state=0)


def fit_trees(D: np.ndarray, y: np.ndarray, rows: np.ndarray):
    """The ensemble fitted on ``rows`` (finite inputs and truth) of D -> y."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    ok = rows & np.all(np.isfinite(D), axis=1) & np.isfinite(y)
    return HistGradientBoostingRegressor(**TREES).fit(D[ok], y[ok])


def export(g) -> dict[str, np.ndarray]:
    """A fitted HistGradientBoostingRegressor's trees as `TreeEnsemble` arrays."""
    nodes = [p[0].nodes for p in g._predictors]
    starts = np.cumsum([0] + [len(n) for n in nodes[:-1]])
    cat = np.concatenate(nodes)
    off = np.repeat(starts, [len(n) for n in nodes])
    leaf = cat["is_leaf"].astype(bool)
    return {"feature": cat["feature_idx"].astype(np.int32), "threshold": cat["num_threshold"].astype(float),
            "left": np.where(leaf, 0, cat["left"] + off).astype(np.int32),
            "right": np.where(leaf, 0, cat["right"] + off).astype(np.int32),
            "leaf": leaf, "value": np.where(leaf, cat["value"], 0.0).astype(float),
            "missing_left": cat["missing_go_to_left"].astype(bool), "roots": starts.astype(np.int32),
            "base": np.float64(np.ravel(g._baseline_prediction)[0]), "depth": np.int32(cat["depth"].max())}


def ensemble(arrays: dict[str, np.ndarray]) -> TreeEnsemble:
    """The product's evaluator of `export`'s arrays."""
    return TreeEnsemble(*(arrays[k] for k in TreeEnsemble.FIELDS), float(arrays["base"]), int(arrays["depth"]))


def npz_bytes(arrays: dict[str, np.ndarray]) -> tuple[bytes, str]:
    """`export`'s arrays as a compressed ``.npz`` file's bytes, and their sha256."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    blob = buf.getvalue()
    return blob, hashlib.sha256(blob).hexdigest()
