"""The analysis step of change detection: load, measure, threshold, write, finalize.

The dask graph is built and computed here, at the writes: pass 1 streams the change measure
(ΔNDVI) to a float32 COG (computed on the items' native UTM grid and warped once when they
share one, see :func:`_measure_on_grid`); the threshold is estimated on a decimated read of
the COG's overviews; pass 2 reads the measure back block by block from the COG's uncompressed
source, thresholds, applies the minimum mapping unit and writes the uint8 product. Memory
stays at a few chunks whatever the area.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pystac
import xarray as xr
from odc.geo.geobox import GeoBox

from ..catalogs.sources.profiles import scale_offset
from ..processing.change_detection import NODATA, ChangeParams, change_measures, change_product
from ..processing.gdal_env import configure_gdal
from ..processing.grid import aoi_mask
from ..processing.load import load_s2, native_geobox, open_raster, open_warped, split_by_crs
from ..processing.threshold import Direction, change_threshold
from ..processing.write import CogSpec, float_spec, write_cogs, write_raster
from .checkpoints import Checkpoints
from .prepare import Prepared, season_warnings, software_version
from .progress import report
from .publish import ProductOutcome, finish_draft, float_band, staged, start_draft

__all__ = ["analyse_change", "load_common", "params_dict"]


def params_dict(params: Any) -> dict[str, Any]:
    """A frozen parameter dataclass as a JSON-safe dict."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(params).items()}


def load_common(prep: Prepared, geobox: Any, bands: tuple[str, ...]) -> dict[str, Any]:
    """Keyword arguments of :func:`load_s2` from the settings and the source's profile."""
    settings = prep.settings
    net = settings.network
    configure_gdal(
        timeout_s=net.timeout_s, max_retries=net.max_retries, retry_delay_s=net.backoff_s
    )
    return {
        "assets": prep.source.profile.family("s2").assets,
        "geobox": geobox,
        "scale_fn": scale_offset,
        "bands": bands,
        "chunk": settings.grid.chunk_size,
        "mask_classes": tuple(settings.masking.scl_mask_classes),
        "dilation_px": settings.masking.dilation_px,
        "resampling": settings.grid.resampling,
    }


