"""Locate or build the MediaPipe pose-landmarker `.task` bundle, offline.

mediapipe 0.10.21 ships the pose detector and the "full" landmark model as bare
`.tflite` files inside its wheel.  The Tasks API wants them zipped together as a
`.task` bundle, and it needs input-normalisation metadata on the landmark model
that the wheel's copy lacks.  We add that metadata and zip both, once, into the
user cache; nothing is ever downloaded.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

from .paths import user_dir

BUNDLE_NAME = "pose_landmarker_full_offline.task"
_MEMBERS = ("pose_detector.tflite", "pose_landmarks_detector.tflite")


class ModelError(RuntimeError):
    """The pose model could not be found, built or loaded."""


def cache_dir() -> Path:
    """Per-user cache directory (``$PELVIS_TILT_CACHE`` overrides it)."""
    return user_dir("PELVIS_TILT_CACHE", "XDG_CACHE_HOME", ".cache")


def _wheel_models() -> tuple[Path, Path]:
    try:
        import mediapipe
    except ImportError as exc:  # pragma: no cover - dependency is mandatory
        raise ModelError("mediapipe is not installed") from exc
    root = Path(mediapipe.__file__).parent / "modules"
    det = root / "pose_detection" / "pose_detection.tflite"
    lmk = root / "pose_landmark" / "pose_landmark_full.tflite"
    for p in (det, lmk):
        if not p.is_file():
            raise ModelError(
                f"this mediapipe ({mediapipe.__version__}) ships no {p.name}; "
                "install mediapipe==0.10.21 or pass --model pose_landmarker_full.task"
            )
    return det, lmk


def _source_fingerprint(det: Path, lmk: Path) -> str:
    h = hashlib.sha256()
    for p in (det, lmk):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _bundle_is_valid(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if not set(_MEMBERS) <= names:
                return False
            return zf.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False


def build_bundle(out_path: Path) -> Path:
    """Build the `.task` bundle from the installed wheel's model files."""
    from mediapipe.tasks.python.metadata.metadata_writers import (
        metadata_writer,
        model_asset_bundle_utils,
    )

    det, lmk = _wheel_models()
    writer = metadata_writer.MetadataWriter.create(bytearray(lmk.read_bytes()))
    writer.add_general_info("pose_landmarks_detector", "BlazePose GHUM full (from the mediapipe wheel)")
    # The landmark model takes RGB in [0, 1]: (pixel - 0) / 255.
    writer.add_image_input(norm_mean=[0.0], norm_std=[255.0])
    lmk_with_meta, _ = writer.populate()

    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, suffix=".tmp")
    os.close(fd)
    try:
        model_asset_bundle_utils.create_model_asset_bundle(
            {_MEMBERS[0]: det.read_bytes(), _MEMBERS[1]: bytes(lmk_with_meta)}, tmp
        )
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out_path


def default_bundle() -> Path:
    """Return the cached bundle, (re)building it if missing, corrupt or stale."""
    det, lmk = _wheel_models()
    stamp = _source_fingerprint(det, lmk)
    path = cache_dir() / f"{stamp}-{BUNDLE_NAME}"
    if not _bundle_is_valid(path):
        try:
            build_bundle(path)
        except OSError as exc:
            raise ModelError(f"cannot write the pose model bundle into the cache folder {path.parent}: "
                             f"{exc.strerror or exc}; set PELVIS_TILT_CACHE to a writable folder") from None
    return path


def resolve_model(model: str | os.PathLike | None) -> Path:
    """A user-given `.task` file, or the offline default bundle."""
    if model is None:
        return default_bundle()
    p = Path(model)
    if not p.is_file():
        raise ModelError(f"model file not found: {p}")
    if not _bundle_is_valid(p):
        raise ModelError(f"not a pose landmarker .task bundle: {p}")
    return p
