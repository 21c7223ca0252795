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
exclusion mask: reference water (water already in the pre-event image), slopes steeper
than ``radar_max_slope_deg`` and terrain more than ``max_hand_m`` above the nearest drainage
(HAND, :func:`yamasat.processing.terrain.hand_m`; both from the DEM, skipped and said so
without one). The flood then grows by region growing (Martinis et al. 2009, NHESS 9; Twele et
al. 2016): the majority-vote pixels are the seeds, and a connected pixel joins them when the
detectors agree at thresholds relaxed by ``grow_relax_db`` — its backscatter fell (VV or VH)
and it is dark after the event (VV or VH) — up to ``grow_px`` pixels from the seeds
(:func:`grow_flood`). Wind-roughened flood water (Bragg scattering raises its γ⁰ by a few dB)
and the flood's fringe fail the strict thresholds but keep both signs of new water.

Optical recipe: MNDWI (Xu 2006) water after the event and not water in a same-season
reference, clouds masked; irrigated paddies that are water in the reference are not flood.
MNDWI needs SWIR 1.6 µm, which Sentinel-2 samples at 20 m: resampled to 10 m it blurs every
water edge over about two pixels. Where NIR is given, the edges are redrawn at 10 m: within
``edge_px`` of an MNDWI water edge the pixel's NIR reflectance decides against the local water
and land (:func:`water_edges_at_10m`) — the 10 m bands carry the spatial detail of the 20 m
SWIR, as in Du et al. (2016, "Water bodies' mapping from
Sentinel-2 imagery with modified normalized difference water index at 10-m spatial
resolution produced by sharpening the SWIR band", Remote Sensing 8(4):354).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from skimage.filters import threshold_otsu

from .blocks import map_planes
from .masks import dilate_mask
from .objects import grow_into, minimum_mapping_unit
from .product_codes import NODATA
from .sar import S1_IW_GRDH_ENL, window_sum
from .threshold import sample_valid

__all__ = [
    "OpticalFloodParams",
    "SarFloodParams",
    "SarThresholds",
    "bimodal_threshold",
    "encode",
    "grow_flood",
    "minimum_mapping_unit_observed",
    "optical_flood",
    "rise_threshold",
    "sar_flood",
    "water_edges_at_10m",
]


@dataclass(frozen=True)
class SarFloodParams:
    """Parameters of the SAR flood algorithm (recorded in the product)."""

    change_db: float = -3.0
    """D1: post − pre VV in dB below this is a change to water-like backscatter"""
    vv_water_fallback_db: float = -18.0
    """D2 threshold when Otsu finds no bimodal histogram"""
    vv_water_max_db: float = -15.0
    """an Otsu VV threshold above this splits land classes (forest from fields), not water from
    land: the fallback is used instead. Open water in Sentinel-1 VV lies below about −15 to
    −18 dB (the design handbook's recipe; e.g. Twele et al. 2016). A land split also made
    fields 'reference water' and excluded a flood over them"""
    vh_water_fallback_db: float = -24.0
    """D3 threshold when Otsu finds no bimodal histogram"""
    max_slope_deg: float = 5.0
    """steeper terrain cannot hold standing flood water: excluded (the optical flood's rule; the
    radar flood uses ``radar_max_slope_deg``)"""
    radar_max_slope_deg: float = 15.0
    """the radar flood excludes terrain steeper than this: where the slope membership of the
    fuzzy refinement of Twele et al. (2016) (a Z function from 0° to 15°, as in ASF HydroSAR)
    reaches zero. The DEM's slope at a valley floor's edge is smoothed over the 30 m DEM's
    cells, so 5° cut flood water off the edge of the floodplain; HAND and the vote guard the
    hillsides (GFM excludes by HAND, not slope)"""
    max_hand_m: float = 15.0
    """terrain higher than this above the nearest drainage (HAND) is excluded: the HAND
    exclusion of Twele et al. (2016, "Sentinel-1-based flood mapping: a fully automated
    processing chain", Int. J. Remote Sens. 37(13)) and GFM"""
    hand_drain_km2: float = 1.0
    """upstream area that makes a stream cell, the drainage HAND is measured from"""
    speckle_window: int = 5
    """Lee filter window (pixels, odd)"""
    speckle_enl: float = S1_IW_GRDH_ENL
    """equivalent number of looks of the speckle: the Lee filter's noise level (Sentinel-1 IW
    GRDH, ESA Sentinel-1 Product Definition)"""
    min_mapping_unit_px: int = 10
    """smallest flood region kept (pixels)"""
    grow_px: int = 20
    """region growing reaches this many pixels from the majority-vote flood (0: off)"""
    grow_relax_db: float = 2.0
    """region growing's thresholds are this much nearer land than the detectors' (dB): the
    tolerance criterion, looser than the seeds' as in Martinis et al. (2009) and Twele et al.
    (2016, seeds at fuzzy membership 0.6, growth to 0.45)"""
    grow_vh_max_db: float = -23.0
    """region growing's VH threshold is never above this (before the relaxation): an Otsu VH
    threshold that splits land classes would let the flood grow over wet fields. −23 dB: the
    highest VH water threshold of ASF HydroSAR (after Twele et al. 2016)"""


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
    min_pixels: int = 1000,
) -> tuple[float, bool]:
    """Otsu threshold of a dB image when its histogram is bimodal, else ``fallback``.

    Bimodality is judged by Otsu's separability η = σ²_between / σ²_total (Otsu 1979) and by
    the threshold falling in the ``plausible`` range for open water; fewer than ``min_pixels``
    sampled values give the fallback. Returns (value, used_otsu).
    """
    v = sample_valid(values_db)
    if v.size < min_pixels:
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
    hand: xr.DataArray | None = None,
) -> dict[str, xr.DataArray]:
    """Lazy SAR flood layers: ``likelihood`` (uint8 0–100, 255 no data), ``flood`` (bool),
    ``votes`` (uint8 0–3, 0 where excluded), ``reference_water`` (bool), ``excluded`` (bool),
    ``valid`` (bool).

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
        excluded = excluded | (slope > params.radar_max_slope_deg)
    if hand is not None:
        excluded = excluded | (hand > params.max_hand_m)
    likelihood = xr.where(excluded, 0, (votes.astype("float32") * (100.0 / 3.0)).round())
    likelihood = xr.where(valid, likelihood, NODATA).astype("uint8")
    flood = (votes >= 2) & ~excluded & valid
    flood = grow_flood(
        flood, pre_vv_db, pre_vh_db, post_vv_db, post_vh_db, thresholds, params,
        allowed=~excluded & valid,
    )  # fmt: skip
    return {
        "likelihood": likelihood,
        "flood": flood,
        "votes": xr.where(excluded, np.uint8(0), votes).astype("uint8"),
        "reference_water": reference_water & valid,
        "excluded": excluded,
        "valid": valid,
    }


def grow_flood(
    seeds: xr.DataArray,
    pre_vv_db: xr.DataArray,
    pre_vh_db: xr.DataArray,
    post_vv_db: xr.DataArray,
    post_vh_db: xr.DataArray,
    thresholds: SarThresholds,
    params: SarFloodParams,
    *,
    allowed: xr.DataArray,
) -> xr.DataArray:
    """The majority-vote flood ``seeds`` grown by region growing (Martinis et al. 2009,
    "Towards operational near real-time flood detection using a split-based automatic
    thresholding procedure on high resolution TerraSAR-X data", NHESS 9; Twele et al. 2016):
    into ``allowed`` 8-neighbours, up to ``params.grow_px`` pixels from a seed, where the
    tolerance criterion holds — VV or VH fell by more than ``change_db + grow_relax_db`` and VV
    is below its water threshold + ``grow_relax_db`` or VH below min(its threshold,
    ``grow_vh_max_db``) + ``grow_relax_db``. New water needs both signs: the backscatter
    dropped, and is dark after the event; wet fields that were already dark before do not
    grow the flood. Chunk-independent (:func:`yamasat.processing.objects.grow_into`)."""
    if params.grow_px <= 0:
        return seeds
    relax = params.grow_relax_db
    fell = params.change_db + relax
    dropped = ((post_vv_db - pre_vv_db) < fell) | ((post_vh_db - pre_vh_db) < fell)
    vh_t = min(thresholds.vh_db, params.grow_vh_max_db) + relax
    dark = (post_vv_db < thresholds.vv_db + relax) | (post_vh_db < vh_t)
    return grow_into(seeds, dropped & dark & allowed, params.grow_px)


def _box_sum(a: xr.DataArray, radius: int) -> xr.DataArray:
    """Sum over the square window of side 2·radius + 1 (chunk-independent: direct sums)."""
    data = map_planes(
        a.data.astype("float64"), window_sum, halo=radius, dtype="float64", boundary=0.0,
        size=2 * radius + 1,
    )  # fmt: skip
    return a.copy(data=data)


def water_edges_at_10m(
    coarse_water: xr.DataArray,
    nir: xr.DataArray,
    fine_water: xr.DataArray,
    *,
    edge_px: int = 2,
    land_nir: xr.DataArray | None = None,
) -> xr.DataArray:
    """Water from a map with blurred edges (MNDWI, 20 m SWIR) with its edges redrawn at 10 m
    from NIR reflectance (Du et al. 2016, see the module): ``coarse_water`` more than
    ``edge_px`` pixels from its edges stays water, pixels farther than that outside stay dry,
    and between them a pixel is water when its NIR is nearer the local water than the local
    land: below the midpoint of the mean NIR of the water core and of the dry land within
    ``edge_px + 3`` pixels. Reflectance mixes linearly, so the midpoint is a water fraction of
    one half (normalised indices such as NDWI are not linear in the fraction: a half-water
    pixel next to vegetation has NDWI near −0.5). Without both kinds nearby (a channel too
    narrow for a water core) ``fine_water`` (NDWI water, McFeeters 1996) decides.

    With ``land_nir`` (the pixel's NIR at another date, NaN where it was not dry land then)
    the land end-member is the pixel's own: its NIR then, scaled by the ratio of the dry
    land's mean NIR now to then in the same window (phenology, illumination and haze
    between the dates). The window's mean mixes the land around a pixel — a bright field or
    forest beside a dark paddy — and puts the midpoint too high, so a paddy pixel under less
    than half water was called water; a per-pixel end-member is the multiple-end-member
    idea of Roberts et al. (1998, "Mapping chaparral in the Santa Monica Mountains using
    multiple endmember spectral mixture models", Remote Sens. Environ. 65(3)) taken in time.
    Chunk-independent (square windows with a halo)."""
    core = ~dilate_mask(~coarse_water, edge_px)
    near = dilate_mask(coarse_water, edge_px)
    seen = nir.notnull()
    wet, dry = core & seen, ~near & seen
    radius = edge_px + 3
    nir0 = nir.fillna(0.0)
    wet_n, dry_n = _box_sum(wet, radius), _box_sum(dry, radius)
    wet_mean = _box_sum(nir0.where(wet, 0.0), radius) / wet_n.where(wet_n > 0)
    dry_mean = _box_sum(nir0.where(dry, 0.0), radius) / dry_n.where(dry_n > 0)
    land = dry_mean
    if land_nir is not None:  # the pixel's own land, scaled from then to now
        both = dry & land_nir.notnull()
        then = _box_sum(land_nir.fillna(0.0).where(both, 0.0), radius)
        now = _box_sum(nir0.where(both, 0.0), radius)
        own = land_nir * (now / then.where(then > 0))
        land = xr.where(own.notnull(), own, dry_mean)
    cut = (wet_mean + land) / 2
    edge = near & ~core
    redrawn = xr.where(cut.notnull() & seen, nir < cut, fine_water)
    return core | (edge & redrawn)


def minimum_mapping_unit_observed(
    flag: xr.DataArray, valid: xr.DataArray, min_pixels: int
) -> xr.DataArray:
    """:func:`minimum_mapping_unit` that does not cut what a cloud cut: a flagged region is
    kept when, with the unobserved pixels it touches, it reaches ``min_pixels`` (the rest of
    it may lie under the cloud); isolated small regions in clear sky are dropped."""
    return minimum_mapping_unit(flag | ~valid, min_pixels) & flag


def optical_flood(
    mndwi_after: xr.DataArray,
    mndwi_reference: xr.DataArray,
    *,
    threshold: float = 0.0,
    reference_threshold: float | None = None,
    slope: xr.DataArray | None = None,
    max_slope_deg: float = 5.0,
    nir: tuple[xr.DataArray, xr.DataArray, xr.DataArray, xr.DataArray, float] | None = None,
    edge_px: int = 2,
    rise: float | None = None,
) -> dict[str, xr.DataArray]:
    """Lazy optical flood layers: ``flood`` (bool), ``water_after`` (bool, the naive map),
    ``reference_water`` (bool), ``open_water`` (bool: reference water that is open water at
    10 m, NDWI above its threshold, when ``nir`` is given), ``valid`` (bool: observed after the
    event, and in the reference wherever the after image shows water).

    Flood = water after (MNDWI > ``threshold``) and not water in the reference composite
    (MNDWI > ``reference_threshold``, default the same). Water in the reference — rivers,
    ponds, and paddies irrigated in the same season — is never flood. With ``nir`` =
    (10 m NIR reflectance after, of the reference, NDWI after, of the reference, the NDWI
    water threshold) both water maps get their edges redrawn at 10 m
    (:func:`water_edges_at_10m`, within ``edge_px``; the map after the event against each
    pixel's own land, its NIR in the reference where that was dry). With ``rise``, water after
    the event whose MNDWI rose by more than ``rise`` over the reference is flood even where the
    reference counted as water: a paddy with a little standing water before (MNDWI near the
    threshold) under open flood water after, unless the reference NDWI saw open water at 10 m
    (a channel whose 20 m MNDWI is blurred); ``rise`` comes from :func:`rise_threshold`.
    """
    ref_t = threshold if reference_threshold is None else reference_threshold
    seen_after = mndwi_after.notnull()
    water_after = (mndwi_after > threshold) & seen_after
    reference_water = (mndwi_reference > ref_t) & mndwi_reference.notnull()
    if nir is not None:
        n_aft, n_ref, w_aft, w_ref, w_t = nir
        reference_water = water_edges_at_10m(reference_water, n_ref, w_ref > w_t, edge_px=edge_px)
        reference_water = reference_water & mndwi_reference.notnull()
        water_after = water_edges_at_10m(  # the land end-member: the pixel's own, then
            water_after, n_aft, w_aft > w_t, edge_px=edge_px,
            land_nir=n_ref.where(~reference_water),
        )  # fmt: skip
        water_after = water_after & seen_after
    # dry after the event is "not flood" whatever the reference; water after needs a reference,
    # and so does the dry edge (``edge_px``) of such water: where that edge lies is uncertain
    unknown = water_after & mndwi_reference.isnull()
    if nir is not None:
        unknown = dilate_mask(unknown, edge_px)
    valid = seen_after & ~unknown
    new_water = ~reference_water
    if rise is not None:
        rose = (mndwi_after - mndwi_reference) > rise
        if nir is not None:  # open water at 10 m in the reference (a channel) stays water
            rose = rose & ~_open_at_10m(nir[3], nir[4])
        new_water = new_water | rose
    flood = water_after & new_water & valid
    if slope is not None:
        flood = flood & ~(slope > max_slope_deg)
    open_water = reference_water if nir is None else _open_at_10m(nir[3], nir[4]) & reference_water
    return {
        "flood": flood,
        "water_after": water_after,
        "reference_water": reference_water,
        "open_water": open_water,
        "valid": valid,
    }


#: NDWI above which a pixel is open water whatever the image's own split (McFeeters 1996's
#: water limit): Otsu's NDWI split of an image with little water falls among wet paddies
#: and wet soil (NDWI -0.3..0), which are not open water
OPEN_WATER_NDWI_MIN = 0.0


def _open_at_10m(ndwi_reference: xr.DataArray, ndwi_threshold: float) -> xr.DataArray:
    """Open water at 10 m in the reference: NDWI above its split and above
    :data:`OPEN_WATER_NDWI_MIN`."""
    return ndwi_reference > max(ndwi_threshold, OPEN_WATER_NDWI_MIN)


#: the smallest MNDWI rise counted as new open water over water already there: less than the
#: contrast of open water (MNDWI 0.4-0.9) with wet paddy and wet soil (about 0-0.3)
MIN_RISE = 0.2


def rise_threshold(
    mndwi_after: xr.DataArray, mndwi_reference: xr.DataArray, both_water: xr.DataArray
) -> float | None:
    """The rise of MNDWI that separates new open water from water already there, among the
    pixels that are water both after the event and in the reference (``both_water``), or None
    when those rises are not bimodal (no flood over wet ground): Otsu (1979) on the difference
    image, the unsupervised change threshold of Bruzzone & Prieto (2000, "Automatic analysis
    of the difference image for unsupervised change detection", IEEE TGRS 38(3)), judged
    bimodal as in :func:`bimodal_threshold` and below 1.2. A rise smaller than
    :data:`MIN_RISE` is not a new water body: Otsu's cut is raised to it. Otsu's cut leans
    into the larger class when the classes are unequal (Kittler & Illingworth 1986, "Minimum
    error thresholding", Pattern Recognition 19(1)), and the flood seen over wet paddies is
    often a few per cent of the water both dates show (most of it under cloud): such a cut
    falls below the plausible range though the rises are clearly bimodal."""
    rise = (mndwi_after - mndwi_reference).where(both_water)
    t, from_otsu = bimodal_threshold(rise, fallback=0.0, plausible=(-2.0, 1.2), min_pixels=100)
    return max(t, MIN_RISE) if from_otsu else None


def encode(flag: xr.DataArray, valid: xr.DataArray) -> xr.DataArray:
    """1/0/255 uint8 from a bool detection and a bool validity mask."""
    return xr.where(valid, flag.astype("uint8"), np.uint8(NODATA)).astype("uint8")
