"""Command line: ``pelvis-tilt analyze CLIP`` and friends."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EPILOG = """exit codes: 0 done; 1 bad arguments; 2 input or model could not be read;
3 clip analysed but nothing measured (nobody seen, never side-on, outline hidden)"""


def _quiet_native_logs() -> None:
    # MediaPipe/TFLite print INFO lines from C++ to stderr; keep the terminal readable.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="TASK", help="pose_landmarker_*.task to use instead of the built-in offline bundle")
    p.add_argument("--baseline", type=float, metavar="DEG",
                   help="your neutral tilt in degrees (default: population neutral, 10)")
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
    p = argparse.ArgumentParser(
        prog="pelvis-tilt",
        description="Check sagittal pelvic tilt from a side-on camera: stand sideways, "
                    "get a 'tuck under' cue when the pelvis tips forward.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from . import __version__
    p.add_argument("--version", action="version", version=f"pelvis-tilt {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

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
    _add_common(a)

    lv = sub.add_parser("live", help="live mirror view with the 'tuck under' cue",
                        description="Stand side-on to the camera. The picture is shown as a mirror with a cue:\n"
                                    "'Tuck under' (tipped forward), 'Good', 'Too tucked', 'Turn sideways', 'Step back'.\n"
                                    "Keys: q/Esc quit, c calibrate neutral, m mirror, space pause, s snapshot, "
                                    "r record, h help.",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_source(lv)
    lv.add_argument("--profile", metavar="NAME", help="use (and on 'c', update) this saved calibration profile")
    lv.add_argument("--record", metavar="OUT.mp4", help="record the overlay video (also writes OUT.frames.csv "
                                                          "and OUT.summary.json)")
    lv.add_argument("--fps", action="store_true", help="show frame rate and capture-to-cue latency")
    lv.add_argument("--sound", action="store_true", help="beep on entering 'Tuck under'")
    lv.add_argument("--no-mirror", action="store_true", help="show the picture unflipped")
    lv.add_argument("--max-frames", type=int, metavar="N", help="stop after N processed frames")
    _add_common(lv)

    cal = sub.add_parser("calibrate", help="record your neutral stance into a named profile",
                         description="Countdown, then hold your neutral stance side-on for a few seconds. "
                                     "Saves your baseline tilt and the camera's roll as a profile "
                                     "(used with: pelvis-tilt live --profile NAME).")
    _add_source(cal)
    cal.add_argument("--profile", default="default", metavar="NAME", help="profile name (default 'default')")
    cal.add_argument("--countdown", type=float, default=3.0, metavar="S", help="seconds before recording (default 3)")
    cal.add_argument("--hold", type=float, default=3.0, metavar="S", help="seconds of neutral stance (default 3)")
    _add_common(cal)

    pr = sub.add_parser("profiles", help="list saved calibration profiles")
    pr.add_argument("name", nargs="?", help="show one profile")
    return p


def _band(args, profile=None):
    from .cues import Band
    from .tilt import TiltModel

    model = TiltModel.load()
    base = model.population_neutral_deg
    half = 5.0
    if profile is not None:
        base, half = profile.baseline_deg, profile.band_half_width_deg
    if args.baseline is not None:
        base = args.baseline
    if args.band is not None:
        half = args.band
    return model, Band(baseline=base, half_width=half)


def _session(args, **kw):
    from .live import LiveSession
    from .profiles import load_profile

    prof = None
    name = getattr(args, "profile", None)
    if name and args.cmd == "live":
        prof = load_profile(name)
    model, band = _band(args, prof)
    src = args.source if args.source else args.camera
    return LiveSession(src, model=args.model, tilt_model=model, band=band, roll_deg=prof.roll_deg if prof else 0.0,
                       window=not args.no_window, realtime=args.realtime, profile_name=name or "default", **kw)


def _print_session(summary: dict) -> None:
    for msg in summary["messages"]:
        print(msg)
    print(f"session: {summary['frames_processed']} frames processed ({summary['frames_dropped']} dropped), "
          f"ended: {summary['ended']}; neutral {summary['pct_neutral']:.0f}%, anterior {summary['pct_anterior']:.0f}%, "
          f"posterior {summary['pct_posterior']:.0f}%; median latency {summary['latency_ms_median']:.0f} ms")


def cmd_live(args) -> int:
    from .report import write_json

    sess = _session(args, record=args.record, show_fps=args.fps, sound=args.sound, mirror=not args.no_mirror,
                    max_frames=args.max_frames)
    summary = None
    try:
        summary = sess.run()
    finally:
        # Whatever ended the session (even Ctrl-C), keep the table and summary so far.
        if args.record:
            stem = Path(args.record).with_suffix("")
            if sess.rows:
                sess.write_table(f"{stem}.frames.csv")
            if summary is not None:
                write_json(f"{stem}.summary.json", summary)
    _print_session(summary)
    return 0 if not summary["ended"].startswith("source failed") else 2


def cmd_calibrate(args) -> int:
    sess = _session(args, calibrate_only=True, countdown_s=args.countdown, hold_s=args.hold)
    summary = sess.run()
    _print_session(summary)
    if sess.profile is None:
        print("pelvis-tilt: error: calibration did not complete"
              + ("" if any("calibration failed" in m for m in summary["messages"]) else f" ({summary['ended']})"),
              file=sys.stderr)
        return 3
    return 0


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
              f"roll {p.roll_deg:+.1f}  ({p.created})")
    if not names:
        print("no profiles yet: pelvis-tilt calibrate --profile NAME")
    return 0


def cmd_analyze(args) -> int:
    from .analyze import EXIT_NOTHING_MEASURED, EXIT_OK, analyze_clip

    model, band = _band(args)
    res = analyze_clip(args.clip, args.out, model=args.model, tilt_model=model, band=band,
                       annotate=not args.no_video, plot=not args.no_plot,
                       progress=not args.quiet and not args.json and sys.stderr.isatty())
    s = res.summary
    if args.json:
        from .report import to_jsonable
        print(json.dumps(to_jsonable(s), indent=2))
    else:
        for wmsg in s["warnings"]:
            print(f"warning: {wmsg}", file=sys.stderr)
        if s["status"] == "ok":
            print(f"{Path(args.clip).name}: tilt median {s['tilt_median_deg']:+.1f} deg "
                  f"(p10 {s['tilt_p10_deg']:+.1f}, p90 {s['tilt_p90_deg']:+.1f}); "
                  f"anterior {s['pct_anterior']:.0f}% / neutral {s['pct_neutral']:.0f}% / posterior {s['pct_posterior']:.0f}% "
                  f"of side-on time; alignment score {s['alignment_score']:.0f}/100")
        else:
            print(f"{Path(args.clip).name}: nothing measured: {s['message']} [{s['status']}]")
        for k, v in res.outputs.items():
            print(f"  {k:<11} {v}")
    return EXIT_OK if s["status"] == "ok" else EXIT_NOTHING_MEASURED


def main(argv: list[str] | None = None) -> int:
    _quiet_native_logs()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.cmd:
        parser.print_help()
        return 1
    from .model import ModelError
    from .profiles import ProfileError
    from .report import OutputError
    from .sources import SourceError
    from .video_out import VideoWriteError

    try:
        return {"analyze": cmd_analyze, "live": cmd_live, "calibrate": cmd_calibrate,
                "profiles": cmd_profiles}[args.cmd](args)
    except (SourceError, ModelError, OutputError, VideoWriteError, ProfileError) as exc:
        print(f"pelvis-tilt: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pelvis-tilt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
