"""The history as one self-contained HTML page: trends drawn as inline SVG, no external assets.

Charts: neutral over time (calibrations), time in band per day, isolation range
per week, routine completion per day, nudges per hour of watch per day; then a
table of the sessions.  Days and weeks are the sessions' local calendar days.
"""
from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from pathlib import Path

from .report import OutputError, atomic_path

W, H, PAD_L, PAD_B, PAD_T, PAD_R = 560, 196, 46, 34, 22, 12


def format_duration(s: float) -> str:
    """'1 h 05 min', '12 min 30 s' or '45 s'."""
    s = max(0.0, float(s))
    if s >= 3600:
        return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"
    if s >= 60:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{s:.0f} s"


def local_datetime(s: dict) -> dt.datetime:
    """A session's local start time (as recorded, whatever the viewer's time zone)."""
    return dt.datetime.fromtimestamp(s["started_at"] + (s.get("utc_offset_s") or 0), tz=dt.timezone.utc) \
        .replace(tzinfo=None)


def _day(s: dict) -> str:
    return local_datetime(s).strftime("%Y-%m-%d")


def _week(s: dict) -> str:
    y, w, _ = local_datetime(s).isocalendar()
    return f"{y}-W{w:02d}"


def _esc(x) -> str:
    return html.escape(str(x), quote=True)


def _axes(lo: float, hi: float, unit: str) -> tuple[str, callable]:
    """Y grid (4 lines) and a value -> y pixel mapping."""
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    inner = H - PAD_B - PAD_T

    def y(v: float) -> float:
        return PAD_T + inner * (1 - (v - lo) / (hi - lo))

    parts = []
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
                     f'<text x="{PAD_L - 6}" y="{y(v) + 4:.1f}" class="ax" text-anchor="end">{v:.3g}</text>')
    parts.append(f'<text x="{PAD_L - 6}" y="{PAD_T - 10}" class="ax" text-anchor="end">{_esc(unit)}</text>')
    return "".join(parts), y


def _frame(title: str, body: str, note: str = "") -> str:
    return (f'<section><h2>{_esc(title)}</h2><svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
            f'role="img" aria-label="{_esc(title)}">{body}</svg>'
            + (f'<p class="note">{_esc(note)}</p>' if note else "") + "</section>")


