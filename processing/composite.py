"""Per-period composites of cloud-masked observations."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["median_composite", "nanmedian_last"]


def nanmedian_last(a: np.ndarray) -> np.ndarray:
    """float32 median over the last axis ignoring NaN (NaN where every value is NaN).

    Shared by :func:`median_composite` and the fused kernel of
    :mod:`yamasat.processing.delta_index`, which must make the same operations."""
    # never observed pixels: fill before the median and put NaN back afterwards, so numpy has
    # no all-NaN slice to warn about (warning filters are not thread-safe under dask)
    never = np.isnan(a).all(axis=-1)
    filled = np.where(never[..., None], np.float32(0), a) if never.any() else a
    out = np.nanmedian(filled, axis=-1).astype("float32")
    out[never] = np.nan
    return out


def median_composite(da: xr.DataArray, dim: str = "time") -> xr.DataArray:
    """Median of the valid observations per pixel (NaN where none), float32.

    With dask, ``dim`` is rechunked into one block per spatial chunk so the median is exact;
    memory per task is (observations × chunk²) values.
    """
    if da.sizes[dim] == 1:  # one observation: the median is the observation itself
        out = da.isel({dim: 0}, drop=True).astype("float32")
        out.name = da.name
        out.attrs = dict(da.attrs)
        return out
    if da.chunks is not None:
        da = da.chunk({dim: -1})
    out = xr.apply_ufunc(
        nanmedian_last,
        da,
        input_core_dims=[[dim]],
        dask="parallelized",
        output_dtypes=[np.float32],
    )
    out.name = da.name
    out.attrs = dict(da.attrs)
    return out
