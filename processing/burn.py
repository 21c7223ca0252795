"""Burn severity from the differenced Normalized Burn Ratio (dNBR).

dNBR = NBR_pre − NBR_post (Key & Benson 2006, FIREMON Landscape Assessment), classified with
the USGS severity thresholds 0.10, 0.27, 0.44 and 0.66: 0 unburned, 1 low, 2 moderate-low,
3 moderate-high, 4 high; 255 no data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

__all__ = ["USGS_THRESHOLDS", "BurnParams", "burn_severity"]

USGS_THRESHOLDS: tuple[float, float, float, float] = (0.10, 0.27, 0.44, 0.66)


@dataclass(frozen=True)
class BurnParams:
    """Parameters of burn mapping (recorded in the product with :data:`USGS_THRESHOLDS`)."""

    min_dnbr: float = USGS_THRESHOLDS[1]
    """dNBR at or above this is burned (default 0.27, USGS moderate-low severity)"""
    min_mapping_unit_px: int = 10
    """smallest burned region kept (pixels)"""


def burn_severity(dnbr: xr.DataArray) -> xr.DataArray:
    """USGS severity class (uint8 0–4, 255 where dNBR is NaN); lazy."""
    cls = xr.zeros_like(dnbr, dtype="uint8")
    for i, t in enumerate(USGS_THRESHOLDS, start=1):
        cls = xr.where(dnbr >= t, np.uint8(i), cls)
    out = xr.where(dnbr.notnull(), cls, np.uint8(255)).astype("uint8")
    out.name = "severity"
    return out
