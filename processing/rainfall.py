"""Daily rainfall over an area from JAXA GSMaP items: an xarray ``(time, y, x)`` in mm/day.

GSMaP's daily collection in the JAXA Earth API (``JAXA.EORC_GSMaP_standard.Gauge.00Z-23Z.
v6_daily``, "Precipitation Rate (Daily)") holds, per UTC day 00Z-23Z, the gauge-adjusted
precipitation *rate*: its ``je:rasters.value.unit`` is ``mm/hr``, the day's mean rate. A
day's total in mm is that rate × 24. The day is the dataset's UTC day: 00:00-24:00 UTC,
which is 09:00 to 09:00 JST the next day (:data:`DAY_NOTE`).

Stored values become physical ones with the dataset's own scaling, in this order of
evidence: the asset's ``je:rasters`` (JAXA's: ``dn2value.slope``/``offset``, ``dn.nodata``,
``value.unit``), then its ``raster:bands``, then the COG's own tags (GDAL scale, offset,
nodata, unit type). The values are read on the dataset's own 0.1° grid (nearest, no
resampling: a rainfall total is not interpolated), on the pixels that cover the AOI's bounds.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pystac
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from shapely.geometry.base import BaseGeometry

from ..errors import LoadError
from .load import load_bands

__all__ = ["DAY_NOTE", "Scaling", "asset_scaling", "read_daily_rainfall"]

DAY_NOTE = "UTC day 00:00-24:00 UTC = 09:00-09:00 JST"
"""what one time step of the result covers"""

_PER_DAY = {
    "mm/hr": 24.0,
    "mm/h": 24.0,
    "mm/hour": 24.0,
    "mm h-1": 24.0,
    "mm/day": 1.0,
    "mm/d": 1.0,
    "mm": 1.0,
}

_DIMS = {"latitude": "y", "longitude": "x"}
"""odc's names for the axes of a geographic grid -> the names every other raster here uses"""


@dataclass(frozen=True)
class Scaling:
    """How one asset's stored numbers become physical values."""

    scale: float
    offset: float
    nodata: float | None
    unit: str | None
    evidence: str
    """where it was read: ``je:rasters``, ``raster:bands`` or ``file``"""


def asset_scaling(asset: Mapping[str, Any]) -> Scaling | None:
    """The scaling an asset dict states (``je:rasters``, else ``raster:bands``), or None."""
    je = asset.get("je:rasters")
    if isinstance(je, Mapping):
        dn = je.get("dn") or {}
        conv = je.get("dn2value") or {}
        return Scaling(
            float(conv.get("slope", 1.0)),
            float(conv.get("offset", 0.0)),
            None if dn.get("nodata") is None else float(dn["nodata"]),
            (je.get("value") or {}).get("unit"),
            "je:rasters",
        )
    rb = asset.get("raster:bands")
    if isinstance(rb, list) and rb and isinstance(rb[0], Mapping):
        b = rb[0]
        return Scaling(
            float(b.get("scale", 1.0)),
            float(b.get("offset", 0.0)),
            None if b.get("nodata") is None else float(b["nodata"]),
            b.get("unit"),
            "raster:bands",
        )
    return None


def _open_grid(href: str) -> tuple[Affine, Scaling]:
    """The COG's transform and the scaling its own tags state."""
    import rasterio

    try:
        with rasterio.open(href, driver="GTiff") as src:
            tags_unit = src.units[0] if src.units and src.units[0] else None
            return src.transform, Scaling(
                float(src.scales[0]),
                float(src.offsets[0]),
                src.nodata,
                tags_unit,
                "file",
            )
    except Exception as e:  # rasterio raises RasterioIOError/CPLE_* on any read problem
        raise LoadError(f"could not open the rainfall COG {href}: {e}") from e


def _utc_day(item: pystac.Item) -> dt.date:
    when = item.common_metadata.start_datetime or item.datetime
    if when is None:
        raise LoadError(f"rainfall item {item.id} has no date")
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.date()


