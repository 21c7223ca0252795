"""Analysis steps of the disaster products: SAR and optical flood, landslide, burn scar.

Each step loads what it needs lazily onto the project grid, writes its COGs in one streamed
pass (after any global statistic), then hands the staging folder to :func:`finalize`.
Recipes and their sources are in the ``processing`` modules they call.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import xarray as xr

from ..catalogs.sources.profiles import scale_offset
from ..catalogs.sources.signing import signed_for_reading
from ..errors import NoDataError, SourceError
from ..processing.burn import USGS_THRESHOLDS, burn_severity
from ..processing.composite import median_composite
from ..processing.flood import (
    SarFloodParams,
    SarThresholds,
    bimodal_threshold,
    encode,
    optical_flood,
    sar_flood,
)
from ..processing.grid import aoi_mask
from ..processing.indices import mndwi, nbr, ndvi
from ..processing.landslide import LandslideParams, landslide_candidates
from ..processing.load import load_bands, load_s2
from ..processing.objects import minimum_mapping_unit
from ..processing.product_codes import NODATA
from ..processing.sar import lee_filter, to_db
from ..processing.terrain import slope_deg
from ..processing.write import CogSpec, float_spec, write_cogs
from .change_steps import load_common, params_dict
from .checkpoints import Checkpoints
from .prepare import Prepared, network_policy, search_family, season_warnings
from .progress import report
from .publish import (
    ProductOutcome,
    finish_draft,
    float_band,
    staged,
    start_draft,
)

__all__ = [
    "BurnParams",
    "analyse_burn",
    "analyse_flood_s1",
    "analyse_flood_s2",
    "analyse_landslide",
    "load_slope",
    "pick_s1_pair",
]

log = logging.getLogger(__name__)

_U8 = CogSpec(nodata=NODATA, dtype="uint8")


def _f32(prep: Prepared) -> CogSpec:
    """How measured floats are written (LERC within ``storage.float_max_error``)."""
    return float_spec(prep.settings.storage.float_max_error)


def _items(dicts: list[dict[str, Any]]) -> list[pystac.Item]:
    return [pystac.Item.from_dict(d) for d in dicts]


def _synthetic(items: list[pystac.Item]) -> bool:
    return any(it.properties.get("yamasat:synthetic") for it in items)


def load_slope(prep: Prepared, geobox: Any) -> xr.DataArray | None:
    """Slope (degrees) from the source's DEM on ``geobox``, or None when there is no DEM."""
    try:
        items = signed_for_reading(
            search_family(prep, "dem", None, ("dem",)),
            needs_signing=prep.source.profile.needs_signing,
            policy=network_policy(prep.settings),
        )
    except (NoDataError, SourceError) as e:
        log.warning("no DEM: %s", e)
        return None
    fam = prep.source.profile.family("dem")
    dem = load_bands(
        _items(items),
        assets={"dem": fam.asset_key("dem")},
        geobox=geobox,
        scale_fn=scale_offset,
        chunk=prep.settings.grid.chunk_size,
    )["dem"]
    # GLO-30 tiles share one nominal datetime: odc-stac fuses them into one time step
    dem = dem.isel(time=0) if "time" in dem.dims else dem
    return slope_deg(dem, resolution=prep.settings.grid.resolution)


def pick_s1_pair(
    before: list[pystac.Item], after: list[pystac.Item]
) -> tuple[list[pystac.Item], list[pystac.Item], tuple[Any, Any]]:
    """The latest pre and earliest post acquisition on the same relative orbit and pass.

    Raises :class:`SourceError` naming the orbits found when no such pair exists.
    """

    def key(it: pystac.Item) -> tuple[Any, Any]:
        return (it.properties.get("sat:relative_orbit"), it.properties.get("sat:orbit_state"))

    common = {key(i) for i in before} & {key(i) for i in after}
    if not common:
        raise SourceError(
            "no Sentinel-1 pair on the same relative orbit and pass: before has "
            f"{sorted({key(i) for i in before}, key=str)}, after has "
            f"{sorted({key(i) for i in after}, key=str)}; widen the periods"
        )
    best = None
    for orbit in sorted(common, key=str):
        pre_day = max(i.datetime.date() for i in before if key(i) == orbit and i.datetime)
        post_day = min(i.datetime.date() for i in after if key(i) == orbit and i.datetime)
        gap = (post_day - pre_day).days
        if best is None or gap < best[0]:
            best = (gap, orbit, pre_day, post_day)
    assert best is not None
    _, orbit, pre_day, post_day = best
    pre = [i for i in before if key(i) == orbit and i.datetime and i.datetime.date() == pre_day]
    post = [i for i in after if key(i) == orbit and i.datetime and i.datetime.date() == post_day]
    return pre, post, orbit


