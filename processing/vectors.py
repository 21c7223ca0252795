"""Polygons from a written product COG (block by block, merged across block edges), and the
zone each polygon lies in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio import features
from rasterio.windows import Window

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EnrichPolygons", "polygons_from_cog", "zone_codes"]

EnrichPolygons = Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]
"""A function that adds per-object columns to a frame of polygons (e.g. mean slope)."""


def polygons_from_cog(path: Path, *, value: int = 1, block: int = 2048) -> gpd.GeoDataFrame:
    """One polygon per 8-connected region of ``value`` in the COG at ``path``, with ``area_m2``.

    Reads ``block``-pixel windows so memory stays flat; polygons cut by window edges are
    merged again by a union of those touching an internal edge.
    """
    geoms: list[shapely.Geometry] = []
    edges: list[shapely.Geometry] = []
    with rasterio.open(path) as src:
        crs = src.crs
        for row in range(0, src.height, block):
            for col in range(0, src.width, block):
                win = Window(col, row, min(block, src.width - col), min(block, src.height - row))
                data = src.read(1, window=win)
                hit = data == value
                if not hit.any():
                    continue
                tr = src.window_transform(win)
                for geom, _v in features.shapes(
                    hit.astype("uint8"), mask=hit, transform=tr, connectivity=8
                ):
                    geoms.append(shapely.geometry.shape(geom))
        t = src.transform
        for col in range(block, src.width, block):
            x = t.c + col * t.a
            edges.append(shapely.LineString([(x, t.f), (x, t.f + src.height * t.e)]))
        for row in range(block, src.height, block):
            y = t.f + row * t.e
            edges.append(shapely.LineString([(t.c, y), (t.c + src.width * t.a, y)]))
    if edges and geoms:
        cut = shapely.union_all(edges)
        touching = np.array([g.intersects(cut) for g in geoms])
        kept = [g for g, k in zip(geoms, touching, strict=True) if not k]
        merged = shapely.union_all([g for g, k in zip(geoms, touching, strict=True) if k])
        geoms = kept + [p for p in shapely.get_parts(merged) if not p.is_empty]
    gdf = gpd.GeoDataFrame({"geometry": geoms}, geometry="geometry", crs=crs)
    gdf["area_m2"] = gdf.geometry.area.round(1)
    if len(gdf) == 0:
        return gdf
    centre = gdf.geometry.centroid
    order: np.ndarray = np.lexsort((centre.x.to_numpy(), -centre.y.to_numpy()))
    return gdf.iloc[order].reset_index(drop=True)


def zone_codes(gdf: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, column: str) -> pd.Series:
    """``zones[column]`` of the zone holding each polygon's representative point (NaN when
    none), indexed like ``gdf``; the first zone wins where zones overlap."""
    points = gpd.GeoDataFrame(geometry=gdf.geometry.representative_point(), crs=gdf.crs)
    joined = gpd.sjoin(points, zones[[column, "geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    return joined[column].reindex(gdf.index)
