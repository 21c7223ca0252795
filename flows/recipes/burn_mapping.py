"""Burn scar: the recipe.

dNBR = NBR before − NBR after of the median composites, open water in either period
excluded, burned where dNBR ≥ ``min_dnbr``, then the minimum mapping unit; severity in the
USGS classes (:func:`yamasat.processing.burn.burn_severity`). Writes the burned product,
the severity (both uint8) and dNBR; each burned polygon gets its mean dNBR.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...processing.burn import USGS_THRESHOLDS, BurnParams, burn_severity
from ...processing.flood import encode
from ...processing.indices import mndwi, nbr
from ...processing.object_stats import object_means
from ...processing.objects import minimum_mapping_unit
from ...processing.product_codes import NODATA
from ...processing.write import CogSpec, write_cogs
from ...settings import Settings
from ..product_run import Analysis, Enricher, Recipe
from ..progress import report
from .inputs import index_band, index_cog, s2_composites

__all__ = ["Burn"]

_U8 = CogSpec(nodata=NODATA, dtype="uint8")


class Burn(Recipe[BurnParams]):
    """Burn scar: dNBR severity classes (USGS) and a binary burned product."""

    name = "burn"
    kind = "burn"
    flow = "burn_mapping"
    bands = ("nir", "swir22", "green", "swir16", "scl")

    def params(self, settings: Settings) -> BurnParams:
        cfg = settings.analytics.burn
        return BurnParams(min_dnbr=cfg.min_dnbr, min_mapping_unit_px=cfg.min_mapping_unit_px)

    def record(self, params: BurnParams) -> dict[str, Any]:
        return {**super().record(params), "usgs_thresholds": list(USGS_THRESHOLDS)}

    def enrich(self, staging: Path) -> Enricher:
        return object_means({"mean_dnbr": staging / "dnbr.tif"})

    def analyse(self, run: Analysis[BurnParams]) -> None:
        prep, draft, params, inside = run.prep, run.draft, run.params, run.inside
        geobox = draft.geobox
        bands = ("nir", "swir22", "green", "swir16")
        pre = s2_composites(prep, run.before, geobox, bands, draft)
        post = s2_composites(prep, run.after, geobox, bands, draft)
        dnbr = (nbr(pre.nir, pre.swir22) - nbr(post.nir, post.swir22)).where(inside)
        # NBR over open water is noise (tiny reflectances): water in either period is excluded
        water = (mndwi(pre.green, pre.swir16) > 0) | (mndwi(post.green, post.swir16) > 0)
        burned = minimum_mapping_unit(
            (dnbr >= params.min_dnbr) & ~water, params.min_mapping_unit_px
        )
        valid = dnbr.notnull()
        draft.threshold = params.min_dnbr
        report("analyse", 1, 4)
        s = draft.staging
        dnbr_spec = index_cog(prep)
        written = write_cogs(
            {
                s / "burn.tif": (encode(burned, valid), _U8),
                s / "severity.tif": (burn_severity(dnbr), _U8),
                s / "dnbr.tif": (dnbr, dnbr_spec),
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
            index_band(prep, dnbr_spec),
        )
