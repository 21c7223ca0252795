"""Landslide scars from pre/post optical composites and slope.

Recipe (DESIGN §4; e.g. Behling et al. 2014; Scheip & Wegmann 2021, HazMapper): a sharp NDVI
loss (ΔNDVI below about −0.2), bare soil afterwards (post NDVI below about 0.15–0.25), on
slopes above a threshold; water excluded; a minimum mapping unit. Without such filters
30–50 % of NDVI-loss detections are false positives (fields, construction).
"""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr

__all__ = ["LandslideParams", "landslide_candidates"]


@dataclass(frozen=True)
class LandslideParams:
    """Parameters of landslide mapping (recorded in the product)."""

    max_dndvi: float = -0.2
    """NDVI must drop by more than this (after − before)"""
    max_post_ndvi: float = 0.25
    """NDVI after the event below this: bare soil"""
    min_slope_deg: float = 15.0
    """slope at least this steep (from the DEM)"""
    max_post_mndwi: float = 0.0
    """MNDWI after above this is water: excluded"""
    min_mapping_unit_px: int = 20
    """smallest scar kept, pixels (20 px = 0.2 ha at 10 m)"""


def landslide_candidates(
    ndvi_before: xr.DataArray,
    ndvi_after: xr.DataArray,
    mndwi_after: xr.DataArray,
    slope: xr.DataArray,
    params: LandslideParams,
) -> tuple[xr.DataArray, xr.DataArray]:
    """(candidate bool, valid bool) before the minimum mapping unit; lazy."""
    valid = ndvi_before.notnull() & ndvi_after.notnull() & slope.notnull()
    loss = (ndvi_after - ndvi_before) < params.max_dndvi
    bare = ndvi_after < params.max_post_ndvi
    steep = slope >= params.min_slope_deg
    water = mndwi_after > params.max_post_mndwi
    return (loss & bare & steep & ~water & valid), valid
