"""A run's files, each written once and atomically: the per-frame table, the summary, the tilt plot.

analyze, live ``--record``, routine and batch all write their table through
`write_table` (the columns of `results.FRAME_COLUMNS`, plus a command's own extras
after them) and their summary through `write_summary`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import report, results
from .cues import Band
from .results import FrameResults


def write_table(path: str | Path, tab: dict[str, np.ndarray], extra: dict[str, np.ndarray] | None = None) -> Path:
    """frames.csv: `results.FRAME_COLUMNS` in order, then ``extra`` columns."""
    cols = {k: tab[k] for k in results.FRAME_COLUMNS}
    cols.update(extra or {})
    return report.write_csv(path, cols)


def write_summary(path: str | Path, summary: dict) -> Path:
    return report.write_json(path, summary)


def write_tilt_plot(path: str | Path, r: FrameResults, band: Band, summary: dict, name: str) -> Path:
    """Tilt over time with the neutral band (the subject's frames), knee bend and trunk lean below."""
    mine = r.person == summary["basis"]["person"]
    score = summary["alignment_score"]
    title = f"{name}: pelvic tilt" + (f" (alignment score {score:.0f})" if np.isfinite(score) else "")
    m = r.measures
    return report.plot_tilt(path, r.t, np.where(mine, r.tilt_raw, np.nan), np.where(mine, r.tilt_smooth, np.nan),
                            band.baseline - band.half_width, band.baseline + band.half_width, title,
                            m.knee_flex_deg, m.trunk_lean_deg, "" if summary["status"] == "ok" else summary["message"],
                            side_on=m.is_side_on() & mine)


def clear_stale(out_dir: Path, names: dict[str, bool], warnings: list[str]) -> None:
    """Remove an output this run does not write but an earlier run left in the same folder (it
    would sit beside tables it no longer matches), and say so in ``warnings``."""
    for name, written in names.items():
        old = out_dir / name
        if not written and old.is_file():
            old.unlink()
            warnings.append(f"removed {name} from an earlier run: it no longer matched these results")
