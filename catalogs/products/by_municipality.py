"""A product by municipality: its polygons named after the municipality they lie in, and the
per-municipality table (affected area, share, valid coverage, objects) in ja and en."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...processing.vectors import polygons_from_cog, zone_codes
from ...processing.write import WrittenFile, write_csv
from ...processing.zonal import zonal_counts_from_cog
from ..extent.boundaries import Boundaries
from ..extent.municipalities import by_code

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["TABLE_COLUMNS", "municipality_rows", "polygons", "write_table"]

TABLE_COLUMNS = (
    "code",
    "name_ja",
    "name_en",
    "area_km2",
    "share_of_municipality",
    "valid_coverage",
    "objects",
)
"""Columns of the per-municipality CSV"""


def polygons(product: Path, boundaries: Boundaries | None, crs: str) -> gpd.GeoDataFrame:
    """Polygons of the detected regions with area and municipality code and names."""
    gdf = polygons_from_cog(product)
    gdf["municipality_code"] = None
    gdf["municipality_ja"] = None
    gdf["municipality_en"] = None
    if boundaries is not None and len(gdf):
        codes = zone_codes(gdf, boundaries.frame.to_crs(crs), "code")
        gdf["municipality_code"] = codes.where(codes.notna(), None)
        munis = [by_code(c) if isinstance(c, str) else None for c in codes]
        gdf["municipality_ja"] = [m.name_ja if m else None for m in munis]
        gdf["municipality_en"] = [m.name_en if m else None for m in munis]
    gdf.insert(0, "id", range(1, len(gdf) + 1))
    return gdf


def municipality_rows(
    product: Path, crs: str, boundaries: Boundaries | None, pixel_area: float, gdf: gpd.GeoDataFrame
) -> list[dict[str, Any]]:
    """Affected area, share and valid coverage per municipality (ja/en), plus object counts."""
    if boundaries is None:
        return []
    frame = boundaries.frame.to_crs(crs)
    zones = [(geom, i + 1) for i, geom in enumerate(frame.geometry)]
    counts = zonal_counts_from_cog(str(product), zones)
    objects = gdf["municipality_code"].value_counts().to_dict() if len(gdf) else {}
    rows = []
    for i, code in enumerate(frame["code"]):
        not_det, det, nodata = (int(v) for v in counts[i + 1])
        inside = not_det + det + nodata
        if det + not_det == 0:
            continue
        m = by_code(str(code))
        muni_area = float(frame.geometry.iloc[i].area)
        rows.append(
            {
                "code": str(code),
                "name_ja": m.name_ja if m else str(frame["name_ja"].iloc[i]),
                "name_en": m.name_en if m else "",
                "changed_area_m2": round(det * pixel_area, 1),
                "area_km2": round(det * pixel_area / 1e6, 4),
                "share_of_municipality": round(det * pixel_area / muni_area, 6)
                if muni_area
                else 0.0,
                "valid_coverage": round((det + not_det) / inside, 4) if inside else 0.0,
                "objects": int(objects.get(str(code), 0)),
            }
        )
    return rows


def write_table(rows: list[dict[str, Any]], path: Path) -> WrittenFile:
    """The per-municipality table as UTF-8 CSV (with BOM, so spreadsheet software shows 日本語)."""
    return write_csv(rows, path, TABLE_COLUMNS)
