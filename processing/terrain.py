"""Terrain derivatives from a DEM on the project grid: slope, the height above the nearest
drainage (HAND), and where a side-looking radar may see layover or shadow."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = [
    "LAYOVER",
    "S1_IW_INCIDENCE_DEG",
    "SHADOW",
    "hand_m",
    "radar_layover_shadow",
    "s1_look_azimuth_deg",
    "slope_deg",
]

S1_IW_INCIDENCE_DEG = (29.1, 46.0)
"""Sentinel-1 IW incidence angles, near to far range (ESA Sentinel-1 User Guide)"""
LAYOVER, SHADOW = 1, 2
"""the codes of :func:`radar_layover_shadow`"""


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


def s1_look_azimuth_deg(orbit_state: str) -> float:
    """The horizontal direction Sentinel-1 looks in (degrees from north): right-looking, about
    80° (east) on an ascending pass (heading about 350°), 280° (west) on a descending one."""
    state = orbit_state.lower()
    if state not in ("ascending", "descending"):
        raise ValueError(f"orbit state {orbit_state!r}: expected ascending or descending")
    return 80.0 if state == "ascending" else 280.0


def _geometry_block(
    z: np.ndarray, res: float, east: float, north: float, lay: float, sha: float
) -> np.ndarray:
    gy, gx = np.gradient(z.astype("float64"), res)
    along = gx * east - gy * north  # dz per metre along the look (rows run south)
    out = np.zeros(z.shape, dtype="uint8")
    # terrain rising along the look faces the sensor (which looks at it from behind)
    out[along > lay] = LAYOVER  # facing the sensor, steeper than the incidence angle
    out[-along > sha] = SHADOW  # facing away, steeper than the grazing angle
    return out


def radar_layover_shadow(
    dem: xr.DataArray,
    *,
    resolution: float,
    look_azimuth_deg: float,
    incidence_deg: tuple[float, float] = S1_IW_INCIDENCE_DEG,
) -> xr.DataArray:
    """Where a side-looking radar may see layover (:data:`LAYOVER`) or shadow
    (:data:`SHADOW`), 0 elsewhere (uint8; lazy on dask, a one-pixel halo per block and none
    beyond the plane's edge, so the values are numpy's whatever the chunks).

    The local rule of SAR geometry (e.g. Small 2011, IEEE TGRS 49(8)): layover where the
    terrain rises towards the sensor more steeply than the incidence angle, shadow where it
    falls away more steeply than the grazing angle (90° − incidence), slopes measured along
    the look direction. Over the swath's ``incidence_deg`` range the widest case is taken:
    layover against the near range's angle, shadow against the far range's, so the result
    marks where it may occur. Layover and shadow cast beyond the slope itself are not traced.
    """
    az = np.radians(look_azimuth_deg)
    lay = float(np.tan(np.radians(min(incidence_deg))))
    sha = float(np.tan(np.radians(90.0 - max(incidence_deg))))
    args = {"res": resolution, "east": float(np.sin(az)), "north": float(np.cos(az))}
    data = dem.data
    if hasattr(data, "map_overlap"):
        out = data.map_overlap(
            _geometry_block, depth=1, boundary="none", dtype="uint8", lay=lay, sha=sha, **args
        )
    else:
        out = _geometry_block(np.asarray(data), lay=lay, sha=sha, **args)
    res = dem.copy(data=out)
    res.name = "radar_geometry"
    res.attrs = {"flag_values": [0, LAYOVER, SHADOW], "flag_meanings": "none layover shadow"}
    return res
