"""PNG of accumulated rainfall: a map of the period's total with the zones' outlines, and
bars of each zone's largest 1- and 3-day totals, labelled in Japanese and English."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from shapely.geometry.base import BaseGeometry

from .fonts import font_families

__all__ = ["ZoneBar", "japanese_families", "render_rainfall_png", "render_series_png"]

log = logging.getLogger(__name__)


def japanese_families() -> list[str]:
    """Font families that draw Japanese first, then DejaVu Sans: the declared font of every
    picture yamasat draws (:mod:`.fonts`; :class:`~yamasat.errors.FontMissingError` naming
    the package to install when there is none, rather than labels in boxes)."""
    return font_families()


@dataclass(frozen=True)
class ZoneBar:
    """One zone's bar: label and its largest totals (mm) over the period."""

    label: str
    max_1d_mm: float
    max_3d_mm: float


def _figure(size: tuple[float, float]) -> object:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: object) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()  # type: ignore[attr-defined]
    fig.savefig(buf, format="png", metadata={"Software": None})  # type: ignore[attr-defined]
    return buf.getvalue()


def _outline(ax: object, geom: BaseGeometry) -> None:
    polys = getattr(geom, "geoms", [geom])
    for poly in polys:
        ring = getattr(poly, "exterior", None)
        if ring is not None:
            x, y = ring.xy
            ax.plot(x, y, color="#333333", linewidth=0.6)  # type: ignore[attr-defined]


def render_rainfall_png(
    total: xr.DataArray,
    zones: Mapping[str, BaseGeometry],
    bars: Sequence[ZoneBar],
    *,
    title: str,
    note: str,
) -> bytes:
    """PNG bytes: ``total`` (y, x) mm on its EPSG:4326 grid with ``zones`` outlined, beside
    the bars; ``note`` (days, source, credit) at the bottom."""
    family = japanese_families()
    fig = _figure((11.0, 5.2))
    ax_map, ax_bar = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})  # type: ignore[attr-defined]
    x, y = total["x"].values, total["y"].values
    dx = abs(x[1] - x[0]) if len(x) > 1 else 0.1
    dy = abs(y[1] - y[0]) if len(y) > 1 else 0.1
    extent = (x.min() - dx / 2, x.max() + dx / 2, y.min() - dy / 2, y.max() + dy / 2)
    img = ax_map.imshow(
        np.ma.masked_invalid(total.values), extent=extent, origin="upper", cmap="Blues"
    )
    for geom in zones.values():
        _outline(ax_map, geom)
    ax_map.set_aspect(1 / np.cos(np.deg2rad(float(np.mean(y)))))
    ax_map.set_title("期間降水量 period total (mm)", family=family, fontsize=10)
    fig.colorbar(img, ax=ax_map, shrink=0.8, label="mm")  # type: ignore[attr-defined]
    pos = np.arange(len(bars))
    ax_bar.barh(pos - 0.2, [b.max_3d_mm for b in bars], 0.4, color="#08519c",
                label="72時間 72 h (max)")  # fmt: skip
    ax_bar.barh(pos + 0.2, [b.max_1d_mm for b in bars], 0.4, color="#9ecae1",
                label="24時間 24 h (max)")  # fmt: skip
    ax_bar.set_yticks(pos, [b.label for b in bars], family=family, fontsize=8)
    ax_bar.invert_yaxis()
    ax_bar.set_xlabel("最大積算雨量 largest accumulation (mm)", family=family)
    ax_bar.legend(prop={"family": family, "size": 8}, loc="lower right")
    ax_bar.grid(axis="x", alpha=0.3)
    fig.suptitle(title, family=family, fontsize=11)  # type: ignore[attr-defined]
    fig.text(0.01, 0.01, note, family=family, fontsize=7, color="#555555")  # type: ignore[attr-defined]
    return _png(fig)


def render_series_png(
    days: Sequence[object],
    daily_mm: Sequence[float],
    totals_mm: Mapping[str, Sequence[float]],
    thresholds: Mapping[str, float],
    *,
    title: str,
) -> bytes:
    """PNG bytes: one municipality's daily rainfall (bars) with its running totals (lines)
    and the thresholds (dashed, same colour as the total they apply to)."""
    family = japanese_families()
    fig = _figure((7.5, 3.4))
    ax = fig.add_subplot()  # type: ignore[attr-defined]
    xs = np.arange(len(days))
    ax.bar(xs, np.nan_to_num(np.asarray(daily_mm, dtype=float)), color="#9ecae1",
           label="日降水量 daily")  # fmt: skip
    colours = ("#08519c", "#d94801", "#54278f")
    for (name, values), colour in zip(totals_mm.items(), colours, strict=False):
        ax.plot(xs, values, color=colour, linewidth=1.5, label=name)
        if name in thresholds:
            ax.axhline(thresholds[name], color=colour, linestyle="--", linewidth=1,
                       label=f"{name} 基準 threshold {thresholds[name]:g} mm")  # fmt: skip
    step = max(1, len(days) // 10)
    ax.set_xticks(xs[::step], [str(d)[5:10] for d in list(days)[::step]], fontsize=7)
    ax.set_ylabel("mm", family=family)
    ax.set_title(title, family=family, fontsize=10)
    ax.legend(prop={"family": family, "size": 7}, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)
