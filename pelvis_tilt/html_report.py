"""The batch report: one self-contained HTML file (inline CSS, JS, SVG; images as data URIs).

Opens offline, from a file:// URL or an e-mail attachment.  The table sorts on
a header click; ``report.html#sort=alignment_score`` (or ``#sort=-alignment_score``,
descending) opens it sorted, which is also how the headless-browser test checks it.
"""
from __future__ import annotations

import base64
import html
import math
import os
import time
import urllib.parse
from pathlib import Path

from . import report
from .results import Status

# (key, header, tooltip); key = data attribute used for sorting
COLUMNS = [
    ("index", "#", "input order"),
    ("thumb", "", ""),
    ("path", "clip", "clip path; links: the clip (or its annotated video), the tilt plot, the summary"),
    ("status", "status", "ok, no-person, not-side-on, no-reliable-tilt or error"),
    ("alignment_score", "score", "alignment score 0-100"),
    ("spark", "tilt over time", "smoothed tilt while side-on; green = neutral band"),
    ("tilt_median_deg", "tilt", "median pelvic tilt, degrees (+ anterior)"),
    ("tilt_p10_deg", "p10–p90", "10th to 90th percentile of tilt"),
    ("change_from_neutral_deg", "Δ neutral", "median tilt minus the personal neutral (profile / first seconds / --baseline)"),
    ("pct_anterior", "ant / neu / post %", "share of side-on time anterior / neutral / posterior"),
    ("duration_s", "s", "duration, seconds"),
    ("frames", "frames", "frames decoded"),
    ("detected_fraction", "detected", "share of frames with a person"),
    ("side_on_fraction", "side-on", "share of frames with the subject side-on"),
    ("elapsed_s", "time s", "seconds it took to score"),
]
UNSORTABLE = {"thumb", "spark"}

CSS = """
body{font:13px/1.35 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2733;background:#fafbfc}
h1{font-size:20px;margin:0 0 4px} .meta{color:#5a6877;margin-bottom:16px}
.top{display:flex;gap:32px;align-items:flex-start;flex-wrap:wrap;margin-bottom:16px}
.counts td{padding:1px 10px 1px 0}
table.scores{border-collapse:collapse;background:#fff;box-shadow:0 1px 3px #0002}
table.scores th{position:sticky;top:0;background:#1f4e79;color:#fff;padding:5px 5px;font-weight:600;
  text-align:left;white-space:normal;user-select:none;font-size:12px}
table.scores th.sortable{cursor:pointer} table.scores th.sortable:hover{background:#2d6aa3}
table.scores th.asc::after{content:" ▲"} table.scores th.desc::after{content:" ▼"}
table.scores td{padding:3px 5px;border-bottom:1px solid #e3e8ee;vertical-align:middle;white-space:nowrap}
table.scores tr:hover td{background:#f2f7fc}
td.num{text-align:right;font-variant-numeric:tabular-nums} td.path{max-width:170px;overflow:hidden;text-overflow:ellipsis}
td.status{max-width:130px;overflow:hidden;text-overflow:ellipsis}
.links{font-size:11px} .links a{color:#2d6aa3}
.st{padding:1px 7px;border-radius:9px;font-size:12px} .st-ok{background:#d8f0dc;color:#1d6b2c}
.st-error{background:#f8d7da;color:#8a1c24} .st-warn{background:#fff1c9;color:#7a5a00}
img.thumb{display:block;height:44px;border-radius:3px} .score{font-weight:700}
.note{color:#5a6877;font-size:12px;margin-top:10px}
"""

