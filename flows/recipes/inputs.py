"""What the recipes read, the same way for each: Sentinel-2 bands and their per-period median
composites, and the slope of the source's DEM, lazily on a given grid."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pystac
import xarray as xr

from ...catalogs.sources.profiles import collections_for, scale_offset
from ...catalogs.sources.search import Source
from ...catalogs.sources.signing import signed_for_reading
from ...errors import NoDataError, SourceError
from ...processing.composite import median_composite
from ...processing.gdal_env import configure_gdal
from ...processing.load import load_bands, load_s2
from ...processing.offset_check import OffsetDecision, checked_scale_fn
from ...processing.terrain import (
    hand_m,
    radar_layover_shadow,
    s1_look_azimuth_deg,
    slope_deg,
)
from ...processing.write import SCALED_NODATA, CogSpec, float_spec, scaled_spec
from ..prepare import Prepared, layout, needs_signing, network_policy, search_family
from ..publish import Draft, float_band

__all__ = [
    "HAND_MARGIN_PX",
    "NO_DEM_FLOOD",
    "FloodTerrain",
    "chosen_terrain",
    "float_cog",
    "flood_slope",
    "flood_terrain",
    "index_band",
    "index_cog",
    "load_slope",
    "s2_composites",
    "s2_load_options",
    "terrain_record",
]

log = logging.getLogger(__name__)


def float_cog(prep: Prepared) -> CogSpec:
    """How measured floats are written (LERC within ``storage.float_max_error``)."""
    return float_spec(prep.settings.storage.float_max_error)


INDEX_SCALE = 1e-4
"""the step of a stored difference of normalized indices (ΔNDVI, ΔNBR)"""


def index_cog(prep: Prepared) -> CogSpec:
    """How a difference of normalized indices (ΔNDVI, ΔNBR, within ±2) is written: int16 ×
    1e-4 (each value within 5e-5 of the computed one, ZSTD: :func:`scaled_spec`) when
    ``storage.float_max_error`` allows that step, else as the other measured floats."""
    bound = prep.settings.storage.float_max_error
    if bound is not None and bound >= INDEX_SCALE:
        return scaled_spec(INDEX_SCALE)
    return float_cog(prep)


def index_band(prep: Prepared, spec: CogSpec, **extra: Any) -> dict[str, Any]:
    """The ``raster:bands`` entry of a COG written with ``spec`` (:func:`index_cog`): for
    int16 its ``scale`` and ``offset`` (value = scale × stored + offset) and nodata."""
    if spec.scale is None:
        return float_band(prep, **extra)
    band: dict[str, Any] = {
        "nodata": SCALED_NODATA,
        "data_type": spec.dtype,
        "scale": spec.scale,
        "offset": 0.0,
        **extra,
    }
    if prep.settings.storage.float_max_error:
        band["yamasat:max_error"] = prep.settings.storage.float_max_error
    return band


def s2_load_options(
    prep: Prepared,
    items: list[pystac.Item],
    geobox: Any,
    bands: tuple[str, ...],
    draft: Draft | None = None,
) -> dict[str, Any]:
    """Keyword arguments of :func:`load_s2` from the settings and the layout of ``items`` (and
    GDAL's network options set from ``network``).

    Items of Earth Search's older ``sentinel-2-l2a``, whose offset flag is wrong for some
    scenes, get their reflectance offset decided per scene from their own pixels
    (:func:`~yamasat.processing.offset_check.checked_scale_fn`); the decisions and the rule
    that made each go to ``draft``'s QA, a contradicted flag to its warnings.
    """
    settings = prep.settings
    net = settings.network
    configure_gdal(
        timeout_s=net.timeout_s, max_retries=net.max_retries, retry_delay_s=net.backoff_s
    )
    fam = layout(prep, "s2", items)
    scale_fn: Any = scale_offset
    if fam.collection == "sentinel-2-l2a" and fam.assets["red"] == "red":  # ES, not PC
        wanted = {b: fam.assets[b] for b in dict.fromkeys((*bands, "scl"))}
        scale_fn, decisions = checked_scale_fn(items, wanted, scale_offset)
        if draft is not None:
            _record_offsets(draft, decisions)
    return {
        "assets": fam.assets,
        "geobox": geobox,
        "scale_fn": scale_fn,
        "bands": bands,
        "chunk": settings.grid.chunk_size,
        "mask_classes": tuple(settings.masking.scl_mask_classes),
        "dilation_px": settings.masking.dilation_px,
        "resampling": settings.grid.resampling,
    }


def _record_offsets(draft: Draft, decisions: dict[str, OffsetDecision]) -> None:
    qa = draft.qa.setdefault("s2_offset", {})
    for item_id, d in sorted(decisions.items()):
        qa[item_id] = d.as_qa()
        if d.flag_wrong:
            draft.warnings.append(
                f"{item_id}: earthsearch:boa_offset_applied={d.flag} contradicts the scene's "
                f"pixels ({d.rule}, {100 * (d.negative_share or 0):.0f} % of land would be "
                f"negative after the offset); offset {d.offset:g} used"
            )


def s2_composites(
    prep: Prepared,
    items: list[pystac.Item],
    geobox: Any,
    bands: tuple[str, ...],
    draft: Draft | None = None,
) -> xr.Dataset:
    """Cloud-masked median composites of ``bands`` over ``items`` on ``geobox`` (lazy)."""
    ds = load_s2(items, **s2_load_options(prep, items, geobox, bands, draft))
    return xr.Dataset({b: median_composite(ds[b]) for b in bands})


def load_dem(prep: Prepared, geobox: Any, *, remedy: str) -> xr.DataArray:
    """Elevation (metres) from the DEM (family ``dem``) of the run's DEM source on ``geobox``;
    :class:`SourceError` as :func:`load_slope` says."""
    source = prep.sources.of("dem")
    try:
        found = search_family(prep, "dem", None, ("dem",))
        items = signed_for_reading(
            found, needs_signing=needs_signing(prep, "dem", found),
            policy=network_policy(prep.settings),
        )  # fmt: skip
    except (NoDataError, SourceError) as e:
        raise SourceError(
            f"no DEM (family 'dem') from source {source.label} ({_dem_collection(source)}): "
            f"{e}; {remedy}"
        ) from e
    fam = layout(prep, "dem", items)
    dem = load_bands(
        [pystac.Item.from_dict(d) for d in items],
        assets={"dem": fam.asset_key("dem")},
        geobox=geobox,
        scale_fn=scale_offset,
        chunk=prep.settings.grid.chunk_size,
    )["dem"]
    # GLO-30 tiles share one nominal datetime: odc-stac fuses them into one time step
    return dem.isel(time=0) if "time" in dem.dims else dem


HAND_MARGIN_PX = 100
"""the DEM for HAND is read this far (pixels, 1 km at 10 m) beyond the product's grid, so the
drainage network is not cut at the AOI's edge"""


@dataclass(frozen=True)
class FloodTerrain:
    """The radar flood's terrain layers on the product's grid (None: off by request, or, for
    ``radar``, no orbit state known)."""

    slope: xr.DataArray | None
    hand: xr.DataArray | None
    radar: xr.DataArray | None
    """possible layover (1) and shadow (2), codes OR-ed over the passes' orbit states"""


def flood_terrain(
    prep: Prepared,
    geobox: Any,
    draft: Draft,
    *,
    terrain: bool,
    drain_km2: float,
    orbit_states: set[str],
) -> FloodTerrain:
    """Slope, HAND and radar geometry from one DEM read ``HAND_MARGIN_PX`` beyond ``geobox``
    (HAND needs the margin for its drainage network; slope and radar geometry are computed on
    the grid itself, as :func:`load_slope` does). Terrain off by request: all None, recorded
    by :func:`flood_slope`."""
    if not terrain:
        flood_slope(prep, geobox, draft, terrain)
        return FloodTerrain(None, None, None)
    res = prep.settings.grid.resolution
    # read once: HAND needs the whole plane at once anyway
    wide = load_dem(prep, geobox.pad(HAND_MARGIN_PX), remedy=NO_DEM_FLOOD).compute()
    hand = hand_m(wide, resolution=res, drain_area_km2=drain_km2)
    hand = _on_grid(hand, geobox, prep, name="hand", attrs={"units": "m"})
    dem = _on_grid(wide, geobox, prep, name="dem", attrs=dict(wide.attrs))
    states = sorted(s for s in orbit_states if s in ("ascending", "descending"))
    codes = [
        radar_layover_shadow(dem, resolution=res, look_azimuth_deg=s1_look_azimuth_deg(s))
        for s in states
    ]
    radar = None
    for c in codes:
        radar = c if radar is None else radar | c
    return FloodTerrain(slope_deg(dem, resolution=res), hand, radar)


def _on_grid(
    wide: xr.DataArray, geobox: Any, prep: Prepared, *, name: str, attrs: dict[str, Any]
) -> xr.DataArray:
    """The part of a layer on ``geobox.pad(HAND_MARGIN_PX)`` that lies on ``geobox``,
    positional like the other layers of the grid (the padded grid's coordinates are the same
    numbers computed another way: no alignment on them), in the grid's chunks."""
    inner = wide.isel(
        {
            wide.dims[-2]: slice(HAND_MARGIN_PX, HAND_MARGIN_PX + geobox.shape[0]),
            wide.dims[-1]: slice(HAND_MARGIN_PX, HAND_MARGIN_PX + geobox.shape[1]),
        }
    )
    out = xr.DataArray(inner.data, dims=("y", "x"), name=name, attrs=attrs)
    return out.chunk(prep.settings.grid.chunk_size)


def load_slope(prep: Prepared, geobox: Any, *, remedy: str) -> xr.DataArray:
    """Slope (degrees) from the DEM (family ``dem``) of the run's DEM source on ``geobox``.

    Raises :class:`SourceError` naming the source and the DEM collections tried when the
    source has no DEM for the AOI or its hrefs are refused; ``remedy`` ends the message
    (what the user can do instead).
    """
    dem = load_dem(prep, geobox, remedy=remedy)
    return slope_deg(dem, resolution=prep.settings.grid.resolution)


def _dem_collection(source: Source) -> str:
    """The DEM collection(s) looked for in ``source``: its profile's, or every known one."""
    if source.profile is None:
        return f"collections {', '.join(collections_for('dem'))}"
    fam = source.profile.families.get("dem")
    return (
        f"profile {source.profile.name!r}, collection {fam.collection!r}"
        if fam
        else f"profile {source.profile.name!r}, which names no DEM collection"
    )


NO_DEM_FLOOD = (
    "name a source that serves a DEM with --dem-source (for example earth-search), or pass "
    "--no-terrain (flow parameter "
    "terrain=False) for a flood product without terrain exclusion"
)
"""what to do when the flood finds no DEM"""


def flood_slope(prep: Prepared, geobox: Any, draft: Draft, terrain: bool) -> xr.DataArray | None:
    """The slope that excludes steep terrain from a flood, or None when terrain exclusion is
    off by request (``terrain`` false: recorded in the QA, with a warning). Without a DEM
    while ``terrain`` is asked for: :class:`SourceError` (:func:`load_slope`)."""
    if terrain:
        return load_slope(prep, geobox, remedy=NO_DEM_FLOOD)
    draft.qa["terrain"] = (
        "off by request (--no-terrain or analytics.flood.terrain: false): no DEM read, steep "
        "slopes not excluded"
    )
    draft.warnings.append(
        "terrain (slope) exclusion off by request (--no-terrain or analytics.flood.terrain: "
        "false): water-like signals on steep slopes are not excluded"
    )
    return None


def chosen_terrain(configured: bool, flow_params: Mapping[str, Any]) -> bool:
    """Whether steep terrain is excluded: the flow's ``terrain`` parameter when given
    (``--terrain``/``--no-terrain``), else ``analytics.flood.terrain``."""
    asked = flow_params.get("terrain")
    return configured if asked is None else bool(asked)


def terrain_record(terrain: bool) -> dict[str, Any]:
    """What the product records of the terrain choice: nothing for the full product (so its
    identity is the one it always had), ``terrain_exclusion: false`` when it was turned off."""
    return {} if terrain else {"terrain_exclusion": False}
