"""Score the shipped estimator's three readings on the cached test sets (no fitting).

    python -m calibration.reference_check [--report FILE] [--seconds 1,2]

Readings, as the product makes them:
- *each frame alone*: `TiltModel.alone`, the ridge averaged with the alone trees (live for its
  first standing seconds; ``--reference-first 0``);
- *first S s*: standing frames read by the change trees against the outline of the clip's
  first S seconds (their side-on, read, standing frames' median `TiltModel.change_inputs` and
  tilt read alone; `pipeline.Pipeline.reference_outline`), the default for recorded clips
  without a profile;
- *calibrated neutral*: against the outline of the clip's true neutral frames, as after
  `calibrate` (what `fit_change_trees` scores);
- *live* (continuous clips): each frame alone until the first 2 s standing side-on are over,
  then against them (`pipeline.Pipeline.reference_after`), scored on the frames after them.

Test stills are 12 frames at 10 fps (3 neutral, then 9 random offsets), so any S >= 1.2 s
takes the whole clip as reference; the continuous isolation clips (1 s still, then front-to-back
isolations, 15 fps, 5 s) are the realistic case.  The estimator was fitted on the fit
sets' bodies; every group here except the ``lag`` mechanism was in its fit (other bodies,
cameras and scenes): `fit_change_trees` holds groups out, this script does not refit.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from calibration import fit_tilt as F
from calibration.fit_change_trees import read_first_seconds, read_relative, reference_windows
from pelvis_tilt.settings import REFERENCE_S
from pelvis_tilt.tilt import TiltModel


def readings(est: TiltModel, name: str, spans: list[float]):
    """(set, its measures, conf, [(label, tilt per row)]) of one cached set: each frame alone,
    against the first S seconds for each span, against the true neutral frames."""
    d = F.load_set(name)
    m = F.measures(d)
    held = F.held_stride(d, m)
    alone, conf, _ = est.predict(d["features"], d["lm"], m, stride=held)
    out = [("each frame alone", alone)]
    out += [(f"first {s:g} s", read_first_seconds(est, est.trees, d, m, held, alone, s)) for s in spans]
    out += [("calibrated neutral", read_relative(est, est.trees, d, m, held, alone))]
    return d, m, conf, out


def cells(s: dict) -> list[str]:
    return [f"{s['change_mae']:.2f} / {s['change_p95']:.1f} / {s['gain']:.2f} / {s['abs_mae']:.2f}"]


def offset_free(pred: np.ndarray, d: dict, sel: np.ndarray) -> list[str]:
    """Measured share, absolute MAE, and MAE / p95 of the error less its median per clip variant
    (how well the change is followed, whatever one offset) over the rows ``sel`` (deg)."""
    ok = sel & np.isfinite(pred)
    e = pred - d["tilt_true"]
    for c in np.unique(d["clip"][ok]):
        s = ok & (d["clip"] == c)
        e[s] -= np.median(e[s])
    a = np.abs(pred[ok] - d["tilt_true"][ok])
    return [f"{100 * ok.sum() / max(sel.sum(), 1):.0f}%", f"{a.mean():.2f}", f"{np.abs(e[ok]).mean():.2f}",
            f"{np.percentile(np.abs(e[ok]), 95):.1f}"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report", type=Path)
    ap.add_argument("--seconds", default="1,2", help="reference lengths to score (comma-separated)")
    a = ap.parse_args(argv)
    est = TiltModel.load()
    spans = [float(x) for x in a.seconds.split(",")]
    out = ["# Readings of the shipped estimator (`python -m calibration.reference_check`)", "",
           "Cells: change-from-neutral MAE / p95 / gain / absolute MAE (deg).", ""]

    d, m, _, reads = readings(est, "test", spans)
    side = m.is_side_on() & d["detected"] & (d["legs"] != "stride")
    tc = F.true_change(d)
    head = ["standing test frames", "clips", "measured"] + [r[0] for r in reads]
    rows, worst = [], {r[0]: (0.0, "") for r in reads}
    groups = [("all", side)] + [(f"{F.FAMILY_NAMES[f]}: {g}", side & (d[f] == g))
                                for f in ("mech", "arms", "clothes", "place", "bg", "deg") for g in np.unique(d[f])]
    for label, sel in groups:
        if not sel.any():
            continue
        sc = [F.scores(p, d, sel, tc) for _, p in reads]
        rows.append([label, len(np.unique(d["seed"][sel])), f"{100 * sc[0]['measured']:.0f}%"]
                    + [c for s in sc for c in cells(s)])
        if label != "all":
            for (name, _), s in zip(reads, sc):
                if s["change_mae"] > worst[name][0]:
                    worst[name] = (s["change_mae"], label)
    rows.append(["worst group (change MAE)", "", ""] + [f"{worst[n][0]:.2f} ({worst[n][1]})" for n, _ in reads])
    out += ["## Standing test stills, per group (whole-clip reference for S >= 1.2 s)", F.fmt_table(rows, head), ""]

    try:
        dm, mm, cm, reads = readings(est, "motion", spans)   # calibrated neutral: the still first second
    except FileNotFoundError:
        dm = None
    if dm is not None:
        sm_side = mm.is_side_on() & dm["detected"]
        tcm = F.true_change(dm)
        mrows = []
        for label, sel in [("all", sm_side)] + [(f"{fam} {g}", sm_side & (dm[fam] == g)) for fam in ("mech", "arms")
                                                for g in np.unique(dm[fam])]:
            mrows.append([label, len(np.unique(dm["clip"][sel]))]
                         + [c for _, p in reads for c in cells(F.scores(p, dm, sel, tcm))]
                         + [c for _, p in reads for c in cells(F.scores(F.smoothed(dm, p, cm), dm, sel, tcm))])
        mhead = (["continuous isolation clips", "clips"] + [f"per frame: {n}" for n, _ in reads]
                 + [f"smoothed: {n}" for n, _ in reads])
        out += ["## Continuous isolation clips (never fitted)", F.fmt_table(mrows, mhead), ""]
        held, alone = F.held_stride(dm, mm), reads[0][1]
        live = read_first_seconds(est, est.trees, dm, mm, held, alone, REFERENCE_S, live=True)
        after = sm_side & (dm["frame"] / dm["fps"] >= reference_windows(dm, mm, held, alone)[1])
        lrows = [[label, len(np.unique(dm["clip"][after]))] + offset_free(p, dm, after)
                 for label, p in (("each frame alone", alone), (f"live: against its first {REFERENCE_S:g} s "
                                                                        "once they are over", live))]
        out += [f"## Live on the continuous clips: the frames after each clip's first {REFERENCE_S:g} s standing "
                "side-on, per frame", F.fmt_table(lrows, ["reading", "clips", "measured", "abs MAE",
                                                          "MAE less each clip's median error", "p95"]), ""]
    text = "\n".join(out) + "\n"
    print(text)
    if a.report:
        a.report.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