JS = """
(function(){
  var table=document.getElementById('scores'), body=table.tBodies[0];
  function val(tr,key){var td=tr.querySelector('td[data-key="'+key+'"]');return td?td.getAttribute('data-v'):'';}
  function sortBy(key,desc){
    var rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){
      var x=val(a,key), y=val(b,key);
      if(x===''&&y==='')return (+val(a,'index'))-(+val(b,'index'));
      if(x==='')return 1; if(y==='')return -1;   // empty cells last, either direction
      var nx=Number(x), ny=Number(y);
      var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);
      if(c===0)c=(+val(a,'index'))-(+val(b,'index'));
      return desc?-c:c;
    });
    rows.forEach(function(r){body.appendChild(r);});
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th){
      th.classList.remove('asc','desc');
      if(th.getAttribute('data-key')===key)th.classList.add(desc?'desc':'asc');
    });
    table.setAttribute('data-sorted',(desc?'-':'')+key);
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th){
    if(!th.classList.contains('sortable'))return;
    th.addEventListener('click',function(){
      var key=th.getAttribute('data-key'), desc=th.classList.contains('asc');
      sortBy(key,desc);
      history.replaceState(null,'','#sort='+(desc?'-':'')+key);
    });
  });
  function fromHash(){
    // Goes through the header's own click handler (once = ascending, twice = descending),
    // so opening report.html#sort=-alignment_score exercises exactly what a click does.
    var m=/sort=(-?)([A-Za-z0-9_]+)/.exec(location.hash);
    if(!m||table.getAttribute('data-sorted')===m[1]+m[2])return;
    var th=table.tHead.querySelector('th.sortable[data-key="'+m[2]+'"]');
    if(!th)return;
    th.classList.remove('asc','desc');
    th.click();
    if(m[1]==='-')th.click();
  }
  window.addEventListener('hashchange',fromHash);
  fromHash();
  // How wide the page really is (a test reads it; the table must fit a 1280 px window).
  function measure(){document.body.setAttribute('data-scroll-width',document.documentElement.scrollWidth);}
  window.addEventListener('resize',measure); measure();
})();
"""


def _num(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def _fmt(v, digits: int = 1, scale: float = 1.0, suffix: str = "") -> tuple[str, str]:
    """(shown text, sort value) for a number; ('', '') when missing."""
    f = _num(v)
    if not math.isfinite(f):
        return "", ""
    text = f"{f * scale:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")   # no "-0.0"
    return text + suffix, repr(round(f, 6))


def sparkline(spark: dict, lo: float, hi: float, w: int = 130, h: int = 34) -> str:
    """Inline SVG of tilt over time with the neutral band [lo, hi] shaded; gaps stay gaps."""
    t, v = spark.get("t", []), spark.get("tilt", [])
    vals = [x for x in v if x is not None]
    if not t or not vals:
        return f'<svg width="{w}" height="{h}" role="img" aria-label="no tilt"></svg>'
    y0, y1 = min(min(vals), lo) - 2, max(max(vals), hi) + 2
    t0, t1 = t[0], max(t[-1], t[0] + 1e-6)

    def X(x: float) -> float:
        return 2 + (w - 4) * (x - t0) / (t1 - t0)

    def Y(y: float) -> float:
        return 2 + (h - 4) * (y1 - y) / (y1 - y0)

    segs, cur = [], []
    for x, y in zip(t, v):
        if y is None:
            if cur:
                segs.append(cur)
            cur = []
        else:
            cur.append(f"{X(x):.1f},{Y(y):.1f}")
    if cur:
        segs.append(cur)
    lines = "".join(f'<polyline points="{" ".join(s)}" fill="none" stroke="#1f4e79" stroke-width="1.5"/>'
                    if len(s) > 1 else f'<circle cx="{s[0].split(",")[0]}" cy="{s[0].split(",")[1]}" r="1.5" fill="#1f4e79"/>'
                    for s in segs)
    band = f'<rect x="0" y="{Y(hi):.1f}" width="{w}" height="{Y(lo) - Y(hi):.1f}" fill="#5cb85c" opacity="0.22"/>'
    title = f"<title>tilt {min(vals):.1f}° to {max(vals):.1f}°, neutral band {lo:.1f}–{hi:.1f}°</title>"
    return f'<svg class="spark" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">{title}{band}{lines}</svg>'


