"""Fit and validate the change trees: the reading of a standing frame against a calibrated neutral.

    python -m calibration.fit_change_trees [--report FILE] [--no-write]

The shipped reading of a frame alone (`fit_tilt`: the ridge averaged with the alone trees)
leaves what differs between people's outlines at the same tilt in its reading.  Someone who
calibrated has a recorded neutral: the trees read the change from the frame's `TiltModel.change_inputs` *minus the
neutral's*, which cancels that per-person part at the feature level.  The change is not linear
in those differences (a ridge on them reads worse than the shipped one: 3.38 against 3.24 deg on
the test frames), so it is a gradient-boosted tree ensemble (scikit-learn's
HistGradientBoostingRegressor, a development dependency; the product evaluates the exported
trees itself, `pelvis_tilt.tilt.TreeEnsemble`).

Fitted on every usable moved frame of the fit sets against the true change from each clip
variant's own neutral frames; the reading alone and its flags are the shipped ones.  Scored as
the product reads: the neutral = the median inputs and tilt read alone of each clip variant's
measured neutral frames (what `calibrate`'s hold gives), standing frames read by the trees, walkers by
the ridge (`stride_weight`).  Leave-one-group-out as `fit_tilt` (``lag`` is never fitted).
Writes ``pelvis_tilt/data/tilt_change_trees.npz`` and its entry in ``tilt_model.json``
(file, sha256, the SD curve, rows to check the product's evaluation against scikit-learn's).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from calibration import fit_tilt as F
from calibration.trees import ensemble, export, fit_trees, npz_bytes
from pelvis_tilt.pipeline import reference_start
from pelvis_tilt.settings import REFERENCE_S
from pelvis_tilt.tilt import TiltModel, TreeEnsemble

DATA = Path(__file__).resolve().parents[1] / "pelvis_tilt" / "data"


def relative(A: np.ndarray, d: dict, measured: np.ndarray) -> np.ndarray:
    """Each row minus its clip variant's neutral: the median over the variant's neutral frames
    that were ``measured``, as `calibrate` takes the hold's (NaN if none)."""
    D = np.full_like(A, np.nan)
    for c in np.unique(d["clip"]):
        s = d["clip"] == c
        ref = s & d["neutral"] & measured
        if ref.any():
            D[s] = A[s] - np.median(A[ref], axis=0)
    return D


def read_relative(est: TiltModel, g, d: dict, meas, held: np.ndarray, alone: np.ndarray) -> np.ndarray:
    """The product's reading with each clip variant's neutral (NaN where a frame is flagged)."""
    A = est.change_inputs(d["features"], d["lm"], meas)
    D = relative(A, d, np.isfinite(alone))
    base = F.change(alone, d)                       # alone minus its neutral median ...
    neutral_tilt = est.neutral_tilt(alone - base)   # ... so this is that median, per row (pulled)
    rel = np.full(len(D), np.nan)
    ok = np.all(np.isfinite(D), axis=1)
    rel[ok] = neutral_tilt[ok] + (g.predict(D[ok]) if not isinstance(g, TreeEnsemble) else g(D[ok]))
    out = alone + (1.0 - held) * (rel - alone)
    return np.where(np.isfinite(alone), out, np.nan)


