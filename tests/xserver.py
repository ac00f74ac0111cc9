"""A private Xvfb server for the window tests.

Each test module asks from its own range of display numbers, and starts are serialised
through a lock file, so window tests running side by side (pytest -n) never share a display.
A server counts as up once its socket accepts a connection (no fixed start-up sleep).
"""
from __future__ import annotations

import fcntl
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def _accepts(n: int) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(f"/tmp/.X11-unix/X{n}")
            return True
        except OSError:
            return False


def start_xvfb(screen: str, first: int) -> tuple[subprocess.Popen, str]:
    """Start ``Xvfb`` with one ``screen`` ("WxHxDEPTH") on the first free display number from
    ``first`` on; returns (process, DISPLAY value)."""
    with open(Path(tempfile.gettempdir()) / "pelvis_tilt_tests_xvfb.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for n in range(first, first + 20):
            if Path(f"/tmp/.X{n}-lock").exists() or _accepts(n):
                continue
            # -noreset: the probe below is the server's first client, and a server resets when
            # its last client leaves; kept up, the next client (openbox, the app) meets no reset.
            proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", screen, "-nolisten", "tcp", "-noreset"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            end = time.monotonic() + 15.0
            while proc.poll() is None and time.monotonic() < end:
                if _accepts(n):
                    return proc, f":{n}"
                time.sleep(0.05)
            proc.kill()
            proc.wait()
    pytest.fail(f"Xvfb did not start on any display from :{first}")
