"""Flood mapping from Sentinel-1 (three detectors combined by vote) and Sentinel-2 (MNDWI).

SAR recipe after Copernicus Global Flood Monitoring (GFM; Salamon et al. 2021, "The new,
systematic global flood monitoring product of the Copernicus Emergency Management Service"),
which combines independent algorithms by majority vote and publishes a 0–100 likelihood:

- D1 change detection: post − pre backscatter (VV, dB) below ``change_db`` (about −3 dB;
  e.g. Clement et al. 2018);
- D2 post-event water in VV: below a threshold from Otsu (1979) on the post image, with a
  fixed fallback (about −18 dB) when the histogram is not bimodal;
- D3 post-event water in VH, the same way (fallback about −24 dB).

The inputs are speckle-filtered first (:func:`yamasat.processing.sar.lee_filter`, whose noise
level is the product's equivalent number of looks, so the result does not depend on dask
chunks). The Otsu thresholds are taken from a strided sample of the full-resolution pixels
(:func:`yamasat.processing.threshold.sample_valid`), not from averaged overviews, so a small
flood still weighs in the histogram by its pixel count.

Likelihood = 100 × (votes / 3); flood where at least two detectors agree, outside the
exclusion mask: reference water (water already in the pre-event image) and slopes steeper
than ``max_slope_deg`` (from the DEM; skipped, and said so, without one). HAND is not
computed: no well-kept Python library provides it for this pipeline yet.

Optical recipe: MNDWI (Xu 2006) water after the event and not water in a same-season
reference, clouds masked; irrigated paddies that are water in the reference are not flood.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from skimage.filters import threshold_otsu

from .product_codes import NODATA
from .sar import S1_IW_GRDH_ENL
from .threshold import sample_valid

__all__ = [
    "OpticalFloodParams",
    "SarFloodParams",
    "SarThresholds",
    "bimodal_threshold",
    "encode",
    "optical_flood",
    "sar_flood",
]


@dataclass(frozen=True)
class SarFloodParams:
    """Parameters of the SAR flood algorithm (recorded in the product)."""

    change_db: float = -3.0
    """D1: post − pre VV in dB below this is a change to water-like backscatter"""
    vv_water_fallback_db: float = -18.0
    """D2 threshold when Otsu finds no bimodal histogram"""
    vh_water_fallback_db: float = -24.0
    """D3 threshold when Otsu finds no bimodal histogram"""
    max_slope_deg: float = 5.0
    """steeper terrain cannot hold standing flood water: excluded"""
    speckle_window: int = 5
    """Lee filter window (pixels, odd)"""
    speckle_enl: float = S1_IW_GRDH_ENL
    """equivalent number of looks of the speckle: the Lee filter's noise level (Sentinel-1 IW
    GRDH, ESA Sentinel-1 Product Definition)"""
    min_mapping_unit_px: int = 10
    """smallest flood region kept (pixels)"""


@dataclass(frozen=True)
class OpticalFloodParams:
    """Parameters of the Sentinel-2 (MNDWI) flood algorithm (recorded in the product)."""

    min_mapping_unit_px: int = 10
    """smallest flood region kept (pixels)"""
    max_slope_deg: float = 5.0
    """steeper terrain cannot hold standing flood water: excluded"""


@dataclass(frozen=True)
class SarThresholds:
    """Water thresholds used for D2 and D3, and whether they came from Otsu."""

    vv_db: float
    vh_db: float
    vv_from_otsu: bool
    vh_from_otsu: bool


def bimodal_threshold(
    values_db: xr.DataArray,
    *,
    fallback: float,
    plausible: tuple[float, float] = (-26.0, -12.0),
    min_separability: float = 0.5,
) -> tuple[float, bool]:
    """Otsu threshold of a dB image when its histogram is bimodal, else ``fallback``.

    Bimodality is judged by Otsu's separability η = σ²_between / σ²_total (Otsu 1979) and by
    the threshold falling in the ``plausible`` range for open water. Returns (value, used_otsu).
    """
    v = sample_valid(values_db)
    if v.size < 1000:
        return fallback, False
    t = float(threshold_otsu(v))
    lo, hi = v[v < t], v[v >= t]
    if lo.size == 0 or hi.size == 0:
        return fallback, False
    w0, w1 = lo.size / v.size, hi.size / v.size
    between = w0 * w1 * (lo.mean() - hi.mean()) ** 2
    eta = between / v.var() if v.var() > 0 else 0.0
    if eta < min_separability or not plausible[0] <= t <= plausible[1]:
        return fallback, False
    return round(t, 3), True


def sar_flood(
    pre_vv_db: xr.DataArray,
    pre_vh_db: xr.DataArray,
    post_vv_db: xr.DataArray,
    post_vh_db: xr.DataArray,
    *,
    thresholds: SarThresholds,
    params: SarFloodParams,
    slope: xr.DataArray | None = None,
) -> dict[str, xr.DataArray]:
    """Lazy SAR flood layers: ``likelihood`` (uint8 0–100, 255 no data), ``flood`` (bool),
    ``reference_water`` (bool), ``excluded`` (bool), ``valid`` (bool).

    Inputs are speckle-filtered backscatter in dB on one grid, NaN where not observed.
    """
    valid = post_vv_db.notnull() & pre_vv_db.notnull() & post_vh_db.notnull()
    d1 = (post_vv_db - pre_vv_db) < params.change_db
    d2 = post_vv_db < thresholds.vv_db
    d3 = post_vh_db < thresholds.vh_db
    votes = d1.astype("uint8") + d2.astype("uint8") + d3.astype("uint8")
    reference_water = (pre_vv_db < thresholds.vv_db) & (pre_vh_db < thresholds.vh_db)
    excluded = reference_water
    if slope is not None:
        excluded = excluded | (slope > params.max_slope_deg)
    likelihood = xr.where(excluded, 0, (votes.astype("float32") * (100.0 / 3.0)).round())
    likelihood = xr.where(valid, likelihood, NODATA).astype("uint8")
    flood = (votes >= 2) & ~excluded & valid
    return {
        "likelihood": likelihood,
        "flood": flood,
        "reference_water": reference_water & valid,
        "excluded": excluded,
        "valid": valid,
    }


def optical_flood(
    mndwi_after: xr.DataArray,
    mndwi_reference: xr.DataArray,
    *,
    threshold: float = 0.0,
    reference_threshold: float | None = None,
    slope: xr.DataArray | None = None,
    max_slope_deg: float = 5.0,
) -> dict[str, xr.DataArray]:
    """Lazy optical flood layers: ``flood`` (bool), ``water_after`` (bool, the naive map),
    ``reference_water`` (bool), ``valid`` (bool: observed after the event, and in the reference
    wherever the after image shows water).

    Flood = water after (MNDWI > ``threshold``) and not water in the reference composite
    (MNDWI > ``reference_threshold``, default the same). Water in the reference — rivers,
    ponds, and paddies irrigated in the same season — is never flood.
    """
    ref_t = threshold if reference_threshold is None else reference_threshold
    seen_after = mndwi_after.notnull()
    water_after = (mndwi_after > threshold) & seen_after
    reference_water = (mndwi_reference > ref_t) & mndwi_reference.notnull()
    # dry after the event is "not flood" whatever the reference; water after needs a reference
    valid = seen_after & (mndwi_reference.notnull() | ~water_after)
    flood = water_after & ~reference_water & valid
    if slope is not None:
        flood = flood & ~(slope > max_slope_deg)
    return {
        "flood": flood,
        "water_after": water_after,
        "reference_water": reference_water,
        "valid": valid,
    }


def encode(flag: xr.DataArray, valid: xr.DataArray) -> xr.DataArray:
    """1/0/255 uint8 from a bool detection and a bool validity mask."""
    return xr.where(valid, flag.astype("uint8"), np.uint8(NODATA)).astype("uint8")
