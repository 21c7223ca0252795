"""Per-period composites of cloud-masked observations."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["median_composite", "valid_count"]


def valid_count(da: xr.DataArray, dim: str = "time") -> xr.DataArray:
    """Number of valid (non-NaN) observations per pixel along ``dim`` (uint16)."""
    out = da.notnull().sum(dim=dim).astype("uint16")
    out.name = "count"
    return out


def _nanmedian_last(a: np.ndarray) -> np.ndarray:
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
        _nanmedian_last,
        da,
        input_core_dims=[[dim]],
        dask="parallelized",
        output_dtypes=[np.float32],
    )
    out.name = da.name
    out.attrs = dict(da.attrs)
    return out
