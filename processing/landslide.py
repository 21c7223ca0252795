"""Landslide scars from pre/post optical composites and slope.

Recipe (DESIGN §4; e.g. Behling et al. 2014; Scheip & Wegmann 2021, HazMapper): a sharp NDVI
loss (ΔNDVI below about −0.2), bare soil afterwards (post NDVI below about 0.15–0.25), on
slopes above a threshold; water excluded; a minimum mapping unit. Without such filters
30–50 % of NDVI-loss detections are false positives (fields, construction).

Forest management looks like a scar to ΔNDVI alone: a clear-cut or a harvested field also
loses its canopy. What it leaves differs (issue 13): a fresh scar exposes bright mineral
soil, a cut leaves logging slash and residue over dark topsoil. So a scar core must also be
bare soil by the Bare Soil Index, BSI = ((SWIR1 + red) − (NIR + blue)) / ((SWIR1 + red) +
(NIR + blue)) (Rikimaru, Roy & Miyatake 2002, *Tropical Ecology* 43(1)), and not pure dry
residue by the Normalized Difference Tillage Index, NDTI = (SWIR1 − SWIR2) / (SWIR1 + SWIR2)
(van Deventer et al. 1997, *PE&RS* 63(1); cellulose and lignin absorb near 2.1 µm: Daughtry
et al. 2005, *Agron. J.* 97). That gate is loose (0.2): mineral soils reach NDTI 0.15 (the
replayed real layouts' soil), and slash mixed with understory falls to 0.17, so NDTI cannot
separate them alone. The disturbed region decides instead (:func:`downslope_regions`): a
connected region of NDVI loss is a scar only if it is longer down the fall line than across
it (landslides are elongated downslope: length/width 1.2–15 in the inventories of Taylor,
Malamud, Witt & Guzzetti 2018, *ESPL* 43(15); long vs wide measured against the DEM as in
Niculiță 2016, *NHESS* 16) and mostly bare soil (``min_core_share`` of it cores). Felling
units on Japanese hill slopes are wider along the contour than down the slope (roads follow
the contour) and keep slash and understory over most of their area, so they fail one test or
both; harvested paddies are flat. Strict "core" pixels pass every pixel test; the mixed
pixels at a scar's edge are added by hysteresis (Canny 1986): pixels that pass weaker tests
within ``grow_px`` of a core. Then a size window: regions under ``min_mapping_unit_px`` or
over ``max_area_px`` (no single shallow landslide; 0.1–5 ha is the issue's range) are
dropped. Landslides wider than long (translational slides, bank failures: Niculiță 2016) are
missed by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from .objects import grow_into, size_window
from .product_codes import NODATA

__all__ = [
    "LandslideParams",
    "downslope_regions",
    "fall_line_elongation",
    "landslide_candidates",
    "landslide_scars",
    "unobserved_slopes",
]

_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class LandslideParams:
    """Parameters of landslide mapping (recorded in the product)."""

    max_dndvi: float = -0.2
    """NDVI must drop by more than this (after − before)"""
    max_post_ndvi: float = 0.2
    """NDVI after the event below this: bare soil"""
    min_slope_deg: float = 15.0
    """slope at least this steep (from the DEM)"""
    max_post_mndwi: float = 0.0
    """MNDWI after above this is water: excluded"""
    min_mapping_unit_px: int = 8
    """smallest scar kept, pixels (8 px = 0.08 ha at 10 m; the smallest scars sought are 0.1 ha)"""
    min_post_bsi: float = 0.1
    """BSI after at least this: exposed soil (Rikimaru et al. 2002)"""
    max_post_ndti: float = 0.2
    """NDTI after below this: not pure dry slash or crop residue (van Deventer et al. 1997); loose:
    the region's shape and core share separate slash from soil (:func:`downslope_regions`)"""
    edge_dndvi: float = -0.3
    """an edge pixel grown from a core must have lost at least this much NDVI: about half a
    bare scar's loss, so at least half the pixel is scar (linear mixing)"""
    grow_px: int = 2
    """how far (pixels) a scar grows from its cores into its edge"""
    max_area_px: int = 1000
    """largest scar kept, pixels (1000 px = 10 ha at 10 m)"""
    min_fall_line_elongation: float = 1.0
    """a scar is at least this many times longer down the fall line than across it
    (:func:`fall_line_elongation`); 0 turns the test off"""
    min_core_share: float = 0.3
    """at least this share of a disturbed region's pixels are cores (bare mineral soil)"""
    min_cut_core_share: float = 0.5
    """the same for a region cut by clouds or no data, whose shape is not judged"""


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
    core: xr.DataArray,
    edge: xr.DataArray,
    params: LandslideParams,
    elevation: xr.DataArray | None = None,
    observed: xr.DataArray | None = None,
) -> xr.DataArray:
    """Scars: with ``elevation``, only in :func:`downslope_regions` (``observed``: the
    observed pixels, to tell regions cut by clouds); cores grown into their
    edges by ``grow_px`` pixels, then the size window (``min_mapping_unit_px`` …
    ``max_area_px``, 8-connected); lazy, independent of chunks."""
    if elevation is not None and params.min_fall_line_elongation > 0:
        regions = downslope_regions(core, edge, elevation, params, observed)
        core, edge = core & regions, edge & regions
    grown = grow_into(core, edge, params.grow_px)
    return size_window(grown, params.min_mapping_unit_px, params.max_area_px)