def _sar_db(
    items: list[pystac.Item], prep: Prepared, geobox: Any, params: SarFloodParams
) -> dict[str, xr.DataArray]:
    fam = prep.source.profile.family("s1")
    ds = load_bands(
        items,
        assets={"vv": fam.asset_key("vv"), "vh": fam.asset_key("vh")},
        geobox=geobox,
        scale_fn=scale_offset,
        chunk=prep.settings.grid.chunk_size,
    )
    ds = ds.isel(time=0)
    return {p: to_db(lee_filter(ds[p], size=params.speckle_window)) for p in ("vv", "vh")}


def analyse_flood_s1(
    prep: Prepared,
    before_items: list[dict[str, Any]],
    after_items: list[dict[str, Any]],
    *,
    params: SarFloodParams | None = None,
    force: bool = False,
    run_id: str | None = None,
    flow_name: str = "flood_mapping",
    checkpoints: Checkpoints | None = None,
) -> ProductOutcome:
    """Sentinel-1 flood: three detectors by vote, likelihood 0–100, exclusions, MMU."""
    params = params or SarFloodParams(**prep.settings.analytics.flood.model_dump())
    pre, post, orbit = pick_s1_pair(_items(before_items), _items(after_items))
    inputs = [i.id for i in pre + post]
    draft = start_draft(
        prep,
        "flood",
        inputs,
        {"sensor": "s1", **params_dict(params)},
        force,
        synthetic=_synthetic(pre + post),
        checkpoints=checkpoints,
    )
    if isinstance(draft, ProductOutcome):
        return draft
    if draft.rasters_done:  # resumed: the failed run wrote every raster
        with staged(draft, checkpoints):
            return finish_draft(prep, draft, None, run_id, flow_name)
    with staged(draft, checkpoints):
        report("analyse", 0, 4)
        geobox = draft.geobox
        grid = prep.settings.grid
        inside = aoi_mask(geobox, prep.aoi.geometry, chunk=grid.chunk_size)
        pre_db = _sar_db(pre, prep, geobox, params)
        post_db = _sar_db(post, prep, geobox, params)
        vv_t, vv_otsu = bimodal_threshold(
            post_db["vv"].where(inside), fallback=params.vv_water_fallback_db
        )
        vh_t, vh_otsu = bimodal_threshold(
            post_db["vh"].where(inside), fallback=params.vh_water_fallback_db
        )
        thresholds = SarThresholds(vv_t, vh_t, vv_otsu, vh_otsu)
        slope = load_slope(prep, geobox)
        draft.qa.update(
            {
                "sensor": "s1",
                "orbit": list(orbit),
                "pre": pre[0].datetime.isoformat() if pre[0].datetime else None,
                "post": post[0].datetime.isoformat() if post[0].datetime else None,
                "vv_threshold_db": vv_t,
                "vh_threshold_db": vh_t,
                "vv_threshold_from_otsu": vv_otsu,
                "vh_threshold_from_otsu": vh_otsu,
                "terrain_exclusion": slope is not None,
            }
        )
        if slope is None:
            draft.warnings.append("no DEM found: flood made without terrain (slope) exclusion")
        draft.threshold = vv_t
        layers = sar_flood(
            pre_db["vv"],
            pre_db["vh"],
            post_db["vv"],
            post_db["vh"],
            thresholds=thresholds,
            params=params,
            slope=slope,
        )
        report("analyse", 1, 4)
        valid = layers["valid"] & inside
        flood = minimum_mapping_unit(layers["flood"], params.min_mapping_unit_px)
        paths = {
            draft.staging / "flood.tif": (encode(flood, valid), _U8),
            draft.staging / "likelihood.tif": (
                layers["likelihood"].where(inside, NODATA).astype("uint8"),
                _U8,
            ),
        }
        written = write_cogs(paths, geobox=geobox)
        draft.add_cog(
            "flood",
            written[draft.staging / "flood.tif"],
            "Flood: 1 flooded, 0 not, 255 no data",
            {"nodata": NODATA, "data_type": "uint8"},
        )
        draft.add_cog(
            "likelihood",
            written[draft.staging / "likelihood.tif"],
            "Flood likelihood 0–100 (% of detectors voting water)",
            {"nodata": NODATA, "data_type": "uint8", "unit": "percent"},
        )
        report("analyse", 2, 4)
        return finish_draft(prep, draft, inside, run_id, flow_name)


