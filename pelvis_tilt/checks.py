"""Exit codes and the argument / output checks every command runs before any work.

Each check raises `UsageError` (a value that makes no sense, exit 1) or
`report.OutputError` (a place that cannot be written, exit 2) with a one-line
message, so the same rule gives the same message in every command, before any
countdown, model loading or processing.
"""
from __future__ import annotations

import math
import os
import sys
from enum import IntEnum
from pathlib import Path

from .report import OutputError, ensure_writable_dir

RECORD_EXTS = (".mp4", ".avi", ".mov", ".mkv")


class ExitCode(IntEnum):
    """Documented process exit codes (README: "Exit codes")."""

    OK = 0
    USAGE = 1               # bad arguments: unknown option, nonsense value, bad profile name
    IO = 2                  # an input, output folder, model, display or camera could not be used
    NOTHING_MEASURED = 3    # ran, but nobody was in view (analyze also: never side-on / outline hidden)
    CALIBRATION_REFUSED = 4  # calibration ran but the stance was not still enough / too few clear frames
    INTERRUPTED = 130       # Ctrl-C


class UsageError(ValueError):
    """A command-line value that makes no sense; the message is one line."""


def finite(name: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number of degrees, got {value!r}")


def positive(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UsageError(f"{name} must be a number > 0, got {value!r}")


def non_negative(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise UsageError(f"{name} must be a number >= 0, got {value!r}")


def profile_name(name: str | None) -> None:
    from .profiles import valid_name

    if name is not None and not valid_name(name):
        raise UsageError(f"--profile: profile names use 1-64 letters, digits, '.', '_' or '-' "
                         f"(no '/' or '..'): {name!r}")


def record_path(path: str | None) -> Path | None:
    """A recording's file name must name a video container, and its folder must be writable."""
    if path is None:
        return None
    p = Path(path)
    if p.suffix.lower() not in RECORD_EXTS:
        raise UsageError(f"--record: give a video file name ending in {', '.join(RECORD_EXTS)}, got {path!r}")
    ensure_writable_dir(p.parent if str(p.parent) else Path("."))
    return p


def config_writable() -> None:
    """Calibration saves a profile: its folder must be writable before the countdown starts."""
    from .profiles import config_dir

    d = config_dir() / "profiles"
    try:
        ensure_writable_dir(d)
    except OutputError as exc:
        raise OutputError(f"{exc} (profiles are saved there; set PELVIS_TILT_CONFIG to a writable folder)") from None


def display_available() -> None:
    """A window needs a display: on Linux/BSD that is $DISPLAY or $WAYLAND_DISPLAY.
    Checked before any window is opened (OpenCV's GUI aborts the process without one)."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise DisplayError("no display to open a window on ($DISPLAY is not set): "
                               "add --no-window to run headless (with --record OUT.mp4 to keep the video)")


class DisplayError(RuntimeError):
    """No display for the live window."""


def validate(args) -> None:
    """Every check that applies to the parsed arguments of any command."""
    finite("--baseline", getattr(args, "baseline", None))
    positive("--band", getattr(args, "band", None))
    positive("--baseline-first", getattr(args, "baseline_first", None))
    positive("--hold", getattr(args, "hold", None))
    non_negative("--countdown", getattr(args, "countdown", None))
    non_negative("--range", getattr(args, "range_s", None))
    non_negative("--reference-first", getattr(args, "reference_first", None))
    for opt in ("workers", "max_frames", "reps", "lifts"):
        v = getattr(args, opt, None)
        if v is not None and v < 1:
            raise UsageError(f"--{opt.replace('_', '-')} must be at least 1, got {v}")
    profile_name(getattr(args, "profile", None))
    cmd = args.cmd
    if cmd == "profiles":
        profile_name(args.name)
    if cmd == "analyze" and not Path(args.clip).exists():   # before --out is created
        from .sources import SourceError

        raise SourceError(f"no such file: {args.clip}")
    if cmd in ("live", "routine"):
        record_path(getattr(args, "record", None))
    if cmd == "analyze":
        ensure_writable_dir(args.out)
    if cmd == "routine" and args.baseline_first is not None and not (args.source and args.no_window):
        raise UsageError("--baseline-first needs a recorded clip run headless: --source CLIP --no-window")
    if cmd == "routine" and args.source:
        ensure_writable_dir(args.out)
    if cmd == "calibrate":
        config_writable()
    if cmd in ("live", "calibrate", "routine", "watch") and not getattr(args, "no_window", True):
        display_available()