def reference_windows(d: dict, meas, held: np.ndarray, alone: np.ndarray,
                      seconds: float = REFERENCE_S) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) clip time per row of its clip variant's reference seconds, as
    `pipeline.Pipeline.reference_window` finds them: ``seconds`` from the first side-on, read,
    standing frame whose seconds hold enough such frames (NaN where a variant has none)."""
    t = d["frame"] / d["fps"]
    usable = meas.is_side_on() & d["detected"] & np.isfinite(alone) & (held == 0)
    start = np.full(len(t), np.nan)
    for c in np.unique(d["clip"]):
        s = d["clip"] == c        # rows of a clip variant are in frame order
        t0 = reference_start(t[s & usable], float(t[s].min()), seconds)
        start[s] = np.nan if t0 is None else t0
    return start, start + seconds


def read_first_seconds(est: TiltModel, trees: TreeEnsemble, d: dict, meas, held: np.ndarray, alone: np.ndarray,
                       seconds: float = REFERENCE_S, live: bool = False) -> np.ndarray:
    """As `read_relative`, but with no neutral known, as the product reads a recorded clip by
    default (`pipeline.Pipeline.reference_outline`): against the median inputs and tilt read alone
    (not pulled: `TiltModel.neutral_outline`) of the side-on, read, standing frames in
    ``seconds`` from each clip variant's first such frame (`reference_windows`; each frame
    alone without such seconds).  ``live``: as live reads
    (`Pipeline.reference_after`): only the frames after those seconds; the others alone."""
    A = est.change_inputs(d["features"], d["lm"], meas)
    t = d["frame"] / d["fps"]
    usable = meas.is_side_on() & d["detected"] & np.isfinite(alone) & (held == 0)
    start, end = reference_windows(d, meas, held, alone, seconds)
    rel = np.full(len(A), np.nan)
    for c in np.unique(d["clip"][np.isfinite(start)]):
        s = d["clip"] == c
        ref = s & usable & (t >= start) & (t < end)
        ok = s & np.all(np.isfinite(A), axis=1) & ((t >= end) if live else True)
        if ok.any():
            rel[ok] = np.median(alone[ref]) + trees(A[ok] - np.median(A[ref], axis=0))   # not pulled
    out = np.where(np.isfinite(rel), alone + (1.0 - held) * (rel - alone), alone)
    return np.where(np.isfinite(alone), out, np.nan)


def sd_curve(est: TiltModel, d: dict, meas, rows: np.ndarray, k: int = 5) -> dict:
    """{a, b} of the trees' change error (`fit_tilt._sd_curve`) from k-fold predictions grouped by body."""
    A = est.change_inputs(d["features"], d["lm"], meas)
    alone = F.predict(est, d, meas)
    D = relative(A, d, np.isfinite(alone))
    y = F.true_change(d)
    seeds = np.unique(d["seed"][rows])
    fold = dict(zip(np.random.default_rng(2).permutation(seeds), np.arange(len(seeds)) % k))
    f = np.array([fold.get(s, -1) for s in d["seed"]])
    pred = np.full(len(y), np.nan)
    stand = rows & ~d["neutral"] & (d["legs"] != "stride") & np.all(np.isfinite(D), axis=1) & np.isfinite(alone)
    for i in range(k):
        g = fit_trees(D, y, rows & ~d["neutral"] & (f != i))
        pred[stand & (f == i)] = g.predict(D[stand & (f == i)])
    return F._sd_curve(pred[stand], y[stand])


