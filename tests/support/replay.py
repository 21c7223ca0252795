"""Real recorded STAC items replayed over Yamaguchi: static catalogs a :class:`RangeServer`
serves as a STAC API, whose assets are loopback COGs laid out like the real ones.

:func:`build_earth_search` replays the Earth Search v1 cassettes (``sentinel-2-c1-l2a``, the
older ``sentinel-2-l2a``, ``cop-dem-glo-30``); :func:`build_planetary_computer` the Planetary
Computer item arrays (``sentinel-2-l2a``, ``sentinel-1-rtc``, ``cop-dem-glo-30``), which the
API then answers in its FeatureCollection form, paged by ``next`` links. Each provider gets
its own folder (served by its own server): both name a collection ``sentinel-2-l2a`` and
``cop-dem-glo-30``.

Every item is a recorded one. Two templates per collection give the west (UTM 52N, tile 52SGD,
EPSG:32652) and east (UTM 53N, tile 53SKU, EPSG:32653) scenes, each replayed twice: as
recorded (the ``after`` scene) and 20 days earlier (12 for Sentinel-1, its repeat cycle: the
``before`` scene). DEM tiles become N34E131 and N34E132. What the planted pixels are:
:mod:`tests.support.replay_world`.

Fields edited (:data:`EDITED_FIELDS`, glob patterns on dotted paths; everything else is kept
as recorded, and :attr:`Replay.edits` lists, per item, the fields that were actually edited):

* ``id``; ``bbox``, ``geometry`` (the footprint of the replayed raster);
* ``properties.datetime``, ``start_datetime``, ``end_datetime`` (``before`` copies only);
* ``properties.proj:epsg``, ``proj:bbox``, ``proj:shape``, ``proj:transform``, ``proj:centroid``;
* tile ids and names: ``mgrs:utm_zone``, ``mgrs:latitude_band``, ``mgrs:grid_square``,
  ``grid:code``, ``s2:mgrs_tile``, and the old tile code / acquisition date (YYYYMMDD) replaced
  inside ``s2:tile_id``, ``s2:granule_id``, ``s2:product_uri``, ``s2:datatake_id``,
  ``s2:datastrip_id``, ``earthsearch:s3_path``;
* ``properties.earthsearch:boa_offset_applied``: only in scenes planted with a wrong flag;
* of the assets read (:data:`READ_ASSETS`): ``href`` (a relative path to the COG, which the
  server makes a loopback URL; Earth Search's DEM keeps its ``s3://copernicus-dem-30m/`` form,
  the bucket's https template pointing at the server), ``proj:shape``, ``proj:transform``,
  ``proj:bbox``, and the DEM tile name in ``title``. Other assets keep their real remote hrefs:
  nothing reads them; their ``proj:shape``, ``proj:transform``, ``proj:bbox`` are moved onto
  the replayed grid at their own resolution too, as a real item's assets share its tile's grid
  (left on the template's tile, odc-stac may take that far-off grid as the item's footprint and
  skip the item: blank reads). ``file:size``/``file:checksum`` stay as recorded (no reader
  checks them).

Structural links (self, parent, root, collection) are the server's own, as any API's are.
The collections are minimal documents made here, except Planetary Computer's
``sentinel-2-l2a``, which is the recorded collection (its ``item_assets`` give the nodata that
PC's items do not carry).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import replay_world as world
from .replay_items import (
    cassette_features,
    declared,
    dem_grid,
    diff_paths,
    place,
    place_asset,
    place_proj,
    retag,
    shift_time,
    utm_grid,
)

__all__ = [
    "EDITED_FIELDS",
    "LAYOUTS",
    "READ_ASSETS",
    "Replay",
    "build_earth_search",
    "build_planetary_computer",
    "undeclared_edits",
]

ES_S2 = "earth-search-v1__search__sentinel-1-grd_sentinel-2-c1-l2a_sentinel-2-l2a_sentinel-2-l1c__vcr-cassette.yaml"  # noqa: E501
ES_DEM = "earth-search-v1__search__cop-dem-glo-30__vcr-cassette.yaml"
PC_S2 = "planetary-computer__sentinel-2-l2a__4-items.json"
PC_S2_COLLECTION = "planetary-computer__sentinel-2-l2a__collection.json"
PC_S1 = "planetary-computer__sentinel-1-rtc__4-items.json"
PC_DEM = "planetary-computer__cop-dem-glo-30__4-items.json"
ES_COLLECTIONS = ("sentinel-2-c1-l2a", "sentinel-2-l2a", "cop-dem-glo-30")

EDITED_FIELDS: tuple[str, ...] = (
    "id",
    "bbox",
    "geometry",
    "properties.datetime",
    "properties.start_datetime",
    "properties.end_datetime",
    "properties.proj:epsg",
    "properties.proj:bbox",
    "properties.proj:shape",
    "properties.proj:transform",
    "properties.proj:centroid",
    "properties.mgrs:utm_zone",
    "properties.mgrs:latitude_band",
    "properties.mgrs:grid_square",
    "properties.grid:code",
    "properties.s2:mgrs_tile",
    "properties.s2:tile_id",
    "properties.s2:granule_id",
    "properties.s2:product_uri",
    "properties.s2:datatake_id",
    "properties.s2:datastrip_id",
    "properties.earthsearch:s3_path",
    "properties.earthsearch:boa_offset_applied",
    "assets.*.href",
    "assets.*.proj:shape",
    "assets.*.proj:transform",
    "assets.*.proj:bbox",
    "assets.data.title",
)
"""every field the replay may edit (glob patterns on dotted paths)"""

_S2_ES = ("blue", "green", "red", "nir", "nir08", "swir16", "swir22", "scl")
_S2_PC = {
    "blue": "B02", "green": "B03", "red": "B04", "nir": "B08",
    "nir08": "B8A", "swir16": "B11", "swir22": "B12", "scl": "SCL",
}  # fmt: skip
READ_ASSETS: dict[str, dict[str, str]] = {
    "es/sentinel-2-c1-l2a": {b: b for b in _S2_ES},
    "es/sentinel-2-l2a": {b: b for b in _S2_ES},
    "es/cop-dem-glo-30": {"dem": "data"},
    "pc/sentinel-2-l2a": _S2_PC,
    "pc/sentinel-1-rtc": {"vv": "vv", "vh": "vh"},
    "pc/cop-dem-glo-30": {"dem": "data"},
}
"""our band -> the provider's asset key, per replayed collection: the assets given COGs"""

