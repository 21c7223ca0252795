"""Fused flood (Sentinel-1 and Sentinel-2): the recipe.

Every Sentinel-1 pass of the after period against the latest pre-event pass on its orbit
(:func:`s1_pairs`, the three GFM detectors of the S1 product), and every Sentinel-2 overpass
of the after period against the pre-event Sentinel-2 reference (MNDWI, as the S2 product);
the flood is their union (each against its own reference water, and outside open water in
any reference), a pixel is observed when any of them observed it, and the likelihood comes
from the agreeing detectors (:func:`yamasat.processing.flood_fusion.fuse_floods`). Writes
the flood (uint8), the likelihood 0–100 and ``sensor``, which says which sensor decided each
pixel (:data:`~yamasat.processing.flood_fusion.SENSOR_CODES`).
"""

from __future__ import annotations

from typing import Any

import pystac
import xarray as xr

from ...catalogs.sources.profiles import collections_for
from ...errors import NoDataError
from ...processing.flood import (
    SarThresholds,
    bimodal_threshold,
    encode,
    minimum_mapping_unit_observed,
    sar_flood,
)
from ...processing.flood_fusion import (
    SENSOR_CODES,
    SENSOR_S1_SEEN,
    SENSOR_S2_SEEN,
    AcquisitionFlood,
    fuse_floods,
    sensor_codes,
)
from ...processing.product_codes import NODATA
from ...processing.write import CogSpec, write_cogs
from ...processing.zonal import value_counts
from ..product_qa import terrain_weak_areas
from ..product_run import Analysis, params_dict
from ..progress import report
from .flood_mapping_s1 import SarFloodRecipe, SarFloodRun, s1_orbit, s1_pairs, sar_db
from .flood_mapping_s2 import OPTICAL_RECORD, S2_BANDS, s2_acquisition_floods
from .inputs import flood_terrain, terrain_record

__all__ = ["FloodFused"]

_U8 = CogSpec(nodata=NODATA, dtype="uint8")


def _is_s1(item: pystac.Item) -> bool:
    return item.collection_id in collections_for("s1")


def _s1_floods(
    run: Analysis[SarFloodRun], slope: xr.DataArray | None, hand: xr.DataArray | None
) -> tuple[list[AcquisitionFlood], list[dict[str, Any]]]:
    """One :class:`AcquisitionFlood` per Sentinel-1 pass of the after period, and its QA."""
    prep, params, inside, geobox = run.prep, run.params, run.inside, run.draft.geobox
    before = [i for i in run.before if _is_s1(i)]
    after = [i for i in run.after if _is_s1(i)]
    floods, qa = [], []
    for pre, post in s1_pairs(before, after):
        pre_db = sar_db(pre, prep, geobox, params)
        post_db = sar_db(post, prep, geobox, params)
        vv = bimodal_threshold(
            post_db["vv"].where(inside),
            fallback=params.vv_water_fallback_db,
            plausible=(-26.0, params.vv_water_max_db),
        )
        vh = bimodal_threshold(post_db["vh"].where(inside), fallback=params.vh_water_fallback_db)
        layers = sar_flood(
            pre_db["vv"], pre_db["vh"], post_db["vv"], post_db["vh"],
            thresholds=SarThresholds(vv[0], vh[0], vv[1], vh[1]), params=params,
            slope=slope, hand=hand,
        )  # fmt: skip
        floods.append(
            AcquisitionFlood(
                "s1",
                layers["flood"],
                layers["valid"],
                layers["votes"],
                3,
                layers["reference_water"],
                layers["reference_water"],  # both polarisations dark: open water
            )
        )
        qa.append(
            {
                "orbit": list(s1_orbit(post[0])),
                "pre": pre[0].datetime.isoformat() if pre[0].datetime else None,
                "post": post[0].datetime.isoformat() if post[0].datetime else None,
                "vv_threshold_db": vv[0],
                "vh_threshold_db": vh[0],
                "vv_threshold_from_otsu": vv[1],
                "vh_threshold_from_otsu": vh[1],
            }
        )
    return floods, qa