def motion_table(est: TiltModel, trees: TreeEnsemble) -> str:
    """`fit_tilt.motion_scores`' table for each frame alone and read against each clip's neutral."""
    d = F.load_set("motion")
    m = F.measures(d)
    held = F.held_stride(d, m)
    tilt, conf, _ = est.predict(d["features"], d["lm"], m, stride=held)
    rel = read_relative(est, trees, d, m, held, tilt)
    head = ["motion clips", "clips", "measured", "change MAE", "p95", "gain", "smoothed MAE", "smoothed p95",
            "smoothed gain"]
    rows = [["alone, " + r[0]] + r[1:] for r in F.motion_rows(d, m, tilt, conf)[:1]]
    rows += [["with neutral, " + r[0]] + r[1:] for r in F.motion_rows(d, m, rel, conf)]
    return F.fmt_table(rows, head)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report", type=Path)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--no-logo", action="store_true")
    a = ap.parse_args(argv)
    model_path = DATA / "tilt_model.json"
    est = TiltModel.load(model_path)
    fit_d, test_d = F.load_sets("fit", "walk_fit"), F.load_sets("test", "walk_test")
    fit_m, test_m = F.measures(fit_d), F.measures(test_d)
    rows = F.usable(fit_d, fit_m)
    fit_alone = F.predict(est, fit_d, fit_m)
    D = relative(est.change_inputs(fit_d["features"], fit_d["lm"], fit_m), fit_d, np.isfinite(fit_alone))
    y = F.true_change(fit_d)
    g = fit_trees(D, y, rows & ~fit_d["neutral"])
    arrays = export(g)
    trees = ensemble(arrays)
    check = np.flatnonzero(rows & np.all(np.isfinite(D), axis=1))[::997][:40]
    gap = float(np.max(np.abs(trees(D[check]) - g.predict(D[check]))))
    print(f"trees: {len(arrays['roots'])}, {arrays['leaf'].sum()} leaves, depth {arrays['depth']}; "
          f"product evaluation vs scikit-learn on {check.size} rows: max difference {gap:.2e}")
    curve = sd_curve(est, fit_d, fit_m, rows)
    print(f"change SD curve (held-out bodies, standing): {curve}")

    side = test_m.is_side_on() & test_d["detected"]
    tc = F.true_change(test_d)
    held = F.held_stride(test_d, test_m)
    alone = F.predict(est, test_d, test_m, held)
    rel = read_relative(est, trees, test_d, test_m, held, alone)
    walk = test_d["legs"] == "stride"
    motion = motion_table(est, trees)
    out = ["# Change trees (`python -m calibration.fit_change_trees`)", "",
           f"Trees: {len(arrays['roots'])}, depth {arrays['depth']}; SD curve {curve}.", ""]
    head = ["test frames", "frames", "measured", "alone change MAE", "alone p95", "alone gain",
            "with neutral: change MAE", "p95", "gain", "within +-1.96 SD", "with neutral and --range: MAE / p95 (change MAE, same frames)",
            "alone with --range"]

    def row(label: str, sel: np.ndarray, pred_rel: np.ndarray) -> list:
        s0, s1 = F.scores(alone, test_d, sel, tc), F.scores(pred_rel, test_d, sel, tc)
        r0, r1 = F.range_scores(alone, test_d, sel, tc), F.range_scores(pred_rel, test_d, sel, tc)
        ch = F.change(pred_rel, test_d)
        ok = sel & ~test_d["neutral"] & np.isfinite(ch)
        sd = np.hypot(curve["a"], curve["b"] * ch[ok])            # as `TiltModel.change_sd(relative=True)`
        sd = sd + held[ok] * (est.change_sd(ch[ok], 1.0) - sd)
        within = np.mean(np.abs(ch[ok] - tc[ok]) <= 1.96 * sd)
        return [label, s1["frames"], f"{100 * s0['measured']:.0f}%", f"{s0['change_mae']:.2f}",
                f"{s0['change_p95']:.1f}", f"{s0['gain']:.2f}", f"{s1['change_mae']:.2f}", f"{s1['change_p95']:.1f}",
                f"{s1['gain']:.2f}", f"{100 * within:.0f}%", f"{r1['range_mae']:.2f} / {r1['range_p95']:.1f} ({r1['range_plain_mae']:.2f})",
                f"{r0['range_mae']:.2f} / {r0['range_p95']:.1f}"]

    summary = [row("all", side, rel), row("standing", side & ~walk, rel), row("mid-stride", side & walk, rel),
               row(f"standing, no neutral known: against the clip's first {REFERENCE_S:g} s (a recorded clip's "
                   "default; the whole 1.2 s still clip)",
                   side & ~walk, read_first_seconds(est, trees, test_d, test_m, held, alone))]
    out += ["## All test frames (shipped reading alone; change trees fitted on every group)", F.fmt_table(summary, head), "",
            "## Continuous isolation clips (never fitted; neutral: each clip's first second)", motion, ""]
    if not a.no_logo:
        logo = []
        for fam in F.FAMILIES:
            for grp in np.unique(test_d[fam]):
                train = rows & ~fit_d["neutral"] & (fit_d[fam] != grp)
                g_h = fit_trees(D, y, train) if (fit_d[fam] == grp).any() else g
                sel = side & (test_d[fam] == grp) & ~walk   # walkers are read alone, as in every table
                if not sel.any():
                    continue
                logo.append(row(f"{F.FAMILY_NAMES[fam]}: {grp}", sel, read_relative(est, g_h, test_d, test_m, held,
                                                                                      alone)))
                print(logo[-1], flush=True)
        out += ["## Standing frames of each group, the group held out of the trees' fit (the reading alone: shipped, "
                "fitted on all; `fit_tilt`'s tables hold it out too)",
                F.fmt_table(logo, head), ""]
    text = "\n".join(out) + "\n"
    print(text)
    if a.report:
        a.report.write_text(text)
    if not a.no_write:
        blob, sha = npz_bytes(arrays)
        (DATA / "tilt_change_trees.npz").write_bytes(blob)
        model = json.loads(model_path.read_text())
        model["params"]["change_trees"] = {
            "file": "tilt_change_trees.npz", "sha256": sha, "change_sd": curve,
            "check_inputs": np.round(D[check], 6).tolist(), "check_outputs": np.round(g.predict(np.round(D[check], 6)),
                                                                                       6).tolist()}
        F.write_model(model_path, model)
        print(f"-> {DATA / 'tilt_change_trees.npz'} ({len(blob) / 1e3:.0f} kB), {model_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
