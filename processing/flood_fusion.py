"""A flood from every Sentinel-1 and Sentinel-2 acquisition after the event, fused.

Each post-event acquisition is first mapped on its own, against a reference from before the
event: a Sentinel-1 pass by the three GFM detectors against the latest pre-event pass on its
relative orbit (:func:`yamasat.processing.flood.sar_flood`), a Sentinel-2 overpass by MNDWI
change against the pre-event composite (:func:`yamasat.processing.flood.optical_flood`). Then
(:func:`fuse_floods`):

- **flood** is the union over the acquisitions (the water seen on any of them: a flood
  recedes, so a later dry view does not undo an earlier wet one); each acquisition has
  already excluded its own reference water, and open water in a reference excludes the other
  sensor's detections where that sensor blurs a water edge: Sentinel-1's open water (both
  polarisations dark) every Sentinel-2 detection; Sentinel-2's (NDWI water at 10 m) a
  Sentinel-1 detection in a channel narrower than the radar resolves (2 ·
  :data:`RADAR_EDGE_PX` + 1 pixels: not kept by a morphological opening, Soille 2003) or
  within :data:`RADAR_EDGE_PX` of water Sentinel-1's own reference saw (a river whose edges
  the radar blurs). Wet ground in one reference does not exclude the
  other's: a paddy irrigated before the event is water to Sentinel-2 (MNDWI, and NDWI where
  the water stands open) but not to Sentinel-1 (rice canopy over water scatters brightly),
  and a flood over it is a flood;
- a pixel is **observed** when any acquisition observed it (:func:`sensor_codes` says which);
- the **likelihood** comes from the detectors that agree with the fused decision: the
  share of the detectors of the acquisitions deciding like the fused flood that vote water
  (a Sentinel-1 pass has three detectors, a Sentinel-2 overpass one). A flooded pixel is
  therefore at least 67, a dry one at most 33, one under open water 0.

Fusing SAR and optical flood maps by their observations — SAR through cloud, optical where
SAR is blind or ambiguous — follows Tong et al. (2018, "An approach for flood monitoring by
the combined use of Landsat 8 optical imagery and COSMO-SkyMed radar imagery", ISPRS J.
Photogramm. 136) and Huang et al. (2018, "A review of flood monitoring with SAR and optical
remote sensing", Remote Sensing 10(5)); the likelihood as a share of agreeing detectors is
GFM's (Salamon et al. 2021).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..errors import YamasatError
from .masks import dilate_mask
from .product_codes import NODATA

__all__ = [
    "RADAR_EDGE_PX",
    "SENSOR_CODES",
    "SENSOR_S1_FLOOD",
    "SENSOR_S1_SEEN",
    "SENSOR_S2_FLOOD",
    "SENSOR_S2_SEEN",
    "AcquisitionFlood",
    "fuse_floods",
    "sensor_codes",
]

RADAR_EDGE_PX = 2
"""how far (pixels) the radar blurs a water edge (its ~20 m resolution and the 5 × 5 Lee
window): Sentinel-2's open water excludes a Sentinel-1 detection within this of water the
radar's own reference saw, or in a channel narrower than 2 × this + 1 pixels. Elsewhere it is
wet ground to the radar (a paddy under open water before the event), and the radar's new water
there is a flood"""

SENSOR_S1_SEEN = 1
"""bit of the ``sensor`` asset: a Sentinel-1 pass after the event observed the pixel"""
SENSOR_S2_SEEN = 2
"""bit: a Sentinel-2 overpass after the event observed the pixel (cloud-free, with a reference
where it shows water)"""
SENSOR_S1_FLOOD = 4
"""bit: Sentinel-1 detected the flood at the pixel (part of the fused flood)"""
SENSOR_S2_FLOOD = 8
"""bit: Sentinel-2 detected the flood at the pixel (part of the fused flood)"""
SENSOR_CODES: dict[int, str] = {
    1: "dry, seen by Sentinel-1 only",
    2: "dry, seen by Sentinel-2 only",
    3: "dry, seen by both",
    5: "flood by Sentinel-1 (Sentinel-2 did not see it)",
    7: "flood by Sentinel-1, dry or excluded on Sentinel-2",
    10: "flood by Sentinel-2 (Sentinel-1 did not see it)",
    11: "flood by Sentinel-2, dry or excluded on Sentinel-1",
    15: "flood by both",
    NODATA: "not observed (or outside the AOI)",
}
"""The values of the ``sensor`` asset: the sum of the bits above, 255 where nothing saw the
pixel. The bits of a flooded pixel name the sensors that decided it; those of a dry pixel the
sensors that saw it dry."""


@dataclass(frozen=True)
class AcquisitionFlood:
    """The flood layers of one post-event acquisition against its reference (lazy, one grid)."""

    sensor: str
    """``s1`` or ``s2``"""
    flood: xr.DataArray
    """bool: flood on this acquisition, its own exclusions applied"""
    valid: xr.DataArray
    """bool: the acquisition (and its reference where needed) observed the pixel"""
    votes: xr.DataArray
    """detectors voting water (uint8, at most ``detectors``; 0 where excluded)"""
    detectors: int
    """how many detectors the acquisition has (Sentinel-1: 3, Sentinel-2: 1)"""
    reference_water: xr.DataArray
    """bool: water seen in this acquisition's pre-event reference (wherever it saw it)"""
    open_water: xr.DataArray
    """bool: the part of ``reference_water`` that is open water for every sensor"""


