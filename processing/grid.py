"""The project grid: one CRS and resolution for every load (default EPSG:6671, 10 m)."""

from __future__ import annotations

from typing import Any

import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from ..errors import InvariantError

__all__ = ["aoi_mask", "project_geobox"]


def project_geobox(
    aoi: BaseGeometry, *, crs: str = "EPSG:6671", resolution: float = 10.0
) -> GeoBox:
    """The pixel grid covering ``aoi`` (EPSG:4326) in ``crs``, edges on multiples of ``resolution``.

    Snapping to multiples keeps every product of the same CRS and resolution on one lattice,
    so products from different runs stack pixel for pixel.
    """
    geom = Geometry(aoi, crs="EPSG:4326").to_crs(crs)
    return GeoBox.from_geopolygon(geom, resolution=resolution, crs=crs, tight=False)


def aoi_mask(geobox: GeoBox, aoi: BaseGeometry, *, chunk: int = 2048) -> xr.DataArray:
    """Lazy bool DataArray on ``geobox``: True inside ``aoi`` (EPSG:4326), pixel centres."""
    import dask.array as dsa
    import numpy as np
    from odc.geo.xr import wrap_xr
    from rasterio import features

    shape = tuple(geobox.shape)
    if geobox.crs is None:
        raise ValueError("the geobox has no CRS")
    geom = Geometry(aoi, crs="EPSG:4326").to_crs(geobox.crs).geom
    tr = geobox.affine

    def block(block_info: dict[Any, Any] | None = None) -> np.ndarray:
        if block_info is None:
            raise InvariantError("dask gave aoi_mask's block no block_info")
        (y0, y1), (x0, x1) = block_info[None]["array-location"]
        sub = tr * tr.translation(x0, y0)
        out_shape = (y1 - y0, x1 - x0)
        # a block whose pixels' edges lie all inside (or all outside) the AOI has every pixel
        # centre inside (outside) it: no rasterizing (most blocks of an AOI that fills a tile)
        xs, ys = zip(*(sub * (c, r) for c in (0, x1 - x0) for r in (0, y1 - y0)), strict=True)
        extent = box(min(xs), min(ys), max(xs), max(ys))
        if geom.contains(extent):
            return np.ones(out_shape, dtype=bool)
        if not geom.intersects(extent):
            return np.zeros(out_shape, dtype=bool)
        return features.geometry_mask([geom], out_shape=out_shape, transform=sub, invert=True)

    arr = dsa.map_blocks(block, chunks=dsa.core.normalize_chunks(chunk, shape), dtype=bool)
    return wrap_xr(arr, geobox)
