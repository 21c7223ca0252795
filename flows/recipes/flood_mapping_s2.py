"""Sentinel-2 flood: the recipe.

MNDWI of the after composite above its Otsu water threshold, where the before (reference)
composite was not water (:func:`yamasat.processing.flood.optical_flood`); steep terrain
excluded, then the minimum mapping unit. Writes the flood (uint8) and the MNDWI after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pystac
import xarray as xr

from ...processing.flood import (
    OpticalFloodParams,
    bimodal_threshold,
    encode,
    minimum_mapping_unit_observed,
    optical_flood,
    rise_threshold,
)
from ...processing.flood_fusion import AcquisitionFlood
from ...processing.indices import mndwi, ndwi
from ...processing.load import load_s2
from ...processing.product_codes import NODATA
from ...processing.write import CogSpec, write_cogs
from ...settings import Settings
from ..prepare import Prepared
from ..product_run import Analysis, Recipe
from ..progress import report
from ..publish import Draft, float_band
from .inputs import (
    chosen_terrain,
    float_cog,
    flood_slope,
    s2_composites,
    s2_load_options,
    terrain_record,
)

__all__ = [
    "OPTICAL_RECORD",
    "S2_BANDS",
    "FloodS2",
    "OpticalFloodRun",
    "optical_layers",
    "s2_acquisition_floods",
    "water_indices",
]

S2_BANDS = ("green", "swir16", "nir")
"""the Sentinel-2 bands of MNDWI (green, swir16) and the 10 m NIR that redraws its edges"""
EDGE_PX = 2
"""water edges redrawn with the 10 m NIR within this many pixels of MNDWI's (one 20 m SWIR
pixel and the bilinear resampling around it)"""
OPTICAL_RECORD = {
    "edges": "nir-10m",
    "edge_land": "the pixel's own nir in the reference",
    "edge_px": EDGE_PX,
    "mmu": "observed",
    "reference_water": "unless mndwi rose (otsu, at least 0.2)",
    "open_water": "ndwi above otsu and 0",
    "mndwi_threshold": "otsu in 0..0.5, else 0",
}
"""what the product records of the optical method beyond the index (and its identity)"""


def water_indices(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """(MNDWI, NIR reflectance, NDWI) of a dataset with ``green``, ``swir16`` and ``nir``."""
    return mndwi(ds.green, ds.swir16), ds.nir, ndwi(ds.green, ds.nir)


def optical_layers(
    after: tuple[xr.DataArray, xr.DataArray, xr.DataArray],
    reference: tuple[xr.DataArray, xr.DataArray, xr.DataArray],
    inside: xr.DataArray,
    *,
    slope: xr.DataArray | None,
    max_slope: float,
) -> tuple[dict[str, xr.DataArray], dict[str, Any]]:
    """The optical flood layers (:func:`optical_flood`) of (MNDWI, NIR, NDWI) after the event
    against the reference's, with the MNDWI and NDWI thresholds from Otsu on the after image
    (fallback 0, Xu's and McFeeters' water limit; MNDWI's never below it), and their QA."""
    # MNDWI's water split no lower than Xu's 0: below it Otsu split land from land (wet fields,
    # haze over them) in an image with little water
    m_t, m_otsu = bimodal_threshold(after[0].where(inside), fallback=0.0, plausible=(0.0, 0.5))
    n_t, n_otsu = bimodal_threshold(after[2].where(inside), fallback=0.0, plausible=(-0.3, 0.5))
    edges = (after[1], reference[1], after[2], reference[2], n_t)
    layers = optical_flood(
        after[0], reference[0], threshold=m_t, slope=slope, max_slope_deg=max_slope,
        nir=edges, edge_px=EDGE_PX,
    )  # fmt: skip
    both = layers["water_after"] & layers["reference_water"] & inside
    rise = rise_threshold(after[0], reference[0], both)
    if rise is not None:
        layers = optical_flood(
            after[0], reference[0], threshold=m_t, slope=slope, max_slope_deg=max_slope,
            nir=edges, edge_px=EDGE_PX, rise=rise,
        )  # fmt: skip
    qa = {
        "mndwi_rise_over_reference_water": rise,
        "mndwi_threshold": m_t,
        "threshold_from_otsu": m_otsu,
        "ndwi_threshold": n_t,
        "ndwi_threshold_from_otsu": n_otsu,
    }
    return layers, qa


@dataclass(frozen=True)
class OpticalFloodRun(OpticalFloodParams):
    """The optical flood parameters and whether steep terrain is excluded."""

    terrain: bool = True
    """exclude steep terrain (slope from the DEM); off only when asked (``--no-terrain``)"""


class FloodS2(Recipe[OpticalFloodRun]):
    """Sentinel-2 flood: MNDWI water after and not water in the before (reference) period."""

    name = "flood-s2"
    kind = "flood"
    method_revision = 2  # 2: the edges' land end-member is the pixel's own (reference) NIR
    flow = "flood_mapping"
    bands = (*S2_BANDS, "scl")

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
            **OPTICAL_RECORD,
            "min_mapping_unit_px": params.min_mapping_unit_px,
            "max_slope_deg": params.max_slope_deg,
            **terrain_record(params.terrain),
            "method_revision": self.method_revision,
        }

    def analyse(self, run: Analysis[OpticalFloodRun]) -> None:
        prep, draft, params, inside = run.prep, run.draft, run.params, run.inside
        geobox = draft.geobox
        ref = water_indices(s2_composites(prep, run.before, geobox, S2_BANDS, draft))
        aft = water_indices(s2_composites(prep, run.after, geobox, S2_BANDS, draft))
        m_aft = aft[0]
        slope = flood_slope(prep, geobox, draft, params.terrain)
        layers, qa = optical_layers(aft, ref, inside, slope=slope, max_slope=params.max_slope_deg)
        draft.threshold = qa["mndwi_threshold"]
        draft.qa.update({"sensor": "s2", **qa, "terrain_exclusion": slope is not None})
        report("analyse", 1, 4)
        valid = layers["valid"] & inside
        flood = minimum_mapping_unit_observed(layers["flood"], valid, params.min_mapping_unit_px)
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


def s2_acquisition_floods(
    prep: Prepared,
    before: list[pystac.Item],
    after: list[pystac.Item],
    draft: Draft,
    inside: xr.DataArray,
    *,
    slope: xr.DataArray | None,
    max_slope: float,
) -> tuple[list[AcquisitionFlood], list[dict[str, Any]]]:
    """One :class:`AcquisitionFlood` per Sentinel-2 overpass (solar day) of ``after``, each
    against the reference of ``before``, with their QA; none without items in both."""
    if not before or not after:
        return [], []
    geobox = draft.geobox
    ref = water_indices(s2_composites(prep, before, geobox, S2_BANDS, draft))
    ds = load_s2(after, **s2_load_options(prep, after, geobox, S2_BANDS, draft))
    floods, qa = [], []
    for i in range(ds.sizes["time"]):
        aft = water_indices(ds.isel(time=i))
        layers, own = optical_layers(aft, ref, inside, slope=slope, max_slope=max_slope)
        flood, valid = layers["flood"], layers["valid"]
        floods.append(
            AcquisitionFlood(
                "s2",
                flood,
                valid,
                flood.astype("uint8"),
                1,
                layers["reference_water"],
                layers["open_water"],
            )
        )
        qa.append({"date": str(ds.time.values[i])[:10], **own})
    return floods, qa