def _s2_composites(
    prep: Prepared, items: list[pystac.Item], geobox: Any, bands: tuple[str, ...]
) -> xr.Dataset:
    ds = load_s2(items, **load_common(prep, geobox, bands))
    return xr.Dataset({b: median_composite(ds[b]) for b in bands})


def analyse_flood_s2(
    prep: Prepared,
    before_items: list[dict[str, Any]],
    after_items: list[dict[str, Any]],
    *,
    min_mapping_unit_px: int | None = None,
    force: bool = False,
    run_id: str | None = None,
    flow_name: str = "flood_mapping",
    checkpoints: Checkpoints | None = None,
) -> ProductOutcome:
    """Sentinel-2 flood: MNDWI water after and not water in the before (reference) period."""
    b_items, a_items = _items(before_items), _items(after_items)
    cfg = prep.settings.analytics.flood
    mmu = min_mapping_unit_px if min_mapping_unit_px is not None else cfg.min_mapping_unit_px
    params = {
        "sensor": "s2",
        "index": "mndwi",
        "min_mapping_unit_px": mmu,
        "max_slope_deg": cfg.max_slope_deg,
    }
    draft = start_draft(
        prep,
        "flood",
        [i.id for i in b_items + a_items],
        params,
        force,
        synthetic=_synthetic(b_items + a_items),
        checkpoints=checkpoints,
    )
    if isinstance(draft, ProductOutcome):
        return draft
    if draft.rasters_done:  # resumed: the failed run wrote every raster
        with staged(draft, checkpoints):
            return finish_draft(prep, draft, None, run_id, flow_name)
    with staged(draft, checkpoints):
        report("analyse", 0, 4)
        geobox = draft.geobox
        inside = aoi_mask(geobox, prep.aoi.geometry, chunk=prep.settings.grid.chunk_size)
        ref = _s2_composites(prep, b_items, geobox, ("green", "swir16"))
        aft = _s2_composites(prep, a_items, geobox, ("green", "swir16"))
        m_ref, m_aft = mndwi(ref.green, ref.swir16), mndwi(aft.green, aft.swir16)
        t, from_otsu = bimodal_threshold(m_aft.where(inside), fallback=0.0, plausible=(-0.3, 0.5))
        slope = load_slope(prep, geobox)
        layers = optical_flood(
            m_aft, m_ref, threshold=t, slope=slope, max_slope_deg=cfg.max_slope_deg
        )
        draft.threshold = t
        draft.qa.update(
            {
                "sensor": "s2",
                "mndwi_threshold": t,
                "threshold_from_otsu": from_otsu,
                "terrain_exclusion": slope is not None,
            }
        )
        draft.warnings += season_warnings(prep.before, prep.after)
        if slope is None:
            draft.warnings.append("no DEM found: flood made without terrain (slope) exclusion")
        report("analyse", 1, 4)
        valid = layers["valid"] & inside
        flood = minimum_mapping_unit(layers["flood"], mmu)
        path = draft.staging / "flood.tif"
        mpath = draft.staging / "mndwi.tif"
        written = write_cogs(
            {path: (encode(flood, valid), _U8), mpath: (m_aft.where(inside), _f32(prep))},
            geobox=geobox,
        )
        draft.add_cog(
            "flood",
            written[path],
            "Flood: 1 flooded, 0 not, 255 no data",
            {"nodata": NODATA, "data_type": "uint8"},
        )
        draft.add_cog(
            "mndwi",
            written[mpath],
            "MNDWI after the event (median composite)",
            float_band(prep),
        )
        report("analyse", 2, 4)
        return finish_draft(prep, draft, inside, run_id, flow_name)


