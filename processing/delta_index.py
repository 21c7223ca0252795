"""ΔINDEX straight from the stored digital numbers: the change measure in one kernel per chunk.

The reference chain (:mod:`yamasat.processing.load` scaling and cloud blanking, then
:func:`yamasat.processing.composite.median_composite`, :func:`yamasat.processing.indices.index`
and :func:`yamasat.processing.change_map.difference`) materialises a float32 plane per band,
date and step: on a Sentinel-2 tile most of the change pipeline's CPU went to those passes and
to the first touch of their memory, and a dask worker held several of them per chunk
(``benchmarks/bench_change.py`` measures it). Here one task
per chunk takes the raw bands and the masks of both periods and returns ΔINDEX, working in
strips of rows small enough to stay in the CPU cache. Every floating-point operation is the
one the reference chain makes, in the same order, so the result is the same bit for bit
(tested on numpy and dask, one and several observations per period). With one observation
per period and integer bands (a Sentinel-2 tile pair), a compiled loop (numba) makes those
operations pixel by pixel without the strips' temporaries: on a 2048-px chunk about a third of
the CPU of the numpy strips (issue 14).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..errors import YamasatError
from .compiled import compiled
from .composite import nanmedian_last
from .indices import index_bands
from .load import SCALE_ATTR, scale_block

__all__ = ["SCALE_ATTR", "delta_index_from_raw"]

_STRIP_ROWS = 64
"""rows per strip: 64 × 1536 px × 4 B = 0.4 MB per plane, within a core's L2 cache"""


def _reflectance(
    raw: np.ndarray, flagged: np.ndarray, scale: float, offset: float, nodata: Any
) -> np.ndarray:
    """Median composite over the last axis of ``raw × scale + offset``, NaN where flagged,
    nodata or never observed (the reference chain's operations, in its order)."""
    value = scale_block(raw, scale=scale, offset=offset, nodata=nodata)
    np.copyto(value, np.float32(np.nan), where=flagged)
    if value.shape[-1] == 1:
        return value[..., 0]
    return nanmedian_last(value)


def _normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """As :func:`indices.normalized_difference`: reflectance below 0 counts as 0 (in place)."""
    np.maximum(a, 0, out=a)
    np.maximum(b, 0, out=b)
    total = a + b
    np.copyto(total, np.float32(np.nan), where=total == 0)
    out = a - b
    out /= total
    return out


def _delta_kernel(
    b_first: np.ndarray,
    b_second: np.ndarray,
    b_mask: np.ndarray,
    a_first: np.ndarray,
    a_second: np.ndarray,
    a_mask: np.ndarray,
    *,
    scales: tuple[tuple[float, float], ...],
    nodata: tuple[Any, ...],
) -> np.ndarray:
    """ΔINDEX of one block; inputs are ``(y, x, time)`` with each period's own time length.

    ``scales`` and ``nodata`` are per input band in the order before first, before second,
    after first, after second.
    """
    one = _delta_one((b_first, b_second, b_mask, a_first, a_second, a_mask), scales, nodata)
    if one is not None:
        return one
    out: np.ndarray = np.empty(b_first.shape[:-1], dtype=np.float32)
    for y0 in range(0, int(b_first.shape[0]), _STRIP_ROWS):
        rows = slice(y0, y0 + _STRIP_ROWS)
        nd = []
        for i, (first, second, mask) in enumerate(
            ((b_first, b_second, b_mask), (a_first, a_second, a_mask))
        ):
            f = _reflectance(first[rows], mask[rows], *scales[2 * i], nodata[2 * i])
            s = _reflectance(second[rows], mask[rows], *scales[2 * i + 1], nodata[2 * i + 1])
            nd.append(_normalized_difference(f, s))
        np.subtract(nd[1], nd[0], out=out[rows])
    return out


