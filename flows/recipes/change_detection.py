"""Change detection (ΔNDVI by default; the change-vector magnitude with
``analytics.change.method: cva``): the recipe.

1. The change measure on the project grid (:func:`measure_on_grid`): per UTM zone, the bands
   loaded as stored on the zone's own grid and turned into ΔINDEX by one fused kernel per
   chunk (:func:`yamasat.processing.change_map.change_measure`, proven bit for bit against the
   reference chain in :mod:`yamasat.processing.delta_index`), warped once onto the grid.
2. Pass 1 streams the measure to a float32 COG, keeping its uncompressed stream.
3. The threshold: fixed, or Otsu on a strided sample of the measure, never weaker than
   ``analytics.change.otsu_limit``.
4. Pass 2 reads the stream back block by block, thresholds, applies the minimum mapping unit
   (:func:`yamasat.processing.change_map.change_product`) and writes the uint8 product.

Memory stays at a few chunks whatever the area.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pystac
import xarray as xr
from odc.geo.geobox import GeoBox

from ...errors import InvariantError
from ...processing.change_map import (
    NODATA,
    ChangeParams,
    change_measure,
    change_product,
    period_index,
)
from ...processing.indices import INDEX_BANDS
from ...processing.load import load_s2
from ...processing.native_grid import native_geobox, split_by_crs
from ...processing.read_back import open_raster, open_warped
from ...processing.threshold import change_threshold, limited_threshold
from ...processing.write import CogSpec, write_cogs, write_raster
from ...settings import Settings
from ..prepare import Prepared, layout, software_version
from ..product_run import Analysis, Recipe
from ..progress import report
from ..publish import Draft
from .inputs import float_cog, index_band, index_cog, s2_load_options

__all__ = ["Change", "measure_on_grid", "native_chunking"]

_NATIVE_MEASURE = ".measure-native"
"""staging files of the measure on each zone's native grid (removed once warped and written)"""
_NATIVE_AFTER = ".after-native"
"""staging files of the after period's index (the gate of ``max_after``; removed at the end)"""
_L2A_BLOCK_PX = 1024
"""internal tile edge of Sentinel-2 L2A COGs (Earth Search's and Planetary Computer's)"""
_PRODUCT_TILE_PX = 11264
"""edge of the tiles of chunks pass 2 computes at once (``write_cogs``' ``tile_px``): its
minimum mapping unit's halo recomputes the neighbouring chunks of a tile, reading their
stream again, so the larger the tile, the fewer reads. On a Sentinel-2 tile with 1536-px
chunks: 145 chunk reads for 64 chunks in 4608-px tiles, pass 2's store 2.6-2.9 s CPU;
7 × 7 chunks, 2.1-2.3 s, the same product. The tile's uint8 chunks held until written:
11264² px = 127 MB, what pass 1's 4608-px tiles of float32 and int16 hold (pass 2 alone
peaked at 510-520 MB, now 540-590 MB; the first stage's 1 GB is the pipeline's peak)"""


def native_chunking(native: GeoBox, chunk: int) -> tuple[int, int]:
    """``(block_px, chunk)`` of a zone's load on its native grid.

    On a scene-sized grid, chunks are whole 1024-px L2A tiles from a tile corner, so each
    tile is decoded once: 1536-px chunks cut tiles and decoded about 1.8 times the tiles
    they need (red and nir of a realistic tile pair: 8.4 s CPU, against 5.3 s so; issue
    14). Small grids keep ``chunk`` and the 512-px corner (less padding to load). The
    measure does not depend on either: it is computed per pixel, with halos for the masks.
    """
    if min(native.shape) < 4 * _L2A_BLOCK_PX:
        return 512, chunk
    return _L2A_BLOCK_PX, max(_L2A_BLOCK_PX, round(chunk / _L2A_BLOCK_PX) * _L2A_BLOCK_PX)


def measure_on_grid(
    prep: Prepared,
    b_items: list[pystac.Item],
    a_items: list[pystac.Item],
    params: ChangeParams,
    geobox: GeoBox,
    staging: Path,
    draft: Draft | None = None,
    *,
    after_index: bool = False,
) -> xr.DataArray:
    """The change measure on the project grid (lazy; NaN where not observed in both periods);
    with ``after_index``, the after period's ``params.index`` instead, on the same pixels.

    Items are grouped by UTM zone. For each zone with items in both periods, the loads,
    masks, composites and the measure are computed on the zone's native grid without
    resampling any input, streamed to a staging file, and only the measure is warped onto
    the project grid (``grid.resampling``): one warp per zone instead of one per input band
    and date. Where zones overlap, the first zone (in search order) that observed a pixel in
    both periods gives its value. When items carry no usable grid, or no zone has items in
    both periods, every input is loaded onto the project grid directly (odc-stac mosaics the
    zones per day).
    """
    grid = prep.settings.grid
    bands = INDEX_BANDS[params.index] if after_index else params.bands()
    scaled = bool(params.cva_bands) or after_index
    prefix = _NATIVE_AFTER if after_index else _NATIVE_MEASURE

    def measure_of(before: list[pystac.Item], after: list[pystac.Item], opts: Any) -> Any:
        common = opts | {"scaled": scaled}
        if after_index:
            return period_index(load_s2(after, **common), params.index)
        return change_measure(load_s2(before, **common), load_s2(after, **common), params)

    all_assets = layout(prep, "s2", b_items + a_items).assets
    assets = {b: all_assets[b] for b in (*bands, "scl")}
    zones = split_by_crs(b_items + a_items, assets=assets) or []
    parts: list[xr.DataArray] = []
    for i, zone in enumerate(zones):
        ids = {it.id for it in zone}
        zb = [it for it in b_items if it.id in ids]
        za = [it for it in a_items if it.id in ids]
        native = native_geobox(zb + za, assets=assets, like=geobox) if zb and za else None
        if native is not None and (tiled := native_chunking(native, grid.chunk_size))[0] != 512:
            native = native_geobox(zb + za, assets=assets, like=geobox, block_px=tiled[0])
        if native is None:
            if zb and za:  # a zone without a usable grid: load everything onto the grid
                parts = []
                break
            continue  # observed in one period only: no pixel of this zone has a measure
        # an index is computed from the stored numbers by one kernel per chunk (the same
        # values as scaling, masking and compositing plane by plane, a fraction of the work)
        opts = s2_load_options(prep, zb + za, native, bands, draft)
        opts["chunk"] = native_chunking(native, grid.chunk_size)[1]
        src = write_raster(staging / f"{prefix}-{i}.tif", measure_of(zb, za, opts), geobox=native)
        parts.append(
            open_warped(str(src), geobox=geobox, resampling=grid.resampling, chunk=grid.chunk_size)
        )
    if not parts:
        opts = s2_load_options(prep, b_items + a_items, geobox, bands, draft)
        return measure_of(b_items, a_items, opts)
    out = parts[0]
    for part in parts[1:]:
        out = out.fillna(part)
    return out


