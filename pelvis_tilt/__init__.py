"""pelvis_tilt: sagittal pelvic tilt from one side-on camera (MediaPipe + numpy).

Python API (the command line uses the same functions)::

    from pelvis_tilt import analyze_clip, resolve
    result = analyze_clip("clip.mp4", out_dir="out", settings=resolve(baseline=12, band=4))
    result.summary["tilt_median_deg"], result.frames.tilt_smooth
"""
from __future__ import annotations

__version__ = "0.1.0"

from .analyze import AnalysisResult, analyze_clip  # noqa: E402
from .cues import Band  # noqa: E402
from .model import ModelError  # noqa: E402
from .pipeline import Pipeline  # noqa: E402
from .settings import Settings, resolve  # noqa: E402
from .sources import SourceError  # noqa: E402
from .tilt import TiltModel  # noqa: E402

__all__ = ["analyze_clip", "AnalysisResult", "Band", "Pipeline", "Settings", "resolve", "TiltModel", "SourceError",
           "ModelError", "__version__"]
