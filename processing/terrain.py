"""Terrain derivatives from a DEM on the project grid."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["slope_deg"]


def _slope_block(z: np.ndarray, res: float) -> np.ndarray:
    gy, gx = np.gradient(z.astype("float64"), res)
    return np.degrees(np.arctan(np.hypot(gx, gy))).astype("float32")


def slope_deg(dem: xr.DataArray, *, resolution: float) -> xr.DataArray:
    """Slope in degrees from elevation (metres) on a square grid of ``resolution`` metres.

    Central differences (``numpy.gradient``; one-sided at the edges), computed per dask block
    with a one-pixel halo so the result does not depend on chunking. NaN elevation gives NaN.
    """
    data = dem.data
    if hasattr(data, "map_overlap"):
        out = data.map_overlap(
            _slope_block, depth=1, boundary="nearest", dtype="float32", res=resolution
        )
    else:
        out = _slope_block(np.asarray(data), resolution)
    res = dem.copy(data=out)
    res.name = "slope"
    res.attrs = {"units": "degree"}
    return res