def _prepared(items: Sequence[pystac.Item], asset: str, scaling: Scaling) -> list[pystac.Item]:
    """Copies of ``items`` dated at 00:00 UTC of their day (one time step per day, however
    many tiles) whose asset states ``scaling`` as ``raster:bands`` for odc-stac."""
    out = []
    for item in items:
        clone = copy.deepcopy(item)
        day = _utc_day(item)
        clone.datetime = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        band = {"scale": scaling.scale, "offset": scaling.offset}
        if scaling.nodata is not None:
            band["nodata"] = scaling.nodata
        clone.assets[asset].extra_fields["raster:bands"] = [band]
        out.append(clone)
    return out


def _geobox(transform: Affine, bounds: tuple[float, float, float, float]) -> GeoBox:
    """The pixels of the dataset's grid ``transform`` that cover ``bounds``."""
    res_x, res_y = transform.a, -transform.e
    if transform.b or transform.d or res_x <= 0 or res_y <= 0:
        raise LoadError(f"the rainfall grid is not a north-up grid ({transform})")
    minx, miny, maxx, maxy = bounds
    col0 = int(np.floor((minx - transform.c) / res_x + 1e-9))
    col1 = int(np.ceil((maxx - transform.c) / res_x - 1e-9))
    row0 = int(np.floor((transform.f - maxy) / res_y + 1e-9))
    row1 = int(np.ceil((transform.f - miny) / res_y - 1e-9))
    origin = Affine(res_x, 0, transform.c + col0 * res_x, 0, -res_y, transform.f - row0 * res_y)
    return GeoBox((max(row1 - row0, 1), max(col1 - col0, 1)), origin, "EPSG:4326")


def read_daily_rainfall(
    items: Sequence[pystac.Item],
    *,
    aoi: BaseGeometry,
    asset: str = "PRECIP",
) -> xr.DataArray:
    """Daily rainfall in mm/day over ``aoi``'s bounds (EPSG:4326) from GSMaP daily items.

    Dims ``time`` (00:00 UTC of each UTC day, :data:`DAY_NOTE`), ``y``, ``x`` (pixel centres
    of the dataset's grid); NaN where the dataset has no data. Read at once (the grid over
    a prefecture is small), so a read error is a :class:`LoadError` here, naming the asset.
    """
    if not items:
        raise LoadError("no rainfall items to read")
    first = items[0].assets.get(asset)
    if first is None:
        raise LoadError(f"item {items[0].id} has no asset {asset!r} ({', '.join(items[0].assets)})")
    transform, tags = _open_grid(first.get_absolute_href() or first.href)
    scaling = asset_scaling(first.to_dict()) or tags
    unit = scaling.unit or tags.unit
    if unit is None or unit.strip().lower() not in _PER_DAY:
        raise LoadError(
            f"the rainfall asset {asset!r} of item {items[0].id} states the unit {unit!r}; "
            f"expected one of {', '.join(_PER_DAY)}"
        )
    geobox = _geobox(transform, aoi.bounds)
    ds = load_bands(
        _prepared(items, asset, scaling),
        assets={"rainfall": asset},
        geobox=geobox,
        scale_fn=lambda *_: (scaling.scale, scaling.offset),
        resampling="nearest",
        groupby="time",
    )
    try:
        rate = ds["rainfall"].load()
    except Exception as e:  # GDAL/rasterio errors surface at compute
        raise LoadError(f"could not read the rainfall asset {asset!r}: {e}") from e
    rate = rate.rename({k: v for k, v in _DIMS.items() if k in rate.dims})
    out = (rate * np.float32(_PER_DAY[unit.strip().lower()])).astype(np.float32)
    out.name = "rainfall"
    out.attrs = {
        "units": "mm/day",
        "long_name": "daily precipitation (JAXA GSMaP)",
        "day": f"{DAY_NOTE}; the dataset's own day",
        "source_unit": unit,
        "scaling": f"stored × {scaling.scale:g} + {scaling.offset:g} ({scaling.evidence})",
        "item_ids": [it.id for it in items],
    }
    return out