_DEFLATE_1024 = "DEFLATE, 1024-px blocks as Earth Search's COGs are said to be (the brief)"
LAYOUTS: dict[str, world.FileLayout] = {
    "es/s2": world.FileLayout(
        "uint16", 0, "DEFLATE", 1024, 2,
        f"dtype, nodata: recorded raster:bands; {_DEFLATE_1024}; predictor 2 assumed",
    ),
    "es/scl": world.FileLayout(
        "uint8", 0, "DEFLATE", 1024, 1, f"recorded raster:bands; {_DEFLATE_1024}"
    ),
    "pc/s2": world.FileLayout(
        "uint16", 0, "DEFLATE", 512, 2,
        "converted from ESA's JP2 by Microsoft: dtype and nodata from the recorded collection's "
        "item_assets (items carry no raster:bands); DEFLATE, 512-px blocks, predictor 2 assumed",
    ),
    "pc/scl": world.FileLayout("uint8", 0, "DEFLATE", 512, 1, "as pc/s2"),
    "pc/s1": world.FileLayout(
        "float32", -32768, "DEFLATE", 512, 1,
        "dtype, nodata: recorded raster:bands (linear gamma0); DEFLATE, 512-px blocks assumed",
    ),
    "dem": world.FileLayout(
        "float32", None, "DEFLATE", 1024, 1,
        "float32 and no nodata: Earth Search's recorded raster:bands (PC records none); "
        "DEFLATE, 1024-px blocks assumed",
    ),
}  # fmt: skip
"""how each kind of replayed COG is stored, and where each choice comes from"""


