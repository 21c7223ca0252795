"""Terrain derivatives from a DEM on the project grid: slope, and the height above the nearest
drainage (HAND)."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["hand_m", "slope_deg"]


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


def hand_m(dem: xr.DataArray, *, resolution: float, drain_area_km2: float = 1.0) -> xr.DataArray:
    """Height above the nearest drainage in metres (Rennó et al. 2008, "HAND, a new terrain
    descriptor using SRTM-DEM", Remote Sens. Environ. 112(9); Nobre et al. 2011, J. Hydrol.
    404): the drop from each pixel to the stream cell its flow path reaches first, streams
    being the cells draining at least ``drain_area_km2``. Flow directions are D8 on the
    depression-filled DEM (Wang & Liu 2006), by ``pyflwdir`` (Eilander et al. 2021, HESS
    25); NaN elevation is no data, and stays NaN.

    Flow paths cross the whole plane, so this is computed at once on numpy (the DEM of an AOI
    with a margin for the drainage network; never per dask chunk): the result does not depend
    on chunking. Give a DEM that reaches beyond the area of interest, then crop.
    """
    import pyflwdir
    from affine import Affine

    z = np.asarray(dem.values, dtype="float32")
    nodata = np.float32(-9999.0)
    filled = np.where(np.isfinite(z), z, nodata)
    flw = pyflwdir.from_dem(
        filled, nodata=nodata, transform=Affine(resolution, 0, 0, 0, -resolution, 0)
    )
    drain = flw.upstream_area(unit="km2") >= drain_area_km2
    hand = flw.hand(drain=drain, elevtn=filled).astype("float32")
    hand[~np.isfinite(z) | (hand < 0)] = np.nan
    out = xr.DataArray(
        hand,
        dims=dem.dims[-2:],
        coords={d: dem.coords[d] for d in dem.dims[-2:] if d in dem.coords},
    )
    out.name = "hand"
    out.attrs = {"units": "m"}
    return out
