"""Fonts that draw text in any language, offline.

DejaVu Sans (in matplotlib's own files) covers Latin, Greek and Cyrillic; Noto
Sans CJK (the `notojp-matplotlib` wheel, a dependency) covers Chinese, Japanese
and Korean as well.  Text that DejaVu can draw keeps DejaVu's look; anything
else is drawn with Noto.  Nothing is downloaded at run time.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

CJK_FAMILY = "Noto Sans CJK JP"


def dejavu_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


@lru_cache(maxsize=1)
def cjk_path() -> Path | None:
    """The Noto Sans CJK file of the `notojp-matplotlib` wheel, found without importing the
    package (importing it would make Noto every plot's default font)."""
    spec = importlib.util.find_spec("notojp_matplotlib")
    for root in (spec.submodule_search_locations or []) if spec else []:
        p = Path(root) / "fonts" / "NotoSansCJKjp-Regular.otf"
        if p.is_file():
            return p
    return None


@lru_cache(maxsize=1)
def _dejavu_chars() -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(str(dejavu_path())).get_charmap())


def font_path_for(text: str) -> Path:
    """DejaVu Sans when it has every character of ``text``, else Noto Sans CJK (if installed)."""
    if all(ord(c) in _dejavu_chars() for c in text if not c.isspace()):
        return dejavu_path()
    return cjk_path() or dejavu_path()


def matplotlib_families() -> list[str]:
    """`font.family` for plots: DejaVu Sans first, Noto Sans CJK for the glyphs it lacks
    (matplotlib falls back glyph by glyph along the list)."""
    from matplotlib import font_manager

    path = cjk_path()
    if path is None:
        return ["DejaVu Sans"]
    if CJK_FAMILY not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(path))
    return ["DejaVu Sans", CJK_FAMILY]
