"""Pixel masks. A mask is a bool DataArray where True means *flagged* (not usable)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import xarray as xr

from .blocks import map_planes
from .compiled import compiled

__all__ = ["dilate_mask", "scl_mask"]

#: Sentinel-2 Scene Classification classes flagged by default: 0 no data, 1 saturated or
#: defective, 3 cloud shadow, 8 cloud medium probability, 9 cloud high probability, 10 thin
#: cirrus (ESA Sentinel-2 L2A product definition, SCL). 2 (dark area) and 11 (snow) are left
#: to configuration.
DEFAULT_SCL_CLASSES: tuple[int, ...] = (0, 1, 3, 8, 9, 10)


def _window_max(a: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Maximum over every run of ``n`` consecutive elements along ``axis`` (the result is
    ``n − 1`` shorter), by doubling: runs of w and w + step ≤ 2w from two shifted slices."""
    w = 1
    while w < n:
        step = min(w, n - w)
        lo = [slice(None)] * a.ndim
        hi = [slice(None)] * a.ndim
        lo[axis], hi[axis] = slice(None, -step), slice(step, None)
        a = np.maximum(a[tuple(lo)], a[tuple(hi)])
        w += step
    return a


def _grow(plane: np.ndarray, size: int) -> np.ndarray:
    # a square maximum filter, separable, as elementwise maxima of shifted slices: the same
    # result as scipy.ndimage.maximum_filter(size=size) on a bool plane (outside counts as
    # False), faster than scipy's filter on bool planes, and numpy releases the GIL so dask
    # threads run it in parallel
    r = size // 2
    a = np.pad(plane.astype(bool, copy=False), r)
    return _window_max(_window_max(a, size, 0), size, 1)


def dilate_mask(mask: xr.DataArray, pixels: int) -> xr.DataArray:
    """Grow flagged regions by ``pixels`` in y and x (a square window of 2·pixels + 1).

    A separable maximum filter (cheaper than a disk-shaped binary dilation: a few
    elementwise maxima per pixel). Works per 2-D slice on numpy or dask (a halo of
    ``pixels``), so the result does not depend on chunking.
    """
    if pixels <= 0:
        return mask
    data = mask.data.astype(bool)
    grown = map_planes(data, _grow, halo=pixels, dtype=bool, boundary=False, size=2 * pixels + 1)
    return mask.copy(data=grown)


def _in_classes(scl: xr.DataArray, classes: tuple[int, ...]) -> xr.DataArray:
    """``scl.isin(classes)``; for uint8 a 256-entry lookup table (one gather per pixel instead
    of one comparison per class and a reduction)."""
    if scl.dtype != np.uint8:
        return scl.isin(classes)
    lut = np.zeros(256, dtype=bool)
    lut[[c for c in classes if 0 <= c < 256]] = True
    out: xr.DataArray = xr.apply_ufunc(
        lut.take, scl, dask="parallelized", output_dtypes=[bool], keep_attrs=True
    )
    return out


def _upsample(mask: xr.DataArray, k: int, like: xr.DataArray | None) -> xr.DataArray:
    data = mask.data.repeat(k, axis=-2).repeat(k, axis=-1)
    if like is not None:
        return xr.DataArray(data, dims=like.dims, coords=like.coords, name=mask.name)
    return xr.DataArray(data, dims=mask.dims, name=mask.name)


