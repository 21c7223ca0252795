"""Sentinel-1 backscatter helpers: decibels and speckle filtering."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import ndimage

from ..errors import YamasatError
from .blocks import map_planes

__all__ = ["S1_IW_GRDH_ENL", "lee_filter", "to_db", "window_sum"]

S1_IW_GRDH_ENL = 4.4
"""Equivalent number of looks of Sentinel-1 IW GRD high resolution (ESA, Sentinel-1 Product
Definition S1-RS-MDA-52-7441, resolution and ENL table; the ``sar:looks_equivalent_number`` of
Sentinel-1 GRD STAC items). RTC γ⁰ is made from these GRDs."""


def to_db(linear: xr.DataArray) -> xr.DataArray:
    """10·log10 of linear power (γ⁰); non-positive or NaN values give NaN."""
    out: xr.DataArray = (10 * np.log10(linear.where(linear > 0))).astype("float32")  # type: ignore[assignment]
    out.attrs = {"units": "dB"}
    return out


def window_sum(a: np.ndarray, size: int) -> np.ndarray:
    """Sum over the ``size``×``size`` window of each pixel, zeros outside the plane.

    Direct (not running) sums: each output depends only on the values in its window, so a
    block with a halo of ``size // 2`` gives bit-identical values to the whole plane.
    """
    ones = np.ones(size)
    rows = ndimage.correlate1d(a, ones, axis=-1, mode="constant", cval=0.0)
    return ndimage.correlate1d(rows, ones, axis=-2, mode="constant", cval=0.0)


def _lee_block(img: np.ndarray, size: int, noise_cv2: float) -> np.ndarray:
    valid = np.isfinite(img) & (img >= 0)
    x = np.where(valid, img, 0).astype("float64")
    n = window_sum(valid.astype("float64"), size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = window_sum(x, size) / n
        var = np.maximum(window_sum(x * x, size) / n - mean * mean, 0.0)
        # Lee (1981): k = 1 − C²ᵤ/C²ᵢ with C²ᵢ = var/mean², clipped to [0, 1]
        gain = np.clip(1.0 - noise_cv2 * mean * mean / var, 0.0, 1.0)
    gain[~(var > 0)] = 0.0
    out = mean + gain * (x - mean)
    out[~valid] = np.nan
    return out.astype("float32")


def lee_filter(linear: xr.DataArray, *, size: int = 5, enl: float = S1_IW_GRDH_ENL) -> xr.DataArray:
    """Lee speckle filter for multiplicative noise on linear power, ``size``×``size`` window.

    Lee (1980, "Digital image enhancement and noise filtering by use of local statistics",
    IEEE TPAMI 2(2)) and Lee (1981, "Speckle analysis and smoothing of synthetic aperture radar
    images", CGIP 17), in the form of Lopes, Touzi & Nezry (1990, IEEE TGRS 28(6)):
    ``out = mean + k·(x − mean)``, ``k = 1 − C²ᵤ/C²ᵢ`` clipped to [0, 1], where ``C²ᵢ`` is the
    local squared coefficient of variation (variance / mean², over the window's valid pixels)
    and ``C²ᵤ = 1/enl`` is that of fully developed speckle of ``enl`` equivalent looks. The
    noise level is a property of the sensor product, not of the image, so every pixel depends
    only on its own window: the result is the same on numpy and on dask whatever the chunks
    (blocks overlap by ``size // 2``). NaN and negative values are not observed: they are left
    out of the window statistics and stay NaN.
    """
    if size < 3 or size % 2 == 0:
        raise YamasatError(f"speckle window {size}: give an odd number of pixels, at least 3")
    if not enl > 0:
        raise YamasatError(f"equivalent number of looks {enl}: give a positive number")
    out = map_planes(
        linear.data,
        _lee_block,
        halo=size // 2,
        dtype="float32",
        boundary="none",
        size=size,
        noise_cv2=1.0 / float(enl),
    )
    return linear.copy(data=out)
