"""Quicklook PNG of a 1/0/255 product COG, readable without the data beside it.

Four classes in distinct colours, each named in the legend in Japanese and English:
detected, not detected, no valid observation (inside the AOI), and outside the AOI (the
rectangle of the product around the AOI's polygon). Over them: the AOI outline, the
municipal boundaries with their names (or the prefecture outline when no boundaries are
configured), a graticule with latitude/longitude ticks in degrees, a scale bar and a north
arrow. Labels use the declared Japanese font (:mod:`.fonts`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .fonts import font_families
from .write import WrittenFile, sha256_file

__all__ = [
    "NOT_DETECTED_COLOUR",
    "NO_DATA_COLOUR",
    "OUTSIDE_COLOUR",
    "QuicklookLayout",
    "ReferenceAreas",
    "classify",
    "legend_entries",
    "quicklook_from_cog",
    "render_quicklook",
]

#: colours of the classes other than "detected" (which each product chooses)
NOT_DETECTED_COLOUR = "#fbf8ec"
NO_DATA_COLOUR = "#8c8c8c"
OUTSIDE_COLOUR = "#d4dce6"
_AOI_COLOUR = "#1f4e9c"
_REFERENCE_COLOUR = "#555555"

#: class codes of :func:`classify`, in legend order
OUTSIDE, NO_DATA, NOT_DETECTED, DETECTED = 0, 1, 2, 3


@dataclass(frozen=True)
class ReferenceAreas:
    """Named areas drawn for orientation (municipalities, or the prefecture)."""

    areas: tuple[tuple[str, BaseGeometry], ...]
    """(label, polygon in the map's CRS); labels of areas that show are printed on the map"""
    legend: str
    """the legend entry of their outlines, e.g. ``市町村界 municipal boundaries``"""
    show_names: bool = True
    """print each area's label where it shows on the map"""


@dataclass(frozen=True)
class QuicklookLayout:
    """Where the map lies in the saved PNG (for checks on its pixels)."""

    extent: tuple[float, float, float, float]
    """W, E, S, N of the map in map units"""
    box: tuple[float, float, float, float]
    """left, right, top, bottom of the map area in PNG pixels (row 0 at the top)"""

    def pixel(self, x: float, y: float) -> tuple[int, int]:
        """(row, column) in the PNG of the map point ``(x, y)``."""
        w, e, s, n = self.extent
        left, right, top, bottom = self.box
        col = left + (x - w) / (e - w) * (right - left)
        row = top + (n - y) / (n - s) * (bottom - top)
        return int(row), int(col)


def classify(product: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Class codes of the picture: ``OUTSIDE`` where ``inside`` is False, else ``DETECTED``
    (1), ``NOT_DETECTED`` (0) or ``NO_DATA`` (any other value, 255)."""
    classes = np.full(product.shape, NO_DATA, dtype="uint8")
    classes[product == 0] = NOT_DETECTED
    classes[product == 1] = DETECTED
    classes[~inside] = OUTSIDE
    return classes


def legend_entries(detected_label: str, colour: str) -> list[tuple[str, str]]:
    """(label, colour) of every class, in the order of the class codes."""
    return [
        ("対象範囲外 outside the AOI", OUTSIDE_COLOUR),
        ("観測なし no valid observation", NO_DATA_COLOUR),
        ("未検出 not detected", NOT_DETECTED_COLOUR),
        (detected_label, colour),
    ]


def _nice_step(span: float, target: int) -> float:
    """A 1-2-5 step giving about ``target`` intervals over ``span``."""
    raw = span / max(target, 1)
    power = 10 ** math.floor(math.log10(raw))
    return float(min((m * power for m in (1, 2, 5, 10)), key=lambda s: abs(s - raw)))


def _degrees(value: float, step: float, pos: str, neg: str) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{abs(value):.{decimals}f}°{pos if value >= 0 else neg}"


def _graticule(ax: Any, extent: tuple[float, float, float, float], crs: str) -> None:
    """Faint meridians and parallels, with ticks in degrees where they meet the frame."""
    from pyproj import Transformer

    w, e, s, n = extent
    to_geo = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    to_map = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    ring = shapely.box(w, s, e, n).exterior.segmentize((e - w) / 20)
    lon, lat = to_geo.transform(*np.asarray(ring.coords).T)
    lon0, lon1, lat0, lat1 = float(min(lon)), float(max(lon)), float(min(lat)), float(max(lat))
    # a step per axis: a long narrow map would otherwise crowd one axis with labels
    lon_step, lat_step = _nice_step(lon1 - lon0, 4), _nice_step(lat1 - lat0, 4)
    xticks: list[tuple[float, str]] = []
    for value in np.arange(math.ceil(lon0 / lon_step) * lon_step, lon1, lon_step):
        xs, ys = to_map.transform(np.full(50, value), np.linspace(lat0, lat1, 50))
        ax.plot(xs, ys, color="#000000", alpha=0.18, linewidth=0.6, zorder=3)
        xticks.append((float(np.interp(s, ys, xs)), _degrees(value, lon_step, "E", "W")))
    yticks: list[tuple[float, str]] = []
    for value in np.arange(math.ceil(lat0 / lat_step) * lat_step, lat1, lat_step):
        xs, ys = to_map.transform(np.linspace(lon0, lon1, 50), np.full(50, value))
        ax.plot(xs, ys, color="#000000", alpha=0.18, linewidth=0.6, zorder=3)
        yticks.append((float(np.interp(w, xs, ys)), _degrees(value, lat_step, "N", "S")))
    xticks = [(x, t) for x, t in xticks if w <= x <= e]
    yticks = [(y, t) for y, t in yticks if s <= y <= n]
    ax.set_xticks([x for x, _ in xticks], [t for _, t in xticks])
    ax.set_yticks([y for y, _ in yticks], [t for _, t in yticks])
    ax.set_xlim(w, e)
    ax.set_ylim(s, n)


def _scale_bar(ax: Any, extent: tuple[float, float, float, float]) -> None:
    """A scale bar of a 1-2-5 length near a quarter of the map's width (map units: metres)."""
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    w, e, s, n = extent
    length = _nice_step(e - w, 4)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    bar = AnchoredSizeBar(
        ax.transData,
        length,
        label,
        "lower left",
        pad=0.5,
        borderpad=0.6,
        sep=4,
        color="black",
        frameon=True,
        size_vertical=(n - s) / 150,
        fontproperties={"size": 8},
    )
    bar.patch.set_alpha(0.85)
    ax.add_artist(bar)


def _north_arrow(ax: Any) -> None:
    """An arrow to grid north (EPSG:6671's grid is within 0.5° of true north over Yamaguchi)."""
    ax.annotate(
        "",
        xy=(0.95, 0.97),
        xytext=(0.95, 0.86),
        xycoords="axes fraction",
        arrowprops={"facecolor": "black", "edgecolor": "white", "width": 4, "headwidth": 11},
        zorder=6,
    )
    ax.text(0.95, 0.84, "N 北", transform=ax.transAxes, ha="center", va="top", fontsize=9,
            zorder=6, bbox={"facecolor": "white", "alpha": 0.8, "pad": 1,
                                               "edgecolor": "none"})  # fmt: skip


def _lines(ax: Any, geom: BaseGeometry, **style: Any) -> None:
    for part in getattr(geom, "geoms", [geom]):
        boundary = part.boundary
        for line in getattr(boundary, "geoms", [boundary]):
            if line.is_empty:
                continue
            xs, ys = line.xy
            ax.plot(xs, ys, **style)


def _reference(ax: Any, ref: ReferenceAreas, extent: tuple[float, float, float, float]) -> None:
    """Outlines of the reference areas and, where an area shows enough, its name."""
    from matplotlib import patheffects

    w, e, s, n = extent
    frame = shapely.box(w, s, e, n)
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for name, geom in ref.areas:
        shown = geom.intersection(frame)
        if shown.is_empty:
            continue
        # only the part on the map: an N03 coastline has hundreds of thousands of vertices
        edge = geom.boundary.intersection(frame.buffer(0.01 * (e - w)))
        for line in getattr(edge, "geoms", [edge]):
            if isinstance(line, shapely.LineString) and not line.is_empty:
                ax.plot(*line.xy, color=_REFERENCE_COLOUR, linewidth=0.8, zorder=4)
        if ref.show_names and shown.area >= 0.02 * frame.area:
            p = shown.representative_point()
            ax.text(p.x, p.y, name, ha="center", va="center", fontsize=8, color="#111111",
                    path_effects=halo, zorder=5)  # fmt: skip


def _legend(ax: Any, entries: list[tuple[str, str]], ref: ReferenceAreas | None) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(facecolor=c, edgecolor="#999999", label=t) for t, c in entries]
    handles.append(Line2D([], [], color=_AOI_COLOUR, linewidth=1.4, label="対象範囲 AOI"))
    if ref is not None:
        handles.append(Line2D([], [], color=_REFERENCE_COLOUR, linewidth=0.8, label=ref.legend))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=3,
              fontsize=8, frameon=False)  # fmt: skip


