"""Command line: ``pelvis-tilt analyze CLIP`` and friends."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import session_log  # history of sessions (light: numpy + sqlite3)
from .checks import ExitCode, UsageError

EPILOG = """exit codes: 0 done; 1 bad arguments; 2 an input, output folder, model, camera or display
could not be used; 3 nobody in view (analyze: also never side-on / outline hidden);
4 calibration refused (pelvis moved, too few clear frames); 130 interrupted"""


class _Parser(argparse.ArgumentParser):
    """argparse with the documented usage exit code (1) and a one-line message."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        self.exit(1, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _quiet_native_logs(verbose: bool = False) -> None:
    # MediaPipe/TFLite print INFO lines from C++ to stderr; keep the terminal readable.
    if verbose:
        os.environ["PELVIS_TILT_DEBUG"] = "1"
        return
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    import logging

    # e.g. matplotlib's two-line note when ~/.config is not writable (it copes on its own).
    logging.getLogger("matplotlib").setLevel(logging.ERROR)


# (settings.REFERENCE_S; not imported here: the parser stays light)
REFERENCE_HELP = ("read standing frames against the outline of the first S seconds the clip shows someone standing "
                  "side-on (starting within its first 30 s), as against a calibrated neutral (default 2; 0: each "
                  "frame alone; a profile's outline comes first)")
LIVE_REFERENCE_HELP = ("once you have stood side-on for S seconds (from within the first 30 s), read standing frames "
                       "against the outline of those seconds, as against a calibrated neutral (default 2; 0: each "
                       "frame alone; a profile's outline comes first)")


def _add_verbose(p: argparse.ArgumentParser, default=argparse.SUPPRESS) -> None:
    p.add_argument("--verbose", action="store_true", default=default,
                   help="let MediaPipe / FFmpeg / OpenCV log lines through to the terminal")


def _add_common(p: argparse.ArgumentParser) -> None:
    _add_verbose(p)
    p.add_argument("--model", metavar="TASK", help="pose model: a pose_landmarker_*.task to use instead of the built-in offline bundle")
    p.add_argument("--baseline", type=float, metavar="DEG",
                   help="your neutral tilt in degrees (default: the tilt estimator's population neutral, 10.5)")
    p.add_argument("--band", type=float, default=None, metavar="DEG",
                   help="half-width of the neutral band around the baseline (default 5)")


