"""Every bad input gives one clear line (or a summary saying why), never a traceback or half file."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "pelvis_tilt", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def assert_one_line_error(r, *words):
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("pelvis-tilt: error:")
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in lines[0]


def no_outputs(out: Path):
    return not out.exists() or not any(out.iterdir())


def write_clip(path: Path, frames: list[np.ndarray], fps=30):
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        vw.write(f)
    vw.release()
    return path


def test_missing_path(tmp_path):
    r = cli("analyze", tmp_path / "missing.mp4", "--out", tmp_path / "o")
    assert_one_line_error(r, "no such file")
    assert not (tmp_path / "o").exists()


def test_directory_instead_of_file(tmp_path):
    r = cli("analyze", tmp_path, "--out", tmp_path / "o")
    assert_one_line_error(r, "directory")


@pytest.mark.parametrize("name, text", [
    ("notes.mp4", "these are my notes, not a video\n" * 50),
    # FFmpeg's tty demuxer opens a .txt as a 640x400 "video" of the text; it is not a recording.
    ("README.txt", "Stand side-on to the camera.\n" * 400),
])
def test_text_file(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    r = cli("analyze", p, "--out", tmp_path / "o")
    assert_one_line_error(r, "not a readable video")
    assert no_outputs(tmp_path / "o")


def test_zero_frame_video(tmp_path):
    p = tmp_path / "zero.mp4"
    vw = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    vw.release()  # header only, no frames
    r = cli("analyze", p, "--out", tmp_path / "o")
    assert_one_line_error(r)
    assert no_outputs(tmp_path / "o")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    assert_one_line_error(cli("analyze", p, "--out", tmp_path / "o"), "empty")


def test_truncated_mp4_is_analysed_up_to_the_cut_with_a_warning(tmp_path, demo_clip):
    data = demo_clip.read_bytes()
    p = tmp_path / "cut.mp4"
    p.write_bytes(data[: len(data) // 2])
    out = tmp_path / "o"
    r = cli("analyze", p, "--out", out, "--no-video")
    assert r.returncode in (0, 3), r.stderr
    assert "Traceback" not in r.stderr
    s = json.loads((out / "cut.summary.json").read_text())
    assert 0 < s["frames"] < 230
    assert any("ended early" in w for w in s["warnings"])
    assert "ended early" in r.stderr


def test_truncated_mp4_without_index(tmp_path):
    """A clip cut before its index (moov at the end, as OpenCV writes it) cannot be opened at all."""
    frames = [np.full((240, 320, 3), 90 + i, np.uint8) for i in range(30)]
    full = write_clip(tmp_path / "full.mp4", frames)
    data = full.read_bytes()
    p = tmp_path / "cut.mp4"
    p.write_bytes(data[: len(data) // 2])
    r = cli("analyze", p, "--out", tmp_path / "o")
    if r.returncode == 2:
        assert_one_line_error(r)
    else:  # some FFmpeg builds recover a few frames: then it must be a normal, complete result
        assert r.returncode == 3 and "Traceback" not in r.stderr


def test_clip_with_nobody_says_why_and_writes_all_outputs(tmp_path):
    rng = np.random.default_rng(0)
    bg = np.full((360, 480, 3), 120, np.uint8)
    frames = [np.clip(bg + rng.normal(0, 6, bg.shape), 0, 255).astype(np.uint8) for _ in range(20)]
    p = write_clip(tmp_path / "empty_room.mp4", frames)
    out = tmp_path / "o"
    r = cli("analyze", p, "--out", out)
    assert r.returncode == 3, r.stderr
    assert "nothing measured" in r.stdout and "Traceback" not in r.stderr
    s = json.loads((out / "empty_room.summary.json").read_text())
    assert s["status"] == "no-person" and s["detected_fraction"] == 0
    for suffix in (".frames.csv", ".annotated.mp4", ".tilt.png"):
        assert (out / f"empty_room{suffix}").stat().st_size > 0
    assert not [f for f in out.iterdir() if f.name.startswith(".")]  # no temporary leftovers


def test_bad_model_file(tmp_path):
    bad = tmp_path / "m.task"
    bad.write_text("x")
    frames = [np.full((120, 160, 3), 100, np.uint8)] * 3
    p = write_clip(tmp_path / "c.mp4", frames)
    assert_one_line_error(cli("analyze", p, "--model", bad, "--out", tmp_path / "o"), "not a pose landmarker")


def test_unwritable_output_dir(tmp_path):
    frames = [np.full((120, 160, 3), 100, np.uint8)] * 3
    p = write_clip(tmp_path / "c.mp4", frames)
    blocker = tmp_path / "file_not_dir"
    blocker.write_text("x")
    r = cli("analyze", p, "--out", blocker / "sub")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr


def test_person_facing_the_camera_says_turn_sideways(tmp_path):
    clip = REPO / "tests" / "fixtures" / "facing_camera.mp4"  # rendered body, front to the camera
    out = tmp_path / "o"
    r = cli("analyze", clip, "--out", out)
    assert r.returncode == 3, r.stderr
    assert "turn sideways" in r.stdout and "Traceback" not in r.stderr
    s = json.loads((out / "facing_camera.summary.json").read_text())
    assert s["status"] == "not-side-on" and s["detected_fraction"] > 0.9
