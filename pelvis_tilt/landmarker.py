"""A thin wrapper around MediaPipe's PoseLandmarker (Tasks API, VIDEO mode).

One call: an RGB frame and its time in, every detected person's arrays out
(`Detections`).  Choosing the subject is `tracking`'s job; turning a person into
measures is the pipeline's.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import landmarks as L
from .crop import Window
from .model import ModelError
from .quiet import native_stderr_silenced


@dataclass
class Detections:
    """Everyone MediaPipe found in one frame."""

    lm: np.ndarray        # (P, 33, 4) x_px, y_px, z_px, visibility
    world: np.ndarray     # (P, 33, 4) metres, hip-centred, + visibility
    masks: list           # per person: segmentation mask (H, W) float32 0..1 (may be empty)

    def __len__(self) -> int:
        return len(self.lm)

    @classmethod
    def from_result(cls, res, w: int, h: int, window: Window | None = None) -> "Detections":
        """Arrays from a `PoseLandmarkerResult` of a w x h image; with ``window``, the image was
        that crop of a larger frame (`crop.Window`, its ``out`` size w x h): landmarks are then
        given in the frame's pixels, masks stay the crop's (see `PoseFrame.mask_window`)."""
        if not res.pose_landmarks:
            empty = np.zeros((0, L.N_LANDMARKS, 4))
            return cls(empty, empty.copy(), [])
        lm = np.array([[(p.x, p.y, p.z, np.nan if p.visibility is None else p.visibility) for p in person]
                       for person in res.pose_landmarks], float)
        lm[..., 0] *= w
        lm[..., 1] *= h
        lm[..., 2] *= w  # MediaPipe's z uses roughly the same scale as x
        if window is not None:
            lm[..., :2] = window.to_frame(lm[..., :2])
            lm[..., 2] /= window.scale[0]
        world = np.array([[(p.x, p.y, p.z, p.visibility or 0.0) for p in person]
                          for person in res.pose_world_landmarks], float)
        masks = [m.numpy_view() for m in (res.segmentation_masks or [])]
        return cls(lm, world, masks)

    def mask(self, i: int) -> np.ndarray | None:
        """Person ``i``'s segmentation mask (None without masks)."""
        return self.masks[min(i, len(self.masks) - 1)] if self.masks else None


class Landmarker:
    """``Landmarker(path, num_poses)(rgb, t_ms)`` -> MediaPipe's result; use as a context manager.

    VIDEO mode: people are tracked from frame to frame in the image's own coordinates
    (the person detector runs only while fewer than ``num_poses`` are tracked), and
    ``t_ms`` must increase strictly from call to call.  Raises `ModelError` if the
    model cannot be loaded.
    """

    def __init__(self, model_path: str | Path, num_poses: int):
        from mediapipe.tasks.python import BaseOptions, vision

        opts = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=num_poses,
            output_segmentation_masks=True,
        )
        try:
            with native_stderr_silenced():
                self._lm = vision.PoseLandmarker.create_from_options(opts)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"cannot load pose model {model_path}: {str(exc).splitlines()[0]}") from exc
        self._fresh = True   # the graph logs its set-up on the first frame

    def __call__(self, frame_rgb: np.ndarray, t_ms: int):
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame_rgb))
        if self._fresh:
            self._fresh = False
            with native_stderr_silenced():
                return self._lm.detect_for_video(image, t_ms)
        return self._lm.detect_for_video(image, t_ms)

    def close(self) -> None:
        self._lm.close()

    def __enter__(self) -> "Landmarker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
