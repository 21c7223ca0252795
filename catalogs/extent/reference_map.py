"""The places drawn on quicklooks for orientation.

With municipal boundaries configured (MLIT N03), every municipality with its Japanese and
English name; without them, as on a new user's machine, the prefecture outline from the
``japanmap`` package (coarse, mainland only).
"""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from ...processing.quicklook import ReferenceAreas
from .boundaries import Boundaries, fallback_prefecture_outline
from .municipalities import PREFECTURE, by_code

__all__ = ["reference_areas"]


def _short_en(name_en: str) -> str:
    for suffix in (" City", " Town"):
        if name_en.endswith(suffix):
            return name_en[: -len(suffix)]
    return name_en


def reference_areas(boundaries: Boundaries | None, crs: str) -> ReferenceAreas:
    """Municipalities (named ``防府市 Hofu``) when ``boundaries`` is given, else the
    prefecture outline; polygons in ``crs``."""
    if boundaries is None:
        outline = gpd.GeoSeries([fallback_prefecture_outline()], crs="EPSG:4326").to_crs(crs)
        geom: BaseGeometry = outline.iloc[0]
        return ReferenceAreas(
            areas=((f"{PREFECTURE.name_ja} {PREFECTURE.name_en}", geom),),
            legend="県境 prefecture outline (japanmap, coarse)",
            show_names=False,
        )
    frame = boundaries.frame.to_crs(crs)
    areas = []
    for code, name_ja, geom in zip(frame["code"], frame["name_ja"], frame.geometry, strict=True):
        known = by_code(str(code))
        name = f"{name_ja} {_short_en(known.name_en)}" if known else str(name_ja)
        areas.append((name, geom))
    return ReferenceAreas(areas=tuple(areas), legend="市町村界 municipal boundaries")