def fall_line_elongation(labels: np.ndarray, count: int, elevation: np.ndarray) -> np.ndarray:
    """Per object ``1..count`` of ``labels``: its extent along the fall line over its extent
    along the contour, ``sqrt(var_down / var_across)`` (index 0, the background, is NaN).

    The variances are the second moments of the object's pixel positions (each pixel a unit
    square: + 1/12) projected on the object's mean downslope direction and across it; that
    direction is the sum of ``-grad(elevation)`` over its pixels (pixel units, any axis
    order: only directions matter on square pixels). NaN where the object is flat.
    """
    idx = labels.ravel()
    n = np.bincount(idx, minlength=count + 1).astype("float64")
    n[0] = np.nan

    def total(v: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=v.ravel(), minlength=count + 1)

    # n Σab − Σa Σb: exact in float64 for pixel indices (integers), so the same wherever the
    # plane starts (dask blocks); a symmetric object's 1.0 does not flip with rounding
    rows, cols = np.indices(labels.shape, dtype="float64")
    sr, sc = total(rows), total(cols)
    crr = (n * total(rows * rows) - sr * sr) / (n * n) + 1 / 12
    ccc = (n * total(cols * cols) - sc * sc) / (n * n) + 1 / 12
    crc = (n * total(rows * cols) - sr * sc) / (n * n)
    gr, gc = np.gradient(elevation.astype("float64"))
    dr, dc = -total(np.nan_to_num(gr)), -total(np.nan_to_num(gc))
    norm = np.hypot(dr, dc)
    with np.errstate(invalid="ignore", divide="ignore"):
        ur, uc = dr / norm, dc / norm
        down = ur * ur * crr + 2 * ur * uc * crc + uc * uc * ccc
        across = uc * uc * crr - 2 * ur * uc * crc + ur * ur * ccc
        out = np.sqrt(down / across)
    out[norm == 0] = np.nan
    return np.asarray(out)


