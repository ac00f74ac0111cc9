"""Validation plots for calibration/README.md (written by benchmarks/accuracy.py --plots DIR)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def validation_plots(d: dict, fr: dict, out_dir: Path) -> list[Path]:
    """Predicted-vs-true scatter and error-vs-camera-angle plots; returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tilt, rel, y, ce = fr["tilt"], fr["rel"], fr["y"], fr["change_err"]
    ev = rel & ~d["neutral"]
    colours = {"compensated": "tab:blue", "uncompensated": "tab:orange"}

    fig, ax = plt.subplots(1, 2, figsize=(9, 4.2))
    lo, hi = np.nanmin(y[ev]) - 2, np.nanmax(y[ev]) + 2
    for reg, col in colours.items():
        s = ev & (d["regime"] == reg)
        ax[0].scatter(y[s], tilt[s], s=9, alpha=0.6, c=col, label=reg)
    ax[0].plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax[0].set(xlabel="true tilt (deg)", ylabel="estimated tilt (deg)", title="absolute tilt (held-out bodies)")
    ax[0].legend(fontsize=8)
    # change from neutral: truth change = y - true neutral, estimate = truth change + error
    base_t = np.full(len(y), np.nan)
    for c in np.unique(d["clip"]):
        s = d["clip"] == c
        base_t[s] = np.median(y[s & d["neutral"]])
    chg_t = y - base_t
    for reg, col in colours.items():
        s = ev & (d["regime"] == reg) & np.isfinite(ce)
        ax[1].scatter(chg_t[s], chg_t[s] + ce[s], s=9, alpha=0.6, c=col, label=reg)
    m = np.nanmax(np.abs(chg_t[ev])) + 2
    ax[1].plot([-m, m], [-m, m], "k-", lw=0.8)
    ax[1].set(xlabel="true change from neutral (deg)", ylabel="estimated change (deg)",
              title="after neutral calibration")
    fig.tight_layout()
    p1 = out_dir / "pred_vs_true.png"
    fig.savefig(p1, dpi=80)
    plt.close(fig)

    fig, ax = plt.subplots(1, 3, figsize=(11, 3.4), sharey=True)
    err = np.abs(tilt - y)
    for a, key, lab in zip(ax, ("roll_deg", "pitch_deg", "yaw_deg"), ("camera roll", "camera pitch (+ down)", "camera yaw (off side-on)")):
        for reg, col in colours.items():
            s = ev & (d["regime"] == reg)
            a.scatter(d[key][s], err[s], s=7, alpha=0.5, c=col, label=f"{reg} absolute")
        s = ev & np.isfinite(ce)
        a.scatter(d[key][s], np.abs(ce[s]), s=7, alpha=0.5, c="k", marker="x", label="change from neutral")
        a.set(xlabel=f"{lab} (deg)")
    ax[0].set_ylabel("absolute error (deg)")
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    p2 = out_dir / "error_vs_camera.png"
    fig.savefig(p2, dpi=80)
    plt.close(fig)
    return [p1, p2]