def _delta_one_py(
    bf: np.ndarray,
    bs: np.ndarray,
    bm: np.ndarray,
    af: np.ndarray,
    as_: np.ndarray,
    am: np.ndarray,
    sc: np.ndarray,
    nd: np.ndarray,
    has: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """:func:`_delta_kernel` of one observation per period, one pixel at a time: per period,
    :func:`_reflectance` and :func:`_normalized_difference` as float32 operations in the
    same order, so the same bits, without their temporaries. ``sc``: scale and offset of
    each band; ``nd``, ``has``: its nodata and whether it has one (before first, before
    second, after first, after second)."""
    nan = np.float32(np.nan)
    zero = np.float32(0.0)
    s0, o0, s1, o1 = sc[0], sc[1], sc[2], sc[3]
    s2, o2, s3, o3 = sc[4], sc[5], sc[6], sc[7]
    n0, n1, n2, n3 = nd[0], nd[1], nd[2], nd[3]
    h0, h1, h2, h3 = has[0], has[1], has[2], has[3]
    ny, nx = out.shape
    for r in range(ny):
        for c in range(nx):
            # before: the reflectance of each band, NaN where nodata or flagged
            x = bf[r, c]
            y = bs[r, c]
            a = np.float32(np.float32(np.float32(x) * s0) + o0)
            b = np.float32(np.float32(np.float32(y) * s1) + o1)
            a = nan if (h0 & (x == n0)) | bm[r, c] else a
            b = nan if (h1 & (y == n1)) | bm[r, c] else b
            a = zero if a <= 0 else a  # np.maximum(a, 0): NaN stays, -0.0 becomes 0.0 as numpy's
            b = zero if b <= 0 else b
            total = np.float32(a + b)
            total = nan if total == 0 else total
            before = np.float32(np.float32(a - b) / total)
            # after: the same
            x = af[r, c]
            y = as_[r, c]
            a = np.float32(np.float32(np.float32(x) * s2) + o2)
            b = np.float32(np.float32(np.float32(y) * s3) + o3)
            a = nan if (h2 & (x == n2)) | am[r, c] else a
            b = nan if (h3 & (y == n3)) | am[r, c] else b
            a = zero if a <= 0 else a
            b = zero if b <= 0 else b
            total = np.float32(a + b)
            total = nan if total == 0 else total
            after = np.float32(np.float32(a - b) / total)
            out[r, c] = np.float32(after - before)


def _integer_nodata(nodata: Any) -> tuple[int, bool] | None:
    """``(value, present)`` of an integer band's nodata for the one-pass kernel, or None
    when it is not an integer (the kernel compares integers)."""
    if nodata is None:
        return 0, False
    if isinstance(nodata, (int, np.integer)):
        return int(nodata), True
    if isinstance(nodata, (float, np.floating)) and float(nodata).is_integer():
        return int(nodata), True
    return None


def _delta_one(
    planes: tuple[np.ndarray, ...],
    scales: tuple[tuple[float, float], ...],
    nodata: tuple[Any, ...],
) -> np.ndarray | None:
    """:func:`_delta_kernel` of one observation per period by the compiled kernel, or None
    when it does not apply (numba missing, bands not integers, nodata not an integer)."""
    b_first, b_second, b_mask, a_first, a_second, a_mask = planes
    if any(p.shape[-1] != 1 for p in planes):
        return None
    if any(p.dtype.kind not in "ui" for p in (b_first, b_second, a_first, a_second)):
        return None
    if b_mask.dtype != np.bool_ or a_mask.dtype != np.bool_:
        return None
    codes = [_integer_nodata(n) for n in nodata]
    kernel = compiled(_delta_one_py)
    if kernel is None or any(c is None for c in codes):
        return None
    sc = np.array([v for pair in scales for v in pair], dtype=np.float32)
    nd = np.array([c[0] for c in codes if c is not None], dtype=np.int64)
    has = np.array([c[1] for c in codes if c is not None], dtype=np.bool_)
    out: np.ndarray = np.empty(b_first.shape[:-1], dtype=np.float32)
    kernel(*(p[..., 0] for p in planes), sc, nd, has, out)
    return out


def _band(ds: xr.Dataset, band: str, period: str) -> tuple[xr.DataArray, tuple[float, float], Any]:
    if band not in ds:
        raise YamasatError(f"the {period} period has no band {band!r} loaded")
    da = ds[band]
    scale, offset = da.attrs.get(SCALE_ATTR, (1.0, 0.0))
    return da, (float(scale), float(offset)), da.attrs.get("nodata")


def delta_index_from_raw(before: xr.Dataset, after: xr.Dataset, index_name: str) -> xr.DataArray:
    """ΔINDEX (after − before) of two periods loaded with ``load_s2(..., scaled=False)``.

    Each dataset holds the index's two bands as stored (attribute :data:`SCALE_ATTR`; bands
    without it are taken as already physical) and ``mask`` (True where flagged), dims
    ``time, y, x``, on the same grid and chunks. Per pixel and period: reflectance, NaN where
    flagged or nodata, the median of the valid observations per band, the index of the
    composites; then the difference. float32, NaN where either period has no valid value.
    """
    first, second = index_bands(index_name)
    inputs, scales, nodata = [], [], []
    for ds, period, dim in ((before, "before", "t_before"), (after, "after", "t_after")):
        if "mask" not in ds:
            raise YamasatError(f"the {period} period has no cloud mask loaded")
        arrays = []
        for band in (first, second):
            da, so, nd = _band(ds, band, period)
            arrays.append(da)
            scales.append(so)
            nodata.append(nd)
        arrays.append(ds["mask"])
        for arr in arrays:
            renamed = arr.rename({"time": dim})
            inputs.append(renamed.chunk({dim: -1}) if renamed.chunks is not None else renamed)
    out: xr.DataArray = xr.apply_ufunc(
        _delta_kernel,
        *inputs,
        input_core_dims=[["t_before"]] * 3 + [["t_after"]] * 3,
        kwargs={"scales": tuple(scales), "nodata": tuple(nodata)},
        dask="parallelized",
        output_dtypes=[np.float32],
    )
    out = out.drop_vars([c for c in out.coords if c not in out.dims and c != "spatial_ref"])
    out.name = "delta"
    out.attrs = {"units": "1", "nodata": np.nan}
    return out
