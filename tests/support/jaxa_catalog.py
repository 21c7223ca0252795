"""A loopback copy of the JAXA Earth API's static STAC tree, with small real COGs.

The layout follows the ``jaxa-earth`` package (0.1.6; ``image/collection/*/select.py``) and
the JAXA Earth database notes (COG levels per EPSG:4326), since no recorded JAXA response
exists in ``../shared/fixtures``::

    catalog.json                                   rel=child -> ./<C>/collection.json
    <C>/collection.json                            summaries je:stac_date_format, je:epsg,
                                                   je:ppu_max, je:cog_level_max;
                                                   rel=child -> ./YYYY-MM/catalog.json
    <C>/YYYY-MM/catalog.json                       daily: rel=child -> ./DD/catalog.json
                                                   (format ``YYYY-MM``: -> ./<L>/catalog.json)
    <C>/YYYY-MM/DD/catalog.json                    rel=child -> ./<L>/catalog.json (COG level)
    <C>/<date>/<L>/catalog.json                    rel=child -> ./<W>-<E>/catalog.json
    <C>/<date>/<L>/<W>-<E>/catalog.json            rel=item  -> ./<S>-<N>.json
    <C>/<date>/<L>/<W>-<E>/<S>-<N>.json            the item; asset <BAND> ->
                                                   ./<W>-<S>-<E>-<N>-<BAND>.tiff

Longitudes are written ``E130.00``/``W090.00`` (7 characters), latitudes ``N33.00``/``S60.00``
(6). COG level 0 tiles are 180° wide, level 1 90°, level 2 10°, level 3 1°; a collection
stops at the level its ``je:ppu_max`` reaches (GSMaP: 10 pixels per degree, level 1;
AW3D30: 3600, level 3). Physical value = DN × ``je:rasters.dn2value.slope`` + ``offset``,
DN ``je:rasters.dn.nodata`` is no data, unit ``je:rasters.value.unit``.

Only the COGs the tests read are written (GSMaP's 90° tile over Japan, the AW3D30 tiles
asked for); every other branch exists as JSON, so a walker that strays is seen in the
server's request log rather than failing on a missing file.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.transform import from_origin

__all__ = [
    "DEM",
    "GSMAP",
    "JaxaTree",
    "build_jaxa_tree",
    "lat_name",
    "lon_name",
    "planted_heights",
    "planted_rain",
]

GSMAP = "JAXA.EORC_GSMaP_standard.Gauge.00Z-23Z.v6_daily"
DEM = "JAXA.EORC_ALOS.PRISM_AW3D30.v3.2_global"
NDVI = "JAXA.JASMES_GCOM-C.SGLI_standard.L2-NDVI.daytime.v3_japan_8-day"
_TILE_DEG = {0: 180, 1: 90, 2: 10, 3: 1}


def lon_name(lon: float) -> str:
    return f"{'E' if lon >= 0 else 'W'}{abs(lon):06.2f}"


def lat_name(lat: float) -> str:
    return f"{'N' if lat >= 0 else 'S'}{abs(lat):05.2f}"


def planted_rain(day_index: int, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Rain rate (mm/hr) planted for the ``day_index``-th day of the tree: differs per day
    and per pixel, so a shifted day or pixel shows."""
    return (0.5 * day_index + 0.3 * (lon - 130.0) + 0.2 * (lat - 33.0)).clip(0.0, None)


