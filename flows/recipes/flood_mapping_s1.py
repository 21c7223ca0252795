"""Sentinel-1 flood: the recipe.

The latest pre-event and earliest post-event acquisition on one relative orbit and pass
(:func:`pick_s1_pair`), Lee-filtered and in dB; three detectors vote (VV drop, VV and VH below
their Otsu water thresholds; :func:`yamasat.processing.flood.sar_flood`), steep and high
terrain is excluded, the flood grows into connected pixels that pass relaxed thresholds
(region growing), then the minimum mapping unit. Writes the flood (uint8) and the likelihood 0–100.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pystac
import xarray as xr
from odc.geo.geobox import GeoBox

from ...catalogs.sources.profiles import scale_offset
from ...errors import InvariantError, SourceError
from ...processing.flood import (
    SarFloodParams,
    SarThresholds,
    bimodal_threshold,
    encode,
    sar_flood,
)
from ...processing.load import load_bands
from ...processing.objects import minimum_mapping_unit
from ...processing.product_codes import NODATA
from ...processing.sar import lee_filter, to_db
from ...processing.write import CogSpec, write_cogs
from ...settings import Settings
from ..prepare import Prepared, layout
from ..product_qa import terrain_weak_areas
from ..product_run import Analysis, Recipe, params_dict
from ..progress import report
from .inputs import chosen_terrain, flood_terrain, terrain_record

__all__ = [
    "FloodS1",
    "SarFloodRecipe",
    "SarFloodRun",
    "pick_s1_pair",
    "s1_orbit",
    "s1_pairs",
    "sar_db",
]

_U8 = CogSpec(nodata=NODATA, dtype="uint8")


@dataclass(frozen=True)
class SarFloodRun(SarFloodParams):
    """The SAR flood parameters and whether steep terrain is excluded."""

    terrain: bool = True
    """exclude steep terrain (slope from the DEM); off only when asked (``--no-terrain``)"""


def s1_orbit(it: pystac.Item) -> tuple[Any, Any]:
    """(relative orbit, pass) of a Sentinel-1 item."""
    return (it.properties.get("sat:relative_orbit"), it.properties.get("sat:orbit_state"))


def pick_s1_pair(
    before: list[pystac.Item], after: list[pystac.Item]
) -> tuple[list[pystac.Item], list[pystac.Item], tuple[Any, Any]]:
    """The latest pre and earliest post acquisition on the same relative orbit and pass.

    Raises :class:`SourceError` naming the orbits found when no such pair exists.
    """
    key = s1_orbit
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
    if best is None:
        raise InvariantError("pick_s1_pair: common orbits but no pair chosen")
    _, orbit, pre_day, post_day = best
    pre = [i for i in before if key(i) == orbit and i.datetime and i.datetime.date() == pre_day]
    post = [i for i in after if key(i) == orbit and i.datetime and i.datetime.date() == post_day]
    return pre, post, orbit


def s1_pairs(
    before: list[pystac.Item], after: list[pystac.Item]
) -> list[tuple[list[pystac.Item], list[pystac.Item]]]:
    """Every post-event acquisition (orbit and pass, day) of ``after`` with the latest
    acquisition of ``before`` on the same orbit and pass, in time order; acquisitions with no
    such reference are left out."""
    pairs = []
    for orbit, day in sorted(
        {(s1_orbit(i), i.datetime.date()) for i in after if i.datetime},
        key=lambda k: (k[1], str(k[0])),
    ):
        refs = [i for i in before if s1_orbit(i) == orbit and i.datetime]
        if not refs:
            continue
        pre_day = max(i.datetime.date() for i in refs if i.datetime)
        pre = [i for i in refs if i.datetime and i.datetime.date() == pre_day]
        post = [
            i for i in after if s1_orbit(i) == orbit and i.datetime and i.datetime.date() == day
        ]
        pairs.append((pre, post))
    return pairs


def sar_db(
    items: list[pystac.Item], prep: Prepared, geobox: GeoBox, params: SarFloodParams
) -> dict[str, xr.DataArray]:
    """Lee-filtered VV and VH backscatter in dB of ``items`` (one acquisition) on ``geobox``."""
    fam = layout(prep, "s1", items)
    ds = load_bands(
        items,
        assets={"vv": fam.asset_key("vv"), "vh": fam.asset_key("vh")},
        geobox=geobox,
        scale_fn=scale_offset,
        chunk=prep.settings.grid.chunk_size,
    )
    ds = ds.isel(time=0)
    return {
        p: to_db(lee_filter(ds[p], size=params.speckle_window, enl=params.speckle_enl))
        for p in ("vv", "vh")
    }


class SarFloodRecipe(Recipe[SarFloodRun]):
    """What the S1 and fused floods share: parameters from ``analytics.flood``, terrain
    exclusion as asked, and a lock per terrain choice."""

    def params(self, settings: Settings) -> SarFloodRun:
        return SarFloodRun(**settings.analytics.flood.model_dump())

    def choose(self, params: SarFloodRun, flow_params: Mapping[str, Any]) -> SarFloodRun:
        return replace(params, terrain=chosen_terrain(params.terrain, flow_params))

    def lock_variant(self, params: SarFloodRun) -> str:
        return self.variant if params.terrain else f"{self.variant}-no-terrain"


class FloodS1(SarFloodRecipe):
    """Sentinel-1 flood: three detectors by vote, likelihood 0–100, exclusions, MMU."""

    name = "flood-s1"
    kind = "flood"
    flow = "flood_mapping"
    family = "s1"
    bands = ("vv", "vh")
    variant = "s1"
    season_warnings = False  # backscatter of water does not drift with the season

    def record(self, params: SarFloodRun) -> dict[str, Any]:
        own = params_dict(params)
        terrain = own.pop("terrain")
        return {
            "sensor": "s1",
            **own,
            **terrain_record(terrain),
            "method_revision": self.method_revision,
        }

    def select(
        self, before: list[pystac.Item], after: list[pystac.Item]
    ) -> tuple[list[pystac.Item], list[pystac.Item]]:
        pre, post, _ = pick_s1_pair(before, after)
        return pre, post

    def analyse(self, run: Analysis[SarFloodRun]) -> None:
        prep, draft, params, inside = run.prep, run.draft, run.params, run.inside
        before, after, geobox = run.before, run.after, draft.geobox
        pre_db = sar_db(before, prep, geobox, params)
        post_db = sar_db(after, prep, geobox, params)
        vv_t, vv_otsu = bimodal_threshold(
            post_db["vv"].where(inside),
            fallback=params.vv_water_fallback_db,
            plausible=(-26.0, params.vv_water_max_db),
        )
        vh_t, vh_otsu = bimodal_threshold(
            post_db["vh"].where(inside), fallback=params.vh_water_fallback_db
        )
        land = flood_terrain(
            prep, geobox, draft, terrain=params.terrain, drain_km2=params.hand_drain_km2,
            orbit_states={str(s1_orbit(i)[1]) for i in after},
        )  # fmt: skip
        slope, hand = land.slope, land.hand
        weak = terrain_weak_areas(
            inside, slope, hand, max_slope_deg=params.radar_max_slope_deg,
            max_hand_m=params.max_hand_m, radar=land.radar,
        )  # fmt: skip
        draft.qa.update(
            {
                "sensor": "s1",
                "orbit": list(s1_orbit(before[0])),
                "pre": before[0].datetime.isoformat() if before[0].datetime else None,
                "post": after[0].datetime.isoformat() if after[0].datetime else None,
                "vv_threshold_db": vv_t,
                "vh_threshold_db": vh_t,
                "vv_threshold_from_otsu": vv_otsu,
                "vh_threshold_from_otsu": vh_otsu,
                "terrain_exclusion": slope is not None,
                "hand_exclusion_m": params.max_hand_m if hand is not None else None,
                "weak_areas": weak,
            }
        )
        draft.threshold = vv_t
        layers = sar_flood(
            pre_db["vv"], pre_db["vh"], post_db["vv"], post_db["vh"],
            thresholds=SarThresholds(vv_t, vh_t, vv_otsu, vh_otsu), params=params,
            slope=slope, hand=hand,
        )  # fmt: skip
        report("analyse", 1, 4)
        valid = layers["valid"] & inside
        flood = minimum_mapping_unit(layers["flood"], params.min_mapping_unit_px)
        likelihood = layers["likelihood"].where(inside, NODATA).astype("uint8")
        s = draft.staging
        written = write_cogs(
            {s / "flood.tif": (encode(flood, valid), _U8), s / "likelihood.tif": (likelihood, _U8)},
            geobox=geobox,
        )
        draft.add_cog(
            "flood",
            written[s / "flood.tif"],
            "Flood: 1 flooded, 0 not, 255 no data",
            {"nodata": NODATA, "data_type": "uint8"},
        )
        draft.add_cog(
            "likelihood",
            written[s / "likelihood.tif"],
            "Flood likelihood 0–100 (% of detectors voting water)",
            {"nodata": NODATA, "data_type": "uint8", "unit": "percent"},
        )
