"""One source read onto the destination grid, opened with GDAL's ``GTiff`` driver only.

odc-loader's own ``rio_read`` (0.6) opens a source with whatever driver GDAL picks from its
content, so a VRT or other raster under a ``.tif`` name would be opened; this is the same
read (odc-loader's helpers: reprojection window, overview choice, warp) with the driver
pinned. It raises rasterio's errors as they come; :mod:`.read_guard` names them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import rasterio
from odc.loader._reader import pick_overview, resolve_band_query
from odc.loader._rio import _do_read, _reproject_info_from_rio, rio_env

__all__ = ["read_gtiff"]

#: the only GDAL driver assets are opened with
ASSET_DRIVER = "GTiff"


def read_gtiff(
    uri: str, src: Any, cfg: Any, dst_geobox: Any, dst: np.ndarray | None, selection: Any
) -> tuple[tuple[slice, slice], np.ndarray]:
    """``src`` (an odc RasterSource) read from ``uri`` onto ``dst_geobox`` (into ``dst``)."""
    ydim = src.ydim
    if dst is not None and dst.ndim == 3 and ydim == 0:
        dst = dst.transpose([2, 0, 1])  # supplied as Y,X,B: read as B,Y,X
    roi, out = _read(uri, src, cfg, dst_geobox, dst, selection)
    if out.ndim == 3 and ydim == 0:
        out = out.transpose([1, 2, 0])  # B,Y,X -> Y,X,B
    return roi, out


def _read(
    uri: str, src: Any, cfg: Any, dst_geobox: Any, dst: np.ndarray | None, selection: Any
) -> tuple[tuple[slice, slice], np.ndarray]:
    ttol = 0.9 if cfg.nearest else 0.05
    with rasterio.open(uri, "r", sharing=False, driver=ASSET_DRIVER) as rdr:
        bidx = resolve_band_query(src, rdr.count, selection=selection)
        rr = _reproject_info_from_rio(rdr, dst_geobox, ttol=ttol)
        ovr_idx = None
        if cfg.use_overviews and rr.read_shrink > 1:
            first_band = bidx if isinstance(bidx, int) else bidx[0]
            ovr_idx = pick_overview(rr.read_shrink, rdr.overviews(first_band))
        if ovr_idx is None:
            with rio_env(VSI_CACHE=False):
                roi, out = _do_read(rasterio.band(rdr, bidx), cfg, dst_geobox, rr, dst=dst)
                return roi, out
        with rasterio.open(
            uri, "r", sharing=False, overview_level=ovr_idx, driver=ASSET_DRIVER
        ) as ovr:
            rr = _reproject_info_from_rio(rdr, dst_geobox, ttol=ttol)
            with rio_env(VSI_CACHE=False):
                roi, out = _do_read(rasterio.band(ovr, bidx), cfg, dst_geobox, rr, dst=dst)
                return roi, out
