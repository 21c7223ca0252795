"""Reading back rasters a run wrote (its staging files): lazily window by window, warped onto
another grid chunk by chunk, or decimated through the overviews for a global statistic."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox

from ..errors import InvariantError, LoadError
from .warp import bilinear_rows, row_coordinates

__all__ = ["gdal_warp", "open_raster", "open_warped", "read_decimated"]


class _CogWindows:
    """Array-like view of band 1 of a raster, read window by window (thread-safe: one open per
    read), for ``dask.array.from_array``."""

    def __init__(self, path: str) -> None:
        import rasterio

        self.path = path
        with rasterio.open(path) as src:
            self.shape = (src.height, src.width)
            self.dtype = np.dtype(src.dtypes[0])
        self.ndim = 2

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        """The pixels of ``key``, steps included: dask fuses a strided slice of the array
        (``da[::step, ::step]``, the threshold's sample) into this call, so a step must not
        be dropped (it was: the "sample" read back every pixel of the raster, 2.6 GB of
        float64 on a Sentinel-2 tile)."""
        import rasterio
        from rasterio.windows import Window

        ys, xs = key
        rows = range(*ys.indices(self.shape[0]))
        cols = range(*xs.indices(self.shape[1]))
        if not rows or not cols:
            return np.empty((len(rows), len(cols)), dtype=self.dtype)
        y0, y1 = min(rows[0], rows[-1]), max(rows[0], rows[-1]) + 1
        x0, x1 = min(cols[0], cols[-1]), max(cols[0], cols[-1]) + 1
        try:
            with rasterio.open(self.path) as src:
                data = src.read(1, window=Window(x0, y0, x1 - x0, y1 - y0))
        except rasterio.errors.RasterioIOError as e:
            raise LoadError(f"could not read {self.path} window {key}: {e}") from e
        if rows.step == 1 and cols.step == 1:
            return data
        return data[rows[0] - y0 :: rows.step, cols[0] - x0 :: cols.step]


def open_raster(path: str, *, geobox: GeoBox, chunk: int = 2048) -> xr.DataArray:
    """A written single-band raster on ``geobox`` as a lazy DataArray (nodata kept as stored)."""
    import dask.array as dsa
    from odc.geo.xr import wrap_xr

    arr = dsa.from_array(_CogWindows(path), chunks=(chunk, chunk), lock=False, asarray=True)
    if tuple(arr.shape) != tuple(geobox.shape):
        raise LoadError(f"{path} has shape {arr.shape}, expected the grid {tuple(geobox.shape)}")
    return wrap_xr(arr, geobox)


_WARP_MARGIN_PX = {"nearest": 1, "bilinear": 2, "cubic": 3, "average": 2}


def _warp_block(
    path: str, geobox: GeoBox, resampling: str, block_info: dict[Any, Any] | None = None
) -> np.ndarray:
    import rasterio
    from rasterio.windows import Window

    if block_info is None:
        raise InvariantError("dask gave _warp_block no block_info")
    (y0, y1), (x0, x1) = block_info[None]["array-location"]
    dst_box = geobox[y0:y1, x0:x1]
    out = np.full((y1 - y0, x1 - x0), np.nan, dtype="float32")
    dst_crs = geobox.crs.to_wkt() if geobox.crs is not None else None
    try:
        with rasterio.open(path) as src:
            coords = None
            if resampling == "bilinear" and dst_crs is not None and src.crs is not None:
                # GDAL's own source coordinates (processing/warp.py), whose rows' ends bound
                # the pixels the kernel reads: no densified footprint of the block to transform
                coords = row_coordinates(
                    dst_box.affine,
                    out.shape,
                    dst_crs,
                    src.transform,
                    src.crs.to_wkt(),
                    (src.height, src.width),
                )
            if coords is not None:
                cols = np.concatenate([coords[0], coords[0] + coords[1] * (out.shape[1] - 1)])
                rows = np.concatenate([coords[2], coords[2] + coords[3] * (out.shape[1] - 1)])
            else:
                # the source pixels under this block, from its footprint
                fx0, fy0, fx1, fy1 = dst_box.footprint(src.crs).boundingbox
                inv = ~src.transform
                corners = [inv * xy for xy in ((fx0, fy0), (fx0, fy1), (fx1, fy0), (fx1, fy1))]
                cols = np.array([c for c, _r in corners])
                rows = np.array([r for _c, r in corners])
            # with a margin for the resampling kernel
            m = _WARP_MARGIN_PX.get(resampling, 4)
            c0 = max(0, int(np.floor(cols.min())) - m)
            c1 = min(src.width, int(np.ceil(cols.max())) + m)
            r0 = max(0, int(np.floor(rows.min())) - m)
            r1 = min(src.height, int(np.ceil(rows.max())) + m)
            if c0 >= c1 or r0 >= r1:
                return out
            window = Window(c0, r0, c1 - c0, r1 - r0)
            data = src.read(1, window=window, out_dtype="float32")
            src_transform = src.window_transform(window)
            src_crs = src.crs
    except rasterio.errors.RasterioIOError as e:
        raise LoadError(f"could not read {path} for warping: {e}") from e
    if coords is not None:
        x_0, dx, y_0, dy = coords
        if bilinear_rows(data, (x_0 - c0, dx, y_0 - r0, dy), out):
            return out
    return gdal_warp(data, src_transform, src_crs, dst_box, resampling, out)


def gdal_warp(
    data: np.ndarray,
    src_transform: Any,
    src_crs: Any,
    dst_box: GeoBox,
    resampling: str,
    out: np.ndarray,
) -> np.ndarray:
    """``data`` (a float32 window on ``src_transform``) warped by GDAL into ``out`` (on
    ``dst_box``)."""
    from rasterio.warp import Resampling
    from rasterio.warp import reproject as rio_reproject

    rio_reproject(
        data,
        out,
        src_transform=src_transform,
        src_crs=src_crs,
        dst_transform=dst_box.affine,
        dst_crs=dst_box.crs.to_wkt() if dst_box.crs is not None else None,
        src_nodata=None,
        dst_nodata=None,
        init_dest_nodata=False,
        resampling=Resampling[resampling],
    )
    return out


def open_warped(
    path: str, *, geobox: GeoBox, resampling: str = "bilinear", chunk: int = 2048
) -> xr.DataArray:
    """A written single-band float raster warped onto ``geobox``, lazily, chunk by chunk.

    Each chunk reads only the source window under it (plus the kernel's margin) and warps it
    with GDAL (``rasterio.warp.reproject``). NaN in the source is not declared as nodata: it
    propagates through the kernel, so an output pixel is NaN when any source pixel it draws on
    is NaN (for bilinear, its 2 × 2 neighbours). No output value mixes valid and invalid
    inputs, invalid areas grow by at most a pixel, and GDAL keeps its fast path for rasters
    without masks. Pixels the source does not cover are NaN.
    """
    import dask.array as dsa
    from odc.geo.xr import wrap_xr

    if resampling not in _WARP_MARGIN_PX:
        raise LoadError(f"unknown resampling {resampling!r}; use one of {sorted(_WARP_MARGIN_PX)}")
    arr = dsa.map_blocks(
        _warp_block,
        path,
        geobox,
        resampling,
        chunks=dsa.core.normalize_chunks(chunk, tuple(geobox.shape)),
        dtype="float32",
        meta=np.empty((0, 0), dtype="float32"),
    )
    return wrap_xr(arr, geobox)


def read_decimated(path: Any, *, max_side: int = 2048) -> xr.DataArray:
    """Band 1 of a raster read at about ``max_side`` pixels on its longer side (an integer
    decimation: GDAL reads it from the COG's overviews), for statistics such as a threshold."""
    import rasterio

    try:
        with rasterio.open(path) as src:
            scale = max(1, int(max(src.height, src.width) / max_side))
            data = src.read(1, out_shape=(src.height // scale, src.width // scale))
    except rasterio.errors.RasterioIOError as e:
        raise LoadError(f"could not read {path}: {e}") from e
    return xr.DataArray(data)
