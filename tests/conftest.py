"""Shared fixtures: real clips (downloaded PyPI wheel, project samples) and synthetic skeletons."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")
# Sessions run by tests go to a throw-away profiles/history folder, never the user's own.
os.environ.setdefault("PELVIS_TILT_CONFIG", tempfile.mkdtemp(prefix="pelvis_tilt_test_config_"))

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_videos"
CACHE = Path(os.environ.get("PELVIS_TILT_TEST_CACHE", Path.home() / ".cache" / "pelvis_tilt_tests"))
SPORTS2D = "sports2d==0.8.34"


def _sports2d_demo() -> Path:
    """The real demo clip shipped inside the sports2d wheel (downloaded once, cached, never committed)."""
    out = CACHE / "sports2d_demo.mp4"
    if out.is_file():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    # pytest -n runs several sessions at once: one downloads, the others wait for it.
    with open(CACHE / ".download.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if out.is_file():
            return out
        wheels = list(CACHE.glob("sports2d-*.whl"))
        if not wheels:
            r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(CACHE),
                                SPORTS2D], capture_output=True, text=True)
            wheels = list(CACHE.glob("sports2d-*.whl"))
            if r.returncode != 0 or not wheels:
                pytest.skip(f"could not download {SPORTS2D} from the package registry: {r.stderr.strip()[-200:]}")
        with zipfile.ZipFile(wheels[0]) as z:
            tmp = out.with_suffix(".part")
            tmp.write_bytes(z.read("Sports2D/Demo/demo.mp4"))
            tmp.replace(out)
    return out


@pytest.fixture(scope="session")
def demo_clip() -> Path:
    return _sports2d_demo()


@pytest.fixture(scope="session")
def demo_result(demo_clip, tmp_path_factory):
    from pelvis_tilt import analyze_clip

    out = tmp_path_factory.mktemp("demo_out")
    return analyze_clip(demo_clip, out)


def skeleton(facing: int = 1, frontal: bool = False, torso: float = 200.0, origin=(320.0, 300.0),
             trunk_lean: float = 0.0, knee_bend: float = 0.0, head_fwd: float = 0.0) -> np.ndarray:
    """A hand-made (33, 4) landmark array in pixels with known angles.

    Side-on: left and right landmarks nearly coincide in x; ``facing`` +1 = faces
    image-right.  Frontal: shoulders/hips spread across the image.
    """
    from pelvis_tilt import landmarks as L

    lm = np.full((33, 4), np.nan)
    lm[:, 3] = 0.99
    hx, hy = origin
    f = facing
    rad = np.deg2rad
    fwd = np.array([f, 0.0])
    up = np.array([0.0, -1.0])
    hip = np.array([hx, hy])
    sh = hip + torso * (np.sin(rad(trunk_lean)) * fwd + np.cos(rad(trunk_lean)) * up)
    ear = sh + 0.45 * torso * (np.sin(rad(head_fwd)) * fwd + np.cos(rad(head_fwd)) * up)
    thigh = 0.9 * torso
    # plié: knee forward by knee_bend/2 from vertical, shank back by knee_bend/2
    knee = hip + thigh * (np.sin(rad(knee_bend / 2)) * fwd - np.cos(rad(knee_bend / 2)) * up)
    ankle = knee + thigh * (-np.sin(rad(knee_bend / 2)) * fwd - np.cos(rad(knee_bend / 2)) * up)
    spread = np.array([0.35 * torso, 0.0]) if frontal else np.array([0.02 * torso, 0.0])
    for (li, ri), p in ((L.SHOULDER, sh), (L.HIP, hip), (L.KNEE, knee), (L.ANKLE, ankle), (L.EAR, ear),
                        (L.ELBOW, sh - 0.5 * torso * up), (L.WRIST, sh - 0.9 * torso * up),
                        (L.HEEL, ankle + np.array([-0.12 * torso * f, 0.05 * torso])),
                        (L.FOOT, ankle + np.array([0.25 * torso * f, 0.08 * torso]))):
        lm[li, :2] = p + spread
        lm[ri, :2] = p - spread
        if frontal:
            lm[[li, ri], 0] = [p[0] + spread[0], p[0] - spread[0]]
    lm[L.NOSE, :2] = ear + (np.array([0.15 * torso * f, 0.05 * torso]) if not frontal else np.array([0.0, 0.05 * torso]))
    if frontal:
        lm[L.HEEL, 0], lm[L.FOOT, 0] = lm[L.ANKLE, 0], lm[L.ANKLE, 0]
    lm[:, 2] = 0.0
    return lm
