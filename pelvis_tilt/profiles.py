"""Named user profiles: a person's neutral baseline and range, and the camera's roll and pitch, saved as JSON."""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .paths import user_dir
from .report import write_json


class ProfileError(RuntimeError):
    pass


@dataclass
class Profile:
    name: str
    baseline_deg: float
    band_half_width_deg: float = 5.0
    roll_deg: float = 0.0              # + = image rotated clockwise; used to level the body axes
    pitch_deg: float = float("nan")    # + = camera aimed down; informational (~3 deg mean error)
    samples: int = 0
    spread_deg: float = float("nan")   # SD of the calibration frames' tilt
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))
    tilt_estimator: str = ""           # the tilt estimator's kind that read this neutral
    # the guided range step (calibrate --range): how far this person tips forward / tucks, deg
    range_forward_deg: float = float("nan")
    range_tuck_deg: float = float("nan")
    # the neutral's outline as the tilt estimator compares frames with it (`tilt.NeutralOutline`),
    # and which estimator (`settings.estimator_id`) read it: another one ignores it
    neutral_outline: list[float] | None = None
    outline_estimator: str = ""


def config_dir() -> Path:
    """Where profiles live (``$PELVIS_TILT_CONFIG`` overrides it)."""
    return user_dir("PELVIS_TILT_CONFIG", "XDG_CONFIG_HOME", ".config")


def valid_name(name: str) -> bool:
    """Letters, digits, '.', '_', '-' (1-64), and not a path like '.' or '..'."""
    return bool(re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name or "")) and name.strip(".") != "" and ".." not in name


def _path(name: str) -> Path:
    if not valid_name(name):
        raise ProfileError(f"profile names use letters, digits, '.', '_' or '-': {name!r}")
    return config_dir() / "profiles" / f"{name}.json"


def save_profile(p: Profile) -> Path:
    return write_json(_path(p.name), asdict(p))


def load_profile(name: str) -> Profile:
    path = _path(name)
    if not path.is_file():
        raise ProfileError(f"no profile named {name!r} (calibrate first: pelvis-tilt calibrate --profile {name})")
    try:
        d = json.loads(path.read_text())
        d.setdefault("tilt_estimator", d.get("tilt_model"))   # profiles saved before the rename
        known = {k: d[k] for k in Profile.__dataclass_fields__ if k in d and d[k] is not None}
        outline = known.get("neutral_outline")
        if outline is not None and not (isinstance(outline, list) and all(
                isinstance(v, (int, float)) and math.isfinite(v) for v in outline)):
            raise ValueError("neutral_outline is not a list of numbers")
        return Profile(**known)
    except (ValueError, TypeError) as exc:
        raise ProfileError(f"profile {path} is damaged: {exc}") from None


def list_profiles() -> list[str]:
    d = config_dir() / "profiles"
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []
