"""The sample's daily rainfall: a GSMaP series in the layout of the JAXA Earth API, with a
planted storm over the sample area before its planted landslides and flood.

Layout (as ``catalogs/sources/jaxa.py`` walks JAXA's static tree), under ``gsmap/``::

    catalog.json -> JAXA.EORC_GSMaP_standard.Gauge.00Z-23Z.v6_daily/collection.json
      -> YYYY-MM/catalog.json -> DD/catalog.json -> 1/catalog.json
      -> E090.00-E180.00/catalog.json -> N00.00-N90.00.json (item)
      -> E090.00-N00.00-E180.00-N90.00-PRECIP.tiff (COG: 900 x 900 px of 0.1°, float32,
         the day's mean rate in mm/hr as JAXA's ``je:rasters`` states, nodata -9999)

Only level 1 (GSMaP's 0.1°) is written. The COG covers the whole 90° tile, so the whole
prefecture has rain and "no event elsewhere" can be checked. The series runs
:data:`RAIN_START` … :data:`RAIN_END` (UTC days, 09:00-09:00 JST).

The rain: a light rainy-season background over western Japan (129-135°E, 32-36°N; under
4 mm a day, 9 mm once a week, so no threshold is reached and no wet spell joins the
storm), and the planted storm
(:data:`STORM_MM`, mm per day, peak 2025-07-04, 72 h = 250 mm) on the 0.1° cells that meet
the sample bbox, with a quarter of it on the ring of cells around them (72 h ≤ 80 mm: below
every default threshold). The landslides (2025-07-05) and the flood (on the S1 pass of
2025-07-06) come after the peak.
The series is synthetic, labelled so in its catalog.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from odc.geo.geobox import GeoBox

from .cog import write_cog

__all__ = [
    "GSMAP_COLLECTION",
    "RAIN_END",
    "RAIN_FOLDER",
    "RAIN_START",
    "STORM_MM",
    "daily_rain_mm",
    "storm_cells",
    "write_rainfall",
]

GSMAP_COLLECTION = "JAXA.EORC_GSMaP_standard.Gauge.00Z-23Z.v6_daily"
RAIN_FOLDER = "gsmap"
RAIN_START = dt.date(2025, 6, 20)
RAIN_END = dt.date(2025, 7, 20)
STORM_MM: dict[dt.date, float] = {
    dt.date(2025, 7, 2): 30.0,
    dt.date(2025, 7, 3): 80.0,
    dt.date(2025, 7, 4): 140.0,
    dt.date(2025, 7, 5): 60.0,
}
"""the planted storm on its core cells, mm per UTC day"""
RING_SHARE = 0.25

_WEST, _NORTH, _RES, _N = 90.0, 90.0, 0.1, 900
_TILE = "E090.00-N00.00-E180.00-N90.00"
_NODATA = -9999.0
_BAND = (129.0, 32.0, 135.0, 36.0)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    centres = (np.arange(_N) + 0.5) * _RES
    return np.meshgrid(_WEST + centres, _NORTH - centres)


def storm_cells(bbox: tuple[float, float, float, float]) -> tuple[slice, slice]:
    """(rows, cols) of the tile's 0.1° cells that meet ``bbox`` (W, S, E, N): the storm core."""
    w, s, e, n = bbox
    cols = slice(int(np.floor((w - _WEST) / _RES)), int(np.ceil((e - _WEST) / _RES)))
    rows = slice(int(np.floor((_NORTH - n) / _RES)), int(np.ceil((_NORTH - s) / _RES)))
    return rows, cols


def daily_rain_mm(day: dt.date, bbox: tuple[float, float, float, float]) -> np.ndarray:
    """The day's rain (mm) on the whole tile: background plus the storm (see the module)."""
    lon, lat = _grid()
    k = (day - RAIN_START).days
    wave = 0.5 + 0.5 * np.sin(0.9 * lon + 1.3 * lat + 0.7 * k)
    # drizzle below rainfall.wet_day_mm (5 mm) on most days, a wet day (up to 9 mm) once a
    # week: spells stay apart, so the storm's start and end are the storm's own
    rain = np.where(k % 7 == 0, 9.0, 4.0) * wave
    # the rainy-season band over western Japan only: the rest of the tile stays dry (small files)
    rain = np.where(
        (lon > _BAND[0]) & (lon < _BAND[2]) & (lat > _BAND[1]) & (lat < _BAND[3]), rain, 0.0
    )
    storm = STORM_MM.get(day, 0.0)
    if storm:
        rows, cols = storm_cells(bbox)
        ring = (slice(rows.start - 1, rows.stop + 1), slice(cols.start - 1, cols.stop + 1))
        rain[ring] += RING_SHARE * storm
        rain[rows, cols] += (1 - RING_SHARE) * storm
    return rain


def _json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _catalog(cid: str, links: list[dict[str, str]]) -> dict[str, Any]:
    return {"type": "Catalog", "stac_version": "1.0.0", "id": cid, "description": cid,
            "links": links}  # fmt: skip


def _link(rel: str, href: str) -> dict[str, str]:
    return {"rel": rel, "href": href, "type": "application/json"}


def _collection(months: list[str]) -> dict[str, Any]:
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "id": GSMAP_COLLECTION,
        "title": "Precipitation Rate (Daily), GSMaP — SYNTHETIC sample (yamasat)",
        "description": "Synthetic stand-in for JAXA GSMaP daily rain in the JAXA Earth API "
        "layout; not JAXA data.",
        "license": "proprietary",
        "extent": {
            "spatial": {"bbox": [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[f"{RAIN_START}T00:00:00Z", f"{RAIN_END}T23:59:59Z"]]},
        },
        "summaries": {
            "je:stac_date_format": ["YYYY-MM/DD"],
            "je:epsg": [4326],
            "je:ppu_max": [10],
            "je:cog_level_max": [1],
        },
        "links": [_link("child", f"./{m}/catalog.json") for m in months],
        "yamasat:synthetic": True,
    }


def _item(day: dt.date) -> dict[str, Any]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1) - dt.timedelta(seconds=1)
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": f"{day.isoformat()}_{_TILE}",
        "collection": GSMAP_COLLECTION,
        "bbox": [90.0, 0.0, 180.0, 90.0],
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[90, 0], [180, 0], [180, 90], [90, 90], [90, 0]]],
        },
        "properties": {
            "datetime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "start_datetime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end_datetime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "yamasat:synthetic": True,
        },
        "links": [],
        "assets": {
            "PRECIP": {
                "href": f"./{_TILE}-PRECIP.tiff",
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "je:rasters": {
                    "dn": {"data_type": "float32", "nodata": _NODATA},
                    "dn2value": {"slope": 1.0, "offset": 0.0},
                    "value": {"unit": "mm/hr"},
                },
            }
        },
    }


def write_rainfall(root: Path, bbox: tuple[float, float, float, float]) -> Path:
    """Write the series under ``root/gsmap``; returns its ``catalog.json``."""
    base = root / RAIN_FOLDER
    coll = base / GSMAP_COLLECTION
    days = [RAIN_START + dt.timedelta(days=i) for i in range((RAIN_END - RAIN_START).days + 1)]
    months = sorted({d.strftime("%Y-%m") for d in days})
    geobox = GeoBox((_N, _N), Affine(_RES, 0, _WEST, 0, -_RES, _NORTH), "EPSG:4326")
    for month in months:
        links = [_link("child", f"./{d:%d}/catalog.json") for d in days if f"{d:%Y-%m}" == month]
        _json(coll / month / "catalog.json", _catalog(month, links))
    for day in days:
        folder = coll / f"{day:%Y-%m}" / f"{day:%d}"
        _json(
            folder / "catalog.json", _catalog(day.isoformat(), [_link("child", "./1/catalog.json")])
        )
        strip = "E090.00-E180.00"
        _json(
            folder / "1" / "catalog.json",
            _catalog("1", [_link("child", f"./{strip}/catalog.json")]),
        )
        _json(
            folder / "1" / strip / "catalog.json",
            _catalog(strip, [_link("item", "./N00.00-N90.00.json")]),
        )
        _json(folder / "1" / strip / "N00.00-N90.00.json", _item(day))
        rate = np.round(daily_rain_mm(day, bbox) / 24.0, 3).astype("float32")
        write_cog(
            folder / "1" / strip / f"{_TILE}-PRECIP.tiff", rate, geobox=geobox, nodata=_NODATA
        )
    _json(coll / "collection.json", _collection(months))
    top = [_link("child", f"./{GSMAP_COLLECTION}/collection.json")]
    _json(base / "catalog.json", _catalog("JAXA-Earth-COG-sample", top))
    return base / "catalog.json"
