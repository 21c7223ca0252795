"""Statistics of rasters per object: the mean of a raster inside each product polygon."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LoadError

__all__ = ["object_means"]


def _means(path: Path, geometries: Any) -> list[float | None]:
    """Mean of the finite values of band 1 of ``path`` inside each geometry (rounded to 4
    decimals; None where a geometry covers no finite value)."""
    import rasterio
    from rasterio import features
    from rasterio.windows import from_bounds

    means: list[float | None] = []
    try:
        with rasterio.open(path) as src:
            # an integer raster holding a measure (ΔNDVI as int16 × 1e-4): its nodata out,
            # GDAL's scale and offset applied
            nodata = src.nodata if np.dtype(src.dtypes[0]).kind in "iu" else None
            scale, offset = src.scales[0], src.offsets[0]
            for geom in geometries:
                win = (
                    from_bounds(*geom.bounds, transform=src.transform)
                    .round_offsets()
                    .round_lengths()
                )
                if nodata is None:
                    data = src.read(1, window=win, boundless=True, fill_value=np.nan)
                else:
                    stored = src.read(1, window=win, boundless=True, fill_value=nodata)
                    data = np.where(stored == nodata, np.nan, stored * scale + offset)
                mask = features.geometry_mask(
                    [geom],
                    out_shape=data.shape,
                    transform=src.window_transform(win),
                    invert=True,
                )
                vals = data[mask & np.isfinite(data)]
                means.append(round(float(vals.mean()), 4) if vals.size else None)
    except rasterio.errors.RasterioIOError as e:
        raise LoadError(f"could not read {path} for the object means: {e}") from e
    return means


def object_means(rasters: Mapping[str, Path]) -> Callable[[Any], Any]:
    """A polygons enricher: given a GeoDataFrame in the rasters' CRS, adds a column per entry
    of ``rasters`` (column name -> raster path) holding the raster's mean in each polygon."""

    def enrich(gdf: Any) -> Any:
        for name, path in rasters.items():
            gdf[name] = _means(path, gdf.geometry)
        return gdf

    return enrich
