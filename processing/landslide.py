"""Landslide scars from pre/post optical composites and slope.

Recipe (DESIGN §4; e.g. Behling et al. 2014; Scheip & Wegmann 2021, HazMapper): a sharp NDVI
loss (ΔNDVI below about −0.2), bare soil afterwards (post NDVI below about 0.15–0.25), on
slopes above a threshold; water excluded; a minimum mapping unit. Without such filters
30–50 % of NDVI-loss detections are false positives (fields, construction).

Forest management looks like a scar to ΔNDVI alone: a clear-cut or a harvested field also
loses its canopy. What it leaves differs (issue 13): a fresh scar exposes bright mineral
soil, a cut leaves logging slash and residue over dark topsoil. So a scar must also be bare
soil by the Bare Soil Index, BSI = ((SWIR1 + red) − (NIR + blue)) / ((SWIR1 + red) + (NIR +
blue)) (Rikimaru, Roy & Miyatake 2002, *Tropical Ecology* 43(1)), and free of dry plant
residue by the Normalized Difference Tillage Index, NDTI = (SWIR1 − SWIR2) / (SWIR1 + SWIR2)
(van Deventer et al. 1997, *PE&RS* 63(1)): cellulose and lignin absorb near 2.1 µm, so residue
has a much higher NDTI than soil (Daughtry et al. 2005, *Agron. J.* 97). Strict "core" pixels
pass every test; the mixed pixels at a scar's edge are added by hysteresis (Canny 1986):
pixels that pass weaker tests within ``grow_px`` of a core. Then a size window: regions under
``min_mapping_unit_px`` or over ``max_area_px`` (no single shallow landslide; 0.1–5 ha is the
issue's range) are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr

from .objects import grow_into, size_window

__all__ = ["LandslideParams", "landslide_candidates", "landslide_scars"]


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
    min_mapping_unit_px: int = 8
    """smallest scar kept, pixels (8 px = 0.08 ha at 10 m; the smallest scars sought are 0.1 ha)"""
    min_post_bsi: float = 0.1
    """BSI after at least this: exposed soil (Rikimaru et al. 2002)"""
    max_post_ndti: float = 0.12
    """NDTI after below this: mineral soil, not slash or crop residue (van Deventer et al. 1997)"""
    edge_dndvi: float = -0.3
    """an edge pixel grown from a core must have lost at least this much NDVI: about half a
    bare scar's loss, so at least half the pixel is scar (linear mixing)"""
    grow_px: int = 2
    """how far (pixels) a scar grows from its cores into its edge"""
    max_area_px: int = 1000
    """largest scar kept, pixels (1000 px = 10 ha at 10 m)"""


def landslide_candidates(
    ndvi_before: xr.DataArray,
    ndvi_after: xr.DataArray,
    mndwi_after: xr.DataArray,
    slope: xr.DataArray,
    params: LandslideParams,
    *,
    bsi_after: xr.DataArray | None = None,
    ndti_after: xr.DataArray | None = None,
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """(core bool, edge bool, valid bool) before growing and the size window; lazy.

    Core: NDVI loss to bare soil on a steep slope, not water; and, when given, bare by BSI
    and free of residue by NDTI. Edge: a weaker NDVI loss on a steep slope, not water
    (candidates for growing a core into its mixed border pixels, part soil and part canopy).
    """
    valid = ndvi_before.notnull() & ndvi_after.notnull() & slope.notnull()
    dndvi = ndvi_after - ndvi_before
    steep = slope >= params.min_slope_deg
    dry = ~(mndwi_after > params.max_post_mndwi)
    core = (dndvi < params.max_dndvi) & (ndvi_after < params.max_post_ndvi) & steep & dry & valid
    edge = (dndvi < params.edge_dndvi) & steep & dry & valid
    if bsi_after is not None:
        core = core & (bsi_after >= params.min_post_bsi)
    if ndti_after is not None:  # not on edges: green canopy has a high NDTI too
        core = core & (ndti_after < params.max_post_ndti)
    return core, edge, valid


def landslide_scars(
    core: xr.DataArray, edge: xr.DataArray, params: LandslideParams
) -> xr.DataArray:
    """Scars: cores grown into their edges by ``grow_px`` pixels, then the size window
    (``min_mapping_unit_px`` … ``max_area_px``, 8-connected); lazy, independent of chunks."""
    grown = grow_into(core, edge, params.grow_px)
    return size_window(grown, params.min_mapping_unit_px, params.max_area_px)