class FloodFused(SarFloodRecipe):
    """Fused flood: every S1 and S2 acquisition after the event, union, likelihood, sensor."""

    name = "flood-fused"
    kind = "flood"
    method_revision = 2  # 2: the S2 edges' land end-member is the pixel's own (reference) NIR
    flow = "flood_mapping"
    family = "s1"
    bands = ("vv", "vh")
    variant = "fused"
    season_warnings = True  # the optical part compares indices across the periods

    def record(self, params: SarFloodRun) -> dict[str, Any]:
        own = params_dict(params)
        terrain = own.pop("terrain")
        return {
            "sensor": "fused",
            "index": "mndwi",
            **OPTICAL_RECORD,
            **own,
            **terrain_record(terrain),
            "method_revision": self.method_revision,
        }

    def searches(self, params: SarFloodRun) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return (("s1", ("vv", "vh")), ("s2", (*S2_BANDS, "scl")))

    def analyse(self, run: Analysis[SarFloodRun]) -> None:
        prep, draft, params, inside = run.prep, run.draft, run.params, run.inside
        land = flood_terrain(
            prep, draft.geobox, draft, terrain=params.terrain, drain_km2=params.hand_drain_km2,
            orbit_states={str(s1_orbit(i)[1]) for i in run.after if _is_s1(i)},
        )  # fmt: skip
        slope, hand = land.slope, land.hand
        s1, s1_qa = _s1_floods(run, slope, hand)
        s2_before = [i for i in run.before if not _is_s1(i)]
        s2_after = [i for i in run.after if not _is_s1(i)]
        s2, s2_qa = s2_acquisition_floods(
            prep, s2_before, s2_after, draft, inside, slope=slope, max_slope=params.max_slope_deg
        )
        if not s1 and not s2:
            raise NoDataError(
                "no post-event acquisition with a pre-event reference: neither a Sentinel-1 "
                "pass of the after period with a pass of the before period on its orbit, nor "
                "a Sentinel-2 overpass of each period; widen the periods"
            )
        weak = terrain_weak_areas(  # where the radar detections are excluded
            inside, slope, hand, max_slope_deg=params.radar_max_slope_deg,
            max_hand_m=params.max_hand_m, radar=land.radar,
        )  # fmt: skip
        draft.qa.update(
            {
                "sensor": "fused",
                "s1_acquisitions": s1_qa,
                "s2_acquisitions": s2_qa,
                "terrain_exclusion": slope is not None,
                "hand_exclusion_m": params.max_hand_m if hand is not None else None,
                "sensor_codes": {str(k): v for k, v in SENSOR_CODES.items()},
                "weak_areas": weak,
            }
        )
        for missing, name in ((s1, "Sentinel-1"), (s2, "Sentinel-2")):
            if not missing:
                draft.warnings.append(f"no {name} acquisition after the event with a reference")
        report("analyse", 1, 4)
        self._write(run, fuse_floods([*s1, *s2]))

    def _write(self, run: Analysis[SarFloodRun], layers: dict[str, xr.DataArray]) -> None:
        draft, inside = run.draft, run.inside
        valid = layers["valid"] & inside
        mmu = run.params.min_mapping_unit_px
        flood = minimum_mapping_unit_observed(layers["flood"], layers["valid"], mmu)
        s = draft.staging
        paths = {k: s / f"{k}.tif" for k in ("flood", "likelihood", "sensor")}
        written = write_cogs(
            {
                paths["flood"]: (encode(flood, valid), _U8),
                paths["likelihood"]: (layers["likelihood"].where(inside, NODATA), _U8),
                paths["sensor"]: (sensor_codes(layers, flood & valid, valid), _U8),
            },
            geobox=draft.geobox,
        )
        band = {"nodata": NODATA, "data_type": "uint8"}
        draft.add_cog(
            "flood", written[paths["flood"]], "Flood: 1 flooded, 0 not, 255 no data", band
        )
        draft.add_cog(
            "likelihood",
            written[paths["likelihood"]],
            "Flood likelihood 0–100 (% of the agreeing detectors voting water)",
            {**band, "unit": "percent"},
        )
        draft.add_cog(
            "sensor",
            written[paths["sensor"]],
            "Which sensor decided: 1 S1 saw, 2 S2 saw, 4 S1 flood, 8 S2 flood (sum), 255 unseen",
            band,
        )
        counts = value_counts(written[paths["sensor"]].path)
        inside_px = int(inside.sum().compute()) or 1
        draft.qa["observed_fraction"] = {
            name: round(sum(n for v, n in counts.items() if v != NODATA and v & bit) / inside_px, 4)
            for name, bit in (("s1", SENSOR_S1_SEEN), ("s2", SENSOR_S2_SEEN))
        }
        draft.qa["observed_fraction"]["any"] = round(
            sum(n for v, n in counts.items() if v != NODATA) / inside_px, 4
        )