def render_quicklook(
    product: np.ndarray,
    extent: tuple[float, float, float, float],
    path: Path,
    *,
    crs: str,
    title: str,
    inside: np.ndarray | None = None,
    outline: BaseGeometry | None = None,
    reference: ReferenceAreas | None = None,
    detected_label: str = "検出 detected",
    colour: str = "#d7301f",
) -> QuicklookLayout:
    """Draw ``product`` (uint8 1/0/255, already decimated) over ``extent`` (W, E, S, N in the
    units of ``crs``, metres) to a PNG at ``path``. ``inside`` (bool, the product's shape) is
    the AOI mask (everything inside when None); ``outline`` the AOI (same CRS)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    entries = legend_entries(detected_label, colour)
    mask = np.ones(product.shape, bool) if inside is None else inside
    classes = classify(product, mask)
    cmap = ListedColormap([c for _, c in entries])
    with plt.rc_context({"font.family": font_families()}):
        aspect = product.shape[0] / max(product.shape[1], 1)
        fig, ax = plt.subplots(figsize=(8, 6.9 * aspect + 2.1))  # map ≈ 6.9 in wide
        ax.imshow(classes, cmap=cmap, vmin=0, vmax=len(entries) - 1, extent=extent,
                  interpolation="nearest", zorder=1)  # fmt: skip
        if reference is not None:
            _reference(ax, reference, extent)
        if outline is not None and not outline.is_empty:
            _lines(ax, outline, color=_AOI_COLOUR, linewidth=1.4, zorder=4)
        _graticule(ax, extent, crs)
        _scale_bar(ax, extent)
        _north_arrow(ax)
        ax.set_title(title, fontsize=11)
        ax.tick_params(labelsize=7)
        _legend(ax, entries, reference)
        fig.tight_layout()
        fig.canvas.draw()
        (left, bottom), (right, top) = ax.transData.transform([(extent[0], extent[2]),
                                                               (extent[1], extent[3])])  # fmt: skip
        height = fig.canvas.get_width_height()[1]
        fig.savefig(path, dpi=fig.dpi, metadata={"Software": None})
        plt.close(fig)
    return QuicklookLayout(extent, (left, right, height - top, height - bottom))


def quicklook_from_cog(
    product: Path,
    out: Path,
    *,
    title: str,
    outline: BaseGeometry | None,
    colour: str,
    reference: ReferenceAreas | None = None,
    detected_label: str = "検出 detected",
) -> WrittenFile:
    """Read the product COG decimated to about 1200 px and draw it to a PNG at ``out``; the
    AOI mask is ``outline`` rasterised on the decimated grid."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.features import geometry_mask

    with rasterio.open(product) as src:
        scale = max(1, int(max(src.height, src.width) / 1200))
        shape = (max(1, src.height // scale), max(1, src.width // scale))
        data = src.read(1, out_shape=shape, resampling=Resampling.nearest)
        transform = src.transform * src.transform.scale(src.width / shape[1], src.height / shape[0])
        b, crs = src.bounds, src.crs.to_string()
    inside = None
    if outline is not None and not outline.is_empty:
        inside = geometry_mask([outline], out_shape=shape, transform=transform, invert=True)
    render_quicklook(
        data, (b.left, b.right, b.bottom, b.top), out, crs=crs, title=title, inside=inside,
        outline=outline, reference=reference, detected_label=detected_label, colour=colour,
    )  # fmt: skip
    return WrittenFile(out, out.stat().st_size, sha256_file(out))