def _add_source(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--camera", type=int, default=0, metavar="N", help="camera index (default 0)")
    g.add_argument("--source", metavar="CLIP", help="a video file played as if it were the camera")
    p.add_argument("--no-window", action="store_true", help="run headless (no display needed)")
    p.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=None,
                   help="pace a --source clip at its real speed, dropping frames inference cannot keep up with "
                        "(default: on with a window, off headless, where every frame is processed)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="pelvis-tilt",
        description="Check sagittal pelvic tilt from a side-on camera: stand sideways, "
                    "get a 'tuck under' cue when the pelvis tips forward.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from . import __version__
    p.add_argument("--version", action="version", version=f"pelvis-tilt {__version__}")
    _add_verbose(p, default=False)
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)

    a = sub.add_parser("analyze", help="analyse a recorded clip: table, summary, annotated video, plot",
                       description="Analyse a recorded clip of a person standing or moving side-on.\n"
                                   "Writes <stem>.frames.csv, <stem>.summary.json, <stem>.annotated.mp4 "
                                   "and <stem>.tilt.png into --out.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("clip", help="video file (mp4, mov, avi, ...)")
    a.add_argument("--out", default="pelvis_tilt_out", metavar="DIR", help="output folder (default ./pelvis_tilt_out)")
    a.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    a.add_argument("--no-video", action="store_true", help="skip the annotated video (faster)")
    a.add_argument("--no-plot", action="store_true", help="skip the tilt plot")
    a.add_argument("--quiet", action="store_true", help="no progress bar")
    a.add_argument("--profile", metavar="NAME", help="neutral and band from a saved profile; the run is kept in history")
    a.add_argument("--baseline-first", type=float, metavar="S",
                   help="neutral: the median tilt of the clip's own first S seconds (a still start)")
    a.add_argument("--reference-first", type=float, metavar="S", help=REFERENCE_HELP)
    a.add_argument("--whole-frame", action="store_true",
                   help="look for two people in every whole frame instead of following the subject in a crop "
                   "(slower; the reference path: README, Speed)")
    a.add_argument("--follow", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for scripts
    _add_common(a)

    lv = sub.add_parser("live", help="live mirror view with the 'tuck under' cue",
                        description="Stand side-on to the camera. The picture is shown as a mirror with a cue:\n"
                                    "'Tuck under' (tipped forward), 'Good', 'Too tucked', 'Turn sideways', 'Step back'.\n"
                                    "Keys: q/Esc quit, c calibrate neutral, m mirror, space pause, s snapshot, "
                                    "r record, g guided routine, n next exercise, h help.",
                        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_source(lv)
    lv.add_argument("--profile", metavar="NAME", help="use (and on 'c', update) this saved calibration profile")
    lv.add_argument("--record", metavar="OUT.mp4", help="record the overlay video (also writes OUT.frames.csv "
                                                          "and OUT.summary.json)")
    lv.add_argument("--fps", action="store_true", help="show frame rate and capture-to-cue latency")
    lv.add_argument("--sound", action="store_true", help="beep on entering 'Tuck under'")
    lv.add_argument("--no-mirror", action="store_true", help="show the picture unflipped")
    lv.add_argument("--reference-first", type=float, metavar="S", help=LIVE_REFERENCE_HELP)
    lv.add_argument("--max-frames", type=int, metavar="N", help="stop after N processed frames")
    _add_common(lv)

    cal = sub.add_parser("calibrate", help="record your neutral stance into a named profile",
                         description="Countdown, then hold your neutral stance side-on for a few seconds. "
                                     "Saves your baseline tilt and the camera's roll as a profile "
                                     "(used with: pelvis-tilt live --profile NAME). The pelvis must stay still "
                                     "during the hold, or the profile is refused.",
                         epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_source(cal)
    cal.add_argument("--profile", default="default", metavar="NAME", help="profile name (default 'default')")
    cal.add_argument("--countdown", type=float, default=None, metavar="S",
                     help="seconds before the hold starts (default 3 with a camera, 0 with --source)")
    cal.add_argument("--hold", type=float, default=3.0, metavar="S", help="seconds of neutral stance (default 3)")
    cal.add_argument("--range", type=float, default=0.0, metavar="S", dest="range_s",
                     help="then the range step: S seconds tipping forward as far as is comfortable, S seconds "
                          "tucking as far as is comfortable; cues then speak in your own range (try 4)")
    _add_common(cal)

    rt = sub.add_parser("routine", help="guided hip-alignment routine, live or on a recorded clip",
                        description="Leads you through the method's exercises and checks each one: "
                                    "plié-tuck-straighten, front-to-back isolations + find neutral, side-to-side "
                                    "isolations, hip-flexor stretch hold, pelvic lifts, child pose, walking.\n"
                                    "On a recorded clip (--source, headless) every frame is analysed; live, "
                                    "'n' skips to the next exercise.",
                        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_source(rt)
    rt.add_argument("--exercise", nargs="+", metavar="NAME",
                    help="exercises to run, in order (default: all): plie_tuck isolations lateral stretch "
                         "pelvic_lift child_pose walking")
    rt.add_argument("--out", default="pelvis_tilt_out", metavar="DIR", help="where the summary goes")
    rt.add_argument("--profile", metavar="NAME", help="your calibrated neutral")
    rt.add_argument("--baseline-first", type=float, metavar="S",
                    help="on a clip: take neutral from its first S seconds of still stance")
    rt.add_argument("--reference-first", type=float, metavar="S", help=REFERENCE_HELP)
    rt.add_argument("--record", metavar="OUT.mp4", help="live: record the overlay video")
    rt.add_argument("--reps", type=int, default=8, metavar="N", help="isolation reps before 'find neutral' (default 8)")
    rt.add_argument("--hold", type=float, default=30.0, metavar="S", help="stretch / child-pose hold seconds (default 30)")
    rt.add_argument("--lifts", type=int, default=3, metavar="N", help="pelvic lifts (default 3)")
    _add_common(rt)

    pr = sub.add_parser("profiles", help="list saved calibration profiles")
    pr.add_argument("name", nargs="?", help="show one profile")
    _add_verbose(pr)
    _add_batch_parser(sub)
    from . import daily_cli  # watch, history

    daily_cli.add_parsers(sub, _add_source, _add_common)
    return p


BATCH_EPILOG = """exit codes: 0 done (clips that failed have an 'error: ...' status and are counted);
1 bad arguments; 2 no clips, output folder or cluster unusable, another batch is writing into the
same --out, or (with --strict) any clip errored;
130 interrupted (the tables and report hold the clips done so far; rerun to continue)"""


def _add_batch_parser(sub) -> None:
    b = sub.add_parser("batch", help="score many clips (in parallel, resumable, or on a Dask cluster)",
                       description="Score every clip: one row per clip in DIR/scores.csv and scores.json, "
                                   "a sortable DIR/report.html, per-clip files in DIR/clips/. A rerun skips "
                                   "clips already scored whose file and settings are unchanged.",
                       epilog=BATCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, folders (searched recursively) or globs")
    b.add_argument("--out", default="pelvis_tilt_batch", metavar="DIR", help="output folder (default ./pelvis_tilt_batch)")
    b.add_argument("--workers", type=int, metavar="N", help="worker processes (default: number of cores)")
    b.add_argument("--engine", choices=["local", "dask"], default="local",
                   help="local processes (default) or Dask distributed")
    b.add_argument("--cluster", metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 "
                                                        "(implies --engine dask)")
    b.add_argument("--force", action="store_true", help="re-score clips even if their results are up to date")
    b.add_argument("--strict", action="store_true", help="exit 2 if any clip errored")
    b.add_argument("--video", action="store_true", help="also write each clip's annotated video")
    b.add_argument("--plots", action="store_true", help="also write each clip's tilt plot (PNG)")
    b.add_argument("--profile", metavar="NAME", help="neutral baseline and band from a saved calibration profile")
    b.add_argument("--baseline-first", type=float, metavar="S",
                   help="per-clip neutral: the median tilt of each clip's first S seconds")
    b.add_argument("--reference-first", type=float, metavar="S", help=REFERENCE_HELP)
    b.add_argument("--whole-frame", action="store_true",
                   help="look for two people in every whole frame instead of following the subject in a crop "
                   "(slower; the reference path: README, Speed)")
    b.add_argument("--follow", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for scripts
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_common(b)


def cmd_batch(args) -> int:
    from .batch import make_job, run_batch
    from .engines import EngineError

    job = make_job(baseline=args.baseline, band=args.band, profile=args.profile,
                   baseline_first=args.baseline_first, model=args.model, video=args.video, plot=args.plots,
                   follow=not args.whole_frame, reference_s=args.reference_first)
    try:
        res = run_batch(args.inputs, args.out, job, workers=args.workers, engine=args.engine,
                        address=args.cluster, force=args.force, progress=not args.quiet)
    except EngineError as exc:
        _error(str(exc))
        return ExitCode.IO
    for note in res.notes:
        print(f"warning: {note}", file=sys.stderr)
    c = res.counts
    if c["clips"] == 0:
        print("pelvis-tilt: error: no clips to score", file=sys.stderr)
        return 2
    by: dict[str, int] = {}
    for r in res.records:
        by[r["row"]["status"]] = by.get(r["row"]["status"], 0) + 1
    print(f"{len(res.records)}/{c['clips']} clips scored ({c['analysed']} analysed, {c['reused']} unchanged): "
          + ", ".join(f"{k} {v}" for k, v in sorted(by.items())))
    print(f"errors: {c['errors']}")
    if args.profile:
        session_log.record_batch([r["row"] for r in res.records], args.profile)
    print(f"  scores  {res.out / 'scores.csv'}\n  report  {res.out / 'report.html'}")
    if res.interrupted:
        print("pelvis-tilt: interrupted; rerun the same command to continue", file=sys.stderr)
        return 130
    return 2 if args.strict and c["errors"] else 0


def _settings(args, causal: bool, profile: bool = True):
    from .settings import NeutralSource, from_args

    s = from_args(args, causal, profile)
    if s.neutral.source == NeutralSource.PROFILE and s.neutral.outline is None and s.estimator().trees is not None:
        # a profile from before the neutral outline (or another estimator): it works, less well
        print(f"note: profile {s.neutral.profile!r} has no neutral outline for this version; calibrate it again "
              f"(pelvis-tilt calibrate --profile {s.neutral.profile}) to read standing frames against it",
              file=sys.stderr)
    return s


def _session(args, profile: bool = True, **kw):
    from .live import LiveSession

    src = args.source if args.source else args.camera
    return LiveSession(src, _settings(args, causal=True, profile=profile), window=not args.no_window,
                       realtime=args.realtime, profile_name=getattr(args, "profile", None) or "default", **kw)


def _print_session(summary: dict) -> None:
    for msg in summary["messages"]:
        print(msg)
    print(f"session: {summary['frames_processed']} frames processed ({summary['frames_dropped']} dropped), "
          f"ended: {summary['ended']}; neutral {summary['pct_neutral']:.0f}%, anterior {summary['pct_anterior']:.0f}%, "
          f"posterior {summary['pct_posterior']:.0f}%; median latency {summary['latency_ms_median']:.0f} ms")


def _error(msg: str) -> None:
    print(f"pelvis-tilt: error: {msg}", file=sys.stderr)


NOBODY = "nobody was in view: stand in the camera's picture, side-on, hips to feet visible"


def cmd_live(args) -> int:
    # With --record the session writes OUT.frames.csv and OUT.summary.json beside the video,
    # whatever ends it (even Ctrl-C).
    sess = _session(args, record=args.record, show_fps=args.fps, sound=args.sound, mirror=not args.no_mirror,
                    max_frames=args.max_frames)
    summary = sess.run()
    _print_session(summary)
    session_log.record_live("live", summary, sess.table(), args.profile)
    if summary["ended"].startswith("source failed"):
        _error(summary["ended"])
        return ExitCode.IO
    if summary["frames_processed"] and not summary["frames_with_person"]:
        _error(NOBODY)
        return ExitCode.NOTHING_MEASURED
    return ExitCode.OK


def _clip_seconds(path: str) -> float | None:
    """A clip's length from its header (None if unknown)."""
    from .sources import VideoSource

    with VideoSource(path) as src:
        n, fps = src.info.frame_count, src.info.fps
    return n / fps if n > 0 and fps > 0 else None


def cmd_calibrate(args) -> int:
    from .calibrate import CalibrationError

    countdown = args.countdown if args.countdown is not None else (0.0 if args.source else 3.0)
    if args.source:
        length = _clip_seconds(args.source)
        if length is not None and countdown + args.hold > length + 1e-6:
            fit = max(round(length - 0.3, 1), 0.5)
            raise UsageError(f"the clip is {length:.1f} s long, shorter than the {countdown:g} s countdown + "
                             f"{args.hold:g} s hold: use " + ("--countdown 0 " if countdown else "") + f"--hold {fit:g}")
    sess = _session(args, profile=False, calibrate_only=True, countdown_s=countdown, hold_s=args.hold,
                    range_s=args.range_s)
    summary = sess.run()
    _print_session(summary)
    session_log.record_live("calibrate", summary, sess.table(), args.profile)
    if sess.profile is not None:
        return ExitCode.OK
    fail = sess.calibration_error
    if isinstance(fail, CalibrationError):
        _error(f"calibration refused: {fail}")
        return ExitCode.NOTHING_MEASURED if fail.kind == "nobody" else ExitCode.CALIBRATION_REFUSED
    if summary["ended"].startswith("source failed"):
        _error(summary["ended"])
        return ExitCode.IO
    why = summary["ended"]
    if why == "end of clip":
        why += (f": the clip ended before the {countdown:g} s countdown and {args.hold:g} s hold were over"
                " (shorten them with --countdown/--hold)")
    _error(f"calibration did not complete ({why})")
    return ExitCode.CALIBRATION_REFUSED


def _fmt_value(v) -> str:
    """Routine results for people: 14.2, (1.5, 0.3), not 14.161649404986472."""
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_fmt_value(x) for x in v) + ")"
    return str(v)


def cmd_routine(args) -> int:
    from .report import write_json
    from .routine import RoutineRunner, clip_files, plot_routine, run_on_clip

    names = args.exercise
    RoutineRunner(names)  # unknown names fail here (bad arguments), before the profile or any work
    settings = _settings(args, causal=False)
    exercise_settings = {"reps": args.reps, "hold_s": args.hold, "lifts": args.lifts, "own_range": settings.own_range}
    if args.source and args.no_window:  # a recording: every frame, the clip pipeline, MediaPipe once
        s = run_on_clip(args.source, args.out, names, settings, record=args.record, **exercise_settings)
        session_log.record_routine_clip(s, args.profile)
        files = s["outputs"]
    else:
        runner = RoutineRunner(names, **exercise_settings)
        sess = _session(args, routine=runner, record=args.record)
        s = sess.run()
        _print_session(s)
        files = clip_files(args.out, args.source or "live")
        sess.write_table(files["frames_csv"])
        plot_routine(files["plot"], runner, "routine", sess.settings.band_half_width_deg)
        write_json(files["summary"], s)
        session_log.record_live("routine", s, sess.table(), args.profile, routine=s["routine"])
        if args.record:
            files["video"] = args.record
    nobody = s["frames"] > 0 and s["status"] == "no-person"
    routine = s["routine"]
    for e in routine["exercises"]:
        if not e["started"]:
            continue
        bits = [f"{k}={_fmt_value(v)}" for k, v in e.items() if k not in (
            "name", "title", "started", "rep_times_s", "segments_s", "ranges_deg", "reach_pct", "peaks", "message")]
        print(f"{e['title']}: " + ", ".join(bits))
        if e.get("message"):
            print(f"  {e['message']}")
    if not any(e["started"] for e in routine["exercises"]) and not nobody:
        print("no exercise was recognised in this session")
    print(f"time in neutral band: {routine['time_in_neutral_band_s']:.1f} s")
    for k, v in files.items():
        print(f"  {k:<11} {v}")
    if nobody:
        _error(NOBODY)
        return ExitCode.NOTHING_MEASURED
    return ExitCode.OK


def cmd_profiles(args) -> int:
    from dataclasses import asdict

    from .profiles import list_profiles, load_profile

    if args.name:
        print(json.dumps(asdict(load_profile(args.name)), indent=2))
        return 0
    names = list_profiles()
    for n in names:
        p = load_profile(n)
        print(f"{n:<16} neutral {p.baseline_deg:+.1f} deg  band +-{p.band_half_width_deg:.1f}  "
              f"camera roll {p.roll_deg:+.1f} pitch {p.pitch_deg:+.0f}  ({p.created})".replace("+nan", "n/a"))
    if not names:
        print("no profiles yet: pelvis-tilt calibrate --profile NAME")
    return 0


def cmd_analyze(args) -> int:
    from .analyze import analyze_clip

    res = analyze_clip(args.clip, args.out, _settings(args, causal=False), annotate=not args.no_video,
                       plot=not args.no_plot,
                       progress=not args.quiet and not args.json and sys.stderr.isatty())
    s = res.summary
    if args.profile:
        session_log.record_analysis(s, args.profile)
    if args.json:
        from .report import to_jsonable
        print(json.dumps(to_jsonable(s), indent=2))
    else:
        for wmsg in s["warnings"]:
            print(f"warning: {wmsg}", file=sys.stderr)
        if s["status"] == "ok":
            flag = "" if s.get("reliable", True) else "UNRELIABLE (see warnings): "
            print(f"{Path(args.clip).name}: {flag}tilt median {s['tilt_median_deg']:+.1f} deg "
                  f"(p10 {s['tilt_p10_deg']:+.1f}, p90 {s['tilt_p90_deg']:+.1f}); "
                  f"anterior {s['pct_anterior']:.0f}% / neutral {s['pct_neutral']:.0f}% / posterior {s['pct_posterior']:.0f}% "
                  f"of side-on time; alignment score {s['alignment_score']:.0f}/100")
        else:
            print(f"{Path(args.clip).name}: nothing measured: {s['message']} [{s['status']}]")
        for k, v in res.outputs.items():
            print(f"  {k:<11} {v}")
    return ExitCode.OK if s["status"] == "ok" else ExitCode.NOTHING_MEASURED


COMMANDS = {"analyze": "cmd_analyze", "live": "cmd_live", "calibrate": "cmd_calibrate",
            "routine": "cmd_routine", "profiles": "cmd_profiles", "batch": "cmd_batch"}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_native_logs(bool(getattr(args, "verbose", False)))
    if not args.cmd:
        parser.print_help()
        return ExitCode.USAGE
    from .memory import release_large_buffers
    from .quiet import NativeLogFilter

    release_large_buffers()
    with NativeLogFilter(enabled=not args.verbose):
        return _run(args)


def _run(args) -> int:
    from .checks import DisplayError, validate
    from .engines import EngineError
    from .model import ModelError
    from .profiles import ProfileError
    from .report import OutputError
    from .routine import UnknownExercise
    from .sources import SourceError
    from .video_out import VideoWriteError

    try:
        from . import daily_cli

        validate(args)
        handlers = {**{k: globals()[v] for k, v in COMMANDS.items()},
                    "watch": daily_cli.cmd_watch, "history": daily_cli.cmd_history}
        return int(handlers[args.cmd](args))
    except (UsageError, UnknownExercise) as exc:
        _error(str(exc))
        return ExitCode.USAGE
    except (SourceError, ModelError, OutputError, VideoWriteError, ProfileError, DisplayError, EngineError) as exc:
        _error(str(exc))
        return ExitCode.IO
    except OSError as exc:  # a file system refusing a write we did not foresee: still one line
        _error(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return ExitCode.IO
    except KeyboardInterrupt:
        print("pelvis-tilt: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
