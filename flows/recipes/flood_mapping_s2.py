"""Sentinel-2 flood: the recipe.

MNDWI of the after composite above its Otsu water threshold, where the before (reference)
composite was not water (:func:`yamasat.processing.flood.optical_flood`); steep terrain
excluded, then the minimum mapping unit. Writes the flood (uint8) and the MNDWI after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ...processing.flood import OpticalFloodParams, bimodal_threshold, encode, optical_flood
from ...processing.indices import mndwi
from ...processing.objects import minimum_mapping_unit
from ...processing.product_codes import NODATA
from ...processing.write import CogSpec, write_cogs
from ...settings import Settings
from ..product_run import Analysis, Recipe
from ..progress import report
from ..publish import float_band
from .inputs import chosen_terrain, float_cog, flood_slope, s2_composites, terrain_record

__all__ = ["FloodS2", "OpticalFloodRun"]


@dataclass(frozen=True)
class OpticalFloodRun(OpticalFloodParams):
    """The optical flood parameters and whether steep terrain is excluded."""

    terrain: bool = True
    """exclude steep terrain (slope from the DEM); off only when asked (``--no-terrain``)"""


class FloodS2(Recipe[OpticalFloodRun]):
    """Sentinel-2 flood: MNDWI water after and not water in the before (reference) period."""

    name = "flood-s2"
    kind = "flood"
    flow = "flood_mapping"
    bands = ("green", "swir16", "scl")

    def params(self, settings: Settings) -> OpticalFloodRun:
        cfg = settings.analytics.flood
        return OpticalFloodRun(
            min_mapping_unit_px=cfg.min_mapping_unit_px,
            max_slope_deg=cfg.max_slope_deg,
            terrain=cfg.terrain,
        )

    def choose(self, params: OpticalFloodRun, flow_params: Mapping[str, Any]) -> OpticalFloodRun:
        return replace(params, terrain=chosen_terrain(params.terrain, flow_params))

    def lock_variant(self, params: OpticalFloodRun) -> str:
        return self.variant if params.terrain else f"{self.variant}-no-terrain"

    def record(self, params: OpticalFloodRun) -> dict[str, Any]:
        return {
            "sensor": "s2",
            "index": "mndwi",
            "min_mapping_unit_px": params.min_mapping_unit_px,
            "max_slope_deg": params.max_slope_deg,
            **terrain_record(params.terrain),
        }

    def analyse(self, run: Analysis[OpticalFloodRun]) -> None:
        prep, draft, params, inside = run.prep, run.draft, run.params, run.inside
        geobox = draft.geobox
        ref = s2_composites(prep, run.before, geobox, ("green", "swir16"), draft)
        aft = s2_composites(prep, run.after, geobox, ("green", "swir16"), draft)
        m_ref, m_aft = mndwi(ref.green, ref.swir16), mndwi(aft.green, aft.swir16)
        t, from_otsu = bimodal_threshold(m_aft.where(inside), fallback=0.0, plausible=(-0.3, 0.5))
        slope = flood_slope(prep, geobox, draft, params.terrain)
        layers = optical_flood(
            m_aft, m_ref, threshold=t, slope=slope, max_slope_deg=params.max_slope_deg
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
        report("analyse", 1, 4)
        valid = layers["valid"] & inside
        flood = minimum_mapping_unit(layers["flood"], params.min_mapping_unit_px)
        path = draft.staging / "flood.tif"
        mpath = draft.staging / "mndwi.tif"
        written = write_cogs(
            {
                path: (encode(flood, valid), CogSpec(nodata=NODATA, dtype="uint8")),
                mpath: (m_aft.where(inside), float_cog(prep)),
            },
            geobox=geobox,
        )
        draft.add_cog(
            "flood",
            written[path],
            "Flood: 1 flooded, 0 not, 255 no data",
            {"nodata": NODATA, "data_type": "uint8"},
        )
        draft.add_cog(
            "mndwi", written[mpath], "MNDWI after the event (median composite)", float_band(prep)
        )