class Change(Recipe[ChangeParams]):
    """Vegetation-loss change: ΔINDEX (after − before) thresholded, sieved, uint8."""

    name = "change"
    kind = "change"
    flow = "change_detection"

    def params(self, settings: Settings) -> ChangeParams:
        ch = settings.analytics.change
        cva = ch.method == "cva"
        return ChangeParams(
            index=ch.index,
            threshold=ch.threshold,
            direction="increase" if cva else ch.direction,  # a magnitude only grows
            min_mapping_unit_px=ch.min_mapping_unit_px,
            cva_bands=tuple(ch.cva_bands) if cva else (),
            otsu_limit=ch.otsu_limit,
            max_after=ch.max_after,
            edge_window_px=ch.edge_window_px,
        )

    def search_bands(self, params: ChangeParams) -> tuple[str, ...]:
        gate = INDEX_BANDS[params.index] if params.max_after is not None else ()
        return (*dict.fromkeys((*params.bands(), *gate)), "scl")

    def lock_variant(self, params: ChangeParams) -> str:
        return "cva" if params.cva_bands else params.index

    def analyse(self, run: Analysis[ChangeParams]) -> None:
        prep, draft, params, inside = run.prep, run.draft, run.params, run.inside
        grid = prep.settings.grid
        staging, geobox = draft.staging, draft.geobox
        measure = measure_on_grid(prep, run.before, run.after, params, geobox, staging, draft)
        name = "cva" if params.cva_bands else f"d{params.index}"
        path = staging / f"{name}.tif"
        # a difference of indices as int16 × 1e-4; a change-vector magnitude (not bounded
        # by 2) as a float
        spec = float_cog(prep) if params.cva_bands else index_cog(prep)
        written = write_cogs(
            {path: (measure.where(inside), spec)},
            geobox=geobox,
            tags={"software": f"yamasat {software_version()}"},
            keep_streams=True,
        )
        for native_measure in staging.glob(f"{_NATIVE_MEASURE}-*.tif"):
            native_measure.unlink()  # not part of the product
        # pass 2 reads the measure's uncompressed float32 stream: the exact values (the COG
        # holds them within storage.float_max_error), without decoding the COG again
        stream = written[path].stream
        if stream is None:
            raise InvariantError(f"write_cogs kept no stream of {path} (keep_streams=True)")
        draft.add_cog(
            name, written[path], f"{name} (after − before)", index_band(prep, spec, unit="1")
        )
        report("analyse", 1, 4)
        stored = open_raster(str(stream), geobox=geobox, chunk=grid.chunk_size)
        # the threshold from a strided sample of the full-resolution values: the overviews
        # average small changes away (issue 13), and a stride does not depend on the chunks
        draft.threshold = (
            round(
                limited_threshold(
                    change_threshold(stored, direction=params.direction),
                    params.otsu_limit,
                    direction=params.direction,
                ),
                4,
            )
            if params.threshold == "otsu"
            else float(params.threshold)
        )
        gate = None
        if params.max_after is not None:
            after = measure_on_grid(
                prep, run.before, run.after, params, geobox, staging, draft, after_index=True
            )
            gate = after < params.max_after
            draft.qa["max_after"] = params.max_after
        # the stream is NaN outside the AOI (``measure.where(inside)`` above), so the product
        # is already NODATA there: no second AOI mask (rasterizing it cost about 0.25 s on a tile)
        product = change_product(
            stored,
            stored.notnull(),
            threshold=draft.threshold,
            direction=params.direction,
            min_mapping_unit_px=params.min_mapping_unit_px,
            gate=gate,
            edge_window_px=params.edge_window_px,
        )
        main = staging / "change.tif"
        draft.add_cog(
            "change",
            write_cogs(
                {main: (product.astype("uint8"), CogSpec(nodata=NODATA, dtype="uint8"))},
                geobox=geobox,
                tile_px=_PRODUCT_TILE_PX,
            )[main],
            "Change: 1 detected, 0 not detected, 255 no valid observation",
            {"nodata": NODATA, "data_type": "uint8", "spatial_resolution": grid.resolution},
        )
        stream.unlink()  # not part of the product
        for native_after in staging.glob(f"{_NATIVE_AFTER}-*.tif"):
            native_after.unlink()
