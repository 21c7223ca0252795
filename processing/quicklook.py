"""Quicklook PNG of a 1/0/255 product COG: classes, AOI outline, legend and a bilingual title.

Japanese labels need a CJK font: Debian's ``fonts-noto-cjk`` (installed by ``.ci/run``). When
no CJK font is found the picture is still drawn, with a warning, and labels may show boxes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry.base import BaseGeometry

from .write import WrittenFile, sha256_file

__all__ = ["cjk_font", "quicklook_from_cog", "render_quicklook"]

log = logging.getLogger(__name__)

_CJK_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)


def cjk_font() -> str | None:
    """Name of a font that renders Japanese, registering Noto Sans CJK if it is on disk."""
    from matplotlib import font_manager as fm

    for f in fm.fontManager.ttflist:
        if "CJK JP" in f.name:
            return str(f.name)
    for path in _CJK_FILES:
        if os.path.exists(path):
            fm.fontManager.addfont(path)
            for f in fm.fontManager.ttflist:
                if "CJK JP" in f.name:
                    return str(f.name)
    return None


def render_quicklook(
    product: np.ndarray,
    extent: tuple[float, float, float, float],
    path: Path,
    *,
    title: str,
    outline: BaseGeometry | None = None,
    labels: Sequence[str] = ("検出 detected", "未検出 not detected", "観測なし no valid data"),
    colour: str = "#d7301f",
) -> None:
    """Draw ``product`` (uint8 1/0/255, already decimated) over ``extent`` (W, E, S, N in map
    units) to a PNG at ``path``, with ``outline`` (same CRS) and a legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    font = cjk_font()
    if font is None:
        log.warning("no CJK font found (install fonts-noto-cjk): Japanese labels may not render")
    rc: dict[str, Any] = {"font.family": [font, "DejaVu Sans"]} if font else {}
    classes = np.full(product.shape, 0, dtype="uint8")
    classes[product == 0] = 1
    classes[product == 1] = 2
    cmap = ListedColormap(["#5a5a5a", "#f2f2ee", colour])
    with plt.rc_context(rc):  # type: ignore[arg-type]
        fig, ax = plt.subplots(figsize=(8, 8 * product.shape[0] / max(product.shape[1], 1) + 0.8))
        ax.imshow(classes, cmap=cmap, vmin=0, vmax=2, extent=extent, interpolation="nearest")
        if outline is not None and not outline.is_empty:
            for part in getattr(outline, "geoms", [outline]):
                boundary = part.boundary
                for line in getattr(boundary, "geoms", [boundary]):
                    xs, ys = line.xy
                    ax.plot(xs, ys, color="#1f4e9c", linewidth=1.2)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("x [m]")
        ax.set_ylabel("y [m]")
        ax.legend(
            handles=[
                Patch(color=colour, label=labels[0]),
                Patch(facecolor="#f2f2ee", edgecolor="#999999", label=labels[1]),
                Patch(color="#5a5a5a", label=labels[2]),
            ],
            loc="lower right",
            fontsize=8,
            framealpha=0.9,
        )
        ax.ticklabel_format(style="plain", useOffset=False)
        ax.tick_params(labelsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=110, metadata={"Software": None})
        plt.close(fig)


def quicklook_from_cog(
    product: Path, out: Path, *, title: str, outline: BaseGeometry | None, colour: str
) -> WrittenFile:
    """Read the product COG decimated to about 1200 px and draw it to a PNG at ``out``."""
    import rasterio
    from rasterio.enums import Resampling

    with rasterio.open(product) as src:
        scale = max(1, int(max(src.height, src.width) / 1200))
        shape = (max(1, src.height // scale), max(1, src.width // scale))
        data = src.read(1, out_shape=shape, resampling=Resampling.nearest)
        b = src.bounds
    render_quicklook(
        data, (b.left, b.right, b.bottom, b.top), out, title=title, outline=outline, colour=colour
    )
    return WrittenFile(out, out.stat().st_size, sha256_file(out))
