"""Loading: STAC items -> an xarray Dataset on the project grid (the input edge of processing).

odc-stac reads and reprojects (UTM 52N and 53N tiles mosaicked onto one grid, one time step
per solar day); this module renames assets to our band names, applies each scene's
scale/offset once, masks nodata and, for Sentinel-2, flags clouds from SCL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import odc.stac
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox

from catalogs.errors import LoadError
from processing.masks import DEFAULT_SCL_CLASSES, scl_mask

__all__ = ["ScaleFn", "load_bands", "load_s2", "open_raster"]

log = logging.getLogger(__name__)

ScaleFn = Callable[[str, Mapping[str, Any], Mapping[str, Any]], tuple[float, float]]
"""(band, item properties, asset dict) -> (scale, offset)"""

_CATEGORICAL = frozenset({"scl"})


def _signature(
    item: pystac.Item, assets: Mapping[str, str], scale_fn: ScaleFn
) -> tuple[tuple[str, float, float], ...]:
    sig = []
    for band, key in assets.items():
        asset = item.assets.get(key)
        if asset is None:
            raise LoadError(
                f"item {item.id} has no asset {key!r} for band {band!r} "
                f"(it has {', '.join(item.assets)})"
            )
        scale, offset = scale_fn(band, item.properties, asset.to_dict())
        sig.append((band, scale, offset))
    return tuple(sig)


def _load_group(
    items: Sequence[pystac.Item],
    assets: Mapping[str, str],
    geobox: GeoBox,
    chunk: int,
    resampling: str,
    groupby: str,
) -> xr.Dataset:
    keys = list(assets.values())
    resampling_map = {
        key: ("nearest" if band in _CATEGORICAL else resampling) for band, key in assets.items()
    }
    try:
        ds = odc.stac.load(
            items,
            bands=keys,
            geobox=geobox,
            chunks={"x": chunk, "y": chunk},
            groupby=groupby,
            resampling=resampling_map,
            fail_on_error=True,
        )
    except Exception as e:  # odc-stac raises ValueError/KeyError on metadata problems
        ids = ", ".join(it.id for it in items[:5])
        raise LoadError(f"odc-stac could not prepare the load of items {ids}: {e}") from e
    return ds.rename({key: band for band, key in assets.items() if key != band})


def _apply_scaling(ds: xr.Dataset, sig: tuple[tuple[str, float, float], ...]) -> xr.Dataset:
    out = {}
    for band, scale, offset in sig:
        raw = ds[band]
        nodata = raw.attrs.get("nodata")
        if band in _CATEGORICAL:
            out[band] = raw
            continue
        valid = raw != nodata if nodata is not None and not np.isnan(nodata) else raw.notnull()
        value = raw.astype("float32") * np.float32(scale) + np.float32(offset)
        value = value.where(valid).astype("float32")
        value.attrs = {
            k: v for k, v in raw.attrs.items() if k not in ("nodata", "scale_factor", "add_offset")
        }
        value.attrs.update(nodata=np.nan, applied_scale=scale, applied_offset=offset)
        out[band] = value
    return xr.Dataset(out, attrs=ds.attrs)


def load_bands(
    items: Sequence[pystac.Item],
    *,
    assets: Mapping[str, str],
    geobox: GeoBox,
    scale_fn: ScaleFn,
    chunk: int = 2048,
    resampling: str = "bilinear",
    groupby: str = "solar_day",
) -> xr.Dataset:
    """Lazily load ``assets`` (our band -> asset key) of ``items`` onto ``geobox``.

    Values become physical (float32, NaN where nodata) with each scene's own scale/offset,
    decided by ``scale_fn``; categorical bands (``scl``) stay integer with nodata 0. Items whose
    scale/offset differ are loaded in separate groups and combined, so mixed processing
    baselines are normalised. Dims ``time, y, x``; dask chunks of ``chunk`` pixels.
    """
    if not items:
        raise LoadError("nothing to load: the item list is empty")
    groups: dict[tuple[tuple[str, float, float], ...], list[pystac.Item]] = {}
    for item in items:
        groups.setdefault(_signature(item, assets, scale_fn), []).append(item)
    parts = []
    for sig, group in groups.items():
        ds = _load_group(group, assets, geobox, chunk, resampling, groupby)
        parts.append(_apply_scaling(ds, sig))
    if len(parts) == 1:
        result = parts[0]
    else:
        log.info("items carry %d different scale/offset sets; normalised separately", len(parts))
        result = parts[0]
        for part in parts[1:]:
            result = result.combine_first(part)
        result = result.sortby("time")
    result.attrs["item_ids"] = [it.id for it in items]
    return result


def load_s2(
    items: Sequence[pystac.Item],
    *,
    assets: Mapping[str, str],
    geobox: GeoBox,
    scale_fn: ScaleFn,
    bands: Sequence[str] = ("red", "nir"),
    chunk: int = 2048,
    mask_classes: Sequence[int] = DEFAULT_SCL_CLASSES,
    dilation_px: int = 3,
    mask_clouds: bool = True,
    resampling: str = "bilinear",
) -> xr.Dataset:
    """Sentinel-2 L2A reflectance on ``geobox`` with an SCL cloud/shadow ``mask`` variable.

    ``assets`` maps our band names (``red``, ``nir``, ``scl``, ...) to the provider's keys.
    The ``mask`` variable is True where a pixel is flagged (classes ``mask_classes``, clouds
    grown by ``dilation_px``, or no data). With ``mask_clouds`` the reflectance bands are set
    to NaN where flagged. ``valid_fraction`` per time step is kept as a lazy coordinate-free
    variable for coverage accounting.
    """
    wanted = list(dict.fromkeys([*bands, "scl"]))
    missing = [b for b in wanted if b not in assets]
    if missing:
        raise LoadError(f"the source profile maps no asset for band(s) {missing}")
    ds = load_bands(
        items,
        assets={b: assets[b] for b in wanted},
        geobox=geobox,
        scale_fn=scale_fn,
        chunk=chunk,
        resampling=resampling,
    )
    mask = scl_mask(ds["scl"], classes=mask_classes, dilation_px=dilation_px)
    out = ds.drop_vars("scl")
    if mask_clouds:
        out = out.map(lambda v: v.where(~mask))
    out["mask"] = mask
    out["valid_fraction"] = (~mask).mean(dim=("y", "x")).astype("float32")
    out.attrs = ds.attrs
    return out


class _CogWindows:
    """Array-like view of band 1 of a raster, read window by window (thread-safe: one open per
    read), for ``dask.array.from_array``."""

    def __init__(self, path: str) -> None:
        import rasterio

        self.path = path
        with rasterio.open(path) as src:
            self.shape = (src.height, src.width)
            self.dtype = np.dtype(src.dtypes[0])
        self.ndim = 2

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        import rasterio
        from rasterio.windows import Window

        ys, xs = key
        y0, y1, _ = ys.indices(self.shape[0])
        x0, x1, _ = xs.indices(self.shape[1])
        try:
            with rasterio.open(self.path) as src:
                return src.read(1, window=Window(x0, y0, x1 - x0, y1 - y0))
        except rasterio.errors.RasterioIOError as e:
            raise LoadError(f"could not read {self.path} window {key}: {e}") from e


def open_raster(path: str, *, geobox: GeoBox, chunk: int = 2048) -> xr.DataArray:
    """A written single-band raster on ``geobox`` as a lazy DataArray (nodata kept as stored)."""
    import dask.array as dsa
    from odc.geo.xr import wrap_xr

    arr = dsa.from_array(_CogWindows(path), chunks=(chunk, chunk), lock=False, asarray=True)
    if tuple(arr.shape) != tuple(geobox.shape):
        raise LoadError(f"{path} has shape {arr.shape}, expected the grid {tuple(geobox.shape)}")
    return wrap_xr(arr, geobox)