def planted_heights(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """DSM heights (m) planted in the AW3D30 tiles."""
    return np.round(100.0 * (lon - 131.0) + 400.0 * (lat - 34.0) + 20.0)


@dataclass
class JaxaTree:
    """What :func:`build_jaxa_tree` wrote."""

    root: Path
    days: list[dt.date]
    rain_grid: tuple[float, float, float]
    """(west, north, resolution) of GSMaP's level-1 tile over Japan"""
    rain_mm_per_hr: dict[dt.date, np.ndarray] = field(default_factory=dict)
    """the physical values stored per day (after the DN quantisation), NaN where no data"""
    rain_nodata_pixel: tuple[int, int] = (0, 0)
    """(row, col) of a pixel over the prefecture stored as nodata on every day"""

    def catalog_path(self, relative: str = "catalog.json") -> Path:
        return self.root / relative


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def _catalog(cid: str, links: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "type": "Catalog",
        "stac_version": "1.0.0",
        "id": cid,
        "description": cid,
        "links": links,
    }


def _child(href: str) -> dict[str, str]:
    return {"rel": "child", "href": href, "type": "application/json"}


def _write_cog(
    path: Path, data: np.ndarray, west: float, north: float, res: float, nodata: Any
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "COG",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": "EPSG:4326",
        "transform": from_origin(west, north, res, res),
        "nodata": nodata,
        "compress": "DEFLATE",
        "blocksize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


@dataclass(frozen=True)
class _Band:
    key: str
    dtype: str
    nodata: Any
    slope: float
    offset: float
    unit: str


def _item(
    coll: str, date_id: str, when: dt.datetime, tile: tuple[float, float, float, float], band: _Band
) -> dict[str, Any]:
    w, s, e, n = tile
    name = f"{lon_name(w)}-{lat_name(s)}-{lon_name(e)}-{lat_name(n)}"
    day_end = when + dt.timedelta(days=1) - dt.timedelta(seconds=1)
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": name,
        "collection": coll,
        "bbox": [w, s, e, n],
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]],
        },
        "properties": {
            "datetime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "start_datetime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end_datetime": day_end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "links": [],
        "assets": {
            band.key: {
                "href": f"./{name}-{band.key}.tiff",
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "je:rasters": {
                    "dn": {"data_type": band.dtype, "nodata": band.nodata},
                    "dn2value": {"slope": band.slope, "offset": band.offset},
                    "value": {"unit": band.unit},
                },
            }
        },
    }


def _tiles(level: int) -> list[tuple[float, float, float, float]]:
    step = _TILE_DEG[level]
    return [
        (w, s, w + step, s + step)
        for w in range(-180, 180, step)
        for s in range(-90, 90, step)
        if level < 2 or (120 <= w < 140 and 20 <= s < 40)  # finer levels: around Japan only
    ]


def _write_level(
    base: Path, coll: str, date_id: str, when: dt.datetime, level: int, band: _Band
) -> None:
    strips: dict[float, list[tuple[float, float, float, float]]] = {}
    for tile in _tiles(level):
        strips.setdefault(tile[0], []).append(tile)
    links = []
    for w, tiles in sorted(strips.items()):
        strip = f"{lon_name(w)}-{lon_name(tiles[0][2])}"
        links.append(_child(f"./{strip}/catalog.json"))
        items = []
        for tile in tiles:
            name = f"{lat_name(tile[1])}-{lat_name(tile[3])}.json"
            _write_json(base / strip / name, _item(coll, date_id, when, tile, band))
            items.append({"rel": "item", "href": f"./{name}", "type": "application/json"})
        _write_json(base / strip / "catalog.json", _catalog(strip, items))
    _write_json(base / "catalog.json", _catalog(str(level), links))


def _collection(
    coll: str, date_format: str, ppu_max: int, level_max: int, months: Sequence[str]
) -> dict[str, Any]:
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "id": coll,
        "description": coll,
        "license": "proprietary",
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[None, None]]},
        },
        "summaries": {
            "je:stac_date_format": [date_format],
            "je:epsg": [4326],
            "je:ppu_max": [ppu_max],
            "je:cog_level_max": [level_max],
        },
        "links": [_child(f"./{m}/catalog.json") for m in months],
    }


def _rain_band(dtype: str, slope: float, nodata: float) -> _Band:
    return _Band("PRECIP", dtype, nodata, slope, 0.0, "mm/hr")


