"""Sentinel-1 backscatter helpers: decibels and speckle filtering."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import ndimage

from .blocks import map_planes

__all__ = ["lee_filter", "to_db"]


def to_db(linear: xr.DataArray) -> xr.DataArray:
    """10·log10 of linear power (γ⁰); non-positive or NaN values give NaN."""
    out: xr.DataArray = (10 * np.log10(linear.where(linear > 0))).astype("float32")  # type: ignore[assignment]
    out.attrs = {"units": "dB"}
    return out


def _lee_block(img: np.ndarray, size: int) -> np.ndarray:
    valid = np.isfinite(img)
    x = np.where(valid, img, 0).astype("float64")
    w = ndimage.uniform_filter(valid.astype("float64"), size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = ndimage.uniform_filter(x, size) / w
        sq = ndimage.uniform_filter(x * x, size) / w
    var = np.maximum(sq - mean * mean, 0)
    noise = np.nanmean(var[valid]) if valid.any() else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = var / (var + noise)
    out = mean + gain * (x - mean)
    out[~valid] = np.nan
    return out.astype("float32")


def lee_filter(linear: xr.DataArray, *, size: int = 5) -> xr.DataArray:
    """Lee speckle filter (Lee 1980) on linear power, ``size``×``size`` window.

    out = mean + k·(x − mean), k = var/(var + σ²ₙ), with the noise variance σ²ₙ estimated per
    block as the mean local variance. Per dask block with a halo of ``size`` pixels: the
    noise estimate, and so the result, depend on the chunk size (``grid.chunk_size``).
    """
    out = map_planes(linear.data, _lee_block, halo=size, dtype="float32", size=size)
    return linear.copy(data=out)
