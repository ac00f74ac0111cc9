"""Command line for daily practice: ``pelvis-tilt watch`` and ``pelvis-tilt history``."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import time
from collections import Counter

WATCH_EPILOG = """exit codes: 0 watched (the day summary is printed and the session saved to history);
1 bad arguments; 2 the camera, clip, model or profile could not be used"""
HISTORY_EPILOG = """--delete takes session ids, 'all', or 'before:YYYY-MM-DD' (each limited to --profile if given).
exit codes: 0 done; 1 bad arguments; 2 the history database or an output file could not be used"""


def add_parsers(sub, add_source, add_common) -> None:
    """Register ``watch`` and ``history`` on the CLI's subparsers."""
    w = sub.add_parser("watch", help="posture watch while you work: nudges after a sustained forward tip",
                       description="Runs while you work, side-on to the camera, in a small window or headless. "
                                   "Nudges (bell, desktop notification if available, on screen) only after a "
                                   "forward tip, slumped trunk or forward head has lasted --nudge-after seconds, "
                                   "then stays quiet for --quiet seconds. Analyses few frames while all is well "
                                   "and almost none while nobody is in view. Ends (q, Ctrl-C, end of clip) with a "
                                   "day summary.", epilog=WATCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source(w)
    w.add_argument("--profile", metavar="NAME", help="your calibrated neutral (pelvis-tilt calibrate --profile NAME)")
    w.add_argument("--nudge-after", type=float, default=20.0, metavar="S",
                   help="seconds a problem must last before a nudge (default 20)")
    w.add_argument("--quiet", type=float, default=300.0, metavar="S", help="seconds of quiet after a nudge (default 300)")
    w.add_argument("--slump", type=float, default=15.0, metavar="DEG",
                   help="trunk lean forward counted as slumped (default 15)")
    w.add_argument("--head", type=float, default=30.0, metavar="DEG",
                   help="forward head angle counted as a problem (default 30; about 17 when upright)")
    w.add_argument("--no-sound", action="store_true", help="no terminal bell on a nudge")
    w.add_argument("--no-notify", action="store_true", help="no desktop notification on a nudge")
    w.add_argument("--minutes", type=float, metavar="M", help="stop after M minutes")
    add_common(w)

    h = sub.add_parser("history", help="your sessions: table, JSON, CSV, an HTML page of trends; delete",
                       description="Every calibrate, live, routine and watch session (and analyze/batch runs "
                                   "given --profile) is saved, as numbers only, in history.sqlite3 beside the "
                                   "profiles ($PELVIS_TILT_CONFIG overrides the folder).",
                       epilog=HISTORY_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_argument("--profile", metavar="NAME", help="only this profile's sessions")
    h.add_argument("--kind", nargs="+", metavar="KIND",
                   help="only these kinds: calibrate live routine watch analyze batch")
    h.add_argument("--json", action="store_true", help="print the sessions as a JSON list")
    h.add_argument("--csv", metavar="FILE", help="write one row per session")
    h.add_argument("--html", metavar="FILE", help="write a self-contained page of trends")
    h.add_argument("--delete", nargs="+", metavar="SPEC", help="delete sessions: IDs, 'all' or 'before:YYYY-MM-DD'")


# ---------------------------------------------------------------------- watch
def cmd_watch(args) -> int:
    from . import history
    from .settings import from_args
    from .nudges import NudgeSettings, SamplingPlan
    from .session_log import now, tilt_range
    from .watch import WatchSession, summary_line

    for name, v, zero_ok in (("--nudge-after", args.nudge_after, False), ("--quiet", args.quiet, True),
                             ("--band", args.band, False), ("--minutes", args.minutes, False)):
        if v is not None and not (v >= 0 if zero_ok else v > 0):
            print(f"pelvis-tilt watch: error: {name} must be {'>= 0' if zero_ok else '> 0'}", file=sys.stderr)
            return 1
    nudge = NudgeSettings(after_s=args.nudge_after, quiet_s=args.quiet, slump_deg=args.slump, head_deg=args.head)
    plan = SamplingPlan()
    sess = WatchSession(args.source if args.source else args.camera, from_args(args, causal=True), nudge=nudge, plan=plan,
                        window=not args.no_window, realtime=args.realtime, sound=not args.no_sound,
                        notify=not args.no_notify, max_seconds=args.minutes * 60 if args.minutes else None)
    old = signal.signal(signal.SIGTERM, lambda *_: sess.stop())  # logout / kill: still save the day
    started = now()
    try:
        res = sess.run()
    finally:
        signal.signal(signal.SIGTERM, old)
    side_s, band_s = res.side_on_and_in_band_s(plan.away_s + 0.5)
    reasons = Counter(n.reason for n in res.nudges)
    rec = history.SessionRecord(
        kind="watch", started_at=started, duration_s=res.duration_s, profile=args.profile,
        source=str(args.source if args.source else f"camera{args.camera}"), neutral_deg=res.baseline_deg,
        band_half_width_deg=res.band_half_width_deg, side_on_s=side_s, in_band_s=band_s, nudges=len(res.nudges),
        nudge_events=[(n.t, n.reason) for n in res.nudges], range_deg=tilt_range(res.tilt))
    history.record_session(rec)
    load = f", {100 * res.cpu_s / max(res.wall_s, 1e-9):.0f}% of one core" if res.paced else ""  # unpaced: flat out
    print(f"watch ended: {res.ended}; {len(res.t)} frames analysed in {res.duration_s:.0f} s (CPU {res.cpu_s:.1f} s{load})")
    print(summary_line("this session", side_s, band_s, len(res.nudges), reasons))
    print(_today_line(args.profile))
    return 2 if res.ended.startswith(("source failed", "camera stopped")) else 0


def _today_line(profile: str | None) -> str:
    """Today's watch sessions (this one included) from the history, summed."""
    from . import history
    from .history_page import local_datetime
    from .watch import summary_line

    try:
        rows = history.list_sessions(profile=profile, kinds=["watch"])
    except history.HistoryError:
        return "today: (history unavailable)"
    today = dt.datetime.fromtimestamp(time.time()).strftime("%Y-%m-%d")
    rows = [r for r in rows if local_datetime(r).strftime("%Y-%m-%d") == today]
    reasons = Counter(e["reason"] for r in rows for e in r["nudge_events"])
    return summary_line(f"today ({len(rows)} watch session{'s' if len(rows) != 1 else ''})",
                         sum(r["side_on_s"] or 0 for r in rows), sum(r["in_band_s"] or 0 for r in rows),
                         sum(r["nudges"] for r in rows), reasons)


# -------------------------------------------------------------------- history
def _parse_delete(specs: list[str]) -> tuple[list[int], float | None, bool]:
    ids, before, everything = [], None, False
    for s in specs:
        if s == "all":
            everything = True
        elif s.startswith("before:"):
            try:
                before = dt.datetime.strptime(s[7:], "%Y-%m-%d").timestamp()
            except ValueError:
                raise ValueError(f"--delete {s}: expected before:YYYY-MM-DD") from None
        elif s.isdigit():
            ids.append(int(s))
        else:
            raise ValueError(f"--delete {s}: expected a session id, 'all' or 'before:YYYY-MM-DD'")
    return ids, before, everything


def _jsonable(s: dict) -> dict:
    from .history_page import local_datetime

    return {"id": s["id"], "kind": s["kind"], "started": local_datetime(s).isoformat(timespec="seconds"),
            **{k: v for k, v in s.items() if k not in ("id", "kind")}}


def _table(sessions: list[dict]) -> str:
    from .history_page import local_datetime
    from .history_page import format_duration

    head = f"{'id':>4}  {'date':<16} {'kind':<9} {'profile':<10} {'length':>10} {'neutral':>8} {'range':>6} " \
           f"{'in band':>8} {'nudges':>6}  exercises"
    lines = [head]
    for s in sessions:
        share = f"{100 * s['in_band_s'] / s['side_on_s']:.0f}%" if s.get("side_on_s") and s.get("in_band_s") is not None \
            else ""
        ex = s["exercises"]
        done = f"{sum(e['completed'] for e in ex)}/{len(ex)} done, {sum(e['reps'] or 0 for e in ex)} reps" if ex else ""

        def f(v, fmt):
            return fmt.format(v) if v is not None else ""
        lines.append(f"{s['id']:>4}  {local_datetime(s):%Y-%m-%d %H:%M} {s['kind']:<9} {(s['profile'] or '-')[:10]:<10} "
                     f"{format_duration(s['duration_s']):>10} {f(s['neutral_deg'], '{:+.1f}'):>8} "
                     f"{f(s['range_deg'], '{:.1f}'):>6} {share:>8} {s['nudges']:>6}  {done}")
    return "\n".join(lines)


CSV_COLUMNS = ["id", "kind", "started", "duration_s", "profile", "source", "neutral_deg", "band_half_width_deg",
               "range_deg", "side_on_s", "in_band_s", "nudges", "find_neutral_error_deg", "exercises_started",
               "exercises_completed", "reps", "hold_s"]


def _csv_columns(sessions: list[dict]) -> dict[str, list]:
    rows = [_jsonable(s) for s in sessions]
    cols = {c: [r.get(c) if r.get(c) is not None else "" for r in rows] for c in CSV_COLUMNS[:13]}
    cols["exercises_started"] = [sum(e["started"] for e in s["exercises"]) for s in sessions]
    cols["exercises_completed"] = [sum(e["completed"] for e in s["exercises"]) for s in sessions]
    cols["reps"] = [sum(e["reps"] or 0 for e in s["exercises"]) for s in sessions]
    cols["hold_s"] = [sum(e["hold_s"] or 0 for e in s["exercises"]) for s in sessions]
    return cols


def cmd_history(args) -> int:
    from . import history
    from .history import KINDS, HistoryError
    from .history_page import write_page
    from .report import OutputError, write_csv

    if args.kind and set(args.kind) - set(KINDS):
        print(f"pelvis-tilt history: error: --kind takes {', '.join(KINDS)}", file=sys.stderr)
        return 1
    try:
        if args.delete:
            try:
                ids, before, everything = _parse_delete(args.delete)
            except ValueError as exc:
                print(f"pelvis-tilt history: error: {exc}", file=sys.stderr)
                return 1
            n = history.delete_sessions(ids, profile=args.profile, before=before, everything=everything)
            print(f"deleted {n} session{'s' if n != 1 else ''} from {history.db_path()}")
            return 0
        sessions = history.list_sessions(profile=args.profile, kinds=args.kind)
    except HistoryError as exc:
        print(f"pelvis-tilt: error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.csv:
            write_csv(args.csv, _csv_columns(sessions))
        if args.html:
            write_page(args.html, sessions, args.profile)
    except (OutputError, OSError) as exc:
        print(f"pelvis-tilt: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([_jsonable(s) for s in sessions], indent=2))
    elif not (args.csv or args.html):
        print(_table(sessions) if sessions else f"no sessions yet in {history.db_path()}")
    else:
        for what, p in (("csv", args.csv), ("html", args.html)):
            if p:
                print(f"  {what:<5} {p}")
    return 0