def _any(layers: Sequence[xr.DataArray], like: xr.DataArray) -> xr.DataArray:
    out = xr.zeros_like(like, dtype=bool)
    for layer in layers:
        out = out | layer
    return out


def fuse_floods(acquisitions: Sequence[AcquisitionFlood]) -> dict[str, xr.DataArray]:
    """Lazy fused layers: ``flood`` (bool, before any minimum mapping unit), ``valid``
    (bool), ``likelihood`` (uint8 0–100, 255 not observed), ``reference_water`` (bool, any
    reference), and per sensor ``s1_seen``, ``s2_seen``, ``s1_flood``, ``s2_flood`` (bool).

    See the module's docstring for the rules and their sources.
    """
    if not acquisitions:
        raise YamasatError("fuse_floods: give at least one acquisition")
    like = acquisitions[0].valid
    valid = _any([a.valid for a in acquisitions], like)
    reference_water = _any([a.reference_water for a in acquisitions], like)
    open_water = _any([a.open_water for a in acquisitions], like)
    radar = [a for a in acquisitions if a.sensor == "s1"]
    s1_open = _any([a.open_water for a in radar], like)
    near_radar_water = dilate_mask(_any([a.reference_water for a in radar], like), RADAR_EDGE_PX)
    r = RADAR_EDGE_PX
    channel = open_water & ~dilate_mask(~dilate_mask(~open_water, r), r)  # not in its opening
    open_for_s1 = s1_open | (open_water & (near_radar_water | channel))
    flood = _any(
        [a.flood & a.valid & ~(open_for_s1 if a.sensor == "s1" else open_water)
         for a in acquisitions],
        like,
    )  # fmt: skip
    votes = xr.zeros_like(like, dtype="float32")
    detectors = xr.zeros_like(like, dtype="float32")
    for a in acquisitions:
        agrees = a.valid & ((a.flood & a.valid) == flood)
        votes = votes + xr.where(agrees, a.votes.astype("float32"), np.float32(0))
        detectors = detectors + xr.where(agrees, np.float32(a.detectors), np.float32(0))
    share = (100.0 * votes / detectors.where(detectors > 0)).round()
    likelihood = xr.where((open_water & ~flood) | share.isnull(), 0, share)
    likelihood = xr.where(valid, likelihood, NODATA).astype("uint8")
    out = {
        "flood": flood,
        "valid": valid,
        "likelihood": likelihood,
        "reference_water": reference_water,
    }
    for sensor in ("s1", "s2"):
        own = [a for a in acquisitions if a.sensor == sensor]
        out[f"{sensor}_seen"] = _any([a.valid for a in own], like)
        out[f"{sensor}_flood"] = _any([a.flood & a.valid for a in own], like)
    return out


def sensor_codes(
    layers: dict[str, xr.DataArray], flood: xr.DataArray, valid: xr.DataArray
) -> xr.DataArray:
    """The uint8 ``sensor`` asset (:data:`SENSOR_CODES`) from :func:`fuse_floods`'s layers,
    the final ``flood`` (after the minimum mapping unit) and ``valid`` (observed, in the AOI):
    the sensors that decided a flooded pixel, or that saw a dry one."""
    code = (
        layers["s1_seen"].astype("uint8") * SENSOR_S1_SEEN
        + layers["s2_seen"].astype("uint8") * SENSOR_S2_SEEN
        + (layers["s1_flood"] & flood).astype("uint8") * SENSOR_S1_FLOOD
        + (layers["s2_flood"] & flood).astype("uint8") * SENSOR_S2_FLOOD
    )
    return xr.where(valid, code, np.uint8(NODATA)).astype("uint8")
