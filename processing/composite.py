"""Per-period composites of cloud-masked observations."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

__all__ = ["median_composite", "valid_count"]


def valid_count(da: xr.DataArray, dim: str = "time") -> xr.DataArray:
    """Number of valid (non-NaN) observations per pixel along ``dim`` (uint16)."""
    out = da.notnull().sum(dim=dim).astype("uint16")
    out.name = "count"
    return out


def _nanmedian_last(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels stay NaN, expected
        return np.nanmedian(a, axis=-1).astype("float32")


def median_composite(da: xr.DataArray, dim: str = "time") -> xr.DataArray:
    """Median of the valid observations per pixel (NaN where none), float32.

    With dask, ``dim`` is rechunked into one block per spatial chunk so the median is exact;
    memory per task is (observations × chunk²) values.
    """
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
