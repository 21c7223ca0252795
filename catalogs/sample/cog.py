"""Write one single-band array as a Cloud-Optimized GeoTIFF, byte-for-byte reproducibly.

GDAL's COG driver (through rasterio): DEFLATE with a predictor, 512 px tiles, overviews
down to one tile (``OVERVIEWS=AUTO``). The driver embeds no timestamp, so the same array
and grid always give the same bytes with the same GDAL build.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import rasterio.errors
from numpy.typing import NDArray
from odc.geo.geobox import GeoBox
from rasterio.crs import CRS

from ...errors import SampleArchiveError
from ...processing.write import WrittenFile, sha256_file

__all__ = ["write_cog"]

BLOCKSIZE = 512
"""Tile size of the COGs, pixels."""


def write_cog(
    path: Path,
    array: NDArray[np.generic],
    *,
    geobox: GeoBox,
    nodata: float | None,
    resampling: str = "AVERAGE",
) -> WrittenFile:
    """Write ``array`` (2-D, on ``geobox``) as a COG at ``path`` and return its size and hash
    (:attr:`WrittenFile.multihash` is what STAC's ``file:checksum`` records).

    ``resampling`` is the GDAL overview resampling (``AVERAGE`` for measurements,
    ``NEAREST`` for classes). Raises :class:`SampleArchiveError` naming the path if GDAL
    fails. The parent folder is created.
    """
    if array.ndim != 2 or array.shape != tuple(geobox.shape.yx):
        raise SampleArchiveError(
            f"array of shape {array.shape} does not match the grid {tuple(geobox.shape.yx)}"
        )
    crs = geobox.crs
    if crs is None:
        raise SampleArchiveError(f"no CRS for {path}")
    profile = {
        "driver": "COG",
        "width": array.shape[1],
        "height": array.shape[0],
        "count": 1,
        "dtype": array.dtype.name,
        "crs": CRS.from_epsg(crs.epsg) if crs.epsg is not None else CRS.from_wkt(crs.to_wkt()),
        "transform": geobox.transform,
        "nodata": nodata,
        "compress": "DEFLATE",
        "predictor": "YES",
        "blocksize": BLOCKSIZE,
        "overviews": "AUTO",
        "resampling": resampling,
        "num_threads": "ALL_CPUS",
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(array, 1)
    except (rasterio.errors.RasterioError, OSError) as e:
        raise SampleArchiveError(f"could not write the COG {path}: {e}") from e
    return WrittenFile(path=path, size=path.stat().st_size, sha256=sha256_file(path))
