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
    p.add_argument("--band", type=float, default=5.0, metavar="DEG",
                   help="half-width of the neutral band around the baseline (default 5)")


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
    return p


def _band(args):
    from .cues import Band
    from .tilt import TiltModel

    model = TiltModel.load()
    base = args.baseline if args.baseline is not None else model.population_neutral_deg
    return model, Band(baseline=base, half_width=args.band)


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
    from .report import OutputError
    from .sources import SourceError
    from .video_out import VideoWriteError

    try:
        return {"analyze": cmd_analyze}[args.cmd](args)
    except (SourceError, ModelError, OutputError, VideoWriteError) as exc:
        print(f"pelvis-tilt: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pelvis-tilt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
