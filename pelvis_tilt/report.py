"""Writing results: per-frame table (CSV/JSON), summary JSON and the tilt plot.

Every file is written to a temporary name beside its target and renamed into
place, so an interrupted run never leaves a half-written output.
"""
from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np


class OutputError(RuntimeError):
    """An output folder or file cannot be written; the message is one line."""


def ensure_writable_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` if needed and check that files can be created in it."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=p, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write to output folder {p}: {exc.strerror or exc}") from None
    return p


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it over ``final`` on success."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=suffix or final.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates 0600 files; give the result the usual permissions (umask applies).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else f"{float(v):.3f}"
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    return str(v)


def write_csv(path: str | os.PathLike, columns: dict[str, np.ndarray | list]) -> Path:
    """Columns of equal length -> CSV (empty cell = no value)."""
    names = list(columns)
    n = len(next(iter(columns.values()))) if columns else 0
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(names)
            cols = [columns[k] for k in names]
            for i in range(n):
                w.writerow([_fmt(c[i]) for c in cols])
    return Path(path)


def to_jsonable(obj):
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (np.floating, float)):
        return None if not np.isfinite(obj) else round(float(obj), 4)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike, data) -> Path:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(to_jsonable(data), indent=2) + "\n")
    return Path(path)


def load_pyplot():
    """pyplot with the file-only Agg backend (mediapipe has usually imported it already)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .fonts import matplotlib_families

    # DejaVu Sans covers Latin/Greek/Cyrillic; Noto Sans CJK (a dependency) the rest, e.g. a
    # Chinese file name in a title, instead of empty boxes and font warnings.
    plt.rcParams["font.family"] = matplotlib_families()
    return plt


def angle_trace(a: np.ndarray, keep: np.ndarray | None = None, max_jump: float = 90.0) -> np.ndarray:
    """An angle series ready to plot: wrapped into [-180, 180), frames outside ``keep`` blank,
    and the line broken (NaN) where it jumps by more than ``max_jump`` degrees from one frame
    to the next (a wrap-around or a flipped body axis, not a movement)."""
    a = (np.asarray(a, float) + 180.0) % 360.0 - 180.0
    if keep is not None:
        a = np.where(keep, a, np.nan)
    out = a.copy()
    if len(a) > 1:
        jump = np.abs(np.diff(a)) > max_jump
        out[1:][jump] = np.nan
    return out


def plot_tilt(path: str | os.PathLike, t: np.ndarray, tilt_raw: np.ndarray, tilt_smooth: np.ndarray,
              band_lo: float, band_hi: float, title: str, knee_flex: np.ndarray | None = None,
              trunk_lean: np.ndarray | None = None, note: str = "", side_on: np.ndarray | None = None) -> Path:
    """Tilt over time with the neutral band shaded (and knee bend / trunk lean below, side-on frames only)."""
    plt = load_pyplot()
    fig = tilt_figure(t, tilt_raw, tilt_smooth, band_lo, band_hi, title, knee_flex, trunk_lean, note, side_on)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)


def tilt_figure(t: np.ndarray, tilt_raw: np.ndarray, tilt_smooth: np.ndarray, band_lo: float, band_hi: float,
                title: str, knee_flex: np.ndarray | None = None, trunk_lean: np.ndarray | None = None,
                note: str = "", side_on: np.ndarray | None = None):
    """The figure `plot_tilt` saves (two axes: tilt; knee bend and trunk lean)."""
    plt = load_pyplot()

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    ax.axhspan(band_lo, band_hi, color="#5cb85c", alpha=0.18, label="neutral band")
    ax.plot(t, tilt_raw, ".", ms=2.5, color="#9aa6b2", label="per frame")
    ax.plot(t, tilt_smooth, "-", lw=2.0, color="#1f4e79", label="smoothed")
    ax.set_ylabel("pelvic tilt (deg)\n+ anterior / - posterior")
    finite = tilt_smooth[np.isfinite(tilt_smooth)]
    lo = min(band_lo, np.nanmin(finite) if finite.size else band_lo) - 4
    hi = max(band_hi, np.nanmax(finite) if finite.size else band_hi) + 4
    ax.set_ylim(lo, hi)
    ax.text(0.01, 0.97, "anterior: tuck under", transform=ax.transAxes, va="top", fontsize=8, color="#b22")
    ax.text(0.01, 0.03, "posterior: too tucked", transform=ax.transAxes, va="bottom", fontsize=8, color="#c60")
    if note:
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#a00")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if knee_flex is not None:
        ax2.plot(t, angle_trace(knee_flex, side_on), lw=1.2, color="#7b4f9d", label="knee bend")
    if trunk_lean is not None:
        ax2.plot(t, angle_trace(trunk_lean, side_on), lw=1.2, color="#d9822b", label="trunk lean")
    if len(t) > 1 and t[-1] > t[0]:   # a clip with nothing to plot still gets its real time axis
        ax.set_xlim(float(t[0]), float(t[-1]))
    ax2.set_ylabel("deg")
    ax2.set_xlabel("time (s)")
    ax2.grid(alpha=0.3)
    ax2.legend(loc="upper right", fontsize=8)
    # fixed margins that fit the labels at this size (tight_layout draws the figure once more to find them)
    fig.subplots_adjust(left=0.1, right=0.985, top=0.94, bottom=0.1, hspace=0.08)
    return fig
