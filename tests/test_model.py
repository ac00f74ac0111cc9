import zipfile

import numpy as np
import pytest

from pelvis_tilt import model


def members(p):
    with zipfile.ZipFile(p) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PELVIS_TILT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_bundle_built_from_wheel_files_and_cached(cache):
    p = model.default_bundle()
    assert p.parent == cache and p.is_file()
    with zipfile.ZipFile(p) as z:
        assert set(z.namelist()) == {"pose_detector.tflite", "pose_landmarks_detector.tflite"}
    mtime = p.stat().st_mtime_ns
    assert model.default_bundle() == p and p.stat().st_mtime_ns == mtime  # cached, not rebuilt


@pytest.mark.parametrize("damage", ["garbage", "truncate", "delete"])
def test_corrupt_or_missing_bundle_is_rebuilt(cache, damage):
    p = model.default_bundle()
    good = members(p)
    if damage == "garbage":
        p.write_bytes(b"not a zip at all")
    elif damage == "truncate":
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])
    else:
        p.unlink()
    assert model.default_bundle() == p
    assert members(p) == good  # same models (zip timestamps may differ)


def test_user_model_errors(tmp_path):
    with pytest.raises(model.ModelError, match="not found"):
        model.resolve_model(tmp_path / "nope.task")
    bad = tmp_path / "bad.task"
    bad.write_text("hello")
    with pytest.raises(model.ModelError, match="not a pose landmarker"):
        model.resolve_model(bad)


def test_built_bundle_tracks_a_real_person(cache, demo_clip):
    """The offline bundle loads in the Tasks API and finds the walking person."""
    import cv2

    from pelvis_tilt.landmarker import Landmarker

    cap = cv2.VideoCapture(str(demo_clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 120)
    ok, frame = cap.read()
    assert ok
    with Landmarker(model.default_bundle(), 2) as lm:
        res = lm(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), 0)
    assert len(res.pose_landmarks) >= 1
    assert len(res.segmentation_masks) == len(res.pose_landmarks)
    mask = res.segmentation_masks[0].numpy_view()
    assert mask.shape[:2] == frame.shape[:2] and 0.001 < float(np.mean(mask > 0.5)) < 0.5
