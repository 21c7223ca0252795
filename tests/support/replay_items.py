"""Helpers of :mod:`tests.support.replay`: recorded items read, diffed, re-tagged, moved."""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pyproj import Transformer
from rasterio.transform import Affine

LAT = (33.996, 34.034)
"""latitudes every replayed raster covers"""

# ------------------------------------------------------------------------- recorded items


def cassette_features(path: Path, pages: tuple[int, ...]) -> list[dict[str, Any]]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: list[dict[str, Any]] = []
    for k in pages:
        out += json.loads(doc["interactions"][k]["response"]["body"]["string"])["features"]
    return out


def diff_paths(a: Any, b: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths where ``b`` differs from ``a`` (dicts recursed, other values compared)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in a or key not in b:
                yield path
            else:
                yield from diff_paths(a[key], b[key], path)
    elif a != b:
        yield prefix


def declared(path: str, patterns: Iterable[str]) -> bool:
    """Whether ``path`` (or a field it lies in) matches one of ``patterns`` (globs on dotted
    paths): ``geometry`` covers ``geometry.coordinates``."""
    parts = path.split(".")
    heads = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
    return any(fnmatch.fnmatchcase(h, pattern) for h in heads for pattern in patterns)


_TOKEN_KEYS = (
    "s2:tile_id", "s2:granule_id", "s2:product_uri", "s2:datatake_id", "s2:datastrip_id",
    "earthsearch:s3_path",
)  # fmt: skip


def retag(item: dict[str, Any], old: str, new: str) -> None:
    """Replace the token ``old`` by ``new`` in the id and the tile/date-bearing properties."""
    item["id"] = item["id"].replace(old, new)
    props = item["properties"]
    for key in _TOKEN_KEYS:
        if isinstance(props.get(key), str):
            props[key] = props[key].replace(old, new)


def shift_time(item: dict[str, Any], days: int) -> None:
    """Move the acquisition ``days`` earlier (datetime, start/end, and YYYYMMDD tokens)."""
    props = item["properties"]
    when = dt.datetime.fromisoformat(props["datetime"].replace("Z", "+00:00"))
    new = when - dt.timedelta(days=days)
    retag(item, f"{when:%Y%m%d}", f"{new:%Y%m%d}")
    for key in ("datetime", "start_datetime", "end_datetime"):
        if isinstance(props.get(key), str):
            props[key] = props[key].replace(f"{when:%Y-%m-%d}", f"{new:%Y-%m-%d}")


# ------------------------------------------------------------------------- grids


@dataclass(frozen=True)
class Grid:
    crs: str
    transform: Affine
    shape: tuple[int, int]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        t, (h, w) = self.transform, self.shape
        return (t.c, t.f + h * t.e, t.c + w * t.a, t.f)


def utm_grid(epsg: int, lon: tuple[float, float], res: float) -> Grid:
    """The grid at ``res`` metres covering ``lon`` × the replay's latitudes, on Sentinel-2's
    lattice (x ≡ 0, y ≡ 40 modulo 60 m, as the real tiles' corners are)."""
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    xs, ys = to_utm.transform([lon[0], lon[0], lon[1], lon[1]], [*LAT, *LAT])
    x0 = np.floor(min(xs) / 60) * 60
    y1 = np.ceil((max(ys) - 40) / 60) * 60 + 40
    w = int(np.ceil((max(xs) - x0) / 60) * 60 / res)
    h = int(np.ceil((y1 - min(ys)) / 60) * 60 / res)
    return Grid(f"EPSG:{epsg}", Affine(res, 0, x0, 0, -res, y1), (h, w))


def dem_grid(lon: tuple[float, float]) -> Grid:
    """A window of a GLO-30 tile at 1″ (pixel-is-point corners, as the real tiles have)."""
    res = 1 / 3600
    x0 = round(lon[0] / res) * res - res / 2
    y1 = round(LAT[1] / res) * res + res / 2
    w = round((lon[1] - lon[0]) / res)
    h = round((LAT[1] - LAT[0]) / res)
    return Grid("EPSG:4326", Affine(res, 0, x0, 0, -res, y1), (h, w))


def footprint(grid: Grid) -> tuple[dict[str, Any], list[float]]:
    """GeoJSON polygon (lon/lat, densified edges) and bbox of a grid."""
    w, s, e, n = grid.bounds
    ring_x = [*np.linspace(w, e, 5), *[e] * 5, *np.linspace(e, w, 5), *[w] * 5]
    ring_y = [*[n] * 5, *np.linspace(n, s, 5), *[s] * 5, *np.linspace(s, n, 5)]
    if grid.crs != "EPSG:4326":
        to_ll = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
        ring_x, ring_y = (list(v) for v in to_ll.transform(ring_x, ring_y))
    ring = [[round(float(x), 7), round(float(y), 7)] for x, y in zip(ring_x, ring_y, strict=True)]
    ring.append(ring[0])
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    geom = {"type": "Polygon", "coordinates": [ring]}
    return geom, [min(xs), min(ys), max(xs), max(ys)]


def place(item: dict[str, Any], grid: Grid, epsg: int | None) -> None:
    """Move an item's footprint and item-level ``proj:*`` onto ``grid``."""
    geom, bbox = footprint(grid)
    item["geometry"], item["bbox"] = geom, bbox
    props = item["properties"]
    t = grid.transform
    if epsg is not None and "proj:epsg" in props:
        props["proj:epsg"] = epsg
    if "proj:transform" in props:
        tail = [0.0, 0.0, 1.0] if len(props["proj:transform"]) == 9 else []
        props["proj:transform"] = [t.a, t.b, t.c, t.d, t.e, t.f, *tail]
    if "proj:shape" in props:
        props["proj:shape"] = list(grid.shape)
    if "proj:bbox" in props:
        props["proj:bbox"] = list(grid.bounds)
    if "proj:centroid" in props:
        props["proj:centroid"] = {
            "lat": round((bbox[1] + bbox[3]) / 2, 5),
            "lon": round((bbox[0] + bbox[2]) / 2, 5),
        }


def place_asset(asset: dict[str, Any], grid: Grid, href: str) -> None:
    asset["href"] = href
    place_proj(asset, grid)


def place_proj(asset: dict[str, Any], grid: Grid) -> None:
    """Move an asset's ``proj:shape``/``proj:transform``/``proj:bbox`` (those it has) onto
    ``grid``, leaving its href alone."""
    t = grid.transform
    if "proj:shape" in asset:
        asset["proj:shape"] = list(grid.shape)
    if "proj:transform" in asset:
        asset["proj:transform"] = [t.a, t.b, t.c, t.d, t.e, t.f]
    if "proj:bbox" in asset:
        asset["proj:bbox"] = list(grid.bounds)
