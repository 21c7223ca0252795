"""Burn severity from the differenced Normalized Burn Ratio (dNBR).

dNBR = NBR_pre − NBR_post (Key & Benson 2006, FIREMON Landscape Assessment), classified with
the USGS severity thresholds 0.10, 0.27, 0.44 and 0.66: 0 unburned, 1 low, 2 moderate-low,
3 moderate-high, 4 high; 255 no data.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["USGS_THRESHOLDS", "burn_severity"]

USGS_THRESHOLDS: tuple[float, float, float, float] = (0.10, 0.27, 0.44, 0.66)


def burn_severity(dnbr: xr.DataArray) -> xr.DataArray:
    """USGS severity class (uint8 0–4, 255 where dNBR is NaN); lazy."""
    cls = xr.zeros_like(dnbr, dtype="uint8")
    for i, t in enumerate(USGS_THRESHOLDS, start=1):
        cls = xr.where(dnbr >= t, np.uint8(i), cls)
    out = xr.where(dnbr.notnull(), cls, np.uint8(255)).astype("uint8")
    out.name = "severity"
    return out