def _object_means(rasters: dict[str, Path]) -> Any:
    """A polygons enricher adding the mean of each raster inside each polygon."""
    import rasterio
    from rasterio import features
    from rasterio.windows import from_bounds

    def enrich(gdf: Any) -> Any:
        for name, path in rasters.items():
            means = []
            with rasterio.open(path) as src:
                for geom in gdf.geometry:
                    win = (
                        from_bounds(*geom.bounds, transform=src.transform)
                        .round_offsets()
                        .round_lengths()
                    )
                    data = src.read(1, window=win, boundless=True, fill_value=np.nan)
                    mask = features.geometry_mask(
                        [geom],
                        out_shape=data.shape,
                        transform=src.window_transform(win),
                        invert=True,
                    )
                    vals = data[mask & np.isfinite(data)]
                    means.append(round(float(vals.mean()), 4) if vals.size else None)
            gdf[name] = means
        return gdf

    return enrich


def _landslide_enrich(staging: Path) -> Any:
    return _object_means(
        {"mean_slope_deg": staging / "slope.tif", "mean_dndvi": staging / "dndvi.tif"}
    )


def _burn_enrich(staging: Path) -> Any:
    return _object_means({"mean_dnbr": staging / "dnbr.tif"})


def analyse_landslide(
    prep: Prepared,
    before_items: list[dict[str, Any]],
    after_items: list[dict[str, Any]],
    *,
    params: LandslideParams | None = None,
    force: bool = False,
    run_id: str | None = None,
    flow_name: str = "landslide_mapping",
    checkpoints: Checkpoints | None = None,
) -> ProductOutcome:
    """Landslide scars: NDVI loss to bare soil on steep slopes, water excluded, MMU, objects."""
    params = params or LandslideParams(**prep.settings.analytics.landslide.model_dump())
    b_items, a_items = _items(before_items), _items(after_items)
    draft = start_draft(
        prep,
        "landslide",
        [i.id for i in b_items + a_items],
        params_dict(params),
        force,
        synthetic=_synthetic(b_items + a_items),
        checkpoints=checkpoints,
    )
    if isinstance(draft, ProductOutcome):
        return draft
    if draft.rasters_done:  # resumed: the failed run wrote every raster
        with staged(draft, checkpoints):
            return finish_draft(
                prep, draft, None, run_id, flow_name, _landslide_enrich(draft.staging)
            )
    with staged(draft, checkpoints):
        report("analyse", 0, 4)
        geobox = draft.geobox
        slope = load_slope(prep, geobox)
        if slope is None:
            raise SourceError(
                "landslide mapping needs a DEM (slope is essential) and source "
                f"{prep.source.name!r} offers none for this AOI; use a source with cop-dem-glo-30"
            )
        inside = aoi_mask(geobox, prep.aoi.geometry, chunk=prep.settings.grid.chunk_size)
        bands = ("red", "nir", "green", "swir16")
        pre = _s2_composites(prep, b_items, geobox, bands)
        post = _s2_composites(prep, a_items, geobox, bands)
        n_pre, n_post = ndvi(pre.nir, pre.red), ndvi(post.nir, post.red)
        cand, valid = landslide_candidates(
            n_pre, n_post, mndwi(post.green, post.swir16), slope, params
        )
        scars = minimum_mapping_unit(cand, params.min_mapping_unit_px)
        valid = valid & inside
        draft.threshold = params.max_dndvi
        draft.qa.update(
            {"min_slope_deg": params.min_slope_deg, "max_post_ndvi": params.max_post_ndvi}
        )
        draft.warnings += season_warnings(prep.before, prep.after)
        report("analyse", 1, 4)
        s = draft.staging
        written = write_cogs(
            {
                s / "landslide.tif": (encode(scars, valid), _U8),
                s / "dndvi.tif": ((n_post - n_pre).where(valid), _f32(prep)),
                s / "slope.tif": (slope.where(inside), _f32(prep)),
            },
            geobox=geobox,
        )
        draft.add_cog(
            "landslide",
            written[s / "landslide.tif"],
            "Landslide scars: 1 scar, 0 not, 255 no data",
            {"nodata": NODATA, "data_type": "uint8"},
        )
        draft.add_cog(
            "dndvi",
            written[s / "dndvi.tif"],
            "ΔNDVI (after − before)",
            float_band(prep),
        )
        draft.add_cog(
            "slope",
            written[s / "slope.tif"],
            "Slope from the DEM (degrees)",
            float_band(prep, unit="degree"),
        )
        report("analyse", 2, 4)
        return finish_draft(prep, draft, inside, run_id, flow_name, _landslide_enrich(s))


