"""Loading: STAC items -> an xarray Dataset on the project grid (the input edge of processing).

The items' own grids are worked out in :mod:`yamasat.processing.native_grid`; rasters a run
wrote are read back with :mod:`yamasat.processing.read_back`.

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

from ..errors import LoadError, redact_urls
from .masks import DEFAULT_SCL_CLASSES, scl_mask
from .native_grid import asset_grid
from .read_guard import GuardedDriver, current_read_policy

__all__ = [
    "SCALE_ATTR",
    "ScaleFn",
    "blank_block",
    "load_bands",
    "load_s2",
    "scale_block",
]

log = logging.getLogger(__name__)

ScaleFn = Callable[[str, Mapping[str, Any], Mapping[str, Any]], tuple[float, float]]
"""(band, item properties, asset dict) -> (scale, offset)"""

_CATEGORICAL = frozenset({"scl"})

SCALE_ATTR = "dn_scale_offset"
"""attribute of a band loaded unscaled (``scaled=False``): ``(scale, offset)`` turning its
numbers into reflectance, for kernels that scale as they go
(:func:`yamasat.processing.delta_index.delta_index_from_raw`)"""


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
    items = _only_loaded(items, keys)
    _check_footprints(items, geobox)
    resampling_map = {
        key: ("nearest" if band in _CATEGORICAL else resampling) for band, key in assets.items()
    }
    # every asset is read through the guarded reader: GTiff only, redirects and failures
    # checked, errors naming the item and asset (processing.read_guard)
    names = {str(it.assets[k].href).split("?", 1)[0]: (it.id, k) for it in items for k in keys}
    try:
        ds = odc.stac.load(
            items,
            bands=keys,
            geobox=geobox,
            chunks={"x": chunk, "y": chunk},
            groupby=groupby,
            resampling=resampling_map,
            fail_on_error=True,
            driver=GuardedDriver(names, current_read_policy()),
        )
    except Exception as e:  # odc-stac raises ValueError/KeyError on metadata problems
        ids = ", ".join(it.id for it in items[:5])
        raise LoadError(
            f"odc-stac could not prepare the load of items {ids}: {redact_urls(str(e))}"
        ) from None
    return ds.rename({key: band for band, key in assets.items() if key != band})


def _only_loaded(items: Sequence[pystac.Item], keys: Sequence[str]) -> list[pystac.Item]:
    """Copies of ``items`` holding only the assets that are loaded.

    odc-stac places an item by the grid of one of its assets, the first of the finest
    resolution among *all* its assets (whichever a set yields first, so it varies with the
    process's hash seed): an unread asset with stale ``proj:*`` metadata could move an item
    off the output grid, and odc-stac would then read nothing and fill with nodata, without
    an error. With only the loaded assets, the grids that place the item are those read.
    """
    out = []
    for item in items:
        copy = item.clone()
        copy.assets = {k: v for k, v in item.assets.items() if k in keys}
        out.append(copy)
    return out


def _check_footprints(items: Sequence[pystac.Item], geobox: GeoBox) -> None:
    """LoadError for an item whose footprint covers ``geobox`` while the grids of its
    loaded assets do not: its projection metadata is wrong, and odc-stac would skip it
    silently (a blank scene instead of an error)."""
    from odc.geo.geom import Geometry
    from odc.stac import parse_item

    if geobox.crs is None:
        return
    extent = geobox.extent
    for item in items:
        if item.geometry is None:
            continue
        footprint = Geometry(item.geometry, "EPSG:4326").to_crs(geobox.crs)
        if not footprint.intersects(extent):
            continue
        placed = parse_item(item).safe_geometry(geobox.crs)
        if placed is None or not placed.intersects(extent):
            raise LoadError(
                f"item {item.id}: its footprint covers the area to load, but the grids of its "
                f"assets {', '.join(item.assets)} (proj:shape/proj:transform in "
                f"{item.properties.get('proj:code') or item.properties.get('proj:epsg')}) lie "
                "elsewhere: its projection metadata is wrong, so its pixels cannot be placed"
            )


def scale_block(raw: np.ndarray, *, scale: float, offset: float, nodata: Any) -> np.ndarray:
    """``raw × scale + offset`` in float32, NaN where ``raw`` is ``nodata`` (or NaN): one
    kernel per chunk instead of a chain of array-wide temporaries."""
    out = raw.astype(np.float32)
    out *= np.float32(scale)
    out += np.float32(offset)
    if nodata is not None and not np.isnan(nodata):
        out[raw == nodata] = np.nan
    elif raw.dtype.kind == "f":
        out[np.isnan(raw)] = np.nan
    return out


def blank_block(value: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    """``value`` with NaN where ``flagged`` (one block)."""
    return np.where(flagged, np.float32(np.nan), value)


def _blank(value: xr.DataArray, flagged: xr.DataArray) -> xr.DataArray:
    """``value`` with NaN where ``flagged`` (one kernel per chunk; attributes kept)."""
    out: xr.DataArray = xr.apply_ufunc(
        blank_block,
        value,
        flagged,
        dask="parallelized",
        output_dtypes=[value.dtype],
        keep_attrs=True,
    )
    return out


def _apply_scaling(ds: xr.Dataset, sig: tuple[tuple[str, float, float], ...]) -> xr.Dataset:
    out = {}
    for band, scale, offset in sig:
        raw = ds[band]
        nodata = raw.attrs.get("nodata")
        if band in _CATEGORICAL:
            out[band] = raw
            continue
        value = xr.apply_ufunc(
            scale_block,
            raw,
            kwargs={"scale": scale, "offset": offset, "nodata": nodata},
            dask="parallelized",
            output_dtypes=[np.float32],
            keep_attrs=True,  # coordinate attributes too (spatial_ref carries the CRS)
        )
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
    scaled: bool = True,
) -> xr.Dataset:
    """Lazily load ``assets`` (our band -> asset key) of ``items`` onto ``geobox``.

    Values become physical (float32, NaN where nodata) with each scene's own scale/offset,
    decided by ``scale_fn``; categorical bands (``scl``) stay integer with nodata 0. Items whose
    scale/offset differ are loaded in separate groups and combined, so mixed processing
    baselines are normalised. Dims ``time, y, x``; dask chunks of ``chunk`` pixels.

    With ``scaled=False`` and one scale/offset for all items, the bands stay as stored
    (integers with their nodata) and carry ``(scale, offset)`` in the attribute
    :data:`SCALE_ATTR`, for kernels that scale as they go; with mixed
    scale/offsets they are scaled as usual and carry ``(1.0, 0.0)``.
    """
    if not items:
        raise LoadError("nothing to load: the item list is empty")
    groups: dict[tuple[tuple[str, float, float], ...], list[pystac.Item]] = {}
    for item in items:
        groups.setdefault(_signature(item, assets, scale_fn), []).append(item)
    if not scaled and len(groups) == 1:
        ((sig, group),) = groups.items()
        raw = _load_group(group, assets, geobox, chunk, resampling, groupby)
        for band, scale, offset in sig:
            if band not in _CATEGORICAL:
                raw[band].attrs[SCALE_ATTR] = (scale, offset)
        raw.attrs["item_ids"] = [it.id for it in items]
        return raw
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
    if not scaled:
        for name in result.data_vars:
            if name not in _CATEGORICAL:
                result[name].attrs[SCALE_ATTR] = (1.0, 0.0)
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
    scaled: bool = True,
) -> xr.Dataset:
    """Sentinel-2 L2A reflectance on ``geobox`` with an SCL cloud/shadow ``mask`` variable.

    ``assets`` maps our band names (``red``, ``nir``, ``scl``, ...) to the provider's keys.
    The ``mask`` variable is True where a pixel is flagged (classes ``mask_classes``, clouds
    grown by ``dilation_px``, or no data). With ``mask_clouds`` the reflectance bands are set
    to NaN where flagged. ``valid_fraction`` per time step is kept as a lazy coordinate-free
    variable for coverage accounting.

    With ``scaled=False`` the bands are left as :func:`load_bands` gives them unscaled and
    are not blanked here, whatever ``mask_clouds`` says: they are for kernels that scale and
    apply ``mask`` per chunk, such as :func:`yamasat.processing.delta_index.delta_index_from_raw`
    (which always applies it).
    """
    wanted = list(dict.fromkeys([*bands, "scl"]))
    missing = [b for b in wanted if b not in assets]
    if missing:
        raise LoadError(f"the source profile maps no asset for band(s) {missing}")
    k = _whole_factor(items, assets["scl"], geobox, chunk)
    ds = load_bands(
        items,
        assets={b: assets[b] for b in wanted if k is None or b != "scl"},
        geobox=geobox,
        scale_fn=scale_fn,
        chunk=chunk,
        resampling=resampling,
        scaled=scaled,
    )
    like = next(iter(ds.data_vars.values()))
    # with k, the scene classification on its own coarser grid, flags repeated onto ``geobox``
    coarse = None if k is None else _load_coarse(items, assets["scl"], geobox, chunk, k, like)
    if k is not None and coarse is not None:  # (coarse implies k; for the type checker)
        mask = scl_mask(
            coarse, classes=mask_classes, dilation_px=dilation_px, upsample=k, like=like
        )
    else:
        scl = ds["scl"] if "scl" in ds else _load_fine(items, assets["scl"], geobox, chunk)
        mask = scl_mask(scl, classes=mask_classes, dilation_px=dilation_px)
    out = ds.drop_vars("scl", errors="ignore")
    if mask_clouds and scaled:
        out = out.map(lambda v: _blank(v, mask))
    out["mask"] = mask
    out["valid_fraction"] = (~mask).mean(dim=("y", "x")).astype("float32")
    out.attrs = ds.attrs
    return out


def _whole_factor(items: Sequence[pystac.Item], key: str, geobox: GeoBox, chunk: int) -> int | None:
    """k when asset ``key`` of every item lies on a grid k times coarser than ``geobox`` whose
    pixels each cover exactly k × k pixels of it (same CRS, same lattice); else None."""
    from odc.geo import CRS

    if geobox.crs is None or geobox.affine.b != 0 or geobox.affine.d != 0:
        return None
    res = abs(geobox.affine.a)
    if geobox.affine.e != -res:
        return None
    factors = set()
    for item in items:
        grid = asset_grid(item, key)
        if grid is None or CRS(grid[0]) != geobox.crs:
            return None
        tr = grid[1]
        k = round(tr.a / res)
        if k < 2 or tr.a != k * res or tr.e != -k * res or tr.b != 0 or tr.d != 0:
            return None
        for origin, own in ((geobox.affine.c, tr.c), (geobox.affine.f, tr.f)):
            if abs((origin - own) / tr.a - round((origin - own) / tr.a)) > 1e-9:
                return None
        factors.add(k)
    if len(factors) != 1:
        return None
    k = factors.pop()
    ny, nx = geobox.shape.yx
    return k if ny % k == 0 and nx % k == 0 and chunk % k == 0 else None


def _load_coarse(
    items: Sequence[pystac.Item], key: str, geobox: GeoBox, chunk: int, k: int, like: xr.DataArray
) -> xr.DataArray | None:
    """A categorical band read on its own grid, k times coarser than ``geobox`` (no
    resampling; chunks of ``chunk / k`` so that each covers one chunk of ``geobox``), or None
    when its time steps differ from ``like``'s."""
    from affine import Affine

    ny, nx = geobox.shape.yx
    coarse = GeoBox((ny // k, nx // k), geobox.affine * Affine.scale(k), geobox.crs)
    raw = load_bands(
        items,
        assets={"scl": key},
        geobox=coarse,
        scale_fn=lambda *_: (1.0, 0.0),
        chunk=chunk // k,
        resampling="nearest",
    )["scl"]
    if not np.array_equal(raw["time"].values, like["time"].values):
        return None  # the loads group the scenes into different days: read on ``geobox``
    return raw


def _load_fine(items: Sequence[pystac.Item], key: str, geobox: GeoBox, chunk: int) -> xr.DataArray:
    """A categorical band on ``geobox`` (nearest neighbour)."""
    return load_bands(
        items,
        assets={"scl": key},
        geobox=geobox,
        scale_fn=lambda *_: (1.0, 0.0),
        chunk=chunk,
        resampling="nearest",
    )["scl"]
