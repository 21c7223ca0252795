"""A bilinear warp of a float32 window onto a destination grid, equal to GDAL's.

``rasterio.warp.reproject`` spent about 62 ms of CPU per 1536-px chunk of a Sentinel-2 tile's
ΔNDVI (4 s of the change pipeline's 32 s), about 40 of them outside the bilinear kernel
itself (the transformer, GDAL's working buffers, the setup of each call). This module computes
the same values in about 25 ms: it follows what GDAL's warper does for a float32 source
without masks or nodata (``GWKResampleNoMasksOrDstDensityOnlyThread`` with the 4-sample
bilinear formula, behind GDAL's approximate transformer), pixel for pixel:

- each destination row's source coordinates are those of GDAL's approximate transformer
  (error threshold 0.125 px): its first, middle and last pixel centres are transformed
  exactly (dst pixel → dst CRS → src CRS → src pixel, through PROJ), and when the middle one
  lies within 0.125 px of the line through the other two, every pixel of the row is put on
  that line (``GDALApproxTransform``);
- a destination pixel whose source coordinate lies outside the source window keeps its
  value; otherwise it is the bilinear mean of the 2 × 2 source pixels around it, in double
  precision, weights renormalised over those inside the window at its edges
  (``GWKBilinearResampleNoMasks4SampleT``), NaN propagating.

Where GDAL would do something else (a row whose middle point is further than 0.125 px from
the line, where GDAL splits the row; five pixels or fewer per row; a coordinate PROJ cannot
transform; a block whose size is under 0.95 of its source window's on either axis, where GDAL
widens the kernel: a thin block on a rotated grid; a block GDAL splits, mostly off the raster
or over its memory limit; a translation by whole pixels, which GDAL copies by nearest
neighbour) :func:`row_coordinates` returns None and
the caller uses GDAL. Checked against ``rasterio.warp.reproject`` on every 1536-px chunk of the
benchmark's tile's grid, on the same grid shifted across the source's edges and corners, and
with chunks of 777, 1000 and 2048 px (and ``tests/test_warp.py``): the same NaN pixels, values
within a float32 ulp (6e-8 at most, on about 1 pixel in 60,000).

The kernel is compiled with numba (a dependency of pyflwdir, which yamasat requires); without
numba, :func:`bilinear_rows` returns None and GDAL does the work.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from affine import Affine

from .compiled import compiled

__all__ = ["APPROX_ERROR_PX", "bilinear_rows", "row_coordinates"]

APPROX_ERROR_PX = 0.125
"""GDAL's approximate transformer's default error threshold (source pixels), which
``rasterio.warp.reproject`` uses"""

_MIN_SCALE = 0.96
"""GDAL's 4-sample bilinear formula needs a scale of 0.95 or more on both axes; a block whose
estimate falls short of 0.96 is left to GDAL (its estimate of the window differs a little)"""
_SCALE_SLACK_PX = 1.0
"""added to the estimated source window: the edges' half pixels and rounding"""

_MIN_FILL = 0.6
"""GDAL splits a block of more than 100 px whose source window lies less than half (0.5) on
the raster; a block under 0.6 is left to GDAL"""
_MAX_BYTES = 40 * 2**20
"""GDAL splits a block whose source and destination buffers exceed its warp memory limit
(64 MB by default, with masks and its own overheads); a block needing more than 40 MB of
float32 is left to GDAL"""

_local = threading.local()