@dataclass(frozen=True)
class Scene:
    """One replayed S2/S1 scene: which zone, which period."""

    zone: str  # "w" (UTM 52N) or "e" (UTM 53N)
    period: str  # "before" or "after"


@dataclass(frozen=True)
class Zone:
    """A UTM zone of the replay: its CRS, the tile replayed in it, the longitudes it covers."""

    epsg: int
    tile: str
    lon: tuple[float, float]


ZONES = {
    "w": Zone(32652, "52SGD", (131.975, 132.006)),
    "e": Zone(32653, "53SKU", (131.994, 132.025)),
}
_DEM_TILES = {"E131": (131.975, 132.0), "E132": (132.0, 132.025)}
SHIFT_DAYS = {"s2": 20, "s1": 12}


@dataclass
class Replay:
    """A replayed provider: its folder (served at its ``catalog.json``) and what is in it."""

    root: Path
    provider: str
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """collection id -> the replayed items as written"""
    edits: dict[str, list[str]] = field(default_factory=dict)
    """item id -> the dotted paths edited relative to its recorded template"""
    truth: dict[str, dict[str, Any]] = field(default_factory=dict)
    """item id -> how its pixels were encoded (zone, period, ``offset_in_data``, ``flag``)"""
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    """recorded collection documents served as they are"""

    def write_catalog(self) -> Path:
        """Write ``catalog.json`` and one collection per replayed collection."""
        links = []
        for cid, items in self.items.items():
            folder = self.root / cid
            for it in items:
                (folder / f"{it['id']}.json").write_text(json.dumps(it, indent=1))
            coll = self._collection(cid)
            coll["links"] = [{"rel": "item", "href": f"./{it['id']}.json"} for it in items]
            (folder / "collection.json").write_text(json.dumps(coll, indent=1))
            links.append({"rel": "child", "href": f"./{cid}/collection.json"})
        cat = {
            "type": "Catalog", "stac_version": "1.0.0", "id": f"replay-{self.provider}",
            "description": f"Recorded {self.provider} items replayed over Yamaguchi (tests)",
            "links": links,
        }  # fmt: skip
        path = self.root / "catalog.json"
        path.write_text(json.dumps(cat, indent=1))
        return path

    def _collection(self, cid: str) -> dict[str, Any]:
        recorded = self.collections.get(cid)
        if recorded is not None:
            return copy.deepcopy(recorded)
        return {
            "type": "Collection", "stac_version": "1.0.0", "id": cid, "license": "proprietary",
            "description": f"{cid} (replayed {self.provider} layout; minimal collection)",
            "extent": {
                "spatial": {"bbox": [[*world.AOI]]},
                "temporal": {"interval": [["2015-06-27T00:00:00Z", None]]},
            },
        }  # fmt: skip


def undeclared_edits(rep: Replay) -> dict[str, list[str]]:
    """Edited paths not listed in :data:`EDITED_FIELDS`, per item (empty when the list is exact)."""
    out = {}
    for item_id, paths in rep.edits.items():
        bad = [p for p in paths if not declared(p, EDITED_FIELDS)]
        if bad:
            out[item_id] = bad
    return out


# ------------------------------------------------------------------------- pixels


def _dn(rho: np.ndarray, scale: float, offset: float, offset_in_data: bool) -> np.ndarray:
    """Stored integers of reflectance ``rho``: ``(rho - offset) / scale`` as ESA writes them
    (baseline ≥ 04.00), or ``rho / scale`` when the offset was taken out of the data already."""
    dn = rho / scale if offset_in_data else (rho - offset) / scale
    return np.clip(np.round(dn), 1, 65535).astype("uint16")


def _s2_scaling(asset: Mapping[str, Any]) -> tuple[float, float]:
    """What the data is encoded with: the asset's raster:bands, else ESA's 1e-4 and -0.1."""
    rb = (asset.get("raster:bands") or [{}])[0]
    return float(rb.get("scale", 1e-4)), float(rb.get("offset", -0.1))


@dataclass(frozen=True)
class _S2Spec:
    """How one provider's S2 collection is replayed."""

    key: str  # READ_ASSETS key
    tile_of: Callable[[dict[str, Any]], str]
    set_tile: Callable[[dict[str, Any], str, int], None]
    layout: str  # LAYOUTS prefix: es or pc


def _es_tile(item: dict[str, Any]) -> str:
    return str(item["properties"]["grid:code"]).removeprefix("MGRS-")


def _es_set_tile(item: dict[str, Any], tile: str, zone: int) -> None:
    p = item["properties"]
    p["mgrs:utm_zone"], p["mgrs:latitude_band"], p["mgrs:grid_square"] = zone, tile[2], tile[3:]
    p["grid:code"] = f"MGRS-{tile}"


def _pc_tile(item: dict[str, Any]) -> str:
    return str(item["properties"]["s2:mgrs_tile"])


def _pc_set_tile(item: dict[str, Any], tile: str, zone: int) -> None:
    item["properties"]["s2:mgrs_tile"] = tile


def _replay_s2(
    rep: Replay,
    templates: list[dict[str, Any]],
    spec: _S2Spec,
    flags: Mapping[tuple[str, str], tuple[bool, bool]] | None = None,
) -> None:
    """Two templates -> west/east × before/after scenes with planted COGs. ``flags`` maps
    (zone, period) to (``earthsearch:boa_offset_applied`` as served, offset taken out of the
    stored data) for Earth Search's older collection."""
    cid = spec.key.split("/", 1)[1]
    for zone, template in zip(("w", "e"), templates, strict=True):
        z = ZONES[zone]
        for period in ("before", "after"):
            item = copy.deepcopy(template)
            retag(item, spec.tile_of(template), z.tile)
            spec.set_tile(item, z.tile, int(z.tile[:2]))
            if period == "before":
                shift_time(item, SHIFT_DAYS["s2"])
            place(item, utm_grid(z.epsg, z.lon, 10), z.epsg)
            in_data = False
            if flags is not None:
                flag, in_data = flags[(zone, period)]
                item["properties"]["earthsearch:boa_offset_applied"] = flag
            for band, key in READ_ASSETS[spec.key].items():
                asset = item["assets"][key]
                res = float((asset.get("proj:transform") or [asset.get("gsd", 10)])[0])
                grid = utm_grid(z.epsg, z.lon, res)
                lon, lat = world.lonlat_centres(grid.crs, grid.transform, grid.shape)
                cover = world.covers(lon, lat, period)
                if band == "scl":
                    data, layout = world.scl(cover), LAYOUTS[f"{spec.layout}/scl"]
                else:
                    rho = world.reflectance(band, cover)
                    data = _dn(rho, *_s2_scaling(asset), in_data)
                    layout = LAYOUTS[f"{spec.layout}/s2"]
                name = asset["href"].rsplit("/", 1)[-1]
                name = name.replace(spec.tile_of(template), z.tile)
                world.write_cog(
                    rep.root / cid / item["id"] / name, data,
                    crs=grid.crs, transform=grid.transform, layout=layout,
                )  # fmt: skip
                place_asset(asset, grid, f"./{item['id']}/{name}")
            _place_unread(item, READ_ASSETS[spec.key].values(), z)
            rep.items.setdefault(cid, []).append(item)
            rep.edits[item["id"]] = list(diff_paths(template, item))
            rep.truth[item["id"]] = {
                "zone": zone, "period": period, "offset_in_data": in_data,
                "flag": item["properties"].get("earthsearch:boa_offset_applied"),
            }  # fmt: skip