def _spans(k: int, pixels: int) -> list[tuple[int, int]]:
    """For each phase p of a fine pixel ``k·m + p``: the coarse pixels ``m + lo … m + hi``
    whose k × k block, grown by ``pixels`` fine pixels, reaches it."""
    return [(-((k - 1 + pixels - p) // k), (p + pixels) // k) for p in range(k)]


def _coarse_code(plane: np.ndarray, k: int, pixels: int, bits: Any) -> np.ndarray:
    """Bit ``p·k + q`` of each coarse pixel (m, n): fine pixel (k·m + p, k·n + q) of the
    upsampled, dilated mask is flagged. ``plane`` codes 1 cloud (dilated), 2 no data (not)."""
    spans = _spans(k, pixels)
    r = max(max(-lo, hi) for lo, hi in spans)
    ny, nx = plane.shape
    padded = np.pad(plane == 1, r)
    out = np.where(plane == 2, bits((1 << (k * k)) - 1), bits(0))
    grown: dict[tuple[int, int], np.ndarray] = {}  # by window height and width
    for p, (lo, hi) in enumerate(spans):
        for q, (lo2, hi2) in enumerate(spans):
            if (hi - lo, hi2 - lo2) not in grown:
                by_rows = _window_max(padded, hi - lo + 1, 0)
                grown[hi - lo, hi2 - lo2] = _window_max(by_rows, hi2 - lo2 + 1, 1)
            g = grown[hi - lo, hi2 - lo2][lo + r : lo + r + ny, lo2 + r : lo2 + r + nx]
            out |= g.astype(bits) << (p * k + q)
    return out


def _take_py(lut: np.ndarray, a: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """``lut[a]`` of a flat uint8 array into ``out`` (compiled)."""
    for i in range(a.size):
        out[i] = lut[a[i]]


def _expand(code: np.ndarray, k: int) -> np.ndarray:
    out = np.empty((*code.shape[:-2], code.shape[-2] * k, code.shape[-1] * k), dtype=bool)
    for p in range(k):
        for q in range(k):
            out[..., p::k, q::k] = (code >> (p * k + q)) & 1
    return out


def _lut_take(a: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """``lut.take(a)`` for a uint8 ``a`` (a 256-entry table), compiled where numba is."""
    kernel = compiled(_take_py)
    if kernel is None or a.dtype != np.uint8 or not a.flags.c_contiguous or lut.size != 256:
        return lut.take(a)
    out = np.empty(a.shape, dtype=lut.dtype)
    kernel(lut, a.reshape(-1), out.reshape(-1))
    return out


def _upsampled_mask(
    codes: xr.DataArray, k: int, pixels: int, like: xr.DataArray | None
) -> xr.DataArray:
    """The mask of :func:`scl_mask` with ``upsample`` k, computed on the coarse grid: the
    dilation of the repeated flags counts fine pixels, so each coarse pixel carries which of
    its k × k fine pixels the grown flags reach (k² bits), then those bits are spread onto
    the fine grid. The same pixels as repeating then dilating on the fine grid, for a
    fraction of its work (the dilation runs on k² times fewer pixels)."""
    dtype = np.min_scalar_type((1 << (k * k)) - 1)
    r = max(max(-lo, hi) for lo, hi in _spans(k, pixels))
    code = map_planes(
        codes.data,
        _coarse_code,
        halo=r,
        dtype=dtype,
        boundary=0,
        k=k,
        pixels=pixels,
        bits=dtype.type,
    )
    if hasattr(code, "map_blocks"):
        chunks = (*code.chunks[:-2], *(tuple(c * k for c in ch) for ch in code.chunks[-2:]))
        data = code.map_blocks(_expand, k=k, chunks=chunks, dtype=bool)
    else:
        data = _expand(code, k)
    if like is not None:
        return xr.DataArray(data, dims=like.dims, coords=like.coords)
    return xr.DataArray(data, dims=codes.dims)


def scl_mask(
    scl: xr.DataArray,
    *,
    classes: Iterable[int] = DEFAULT_SCL_CLASSES,
    dilation_px: int = 3,
    upsample: int = 1,
    like: xr.DataArray | None = None,
) -> xr.DataArray:
    """Flag pixels whose SCL class is in ``classes``; clouds and shadows grown by ``dilation_px``.

    Class 0 (no data) is always flagged but not dilated (a swath edge is not a cloud). With
    ``upsample`` k > 1, ``scl`` lies on a grid k times coarser than the result: the classes
    are tested there and each pixel's flags repeated k × k (what a nearest-neighbour load onto
    the fine grid gives) before the dilation, which counts fine pixels; ``like`` then gives
    the result's coordinates.
    """
    cls = tuple(int(c) for c in classes)
    cloudy = tuple(c for c in cls if c != 0)
    if 1 < upsample <= 8:
        # on the coarse grid: 1 cloud or shadow (dilated), 2 no data (not dilated)
        if scl.dtype == np.uint8:
            lut = np.zeros(256, dtype=np.uint8)
            lut[[c for c in cloudy if 0 < c < 256]] = 1
            lut[0] = 2
            codes = xr.apply_ufunc(
                _lut_take, scl, kwargs={"lut": lut}, dask="parallelized", output_dtypes=[np.uint8]
            )
        else:
            codes = xr.where(scl == 0, np.uint8(2), scl.isin(cloudy).astype(np.uint8))
        out = _upsampled_mask(codes, upsample, dilation_px, like)
    else:
        flagged = _in_classes(scl, cloudy) if cloudy else xr.zeros_like(scl, dtype=bool)
        nodata = scl == 0
        if upsample > 1:
            flagged = _upsample(flagged, upsample, like)
            nodata = _upsample(nodata, upsample, like)
        out = dilate_mask(flagged, dilation_px) | nodata
    out.name = "mask"
    out.attrs = {"description": "True where the pixel is flagged (SCL cloud/shadow/no data)"}
    return out