def bar_chart(title: str, labels: list[str], values: list[float], unit: str, colour: str = "#2a9d8f",
              back: list[float] | None = None, note: str = "", top: float | None = None) -> str:
    """Bars per label (optionally over lighter ``back`` bars, e.g. side-on time behind in-band time)."""
    if not labels:
        return _frame(title, f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" class="ax">no data yet</text>', note)
    top = top or 1.1 * (max([*values, *(back or []), 0.0]) or 1.0)
    grid, y = _axes(0.0, top, unit)
    n = len(labels)
    slot = (W - PAD_L - PAD_R) / n
    bw = max(2.0, min(40.0, slot * 0.7))
    parts = [grid]
    for i, (lab, v) in enumerate(zip(labels, values)):
        x = PAD_L + slot * (i + 0.5) - bw / 2
        if back is not None:
            parts.append(f'<rect x="{x:.1f}" y="{y(back[i]):.1f}" width="{bw:.1f}" '
                         f'height="{y(0) - y(back[i]):.1f}" class="back"><title>{_esc(lab)}: {back[i]:.3g}</title></rect>')
        parts.append(f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{bw:.1f}" height="{y(0) - y(v):.1f}" '
                     f'fill="{colour}"><title>{_esc(lab)}: {v:.3g} {_esc(unit)}</title></rect>')
        if n <= 14 or i % max(1, n // 10) == 0:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{H - PAD_B + 14}" class="ax" text-anchor="middle">'
                         f'{_esc(lab[5:] if len(lab) == 10 else lab)}</text>')
    return _frame(title, "".join(parts), note)


def line_chart(title: str, xs: list[float], ys: list[float], xlabels: list[str], unit: str,
               band: list[float] | None = None, note: str = "") -> str:
    """Points joined by a line over time (x in days), with an optional shaded band per point."""
    if not xs:
        return _frame(title, f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" class="ax">no data yet</text>', note)
    lo, hi = min(ys), max(ys)
    if band:
        lo, hi = min(lo, *(a - b for a, b in zip(ys, band))), max(hi, *(a + b for a, b in zip(ys, band)))
    pad = 0.1 * (hi - lo or 1.0)
    floor = lo - pad if lo < 0 else max(0.0, lo - pad)  # non-negative series keep a non-negative axis
    grid, y = _axes(floor, hi + pad, unit)
    x0, x1 = min(xs), max(xs)
    span = (x1 - x0) or 1.0

    def x(v: float) -> float:
        return PAD_L + 10 + (W - PAD_L - PAD_R - 20) * ((v - x0) / span if x1 > x0 else 0.5)

    parts = [grid]
    if band:
        up = " ".join(f"{x(a):.1f},{y(b + w):.1f}" for a, b, w in zip(xs, ys, band))
        dn = " ".join(f"{x(a):.1f},{y(b - w):.1f}" for a, b, w in reversed(list(zip(xs, ys, band))))
        parts.append(f'<polygon points="{up} {dn}" class="band"/>')
    parts.append(f'<polyline points="{" ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(xs, ys))}" class="line"/>')
    for a, b, lab in zip(xs, ys, xlabels):
        parts.append(f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="3.5" class="dot"><title>{_esc(lab)}: '
                     f'{b:+.1f} {_esc(unit)}</title></circle>')
    ends = [(xs[0], xlabels[0], "start")] + ([(xs[-1], xlabels[-1], "end")] if x1 > x0 else [])
    for a, lab, anchor in ends:
        parts.append(f'<text x="{x(a):.1f}" y="{H - PAD_B + 14}" class="ax" text-anchor="{anchor}">{_esc(lab)}</text>')
    return _frame(title, "".join(parts), note)


def trends(sessions: list[dict]) -> dict[str, tuple[list, list]]:
    """The numbers behind each chart (also used by tests): name -> (labels, values)."""
    in_band, side_on = defaultdict(float), defaultdict(float)
    rng = defaultdict(list)
    done, started = defaultdict(int), defaultdict(int)
    nudges, watch_h = defaultdict(int), defaultdict(float)
    neutral, find_neutral = ([], []), ([], [])
    for s in sessions:
        d = _day(s)
        if s["kind"] != "batch":  # batch time is clip time, not practice time
            in_band[d] += (s.get("in_band_s") or 0.0) / 60
            side_on[d] += (s.get("side_on_s") or 0.0) / 60
        if s["kind"] == "calibrate" and s.get("neutral_deg") is not None:
            neutral[0].append(local_datetime(s).strftime("%Y-%m-%d %H:%M"))
            neutral[1].append(s["neutral_deg"])
        if s["kind"] == "routine":
            if s.get("find_neutral_error_deg") is not None:
                find_neutral[0].append(local_datetime(s).strftime("%Y-%m-%d %H:%M"))
                find_neutral[1].append(s["find_neutral_error_deg"])
            if s.get("range_deg") is not None:
                rng[_week(s)].append(s["range_deg"])
            for e in s.get("exercises", []):
                started[d] += int(e["started"])
                done[d] += int(e["completed"])
        if s["kind"] == "watch":
            nudges[d] += int(s.get("nudges") or 0)
            watch_h[d] += (s.get("duration_s") or 0.0) / 3600
    days = sorted(side_on)
    rdays = sorted(started)
    wdays = sorted(d for d in watch_h if watch_h[d] > 0)
    return {
        "neutral": neutral,
        "find_neutral": find_neutral,
        "in_band_min": (days, [in_band[d] for d in days]),
        "side_on_min": (days, [side_on[d] for d in days]),
        "range_per_week": (sorted(rng), [sum(rng[w]) / len(rng[w]) for w in sorted(rng)]),
        "routine_completion_pct": (rdays, [100.0 * done[d] / started[d] if started[d] else 0.0 for d in rdays]),
        "nudges_per_hour": (wdays, [nudges[d] / watch_h[d] for d in wdays]),
    }


CSS = """body{font:14px system-ui,sans-serif;margin:24px;color:#222;background:#fafafa;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:15px;margin:0 0 6px}
.grid-2{display:grid;grid-template-columns:repeat(auto-fill,minmax(580px,1fr));gap:14px}
section{background:#fff;border:1px solid #ddd;border-radius:8px;padding:10px 12px}
svg .grid{stroke:#eee}svg .ax{font-size:10px;fill:#666}svg .back{fill:#cfe8e4}
svg .line{fill:none;stroke:#1f4e79;stroke-width:2}svg .dot{fill:#1f4e79}svg .band{fill:#5cb85c;opacity:.15}
.note{color:#666;font-size:12px;margin:4px 0 0}table{border-collapse:collapse;margin-top:14px;background:#fff}
td,th{border:1px solid #ddd;padding:3px 7px;text-align:right;font-size:12px}th{background:#f0f0f0}
td.k{text-align:left}.sum{color:#444;margin:0 0 14px}"""


def _cell(v, fmt: str = "{:.1f}") -> str:
    return "" if v is None else fmt.format(v)


def _days_series(series: tuple[list, list]) -> tuple[list[float], list[float], list[str]]:
    """(x in days, values, date labels) from (["YYYY-mm-dd HH:MM", ...], values)."""
    xs = [(dt.datetime.strptime(a, "%Y-%m-%d %H:%M") - dt.datetime(1970, 1, 1)).total_seconds() / 86400
          for a in series[0]]
    return xs, list(series[1]), [a[:10] for a in series[0]]


def render(sessions: list[dict], profile: str | None = None) -> str:
    """The whole page as a string."""
    t = trends(sessions)
    who = f"profile {profile}" if profile else "all profiles"
    nd = t["neutral"]
    xs, _, _ = _days_series(nd)
    bands = [s.get("band_half_width_deg") or 0.0 for s in sessions
             if s["kind"] == "calibrate" and s.get("neutral_deg") is not None]
    charts = [
        line_chart("Neutral tilt over time (calibrations)", xs, nd[1], [a[:10] for a in nd[0]], "deg", bands,
                   "Your calibrated neutral with its band; a steady line means a consistent stance."),
        bar_chart("Time in band per day", *t["in_band_min"], "min", back=t["side_on_min"][1],
                  note="Minutes side-on inside your neutral band (dark) out of minutes side-on (light)."),
        bar_chart("Isolation range per week", *t["range_per_week"], "deg", "#7b4f9d",
                  note="Mean front-to-back isolation range in routines."),
        bar_chart("Routine completion per day", *t["routine_completion_pct"], "%", "#d9822b",
                  note="Exercises completed of those started.", top=100.0),
        bar_chart("Nudges per hour of watch", *t["nudges_per_hour"], "/h", "#e76f51",
                  note="Fewer is better: sustained tips, slumps or forward head per hour of watching."),
        line_chart("Find-neutral error (routines)", *_days_series(t["find_neutral"]), "deg",
                   note="How far from your calibrated neutral you settled without looking."),
    ]
    total_in = sum(t["in_band_min"][1])
    total_side = sum(t["side_on_min"][1])
    summary = (f"{len(sessions)} sessions, {len(t['side_on_min'][0])} days; side-on {total_side:.0f} min, "
               f"in band {total_in:.0f} min" + (f" ({100 * total_in / total_side:.0f}%)" if total_side else ""))
    cols = ["id", "date", "kind", "profile", "duration", "neutral", "range", "side-on", "in band", "nudges",
            "exercises done", "find-neutral error"]
    rows = []
    for s in reversed(sessions[-200:]):
        ex = s.get("exercises", [])
        rows.append("<tr>" + "".join([
            f"<td>{s['id']}</td>", f"<td class=k>{local_datetime(s):%Y-%m-%d %H:%M}</td>",
            f"<td class=k>{_esc(s['kind'])}</td>", f"<td class=k>{_esc(s.get('profile') or '')}</td>",
            f"<td>{format_duration(s.get('duration_s') or 0)}</td>", f"<td>{_cell(s.get('neutral_deg'), '{:+.1f}')}</td>",
            f"<td>{_cell(s.get('range_deg'))}</td>", f"<td>{format_duration(s.get('side_on_s') or 0)}</td>",
            f"<td>{format_duration(s.get('in_band_s') or 0)}</td>", f"<td>{s.get('nudges') or 0}</td>",
            f"<td>{sum(e['completed'] for e in ex)}/{len(ex)}</td>" if ex else "<td></td>",
            f"<td>{_cell(s.get('find_neutral_error_deg'))}</td>"]) + "</tr>")
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>pelvis-tilt history</title>"
            f"<style>{CSS}</style></head><body><h1>Practice history</h1><p class=sum>{_esc(who)}: "
            f"{_esc(summary)}</p><div class=grid-2>{''.join(charts)}</div>"
            f"<table><thead><tr>{''.join(f'<th>{c}</th>' for c in cols)}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></body></html>")


def write_page(path: str | Path, sessions: list[dict], profile: str | None = None) -> Path:
    """Write the page atomically; `OutputError` if it cannot be written."""
    try:
        with atomic_path(path) as tmp:
            Path(tmp).write_text(render(sessions, profile), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return Path(path)
