"""Landslide scars: the recipe.

NDVI loss to bare mineral soil (BSI high, NDTI not that of dry residue) on steep slopes
(the source's DEM is required), water excluded
(:func:`yamasat.processing.landslide.landslide_candidates`), only in disturbed regions longer
down the DEM's fall line than across and mostly bare
(:func:`yamasat.processing.landslide.downslope_regions`), cores grown into their mixed
edges, then a size window
(:func:`yamasat.processing.landslide.landslide_scars`). Writes the scars (uint8), ΔNDVI and
the slope; each scar polygon gets its mean slope and ΔNDVI.
"""

from __future__ import annotations

from pathlib import Path

from ...processing.flood import encode
from ...processing.indices import bsi, mndwi, ndti, ndvi
from ...processing.landslide import (
    LandslideParams,
    landslide_candidates,
    landslide_scars,
    unobserved_slopes,
)
from ...processing.object_stats import object_means
from ...processing.product_codes import NODATA
from ...processing.read_back import open_raster
from ...processing.terrain import slope_deg
from ...processing.write import CogSpec, write_cogs
from ...settings import Settings
from ..product_run import Analysis, Enricher, Recipe
from ..progress import report
from ..publish import float_band
from .inputs import float_cog, index_band, index_cog, load_dem, s2_composites

__all__ = ["UNOBSERVED_RULE", "Landslide"]

UNOBSERVED_RULE = (
    "terrain as steep as a scar needs that no clear image saw (clouds, shadows, no data): "
    "scars there could not be observed and are missing from the product, not absent"
)


class Landslide(Recipe[LandslideParams]):
    """Landslide scars: NDVI loss to bare mineral soil on steep slopes, water excluded, grown
    into their edges, size window, objects."""

    name = "landslide"
    kind = "landslide"
    flow = "landslide_mapping"
    bands = ("red", "nir", "green", "swir16", "blue", "swir22", "scl")

    def params(self, settings: Settings) -> LandslideParams:
        return LandslideParams(**settings.analytics.landslide.model_dump())

    def enrich(self, staging: Path) -> Enricher:
        return object_means(
            {"mean_slope_deg": staging / "slope.tif", "mean_dndvi": staging / "dndvi.tif"}
        )

    def analyse(self, run: Analysis[LandslideParams]) -> None:
        prep, draft, params, inside = run.prep, run.draft, run.params, run.inside
        geobox = draft.geobox
        dem = load_dem(
            prep,
            geobox,
            remedy="landslide mapping needs the slope and has no mode without it: point "
            "--dem-source (or --source) at a source that serves a DEM, such as earth-search",
        )
        slope = slope_deg(dem, resolution=prep.settings.grid.resolution)
        pre = s2_composites(prep, run.before, geobox, ("red", "nir"), draft)
        post = s2_composites(prep, run.after, geobox, self.bands[:-1], draft)
        n_pre, n_post = ndvi(pre.nir, pre.red), ndvi(post.nir, post.red)
        core, edge, valid = landslide_candidates(
            n_pre,
            n_post,
            mndwi(post.green, post.swir16),
            slope,
            params,
            bsi_after=bsi(post.blue, post.red, post.nir, post.swir16),
            ndti_after=ndti(post.swir16, post.swir22),
        )
        valid = valid & inside
        scars = landslide_scars(core, edge, params, dem, valid)
        draft.threshold = params.max_dndvi
        draft.qa.update(
            {
                "min_slope_deg": params.min_slope_deg,
                "max_post_ndvi": params.max_post_ndvi,
                "min_post_bsi": params.min_post_bsi,
                "max_post_ndti": params.max_post_ndti,
                "min_fall_line_elongation": params.min_fall_line_elongation,
                "min_core_share": params.min_core_share,
            }
        )
        report("analyse", 1, 4)
        s = draft.staging
        dndvi_spec = index_cog(prep)
        written = write_cogs(
            {
                s / "landslide.tif": (encode(scars, valid), CogSpec(nodata=NODATA, dtype="uint8")),
                s / "dndvi.tif": ((n_post - n_pre).where(valid), dndvi_spec),
                s / "slope.tif": (slope.where(inside), float_cog(prep)),
            },
            geobox=geobox,
        )
        unseen = unobserved_slopes(
            open_raster(str(written[s / "landslide.tif"].path), geobox=geobox),
            open_raster(str(written[s / "slope.tif"].path), geobox=geobox),
            params.min_slope_deg,
            prep.settings.grid.resolution**2,
        )
        draft.qa["unobserved_slopes"] = unseen | {"rule": UNOBSERVED_RULE}
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
            index_band(prep, dndvi_spec),
        )
        draft.add_cog(
            "slope",
            written[s / "slope.tif"],
            "Slope from the DEM (degrees)",
            float_band(prep, unit="degree"),
        )