def _threshold_from_cog(path: Any, direction: Direction) -> float:
    """Two-stage Otsu threshold estimated on a decimated read (overviews) of the measure."""
    import rasterio
    import xarray as xr

    with rasterio.open(path) as src:
        scale = max(1, int(max(src.height, src.width) / 2048))
        data = src.read(1, out_shape=(src.height // scale, src.width // scale))
    return round(change_threshold(xr.DataArray(data), direction=direction), 4)


_NATIVE_MEASURE = ".measure-native"
"""staging files of the measure on each zone's native grid (removed once warped and written)"""


def _measure_on_grid(
    prep: Prepared,
    b_items: list[pystac.Item],
    a_items: list[pystac.Item],
    params: ChangeParams,
    geobox: GeoBox,
    staging: Path,
) -> xr.DataArray:
    """The change measure on the project grid (lazy; NaN where not observed in both periods).

    Items are grouped by UTM zone. For each zone with items in both periods, the loads,
    masks, composites and the measure are computed on the zone's native grid without
    resampling any input, streamed to a staging file, and only the measure is warped onto
    the project grid (``grid.resampling``): one warp per zone instead of one per input band
    and date. Where zones overlap, the first zone (in search order) that observed a pixel in
    both periods gives its value. When items carry no usable grid, or no zone has items in
    both periods, every input is loaded onto the project grid directly (odc-stac mosaics the
    zones per day), as before.
    """
    grid = prep.settings.grid
    bands = params.bands()
    all_assets = prep.source.profile.family("s2").assets
    assets = {b: all_assets[b] for b in (*bands, "scl")}
    zones = split_by_crs(b_items + a_items, assets=assets) or []
    parts: list[xr.DataArray] = []
    for i, zone in enumerate(zones):
        ids = {it.id for it in zone}
        zb = [it for it in b_items if it.id in ids]
        za = [it for it in a_items if it.id in ids]
        native = native_geobox(zb + za, assets=assets, like=geobox) if zb and za else None
        if native is None:
            if zb and za:  # a zone without a usable grid: load everything onto the grid
                parts = []
                break
            continue  # observed in one period only: no pixel of this zone has a measure
        # an index is computed from the stored numbers by one kernel per chunk (the same
        # values as scaling, masking and compositing plane by plane, a fraction of the work)
        common = load_common(prep, native, bands) | {"scaled": bool(params.cva_bands)}
        measure = change_measures(load_s2(zb, **common), load_s2(za, **common), params).measure
        src = write_raster(staging / f"{_NATIVE_MEASURE}-{i}.tif", measure, geobox=native)
        parts.append(
            open_warped(str(src), geobox=geobox, resampling=grid.resampling, chunk=grid.chunk_size)
        )
    if not parts:
        common = load_common(prep, geobox, bands) | {"scaled": bool(params.cva_bands)}
        before, after = load_s2(b_items, **common), load_s2(a_items, **common)
        return change_measures(before, after, params).measure
    out = parts[0]
    for part in parts[1:]:
        out = out.fillna(part)
    return out


def analyse_change(
    prep: Prepared,
    before_items: list[dict[str, Any]],
    after_items: list[dict[str, Any]],
    *,
    params: ChangeParams,
    force: bool = False,
    run_id: str | None = None,
    flow_name: str = "change_detection",
    checkpoints: Checkpoints | None = None,
) -> ProductOutcome:
    """Load, compute and write the change product into a staging folder, then publish it.

    Never publishes when the valid coverage of the AOI is below
    ``analytics.min_valid_fraction``: the outcome is then ``insufficient_data``. With the
    ``checkpoints`` of a resumed run whose failed run wrote every raster, those are verified
    and published without computing them again.
    """
    grid = prep.settings.grid
    b_items = [pystac.Item.from_dict(d) for d in before_items]
    a_items = [pystac.Item.from_dict(d) for d in after_items]
    draft = start_draft(
        prep,
        "change",
        [it.id for it in b_items + a_items],
        params_dict(params),
        force,
        synthetic=any(it.properties.get("yamasat:synthetic") for it in b_items + a_items),
        warnings=season_warnings(prep.before, prep.after),
        checkpoints=checkpoints,
    )
    if isinstance(draft, ProductOutcome):
        return draft
    if draft.rasters_done:  # resumed: the failed run wrote every raster
        with staged(draft, checkpoints):
            return finish_draft(prep, draft, None, run_id, flow_name)
    staging, geobox = draft.staging, draft.geobox
    with staged(draft, checkpoints):
        report("analyse", 0, 4)
        measure = _measure_on_grid(prep, b_items, a_items, params, geobox, staging)
        inside = aoi_mask(geobox, prep.aoi.geometry, chunk=grid.chunk_size)
        name = "cva" if params.cva_bands else f"d{params.index}"
        path = staging / f"{name}.tif"
        written = write_cogs(
            {
                path: (
                    measure.where(inside),
                    float_spec(prep.settings.storage.float_max_error),
                )
            },
            geobox=geobox,
            tags={"software": f"yamasat {software_version()}"},
            keep_streams=True,
        )
        for native_measure in staging.glob(f"{_NATIVE_MEASURE}-*.tif"):
            native_measure.unlink()  # not part of the product
        # pass 2 reads the measure's uncompressed stream: the exact values (the COG holds
        # them within storage.float_max_error), without decoding the COG again
        stream = written[path].stream
        assert stream is not None
        draft.add_cog(
            name,
            written[path],
            f"{name} (after − before)",
            float_band(prep, unit="1"),
        )
        report("analyse", 1, 4)
        draft.threshold = (
            _threshold_from_cog(path, params.direction)
            if params.threshold == "otsu"
            else float(params.threshold)
        )
        stored = open_raster(str(stream), geobox=geobox, chunk=grid.chunk_size)
        product = change_product(
            stored,
            stored.notnull(),
            threshold=draft.threshold,
            direction=params.direction,
            min_mapping_unit_px=params.min_mapping_unit_px,
        ).where(inside, NODATA)
        main = staging / "change.tif"
        draft.add_cog(
            "change",
            write_cogs(
                {main: (product.astype("uint8"), CogSpec(nodata=NODATA, dtype="uint8"))},
                geobox=geobox,
            )[main],
            "Change: 1 detected, 0 not detected, 255 no valid observation",
            {"nodata": NODATA, "data_type": "uint8", "spatial_resolution": grid.resolution},
        )
        stream.unlink()  # not part of the product
        report("analyse", 2, 4)
        return finish_draft(prep, draft, inside, run_id, flow_name)