def _place_unread(item: dict[str, Any], read: Collection[str], z: Zone) -> None:
    """Move the ``proj:*`` grid of the assets no COG is written for onto the replayed tile at
    their own resolution, as in a real item, whose assets of one resolution share one grid.

    Left on the template's tile (another MGRS tile, read in the replayed zone's CRS), e.g.
    ``visual`` gives the item a second 10 m grid far from the AOI; odc-stac takes an item's
    footprint from the first of its assets' grids (all assets, a ``set`` sorted by resolution,
    so the pick among equal resolutions follows the per-process string hash), finds no output
    tile under it and returns the item as nodata without reading it."""
    for key, asset in item["assets"].items():
        if key in read or not ({"proj:shape", "proj:transform", "proj:bbox"} & asset.keys()):
            continue
        res = (asset.get("proj:transform") or [asset.get("gsd")])[0]
        if res:
            place_proj(asset, utm_grid(z.epsg, z.lon, float(res)))


def _replay_dem(
    rep: Replay, templates: list[dict[str, Any]], key: str, href: Callable[[str, str], str]
) -> None:
    """Two recorded DEM tiles -> N34E131 and N34E132 windows with the planted slope.
    ``href(item_id, file_name)`` is the asset href written."""
    cid = key.split("/", 1)[1]
    for (east, lon), template in zip(world_dem_tiles(), templates, strict=True):
        item = copy.deepcopy(template)
        old = item["id"].removeprefix("Copernicus_DSM_COG_10_").removesuffix("_DEM")
        new = f"N34_00_{east}_00"
        retag(item, old, new)
        if "grid:code" in item["properties"]:
            item["properties"]["grid:code"] = f"CDEM-N34{east}"
        grid = dem_grid(lon)
        place(item, grid, 4326)
        asset = item["assets"]["data"]
        if asset.get("title") == old:
            asset["title"] = new
        name = f"{item['id']}.tif"
        x, y = world.lonlat_centres(grid.crs, grid.transform, grid.shape)
        world.write_cog(
            rep.root / cid / item["id"] / name, world.dem_elevation(x, y),
            crs=grid.crs, transform=grid.transform, layout=LAYOUTS["dem"],
        )  # fmt: skip
        place_asset(asset, grid, href(item["id"], name))
        rep.items.setdefault(cid, []).append(item)
        rep.edits[item["id"]] = list(diff_paths(template, item))


def world_dem_tiles() -> list[tuple[str, tuple[float, float]]]:
    """The DEM tiles replayed: (longitude name, the window's longitudes)."""
    return list(_DEM_TILES.items())


def build_earth_search(
    root: Path,
    fixtures: Path,
    *,
    l2a_flags: Mapping[tuple[str, str], tuple[bool, bool]] | None = None,
    collections: Collection[str] = ES_COLLECTIONS,
) -> Replay:
    """Earth Search v1 replayed under ``root``: ``sentinel-2-c1-l2a``, ``sentinel-2-l2a`` and
    ``cop-dem-glo-30`` (DEM hrefs ``s3://copernicus-dem-30m/<id>/<id>.tif``, files under
    ``root/cop-dem-glo-30/``: point the bucket's https template at ``<server>/cop-dem-glo-30/``).

    ``l2a_flags`` maps (zone ``w``/``e``, period ``before``/``after``) to (the
    ``earthsearch:boa_offset_applied`` served, whether the offset was taken out of the stored
    numbers); by default the flag as recorded (true) and data that agree with it.
    ``collections`` limits what is replayed (a mirror of some of them).
    """
    rep = Replay(root, "earth-search")
    features = cassette_features(fixtures / ES_S2, (1, 2))
    c1 = [f for f in features if f["collection"] == "sentinel-2-c1-l2a"][:2]
    l2a = [f for f in features if f["collection"] == "sentinel-2-l2a"][:2]
    if "sentinel-2-c1-l2a" in collections:
        _replay_s2(rep, c1, _S2Spec("es/sentinel-2-c1-l2a", _es_tile, _es_set_tile, "es"))
    if "sentinel-2-l2a" in collections:
        _replay_l2a(rep, l2a, l2a_flags)
    if "cop-dem-glo-30" in collections:
        dem = cassette_features(fixtures / ES_DEM, (1,))[:2]
        _replay_dem(rep, dem, "es/cop-dem-glo-30", lambda i, n: f"s3://copernicus-dem-30m/{i}/{n}")
    rep.write_catalog()
    return rep


