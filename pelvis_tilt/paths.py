"""Per-user directories (XDG), each overridable by an environment variable."""
from __future__ import annotations

import os
from pathlib import Path


def user_dir(override_env: str, xdg_env: str, fallback: str) -> Path:
    """``$override_env``, else ``$xdg_env/pelvis_tilt``, else ``~/fallback/pelvis_tilt``."""
    env = os.environ.get(override_env)
    if env:
        return Path(env)
    base = os.environ.get(xdg_env) or os.path.join(Path.home(), fallback)
    return Path(base) / "pelvis_tilt"
