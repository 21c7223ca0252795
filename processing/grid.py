"""The project grid: one CRS and resolution for every load (default EPSG:6671, 10 m)."""

from __future__ import annotations

from odc.geo.geobox import GeoBox
from odc.geo.geom import Geometry
from shapely.geometry.base import BaseGeometry

__all__ = ["project_geobox"]


def project_geobox(
    aoi: BaseGeometry, *, crs: str = "EPSG:6671", resolution: float = 10.0
) -> GeoBox:
    """The pixel grid covering ``aoi`` (EPSG:4326) in ``crs``, edges on multiples of ``resolution``.

    Snapping to multiples keeps every product of the same CRS and resolution on one lattice,
    so products from different runs stack pixel for pixel.
    """
    geom = Geometry(aoi, crs="EPSG:4326").to_crs(crs)
    return GeoBox.from_geopolygon(geom, resolution=resolution, crs=crs, tight=False)