def _downslope(
    stack: np.ndarray,
    max_px: int,
    min_elongation: float,
    min_core_share: float,
    min_cut_core_share: float,
) -> np.ndarray:
    code, elevation = stack[0], stack[1]
    labels, count = ndimage.label(code > 0, structure=_EIGHT)
    idx = labels.ravel()
    sizes = np.bincount(idx, minlength=count + 1)
    cores = np.bincount(idx, weights=(code > 1).ravel(), minlength=count + 1)
    # cut: beside an unobserved pixel (code < 0) or the plane's edge (a kept region on dask
    # lies 2 px inside its block's halo, so only the grid's own edge is seen here)
    beside = ndimage.binary_dilation(code < 0, structure=_EIGHT, border_value=1)
    cut = np.bincount(idx, weights=beside.ravel(), minlength=count + 1) > 0
    with np.errstate(invalid="ignore"):
        whole = (cores >= min_core_share * sizes) & (
            fall_line_elongation(labels, count, elevation) >= min_elongation
        )
    keep = (
        (sizes <= max_px) & (cores > 0) & np.where(cut, cores >= min_cut_core_share * sizes, whole)
    )
    keep[0] = False
    kept = keep[labels]
    return np.stack([kept, kept]).astype(stack.dtype)


def downslope_regions(
    core: xr.DataArray,
    edge: xr.DataArray,
    elevation: xr.DataArray,
    params: LandslideParams,
    observed: xr.DataArray | None = None,
) -> xr.DataArray:
    """The disturbed regions (8-connected regions of ``core | edge``) that may be scars: at
    most ``max_area_px`` pixels, holding a core, at least ``min_core_share`` of them cores and
    at least ``min_fall_line_elongation`` times longer down the fall line than across it
    (:func:`fall_line_elongation` on ``elevation``, metres, same grid); lazy. A region beside
    an unobserved pixel (``observed`` False: clouds, no data) or the grid's edge is cut: its
    outline is partly the cloud's, so its shape is not judged, and it must instead be at least
    ``min_cut_core_share`` cores.

    Exact on dask with a halo of ``max_area_px`` + 1: a kept region fits in it whole, with the
    elevation around it (the gradient), and a larger one shows too many pixels (the argument of
    :func:`yamasat.processing.objects.size_window`).
    """
    hi = params.max_area_px
    code = core.astype("float32") * 2 + (edge & ~core).astype("float32")
    if observed is not None:
        code = code.where(observed, -1.0)
    stacked: Any = xr.concat([code, elevation.astype("float32")], dim="_layer").data
    kw: dict[str, Any] = {
        "max_px": hi,
        "min_elongation": params.min_fall_line_elongation,
        "min_core_share": params.min_core_share,
        "min_cut_core_share": params.min_cut_core_share,
    }
    if hasattr(stacked, "map_overlap"):
        halo = hi + 1
        stacked = stacked.rechunk({0: 2})
        if min(stacked.shape[-2:]) <= halo:  # dask cannot overlap by more than the array
            stacked, halo = stacked.rechunk({1: -1, 2: -1}), 0
        kept = stacked.map_overlap(
            _downslope, depth={0: 0, 1: halo, 2: halo}, boundary="none", dtype="float32", **kw
        )[0]
    else:
        kept = _downslope(np.asarray(stacked), **kw)[0]
    return core.copy(data=kept > 0)


def unobserved_slopes(
    product: xr.DataArray, slope: xr.DataArray, min_slope_deg: float, pixel_m2: float
) -> dict[str, float | None]:
    """Where scars could not be observed: terrain at least ``min_slope_deg`` steep (``slope``,
    NaN outside the AOI) that the ``product`` (1/0/255) has as no data. ``share`` of that
    terrain and ``km2``; a scar there is missing from the product, not absent."""
    steep = slope >= min_slope_deg
    sums = xr.Dataset(
        {"steep": steep.astype("int64"), "unseen": (steep & (product == NODATA)).astype("int64")}
    ).sum()
    n_steep, n_unseen = int(sums["steep"]), int(sums["unseen"])
    return {
        "share": round(n_unseen / n_steep, 4) if n_steep else None,
        "km2": round(n_unseen * pixel_m2 / 1e6, 3),
        "min_slope_deg": min_slope_deg,
    }
