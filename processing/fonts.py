"""The Japanese font of every picture yamasat draws (quicklooks, the indicator chart).

The font is a declared dependency: the ``matplotlib-fontja`` package ships IPAexGothic
(IPA Font License v1.0, which allows redistribution), so a plain ``pip install`` draws
Japanese labels on a machine with no system CJK font. The package is located, not imported:
importing it would switch matplotlib's global default font for the whole process. When it is
missing, Noto Sans CJK JP from Debian's ``fonts-noto-cjk`` is used if it is on disk; with
neither, :func:`japanese_font` raises :class:`~yamasat.errors.FontMissingError` naming the
package to install, rather than drawing every Japanese label as a box.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from ..errors import FontMissingError

__all__ = ["FONT_PACKAGE", "font_families", "japanese_font"]

#: the PyPI package that ships the font (a dependency of yamasat)
FONT_PACKAGE = "matplotlib-fontja"

_PACKAGED = ("matplotlib_fontja", "fonts/ipaexg.ttf")
_SYSTEM_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)


def _packaged_file() -> Path | None:
    module, relative = _PACKAGED
    spec = importlib.util.find_spec(module)  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return path if path.is_file() else None


def _candidates() -> list[Path]:
    packaged = _packaged_file()
    return [p for p in [packaged, *(Path(s) for s in _SYSTEM_FILES)] if p and p.is_file()]


@functools.cache
def japanese_font() -> str:
    """The family name of a font that draws Japanese, registered with matplotlib.

    The packaged IPAexGothic first (the same picture on every machine), then a system Noto
    Sans CJK JP. Raises :class:`FontMissingError` when there is none."""
    from matplotlib import font_manager as fm

    for path in _candidates():
        fm.fontManager.addfont(str(path))
        names = [f.name for f in fm.fontManager.ttflist if Path(f.fname) == path]
        preferred = [n for n in names if "JP" in n] or names
        if preferred:
            return str(preferred[0])
    raise FontMissingError(
        "no font that draws Japanese was found: install the Python package "
        f"'{FONT_PACKAGE}' (pip install {FONT_PACKAGE}; a dependency of yamasat, so "
        "reinstalling yamasat also brings it) or Debian's fonts-noto-cjk"
    )


def font_families() -> list[str]:
    """matplotlib ``font.family``: the Japanese font, then DejaVu Sans for the rest."""
    return [japanese_font(), "DejaVu Sans"]
