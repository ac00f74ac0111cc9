"""Silence C/C++ libraries (MediaPipe, TFLite, FFmpeg) that write straight to fd 2.

Their start-up and decoder chatter would bury the one-line messages this tool
promises.  Set PELVIS_TILT_DEBUG=1 to see it.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import threading

# fd 2 is one per process: whoever points it elsewhere holds this, so a frame read muted on
# one thread and a landmarker silenced on another never restore each other's saved fd.
FD2_LOCK = threading.RLock()


@contextlib.contextmanager
def native_stderr_silenced():
    """Point fd 2 at /dev/null for the block; Python exceptions still propagate."""
    if os.environ.get("PELVIS_TILT_DEBUG"):
        yield
        return
    with FD2_LOCK:
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
            FD2_LOCK.acquire()
            sys.stderr.flush()
            os.dup2(self._null, 2)
        return self

    def __exit__(self, *exc) -> None:
        if self._null is not None:
            os.dup2(self._saved, 2)
            FD2_LOCK.release()

    def close(self) -> None:
        for fd in (self._null, self._saved):
            if fd is not None:
                os.close(fd)
        self._null = self._saved = None


# Lines native libraries print on their own: glog (MediaPipe/TFLite, e.g. "W0000 00:00:... NORM_RECT"),
# absl and TFLite notices, FFmpeg ("[h264 @ 0x55...]"), OpenCV ("[ WARN:0@1.2] global ...",
# "OpenCV: FFMPEG: tag ..."), Qt's start-up notes.
NATIVE_LOG = re.compile(
    rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl|INFO: |"
    rb"\[[A-Za-z0-9_ ,.-]+ @ (?:0x)?[0-9a-fA-F]+\]|\[ ?(?:WARN|ERROR|INFO|DEBUG):\d+@|OpenCV(?:\(\d)?|"
    rb"QStandardPaths|qt\.qpa|Fontconfig|Warning: Ignoring XDG_SESSION_TYPE)")


class NativeLogFilter:
    """Route fd 2 through a thread that drops native libraries' log lines.

    Python's own ``sys.stderr`` is re-opened on the real terminal, so this tool's
    messages (and any traceback) bypass the filter; C/C++ code that writes to
    fd 2, in this process or its children, goes through it.  ``enabled=False``
    (``--verbose``) leaves everything as it is.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and not os.environ.get("PELVIS_TILT_DEBUG")
        self._saved: int | None = None

    def __enter__(self) -> "NativeLogFilter":
        if not self.enabled:
            return self
        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
            r, w = os.pipe()
        except (OSError, ValueError):
            self._saved = None
            return self
        self._old_stderr = sys.stderr
        sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(self._saved), "wb", buffering=0),
                                      encoding=getattr(self._old_stderr, "encoding", None) or "utf-8",
                                      errors="backslashreplace", line_buffering=True, write_through=True)
        os.dup2(w, 2)
        os.close(w)
        self._thread = threading.Thread(target=self._pump, args=(r, self._saved), daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _pump(r: int, out: int) -> None:
        buf = b""
        with os.fdopen(r, "rb", buffering=0) as fh:
            while True:
                chunk = fh.read(65536)
                if not chunk:
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for ln in lines:
                    if not NATIVE_LOG.match(ln.lstrip(b"\r")) and ln.strip():
                        os.write(out, ln + b"\n")
        if buf.strip() and not NATIVE_LOG.match(buf):
            os.write(out, buf)

    def __exit__(self, *exc) -> None:
        if self._saved is None:
            return
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        sys.stderr = self._old_stderr
        os.dup2(self._saved, 2)          # closes our end of the pipe
        self._thread.join(timeout=1.0)   # children may still hold it; never wait long
        os.close(self._saved)
        self._saved = None