def histogram(scores: list[float], w: int = 380, h: int = 160) -> str:
    """Inline SVG: how many clips fall in each 10-point band of the alignment score."""
    bins = [0] * 10
    for s in scores:
        bins[min(int(s // 10), 9)] += 1
    top = max(bins) or 1
    left, bottom, top_pad, bw = 28, 22, 32, (w - 28 - 18) / 10
    ph = h - bottom - top_pad
    parts = [f'<text x="{w / 2}" y="12" text-anchor="middle" font-size="12" fill="#334">'
             f'alignment score distribution ({len(scores)} clips with a score)</text>']
    for i, n in enumerate(bins):
        bh = ph * n / top
        x, y = left + i * bw, top_pad + ph - bh
        col = "#5cb85c" if i >= 8 else "#f0ad4e" if i >= 5 else "#d9534f"
        parts.append(f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{bw - 2:.1f}" height="{bh:.1f}" fill="{col}">'
                     f'<title>{i * 10}–{i * 10 + 10}: {n} clips</title></rect>')
        if n:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{y - 2:.1f}" text-anchor="middle" font-size="10">{n}</text>')
    for i in range(0, 11, 2):
        x = left + i * bw
        parts.append(f'<text x="{x:.1f}" y="{h - 8}" text-anchor="middle" font-size="10" fill="#556">{i * 10}</text>')
    parts.append(f'<line x1="{left}" y1="{top_pad + ph}" x2="{w - 8}" y2="{top_pad + ph}" stroke="#889"/>')
    return f'<svg id="score-hist" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">{"".join(parts)}</svg>'


def _status_class(status: str) -> str:
    return {Status.OK.value: "st-ok", Status.ERROR.value: "st-error"}.get(status, "st-warn")


def _thumb_uri(clips_dir: Path, rec: dict) -> str:
    if not rec.get("thumb"):
        return ""
    p = clips_dir / rec.get("key", "") / rec["thumb"]
    try:
        return "data:image/jpeg;base64," + base64.b64encode(p.read_bytes()).decode()
    except OSError:
        return ""


def _rel(target: Path, start: Path) -> str:
    """A link from the report's folder to ``target`` (relative, so the folder can move; URL-quoted)."""
    try:
        rel = os.path.relpath(target, start)
    except ValueError:   # another drive (Windows)
        return target.resolve().as_uri()
    return urllib.parse.quote(Path(rel).as_posix())


def _links(report_dir: Path | None, clips_dir: Path, rec: dict) -> str:
    """Links under a row's clip name: the video (annotated if written, else the clip itself),
    the tilt plot (if written) and the clip's summary."""
    r = rec["row"]
    start = report_dir or clips_dir.parent
    folder = clips_dir / rec.get("key", "")
    stem = Path(r["path"]).stem
    links = []
    annotated = folder / f"{stem}.annotated.mp4"
    if annotated.is_file():
        links.append(("video", annotated))
    elif Path(r["path"]).is_file():
        links.append(("video", Path(os.path.realpath(r["path"]))))
    for label, name in (("plot", f"{stem}.tilt.png"), ("summary", f"{stem}.summary.json")):
        if (folder / name).is_file():
            links.append((label, folder / name))
    if not links:
        return ""
    return '<div class="links">' + " · ".join(
        f'<a href="{html.escape(_rel(p, start))}">{label}</a>' for label, p in links) + "</div>"


def render(records: list[dict], clips_dir: Path, job, counts: dict, report_dir: Path | None = None) -> str:
    """The whole HTML document as a string (``job``: the `batch_worker.BatchJob`)."""
    e = html.escape
    st_ = job.settings
    neutral = st_.neutral
    heads = "".join(
        f'<th data-key="{k}" title="{e(tip)}" class="{"" if k in UNSORTABLE else "sortable"}">{e(label)}</th>'
        for k, label, tip in COLUMNS)
    body = []
    for i, rec in enumerate(records):
        r = rec["row"]
        cells: dict[str, str] = {}

        def td(key: str, shown: str, v: str, cls: str = "num", attrs: str = "") -> None:
            cells[key] = f'<td data-key="{key}" data-v="{e(v)}" class="{cls}"{attrs}>{shown}</td>'

        td("index", str(i + 1), str(i))
        uri = _thumb_uri(clips_dir, rec)
        img = f'<img class="thumb" alt="frame" src="{uri}">' if uri else ""
        cells["thumb"] = f'<td data-key="thumb">{img}</td>'
        td("path", e(Path(r["path"]).name) + _links(report_dir, clips_dir, rec), r["path"], "path",
           f' title="{e(r["path"])}"')
        st = str(r["status"])
        if st == "ok" and r.get("reliable") is False:
            st = "ok (unreliable)"
        tip = str(r.get("message", "")) or st
        td("status", f'<span class="st {_status_class(st)}" title="{e(tip)}">{e(st)}</span>', st, "status")
        for key, dig, sc, suf in (("duration_s", 1, 1, ""), ("frames", 0, 1, ""), ("detected_fraction", 0, 100, "%"),
                                  ("side_on_fraction", 0, 100, "%"), ("tilt_median_deg", 1, 1, "°")):
            td(key, *_fmt(r.get(key), dig, sc, suf))
        p10, p90 = _fmt(r.get("tilt_p10_deg")), _fmt(r.get("tilt_p90_deg"))
        td("tilt_p10_deg", f"{p10[0]} – {p90[0]}" if p10[0] else "", p10[1])
        d = _fmt(r.get("change_from_neutral_deg"), 1, 1, "°")
        td("change_from_neutral_deg", ("+" if d[0] and not d[0].startswith("-") else "") + d[0], d[1])
        a, n, p = (_fmt(r.get(k), 0)[0] for k in ("pct_anterior", "pct_neutral", "pct_posterior"))
        td("pct_anterior", f"{a} / {n} / {p}" if a else "", _fmt(r.get("pct_anterior"))[1])
        s = _fmt(r.get("alignment_score"), 0)
        td("alignment_score", f'<span class="score">{s[0]}</span>', s[1])
        base, half = _num(r.get("baseline_deg")), _num(r.get("band_half_width_deg"))
        if not math.isfinite(base):
            base, half = neutral.baseline_deg, st_.band_half_width_deg
        cells["spark"] = f'<td data-key="spark">{sparkline(rec.get("spark", {}), base - half, base + half)}</td>'
        td("elapsed_s", *_fmt(r.get("elapsed_s"), 1))
        body.append(f'<tr data-path="{e(r["path"])}">{"".join(cells[k] for k, _, _ in COLUMNS)}</tr>')
    scores = [s for s in (_num(rec["row"].get("alignment_score")) for rec in records) if math.isfinite(s)]
    statuses: dict[str, int] = {}
    for rec in records:
        k = str(rec["row"]["status"])
        statuses[k] = statuses.get(k, 0) + 1
    count_rows = "".join(f"<tr><td>{e(k)}</td><td class=num>{v}</td></tr>" for k, v in sorted(statuses.items()))
    band_text = (f"neutral band {neutral.baseline_deg:g}° ± {st_.band_half_width_deg:g}°" if neutral.first_s is None else
                 f"neutral = median tilt of each clip's first {neutral.first_s:g} s ± {st_.band_half_width_deg:g}°")
    done = len(records)
    partial = "" if done == counts.get("clips", done) else \
        f' — <b>partial: {done} of {counts["clips"]} clips</b>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>pelvis_tilt batch report</title><style>{CSS}</style></head>
<body>
<h1>Pelvic tilt — batch report</h1>
<div class="meta">{done} clips{partial} · {e(band_text)} ({e(neutral.label)}) · tilt estimator {e(st_.estimator().kind)} ·
generated {time.strftime("%Y-%m-%d %H:%M")}</div>
<div class="top"><div>{histogram(scores)}</div>
<table class="counts"><tbody>{count_rows}</tbody></table></div>
<table id="scores" class="scores"><thead><tr>{heads}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
<div class="note">Click a header to sort (again to reverse). Tilt: + anterior (tipped forward), − posterior.
Score: 100 inside the neutral band, falling to 0 one band-width beyond it. Per-clip files are in <code>clips/</code>.</div>
<script>{JS}</script>
</body></html>
"""


def write_report(path: str | Path, records: list[dict], clips_dir: Path, job, counts: dict) -> Path:
    with report.atomic_path(path) as tmp:
        Path(tmp).write_text(render(records, clips_dir, job, counts, Path(path).parent), encoding="utf-8")
    return Path(path)