class BurnParams:
    """Parameters of burn mapping (recorded in the product)."""

    def __init__(
        self, *, min_dnbr: float = USGS_THRESHOLDS[1], min_mapping_unit_px: int = 10
    ) -> None:
        self.min_dnbr = min_dnbr
        """dNBR at or above this is burned (default 0.27, USGS moderate-low severity)"""
        self.min_mapping_unit_px = min_mapping_unit_px

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_dnbr": self.min_dnbr,
            "min_mapping_unit_px": self.min_mapping_unit_px,
            "usgs_thresholds": list(USGS_THRESHOLDS),
        }


def analyse_burn(
    prep: Prepared,
    before_items: list[dict[str, Any]],
    after_items: list[dict[str, Any]],
    *,
    params: BurnParams | None = None,
    force: bool = False,
    run_id: str | None = None,
    flow_name: str = "burn_mapping",
    checkpoints: Checkpoints | None = None,
) -> ProductOutcome:
    """Burn scar: dNBR severity classes (USGS) and a binary burned product."""
    if params is None:
        cfg = prep.settings.analytics.burn
        params = BurnParams(min_dnbr=cfg.min_dnbr, min_mapping_unit_px=cfg.min_mapping_unit_px)
    b_items, a_items = _items(before_items), _items(after_items)
    draft = start_draft(
        prep,
        "burn",
        [i.id for i in b_items + a_items],
        params.as_dict(),
        force,
        synthetic=_synthetic(b_items + a_items),
        checkpoints=checkpoints,
    )
    if isinstance(draft, ProductOutcome):
        return draft
    if draft.rasters_done:  # resumed: the failed run wrote every raster
        with staged(draft, checkpoints):
            return finish_draft(prep, draft, None, run_id, flow_name, _burn_enrich(draft.staging))
    with staged(draft, checkpoints):
        report("analyse", 0, 4)
        geobox = draft.geobox
        inside = aoi_mask(geobox, prep.aoi.geometry, chunk=prep.settings.grid.chunk_size)
        bands = ("nir", "swir22", "green", "swir16")
        pre = _s2_composites(prep, b_items, geobox, bands)
        post = _s2_composites(prep, a_items, geobox, bands)
        dnbr = (nbr(pre.nir, pre.swir22) - nbr(post.nir, post.swir22)).where(inside)
        # NBR over open water is noise (tiny reflectances): water in either period is excluded
        water = (mndwi(pre.green, pre.swir16) > 0) | (mndwi(post.green, post.swir16) > 0)
        burned = minimum_mapping_unit(
            (dnbr >= params.min_dnbr) & ~water, params.min_mapping_unit_px
        )
        valid = dnbr.notnull()
        draft.threshold = params.min_dnbr
        draft.warnings += season_warnings(prep.before, prep.after)
        report("analyse", 1, 4)
        s = draft.staging
        written = write_cogs(
            {
                s / "burn.tif": (encode(burned, valid), _U8),
                s / "severity.tif": (burn_severity(dnbr), _U8),
                s / "dnbr.tif": (dnbr, _f32(prep)),
            },
            geobox=geobox,
        )
        draft.add_cog(
            "burn",
            written[s / "burn.tif"],
            "Burned: 1 burned (dNBR ≥ threshold), 0 not, 255 no data",
            {"nodata": NODATA, "data_type": "uint8"},
        )
        draft.add_cog(
            "severity",
            written[s / "severity.tif"],
            "USGS burn severity: 0 unburned, 1 low, 2 moderate-low, 3 moderate-high, 4 high",
            {"nodata": NODATA, "data_type": "uint8"},
        )
        draft.add_cog(
            "dnbr",
            written[s / "dnbr.tif"],
            "dNBR = NBR before − NBR after",
            float_band(prep),
        )
        report("analyse", 2, 4)
        return finish_draft(prep, draft, inside, run_id, flow_name, _burn_enrich(s))
