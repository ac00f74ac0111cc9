"""Fit and validate the neutral pull: a held stance's tilt from its frames read alone.

    python -m calibration.fit_neutral_pull [--report FILE] [--no-write]

A frame read alone (`fit_tilt`: the ridge averaged with the alone trees) reads *change* within
a person better than how one person's pelvis differs from another's at rest: the ridge is
fitted on change and scaled up so the read change is not attenuated, and the level between
people is scaled up with it.  So the median reading of someone's neutral stance spreads more
than the truth does (test bodies: 3.0 deg mean absolute error; 3.5 with the ridge alone, the
same as reading everyone at the population mean).  The best reading of that stance is pulled
toward the population mean: ``mean + slope * (alone - mean)``.  The product applies it
to a calibrated neutral, `calibrate`'s hold (`TiltModel.neutral_outline`); it shifts that
person's readings by one number, so change from neutral is untouched.  A recorded clip's (or
live's) reference seconds are not pulled: they need not be a neutral stance, and a posture held
throughout a clip would be read toward the population's neutral.

Fitted on the fit set's clip variants, against the reading alone refitted with each body held
out (5-fold by body: the shipped fit saw these bodies, and would look more right on them than
on a new person).  Scored on the test set (other bodies), by group with the pull refitted without
that group (leave-one-group-out; the ``lag`` mechanism is never fitted), and on the continuous
isolation clips.  Writes ``params["neutral_pull"]`` into ``pelvis_tilt/data/tilt_model.json``.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from calibration import fit_tilt as F
from calibration.fit_change_trees import read_first_seconds, read_relative
from pelvis_tilt.tilt import TiltModel

MODEL = Path(__file__).resolve().parents[1] / "pelvis_tilt" / "data" / "tilt_model.json"
GROUPS = ("mech", "arms", "clothes", "place", "bg", "deg")


def neutral_readings(d: dict, meas, alone: np.ndarray) -> dict[str, np.ndarray]:
    """Per clip variant with a measured neutral: the median read alone and the truth's over its
    side-on neutral frames, and the variant's group labels."""
    ok = d["neutral"] & meas.is_side_on() & d["detected"] & np.isfinite(alone)
    clips = np.unique(d["clip"][ok])
    first = {c: np.flatnonzero(d["clip"] == c)[0] for c in clips}
    out = {"alone": np.array([np.median(alone[ok & (d["clip"] == c)]) for c in clips]),
           "true": np.array([np.median(d["tilt_true"][ok & (d["clip"] == c)]) for c in clips])}
    out.update({k: d[k][[first[c] for c in clips]] for k in GROUPS + ("seed",)})
    return out


def held_out_alone(d: dict, meas, alpha: float, k: int = 5) -> np.ndarray:
    """Every row read alone by a fit without that row's body (k folds by body)."""
    rows = F.usable(d, meas)
    seeds = np.unique(d["seed"])
    fold = dict(zip(np.random.default_rng(3).permutation(seeds), np.arange(len(seeds)) % k))
    f = np.array([fold[s] for s in d["seed"]])
    held = F.held_stride(d, meas)
    out = np.full(len(f), np.nan)
    for i in range(k):
        params, _ = F.fit(d, meas, rows & (f != i), alpha)
        out[f == i] = F.predict(params, d, meas, held)[f == i]
    return out


def fit_pull(alone: np.ndarray, true: np.ndarray) -> dict:
    """{mean, slope} of ``true ~ mean + slope * (alone - mean)`` (least squares)."""
    slope, icpt = np.polyfit(alone, true, 1)
    return {"mean": round(float(icpt / (1.0 - slope)), 3), "slope": round(float(slope), 4)}


def pulled(est: TiltModel, pull: dict | None) -> TiltModel:
    """``est`` with that neutral pull (None: without one)."""
    params = {k: v for k, v in est.params.items() if k != "neutral_pull"}
    return replace(est, params=params if pull is None else {**params, "neutral_pull": pull})