def _bilinear_py(
    src: np.ndarray,
    x0: np.ndarray,
    dx: np.ndarray,
    y0: np.ndarray,
    dy: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """GDAL's 4-sample bilinear (``GWKBilinearResampleNoMasks4SampleT``) of ``src`` at each
    row's coordinates into ``out``; compiled by :func:`~.compiled.compiled`."""
    ny, nx = out.shape
    h, w = src.shape
    for r in range(ny):
        for c in range(nx):
            x = x0[r] + dx[r] * c
            y = y0[r] + dy[r] * c
            if not (x >= 0.0 and y >= 0.0 and x < w and y < h):
                continue
            ix = int(np.floor(x - 0.5))
            iy = int(np.floor(y - 0.5))
            rx = 1.5 - (x - ix)
            ry = 1.5 - (y - iy)
            if ix >= 0 and ix + 1 < w and iy >= 0 and iy + 1 < h:
                out[r, c] = (src[iy, ix] * rx + src[iy, ix + 1] * (1.0 - rx)) * ry + (
                    src[iy + 1, ix] * rx + src[iy + 1, ix + 1] * (1.0 - rx)
                ) * (1.0 - ry)
                continue
            acc = 0.0
            div = 0.0
            for k in range(4):  # GDAL's order: upper left, upper right, lower right, lower left
                yy = iy + (0, 0, 1, 1)[k]
                xx = ix + (0, 1, 1, 0)[k]
                wy = ry if yy == iy else 1.0 - ry
                wx = rx if xx == ix else 1.0 - rx
                if 0 <= yy < h and 0 <= xx < w:
                    m = wx * wy
                    div += m
                    acc += src[yy, xx] * m
            if div < 0.00001:
                continue
            out[r, c] = acc if div == 1.0 else acc / div


def _transformer(dst_crs: str, src_crs: str) -> Any:
    """A pyproj Transformer dst → src, one per thread (they are not shared across threads)."""
    cache: dict[tuple[str, str], Any] = getattr(_local, "transformers", None) or {}
    _local.transformers = cache
    key = (dst_crs, src_crs)
    if key not in cache:
        from pyproj import Transformer

        cache[key] = Transformer.from_crs(dst_crs, src_crs, always_xy=True)
    return cache[key]


def row_coordinates(
    dst_affine: Affine,
    dst_shape: tuple[int, int],
    dst_crs: str,
    src_affine: Affine,
    src_crs: str,
    src_shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Per destination row, the source pixel coordinate of its first pixel centre and the step
    per pixel, ``(x0, dx, y0, dy)``, as GDAL's approximate transformer puts them, for a block
    GDAL warps in one piece with its 4-sample bilinear formula; None for any other block."""
    ny, nx = dst_shape
    if nx <= 5 or ny < 1:
        return None
    mid = (nx - 1) // 2
    cols = np.array([0.5, mid + 0.5, nx - 0.5])
    col, row = np.meshgrid(cols, np.arange(ny) + 0.5)
    a = dst_affine
    xs, ys = _transformer(dst_crs, src_crs).transform(
        a.c + a.a * col + a.b * row, a.f + a.d * col + a.e * row
    )
    inv = ~src_affine
    px = inv.c + inv.a * xs + inv.b * ys
    py = inv.f + inv.d * xs + inv.e * ys
    if not (np.isfinite(px).all() and np.isfinite(py).all()):
        return None
    span = cols[2] - cols[0]
    dx = (px[:, 2] - px[:, 0]) / span
    dy = (py[:, 2] - py[:, 0]) / span
    off = cols[1] - cols[0]
    err = np.abs(px[:, 0] + dx * off - px[:, 1]) + np.abs(py[:, 0] + dy * off - py[:, 1])
    if (err > APPROX_ERROR_PX).any():
        return None
    # a translation by whole pixels: GDAL copies it by nearest neighbour
    if (
        np.allclose(dx, 1.0, rtol=0, atol=1e-9)
        and np.allclose(dy, 0.0, rtol=0, atol=1e-9)
        and np.allclose(np.diff(px[:, 0]), 0.0, rtol=0, atol=1e-9)
        and np.allclose(np.diff(py[:, 0]), 1.0, rtol=0, atol=1e-9)
        and abs(px[0, 0] - 0.5 - round(px[0, 0] - 0.5)) < 1e-6
        and abs(py[0, 0] - 0.5 - round(py[0, 0] - 0.5)) < 1e-6
    ):
        return None
    # GDAL's scale: the block's size over its source window's (the bounding box of its edges
    # in source pixels); under 0.95 on either axis it widens the bilinear kernel (a block
    # much thinner than the grid's rotation is tall, like the grid's last row of chunks)
    ends_x, ends_y = px[:, [0, 2]], py[:, [0, 2]]
    x_min, x_max = ends_x.min() - 0.5, ends_x.max() + 0.5
    y_min, y_max = ends_y.min() - 0.5, ends_y.max() + 0.5
    x_scale = nx / (x_max - x_min + _SCALE_SLACK_PX)
    y_scale = ny / (y_max - y_min + _SCALE_SLACK_PX)
    if min(x_scale, y_scale) < _MIN_SCALE:
        return None
    # GDAL splits a block (and warps each part with its own rows and scale) when less than
    # half of its source window lies on the raster, or when it needs more than its memory
    # limit (64 MB)
    h, w = src_shape
    inside = max(0.0, min(x_max, w) - max(x_min, 0.0)) * max(0.0, min(y_max, h) - max(y_min, 0.0))
    if inside < _MIN_FILL * (x_max - x_min) * (y_max - y_min) and max(nx, ny) > 100:
        return None
    if (inside + nx * ny) * 4 > _MAX_BYTES:
        return None
    return px[:, 0].copy(), dx, py[:, 0].copy(), dy


def bilinear_rows(
    src: np.ndarray,
    coords: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    out: np.ndarray,
) -> bool:
    """Fill ``out`` (float32, pre-filled) from ``src`` (a float32 window) along ``coords``
    (:func:`row_coordinates`, in the window's pixels); False (``out`` untouched) without numba."""
    kernel = compiled(_bilinear_py)
    if kernel is None:  # pragma: no cover
        return False
    x0, dx, y0, dy = coords
    kernel(np.ascontiguousarray(src, dtype=np.float32), x0, dx, y0, dy, out)
    return True
