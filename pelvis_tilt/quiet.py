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
