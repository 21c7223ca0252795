"""A published product's totals over its whole area, from its polygons (GeoParquet with
``area_m2`` per polygon): what a report shows when there are no municipal boundaries to
split them by."""

from __future__ import annotations

from pathlib import Path

__all__ = ["polygon_totals"]


def polygon_totals(path: Path) -> tuple[float, int]:
    """The total area (km²) and the number of the polygons in ``path``."""
    import geopandas as gpd

    frame = gpd.read_parquet(path)
    return float(frame["area_m2"].sum()) / 1e6, len(frame)
