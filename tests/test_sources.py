"""Frame sources: rotation metadata, true timestamps (variable frame rate), folders."""
from pathlib import Path

import cv2
import numpy as np

from pelvis_tilt.sources import VideoSource, find_videos

FIX = Path(__file__).resolve().parent / "fixtures"
REPO = FIX.parents[1]


def test_phone_rotation_metadata_is_honoured():
    with VideoSource(FIX / "phone_rotated.mp4") as src:
        frames = [f for _, _, f in src]
        assert src.info.rotation in (90, 270)
        assert (src.info.width, src.info.height) == (320, 240)
    assert frames[0].shape == (240, 320, 3)  # stored 240x320, shown upright
    # Upright means it matches the original clip's frame, not a rotated one.
    cap = cv2.VideoCapture(str(REPO / "sample_videos" / "neutral_stance.mp4"))
    ok, ref = cap.read()
    ref = cv2.resize(ref, (320, 240), interpolation=cv2.INTER_AREA)
    assert np.mean(np.abs(frames[0].astype(float) - ref.astype(float))) < 8


def test_variable_frame_rate_keeps_true_timestamps():
    with VideoSource(FIX / "vfr_gap.mp4") as src:
        t = np.array([t for _, t, _ in src])
    dt = np.diff(t)
    assert len(t) == 20
    assert np.allclose(dt[:9], 1 / 30, atol=2e-3) and np.allclose(dt[10:], 1 / 30, atol=2e-3)
    assert abs(dt[9] - (1 / 30 + 0.5)) < 5e-3  # the 0.5 s gap is real time, not one frame


def test_frames_are_read_once_in_order():
    with VideoSource(REPO / "sample_videos" / "neutral_stance.mp4") as src:
        idx = [i for i, _, _ in src]
        assert idx == list(range(src.info.frame_count))


def test_find_videos_recursive(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for p in ("x.mp4", "a/y.MOV", "a/b/z.avi", "a/notes.txt"):
        (tmp_path / p).write_bytes(b"0")
    found = find_videos(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/b/z.avi", "a/y.MOV", "x.mp4"]


def test_closing_a_source_while_another_thread_reads_it_does_not_crash():
    """The live window's close button stops the frame grabber and releases the capture
    while the grabber may be inside a read; FFmpeg then aborted the process (SIGABRT,
    'fctx->async_lock failed', or a corrupted heap), seen as an intermittent crash on close.
    Run in a child process: a crash must not take the test run with it."""
    import os
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import random, threading, time
        from pelvis_tilt.sources import VideoSource
        random.seed(0)
        for _ in range(40):
            src = VideoSource({str(REPO / "sample_videos" / "pelvic_isolations.mp4")!r}).open()
            reader = threading.Thread(target=lambda: [None for _ in src], daemon=True)
            reader.start()
            time.sleep(random.uniform(0.01, 0.2))
            src.close()   # the reader may be mid-read: it must stop cleanly
            reader.join(5)
            assert not reader.is_alive()
        print("ok")
    """)
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PELVIS_TILT_DEBUG": "1"})
    assert run.returncode == 0 and "ok" in run.stdout, (run.returncode, run.stderr[-500:])