def _write_gsmap(
    root: Path, days: Sequence[dt.date], band: _Band, tree: JaxaTree, rain: Callable[..., Any]
) -> None:
    base = root / GSMAP
    months = sorted({d.strftime("%Y-%m") for d in days})
    _write_json(base / "collection.json", _collection(GSMAP, "YYYY-MM/DD", 10, 1, months))
    west, north, res = tree.rain_grid
    n = 900
    centres = (np.arange(n) + 0.5) * res
    lon, lat = np.meshgrid(west + centres, north - centres)
    for month in months:
        in_month = [d for d in days if d.strftime("%Y-%m") == month]
        day_links = [_child(f"./{d:%d}/catalog.json") for d in in_month]
        _write_json(base / month / "catalog.json", _catalog(month, day_links))
    for i, day in enumerate(days):
        when = dt.datetime(day.year, day.month, day.day)
        date_dir = base / f"{day:%Y-%m}" / f"{day:%d}"
        levels = [_child("./0/catalog.json"), _child("./1/catalog.json")]
        _write_json(date_dir / "catalog.json", _catalog(day.isoformat(), levels))
        for level in (0, 1):
            _write_level(date_dir / str(level), GSMAP, day.isoformat(), when, level, band)
        dn = (rain(i, lon, lat) - band.offset) / band.slope
        if np.dtype(band.dtype).kind in "iu":
            dn = np.round(dn)
        dn = dn.astype(band.dtype)
        row, col = tree.rain_nodata_pixel
        dn[row, col] = band.nodata
        physical = dn.astype("float64") * band.slope + band.offset
        physical[dn == band.nodata] = np.nan
        tree.rain_mm_per_hr[day] = physical
        tile = "E090.00-N00.00-E180.00-N90.00"
        cog = date_dir / "1" / "E090.00-E180.00" / f"{tile}-PRECIP.tiff"
        _write_cog(cog, dn, west, north, res, band.nodata)


def _write_dem(root: Path, tiles: Sequence[tuple[int, int]], px: int) -> None:
    base = root / DEM
    band = _Band("DSM", "int16", -9999, 1.0, 0.0, "m")
    _write_json(base / "collection.json", _collection(DEM, "YYYY-MM", 3600, 3, ["2021-02"]))
    levels = [_child(f"./{lv}/catalog.json") for lv in (0, 1, 2, 3)]
    _write_json(base / "2021-02" / "catalog.json", _catalog("2021-02", levels))
    when = dt.datetime(2021, 2, 1)
    for level in (0, 1, 2, 3):
        _write_level(base / "2021-02" / str(level), DEM, "2021-02", when, level, band)
    res = 1.0 / px
    centres = (np.arange(px) + 0.5) * res
    for west, south in tiles:
        lon, lat = np.meshgrid(west + centres, south + 1 - centres)
        data = planted_heights(lon, lat).astype("int16")
        data[:8, :8] = -9999  # a void in the north-west corner
        strip = f"{lon_name(west)}-{lon_name(west + 1)}"
        name = f"{lon_name(west)}-{lat_name(south)}-{lon_name(west + 1)}-{lat_name(south + 1)}"
        cog = base / "2021-02" / "3" / strip / f"{name}-DSM.tiff"
        _write_cog(cog, data, west, south + 1, res, -9999)


def build_jaxa_tree(
    root: Path,
    *,
    days: Sequence[dt.date],
    rain_dtype: str = "float32",
    rain_slope: float = 1.0,
    rain_nodata: float = -9999.0,
    dem_tiles: Sequence[tuple[int, int]] = ((131, 34),),
    dem_px: int = 3600,
) -> JaxaTree:
    """Write a JAXA-layout static STAC tree under ``root`` (see the module docstring).

    GSMaP daily items exist for ``days`` (months listed in the collection are those of the
    days), with rain from :func:`planted_rain` stored as ``rain_dtype`` DNs of ``rain_slope``;
    AW3D30 has the single date ``2021-02`` and COGs of ``dem_px`` pixels per degree for the
    1° tiles ``dem_tiles`` (west, south).
    """
    root.mkdir(parents=True, exist_ok=True)
    tree = JaxaTree(root=root, days=sorted(days), rain_grid=(90.0, 90.0, 0.1))
    # pixel (row, col) over Ube: lon 131.25, lat 33.95 on the 0.1° grid from (90 E, 90 N)
    tree.rain_nodata_pixel = (int((90.0 - 33.95) / 0.1), int((131.25 - 90.0) / 0.1))
    colls = [DEM, GSMAP, NDVI]
    _write_json(
        root / "catalog.json",
        _catalog("JAXA-Earth-COG", [_child(f"./{c}/collection.json") for c in colls]),
    )
    _write_gsmap(
        root, tree.days, _rain_band(rain_dtype, rain_slope, rain_nodata), tree, planted_rain
    )
    _write_dem(root, dem_tiles, dem_px)
    _write_json(root / NDVI / "collection.json", _collection(NDVI, "YYYY-MM/DD", 120, 2, []))
    return tree