def pull_tilt(alone: np.ndarray, pull: dict) -> np.ndarray:
    return pulled(TiltModel(), pull).neutral_tilt(alone)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report", type=Path)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    doc = json.loads(MODEL.read_text())
    est = TiltModel.load(MODEL)
    fit_d = F.load_set("fit")
    fit_m = F.measures(fit_d)
    fr = neutral_readings(fit_d, fit_m, held_out_alone(fit_d, fit_m, float(doc["info"]["alpha"])))
    pull = fit_pull(fr["alone"], fr["true"])
    print(f"fit set: {len(fr['true'])} clip variants of {len(np.unique(fr['seed']))} bodies; pull {pull}")

    test_d = F.load_set("test")
    test_m = F.measures(test_d)
    held = F.held_stride(test_d, test_m)
    alone = F.predict(est, test_d, test_m, held)   # the pull is not part of it
    tn = neutral_readings(test_d, test_m, alone)
    mae = lambda x: float(np.mean(np.abs(x)))   # noqa: E731
    head = ["test clip variants", "variants", "neutral read alone: MAE", "pulled MAE", "pulled (group held out)"]
    rows = [["all", len(tn["true"]), f"{mae(tn['alone'] - tn['true']):.2f}",
             f"{mae(pull_tilt(tn['alone'], pull) - tn['true']):.2f}", ""]]
    logo = {}
    for fam in GROUPS:
        for g in np.unique(tn[fam]):
            keep = fr[fam] != g
            p_g = fit_pull(fr["alone"][keep], fr["true"][keep]) if keep.sum() > 10 else pull
            logo[(fam, g)] = p_g
            s = tn[fam] == g
            rows.append([f"{F.FAMILY_NAMES[fam]}: {g}", int(s.sum()), f"{mae(tn['alone'][s] - tn['true'][s]):.2f}",
                         f"{mae(pull_tilt(tn['alone'][s], pull) - tn['true'][s]):.2f}",
                         f"{mae(pull_tilt(tn['alone'][s], p_g) - tn['true'][s]):.2f}"])
    out = ["# Neutral pull (`python -m calibration.fit_neutral_pull`)", "",
           f"Fitted on {len(fr['true'])} fit-set clip variants ({len(np.unique(fr['seed']))} bodies) against a "
           f"the reading alone refitted with each body held out: true neutral = {pull['mean']:.2f} + {pull['slope']:.3f} x "
           f"(alone - {pull['mean']:.2f}).", "", "## The neutral stance's tilt", F.fmt_table(rows, head), ""]

    # whole readings against a calibrated neutral, as the product makes them (`read_relative`),
    # without and with a pull: absolute error; change from neutral is unchanged
    def reads(d: dict, m, h: np.ndarray, r: np.ndarray, p: dict | None) -> np.ndarray:
        e = pulled(est, p)
        return read_relative(e, e.trees, d, m, h, r)

    side = test_m.is_side_on() & test_d["detected"] & (test_d["legs"] != "stride")
    tc = F.true_change(test_d)
    head2 = ["standing test frames", "calibrated: abs MAE", "pulled", "pulled (group held out)",
             "first 2 s (not pulled): abs MAE"]
    rows2 = []
    whole = {key: reads(test_d, test_m, held, alone, p) for key, p in (("none", None), ("pull", pull))}
    first = read_first_seconds(est, est.trees, test_d, test_m, held, alone)
    rows2.append(["all"] + [f"{F.scores(x, test_d, side, tc)['abs_mae']:.2f}"
                            for x in (whole["none"], whole["pull"], whole["pull"], first)])
    for (fam, g), p_g in logo.items():
        sel = test_d[fam] == g                     # whole clip variants: their references are intact
        dg, mg = {k: v[sel] for k, v in test_d.items()}, F._take(test_m, sel)
        sg, tg = side[sel], tc[sel]
        own = reads(dg, mg, held[sel], alone[sel], p_g)
        cells = [F.scores(x, dg, sg, tg)["abs_mae"] for x in (whole["none"][sel], whole["pull"][sel], own, first[sel])]
        rows2.append([f"{F.FAMILY_NAMES[fam]}: {g}"] + [f"{x:.2f}" for x in cells])
    worst = [max(float(r[i]) for r in rows2[1:]) for i in range(1, 5)]
    rows2.append(["worst group"] + [f"{w:.2f}" for w in worst])
    out += ["## Absolute error of whole readings (change from neutral is unchanged)", F.fmt_table(rows2, head2), ""]

    dm = F.load_set("motion")
    mm = F.measures(dm)
    hm = F.held_stride(dm, mm)
    rm, cm, _ = est.predict(dm["features"], dm["lm"], mm, stride=hm)
    sm = mm.is_side_on() & dm["detected"]
    tcm = F.true_change(dm)
    rows3 = []
    for name, x in (("calibrated (first second)", reads(dm, mm, hm, rm, None)),
                    ("calibrated (first second), pulled", reads(dm, mm, hm, rm, pull)),
                    ("first 2 s (not pulled)", read_first_seconds(est, est.trees, dm, mm, hm, rm))):
        rows3.append([name, f"{F.scores(x, dm, sm, tcm)['abs_mae']:.2f}",
                      f"{F.scores(F.smoothed(dm, x, cm), dm, sm, tcm)['abs_mae']:.2f}"])
    out += ["## Continuous isolation clips (never fitted): absolute MAE",
            F.fmt_table(rows3, ["reading", "per frame", "smoothed"]), ""]
    text = "\n".join(out) + "\n"
    print(text)
    if a.report:
        a.report.write_text(text)
    if not a.no_write:
        doc["params"]["neutral_pull"] = {**pull, "clips": int(len(fr["true"])),
                                         "bodies": int(len(np.unique(fr["seed"])))}
        F.write_model(MODEL, doc)
        print(f"-> {MODEL}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
