"""Silence C/C++ libraries (MediaPipe, TFLite, FFmpeg) that write straight to fd 2.

Their start-up and decoder chatter would bury the one-line messages this tool
promises.  Set PELVIS_TILT_DEBUG=1 to see it.
"""
from __future__ import annotations

import contextlib
import os
import sys

@contextlib.contextmanager
def native_stderr_silenced():
    """Point fd 2 at /dev/null for the block; Python exceptions still propagate."""
    if os.environ.get("PELVIS_TILT_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except OSError:  # no real fd 2 (embedded use)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class StderrMuter:
    """Cheap repeated silencing: the /dev/null and saved descriptors are opened once,
    so each `with muter:` costs two dup2 calls (used around every video frame read)."""

    def __init__(self) -> None:
        self._null = self._saved = None
        if not os.environ.get("PELVIS_TILT_DEBUG"):
            try:
                self._saved = os.dup(2)
                self._null = os.open(os.devnull, os.O_WRONLY)
            except OSError:
                self._null = self._saved = None

    def __enter__(self) -> "StderrMuter":
        if self._null is not None:
            sys.stderr.flush()
            os.dup2(self._null, 2)
        return self

    def __exit__(self, *exc) -> None:
        if self._saved is not None:
            os.dup2(self._saved, 2)

    def close(self) -> None:
        for fd in (self._null, self._saved):
            if fd is not None:
                os.close(fd)
        self._null = self._saved = None