def _replay_l2a(
    rep: Replay,
    l2a: list[dict[str, Any]],
    l2a_flags: Mapping[tuple[str, str], tuple[bool, bool]] | None,
) -> None:
    if l2a_flags is None:
        recorded = {
            z: bool(f["properties"]["earthsearch:boa_offset_applied"])
            for z, f in zip("we", l2a, strict=True)
        }
        l2a_flags = {(z, p): (recorded[z], recorded[z]) for z in "we" for p in ("before", "after")}
    _replay_s2(rep, l2a, _S2Spec("es/sentinel-2-l2a", _es_tile, _es_set_tile, "es"), l2a_flags)


def build_planetary_computer(root: Path, fixtures: Path) -> Replay:
    """Planetary Computer replayed under ``root``: ``sentinel-2-l2a`` (the recorded collection
    document too), ``sentinel-1-rtc`` and ``cop-dem-glo-30``. Hrefs are loopback, not Azure
    Blob: nothing is signed (the production signing leaves other hosts alone)."""
    rep = Replay(root, "planetary-computer")
    s2 = json.loads((fixtures / PC_S2).read_text(encoding="utf-8"))
    # one template per recorded UTM zone (47X and 46X), as the replay's two zones
    _replay_s2(rep, [s2[0], s2[2]], _S2Spec("pc/sentinel-2-l2a", _pc_tile, _pc_set_tile, "pc"))
    rep.collections["sentinel-2-l2a"] = json.loads(
        (fixtures / PC_S2_COLLECTION).read_text(encoding="utf-8")
    )
    _replay_s1(rep, json.loads((fixtures / PC_S1).read_text(encoding="utf-8"))[:2])
    dem = json.loads((fixtures / PC_DEM).read_text(encoding="utf-8"))[:2]
    _replay_dem(rep, dem, "pc/cop-dem-glo-30", lambda i, n: f"./{i}/{n}")
    rep.write_catalog()
    return rep


def _replay_s1(rep: Replay, templates: list[dict[str, Any]]) -> None:
    """Two recorded RTC slices -> west/east × before/after (12 days apart, same orbit)."""
    for zone, template in zip(("w", "e"), templates, strict=True):
        z = ZONES[zone]
        for period in ("before", "after"):
            item = copy.deepcopy(template)
            if period == "before":
                shift_time(item, SHIFT_DAYS["s1"])
            grid = utm_grid(z.epsg, z.lon, 10)
            place(item, grid, z.epsg)
            lon, lat = world.lonlat_centres(grid.crs, grid.transform, grid.shape)
            for n, pol in enumerate(("vv", "vh")):
                asset = item["assets"][pol]
                name = asset["href"].rsplit("/", 1)[-1]
                seed = 1000 * n + len(rep.edits)
                world.write_cog(
                    rep.root / "sentinel-1-rtc" / item["id"] / name,
                    world.sar_gamma0(lon, lat, period, pol, seed),
                    crs=grid.crs, transform=grid.transform, layout=LAYOUTS["pc/s1"],
                )  # fmt: skip
                place_asset(asset, grid, f"./{item['id']}/{name}")
            rep.items.setdefault("sentinel-1-rtc", []).append(item)
            rep.edits[item["id"]] = list(diff_paths(template, item))
            rep.truth[item["id"]] = {"zone": zone, "period": period}
