"""The JAXA Earth API: a walker over its static STAC tree that reads only what a search needs.

JAXA publishes its COGs under a static STAC catalog (``https://data.earth.jaxa.jp/stac/cog/v1/
catalog.json``): no search endpoint, no authentication. The tree is, as the ``jaxa-earth``
package (0.1.6) walks it and JAXA's database notes describe it::

    catalog.json -> <collection>/collection.json          (child links)
      -> YYYY-MM/catalog.json [-> DD/catalog.json]         (dates; je:stac_date_format)
      -> <L>/catalog.json                                  (COG level 0-3)
      -> <W>-<E>/catalog.json                              (longitude strip, E130.00-E131.00)
      -> <S>-<N>.json                                      (item, N33.00-N34.00; item links)

A COG of level 0 spans 180°, level 1 90°, level 2 10°, level 3 1°, each with up to three
internal resolutions (5, 40, 360 and 3600 pixels per degree at most); a collection stops at
the level its ``je:ppu_max`` reaches (GSMaP 0.1°: level 1; AW3D30 1": level 3). Dates, levels,
strips and items are told apart by the names in the link hrefs, so a branch is chosen before
it is fetched: dates outside the period, levels other than the chosen one and strips and
items outside the AOI's bounds are never requested. A one-week GSMaP query over the
prefecture reads 31 JSON files (root, collection, month, and per day: day, level, strip,
item); the AW3D30 tiles of the prefecture 13.

Why not the ``jaxa-earth`` package itself (0.1.6, read in full before deciding): it can be
pointed at a loopback catalog (``ImageCollection(stac_cog_url=...)``), but it builds its own
``requests.Session`` with no timeout and no retries (a stalled server hangs it; a refused
connection is a bare ``Exception``), prints progress to stdout, walks one date after the
other, and returns numpy mosaics, not STAC items, so odc-stac, the href policy and our error
hierarchy could not be used on its results. Its walk reads the same branches as this one.
Its layout knowledge is what is taken from it (the names parsed above, the ``je:rasters``
scaling, the level table).

The search side is :func:`search_jaxa`; ``search.search_items`` dispatches sources of kind
``jaxa`` to it, passing its retrying session and ``unreachable`` (this module does not import
``search``, which would close an import cycle).

Items are returned as pystac Items that the rest of yamasat reads like any other:

* asset hrefs absolute; ``raster:bands`` (nodata, scale, offset, unit, data type) added from
  JAXA's ``je:rasters`` (``dn.nodata``, ``dn2value.slope``/``offset``, ``value.unit``) when
  the asset has none, so :func:`yamasat.catalogs.sources.profiles.scale_offset` and odc-stac
  apply the dataset's own scaling and nodata;
* the item id prefixed with its date when it does not carry it (the live ids are believed to
  be tile names, equal on every date, which would collapse in ``dedupe_items``);
* ``datetime`` set from the date in the path when the item has none.

With no period (a DEM), only the latest date of the collection is read (AW3D30 has one).

Not verified against the live service (nothing here may reach it): the exact link hrefs
(relative ``./`` as written by JAXA's generator is assumed, absolute ones work too), item
ids, whether assets carry ``raster:bands`` of their own, and GSMaP's stored data type.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urljoin

import pystac
import shapely
from shapely.geometry.base import BaseGeometry

from ...errors import NoDataError, SourceError, SourceUnreachableError
from ..extent.periods import Period
from .hrefs import HrefPolicy, check_href

__all__ = ["JAXA_EARTH_STAC", "LEVEL_MAX_PPU", "Policy", "choose_level", "search_jaxa"]

log = logging.getLogger(__name__)

JAXA_EARTH_STAC = "https://data.earth.jaxa.jp/stac/cog/v1/catalog.json"
"""the live catalog's root"""

LEVEL_MAX_PPU = {0: 5.0, 1: 40.0, 2: 360.0, 3: 3600.0, 4: 36000.0}
"""finest pixels per degree a COG of each level holds (EPSG:4326)"""

_LON = r"([EW])(\d{3}\.\d{2})"
_LAT = r"([NS])(\d{2}\.\d{2})"
_STRIP = re.compile(rf"/{_LON}-{_LON}/catalog\.json$")
_ITEM = re.compile(rf"{_LAT}-{_LAT}\.json$")
_LEVEL = re.compile(r"/(\d)/catalog\.json$")
_YEAR = re.compile(r"/(\d{4})/catalog\.json$")
_MONTH = re.compile(r"/(\d{4})-(\d{2})/catalog\.json$")
_DAY = re.compile(r"/(\d{4})-(\d{2})/(\d{2})/catalog\.json$")
_RASTER_EXT = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"


@dataclass(frozen=True)
class _DateNode:
    """One date branch of a collection: its catalog and the days it covers."""

    key: str
    """as in the path: ``2023-07-01``, ``2021-02``, ``2021``"""
    start: dt.date
    end: dt.date
    url: str


class Policy(Protocol):
    """What the walker needs of :class:`yamasat.catalogs.sources.search.NetworkPolicy`."""

    @property
    def timeout_s(self) -> float: ...

    @property
    def max_retries(self) -> int: ...


@dataclass
class _Reader:
    """GET of the tree's JSON files: timeouts from the policy, retries in the session,
    errors naming the URL, a count of the requests."""

    policy: Policy
    href_policy: HrefPolicy | None
    session: Any
    unreachable: Callable[[BaseException], bool]
    count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def json(self, url: str) -> dict[str, Any]:
        if self.href_policy is not None:
            check_href(url, self.href_policy)
        with self._lock:
            self.count += 1
        t = self.policy.timeout_s
        try:
            resp = self.session.get(url, timeout=(t, t))
        except Exception as e:  # requests/urllib3 errors after the retries
            if self.unreachable(e):
                raise SourceUnreachableError(
                    f"JAXA Earth API: no connection to {url}; check the network, or use "
                    f"--source sample for the offline sample archive ({e})"
                ) from e
            raise SourceError(
                f"JAXA Earth API: GET {url} failed (after {self.policy.max_retries} retries, "
                f"timeout {t:g} s): {e}"
            ) from e
        if resp.status_code != 200:
            raise SourceError(f"JAXA Earth API: GET {url} answered HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError as e:
            raise SourceError(f"JAXA Earth API: {url} is not JSON ({e})") from e
        if not isinstance(data, dict):
            raise SourceError(f"JAXA Earth API: {url} is not a STAC object")
        return data


def _links(doc: Mapping[str, Any], url: str, rel: str) -> list[str]:
    """Absolute hrefs of ``doc``'s links of relation ``rel`` (relative ones against ``url``)."""
    out = []
    for link in doc.get("links") or []:
        if isinstance(link, Mapping) and link.get("rel") == rel and link.get("href"):
            out.append(urljoin(url, str(link["href"])))
    return out


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _overlaps(node: _DateNode, period: Period) -> bool:
    return node.start <= period.end and node.end >= period.start


def _month_node(href: str, m: re.Match[str]) -> _DateNode:
    year, month = int(m.group(1)), int(m.group(2))
    last = calendar.monthrange(year, month)[1]
    return _DateNode(
        f"{year:04d}-{month:02d}", dt.date(year, month, 1), dt.date(year, month, last), href
    )


def _date_nodes(
    reader: _Reader, coll: Mapping[str, Any], coll_url: str, period: Period | None
) -> list[_DateNode]:
    """The date branches to read, in date order, fetching month catalogs only for months in
    ``period``; with no period, only the latest date."""
    fmt = _first((coll.get("summaries") or {}).get("je:stac_date_format"))
    children = _links(coll, coll_url, "child")
    nodes: list[_DateNode] = []
    if fmt in ("YYYY-MM", "YYYY-MM/DD"):
        nodes = [_month_node(h, m) for h in children if (m := _MONTH.search(h))]
    elif fmt == "YYYY":
        for h in children:
            if m := _YEAR.search(h):
                y = int(m.group(1))
                nodes.append(_DateNode(m.group(1), dt.date(y, 1, 1), dt.date(y, 12, 31), h))
    else:
        raise SourceError(
            f"JAXA Earth API: collection {coll.get('id')!r} uses the date layout {fmt!r}; "
            "only YYYY-MM/DD, YYYY-MM and YYYY are supported (normals are not)"
        )
    nodes.sort(key=lambda n: n.start)
    if period is not None:
        nodes = [n for n in nodes if _overlaps(n, period)]
    elif nodes:
        nodes = nodes[-1:]
    if fmt != "YYYY-MM/DD":
        return nodes
    days: list[_DateNode] = []
    for month in nodes:
        for h in _links(reader.json(month.url), month.url, "child"):
            if m := _DAY.search(h):
                day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                days.append(_DateNode(day.isoformat(), day, day, h))
    days.sort(key=lambda n: n.start)
    if period is not None:
        return [d for d in days if _overlaps(d, period)]
    return days[-1:]


def choose_level(
    available: Sequence[int], *, ppu_max: float | None, resolution_deg: float | None
) -> int:
    """The COG level to read: the coarsest of ``available`` that still holds
    ``1 / resolution_deg`` pixels per degree (capped by the collection's ``je:ppu_max``),
    else the finest available; with no resolution, the finest."""
    levels = sorted(set(available))
    if not levels:
        raise SourceError("JAXA Earth API: a date catalog lists no COG level")
    if resolution_deg is None:
        return levels[-1]
    wanted = 1.0 / resolution_deg
    for level in levels:
        best = LEVEL_MAX_PPU.get(level, float("inf"))
        if ppu_max is not None:
            best = min(best, ppu_max)
        if best >= wanted * (1 - 1e-6):
            return level
    return levels[-1]


def _degrees(hemi: str, value: str) -> float:
    return -float(value) if hemi in ("W", "S") else float(value)


def _span(m: re.Match[str]) -> tuple[float, float]:
    return _degrees(m.group(1), m.group(2)), _degrees(m.group(3), m.group(4))


def _overlap(lo: float, hi: float, a: float, b: float) -> bool:
    """Open intervals: a tile that only touches the AOI's edge is not read."""
    return lo < b and hi > a


def _tiles(reader: _Reader, level_url: str, aoi: BaseGeometry) -> list[str]:
    """Item URLs of the level's tiles whose strip and latitude range meet ``aoi``'s bounds."""
    minx, miny, maxx, maxy = aoi.bounds
    level = reader.json(level_url)
    urls = []
    for strip in _links(level, level_url, "child"):
        m = _STRIP.search(strip)
        if m is None:
            raise SourceError(f"JAXA Earth API: cannot tell the longitudes of strip {strip}")
        if not _overlap(*_span(m), minx, maxx):
            continue
        for item in _links(reader.json(strip), strip, "item"):
            mi = _ITEM.search(item)
            if mi is None:
                raise SourceError(f"JAXA Earth API: cannot tell the latitudes of item {item}")
            if _overlap(*_span(mi), miny, maxy):
                urls.append(item)
    return urls


def _raster_bands(je: Mapping[str, Any]) -> dict[str, Any]:
    dn = je.get("dn") or {}
    conv = je.get("dn2value") or {}
    band: dict[str, Any] = {}
    if dn.get("nodata") is not None:
        band["nodata"] = dn["nodata"]
    if dn.get("data_type"):
        band["data_type"] = dn["data_type"]
    band["scale"] = float(conv.get("slope", 1.0))
    band["offset"] = float(conv.get("offset", 0.0))
    unit = (je.get("value") or {}).get("unit")
    if unit:
        band["unit"] = unit
    return band


def _item(data: dict[str, Any], url: str, node: _DateNode, collection: str) -> pystac.Item:
    """The item as yamasat reads items (see the module docstring)."""
    if node.key not in str(data.get("id", "")):
        data["id"] = f"{node.key}_{data.get('id')}"
    props = data.setdefault("properties", {})
    if props.get("datetime") is None and props.get("start_datetime") is None:
        props["datetime"] = f"{node.start.isoformat()}T00:00:00Z"
    data.setdefault("collection", collection)
    added = False
    for asset in (data.get("assets") or {}).values():
        je = asset.get("je:rasters")
        if isinstance(je, Mapping) and not asset.get("raster:bands"):
            asset["raster:bands"] = [_raster_bands(je)]
            added = True
    if added and _RASTER_EXT not in data.setdefault("stac_extensions", []):
        data["stac_extensions"].append(_RASTER_EXT)
    try:
        item = pystac.Item.from_dict(data, href=url, preserve_dict=False)
    except Exception as e:  # pystac raises KeyError/ValueError/STACTypeError on bad items
        raise SourceError(f"JAXA Earth API: {url} is not a STAC item ({e})") from e
    item.set_self_href(url)
    item.make_asset_hrefs_absolute()
    return item


def _date_items(
    reader: _Reader,
    node: _DateNode,
    collection: str,
    aoi: BaseGeometry,
    ppu_max: float | None,
    resolution_deg: float | None,
) -> list[pystac.Item]:
    date_doc = reader.json(node.url)
    levels = {
        int(m.group(1)): h for h in _links(date_doc, node.url, "child") if (m := _LEVEL.search(h))
    }
    level = choose_level(list(levels), ppu_max=ppu_max, resolution_deg=resolution_deg)
    items = []
    for url in _tiles(reader, levels[level], aoi):
        item = _item(reader.json(url), url, node, collection)
        if item.geometry is None or shapely.geometry.shape(item.geometry).intersects(aoi):
            items.append(item)
    return items


def _collection_url(reader: _Reader, location: str, collection: str) -> str:
    root = reader.json(location)
    children = _links(root, location, "child")
    for href in children:
        if href.rstrip("/").split("/")[-2:-1] == [collection]:
            return href
    known = [h.rstrip("/").split("/")[-2] for h in children if h.count("/") > 1]
    family = collection.partition("_")[0]
    near = [k for k in known if k.partition("_")[0] == family] or known
    raise NoDataError(
        f"JAXA Earth API {location} has no collection {collection!r}"
        + (f" (it has e.g. {', '.join(near[:8])})" if near else "")
    )


def search_jaxa(
    location: str,
    collection: str,
    aoi: BaseGeometry,
    period: Period | None,
    policy: Policy,
    *,
    session: Any,
    unreachable: Callable[[BaseException], bool],
    resolution_deg: float | None = None,
    href_policy: HrefPolicy | None = None,
    max_workers: int = 4,
) -> list[pystac.Item]:
    """Items of ``collection`` in the JAXA Earth static catalog at ``location`` that intersect
    ``aoi`` (EPSG:4326) on the days of ``period`` (``None``: the latest date only), read from
    the COG level that fits ``resolution_deg`` (``None``: the finest the collection has).

    Only the branches that can hold such items are fetched (see the module docstring); dates
    are walked by ``max_workers`` threads sharing ``session``, a ``requests.Session`` that
    retries (``network.retrying_session(policy)``); ``policy`` gives each request's timeout.
    ``unreachable`` (``network.unreachable``) tells a connection that could not be made at all.
    Both are passed in, not imported, because ``search`` dispatches to this module (an import
    back would be a cycle). Every JSON URL is
    checked against ``href_policy`` when given. Raises :class:`SourceUnreachableError` when no
    connection can be made, :class:`SourceError` naming the URL for any other failure and
    :class:`NoDataError` when the catalog has no such collection; an empty list when it has
    no items there.
    """
    reader = _Reader(policy, href_policy, session, unreachable)
    coll_url = _collection_url(reader, location, collection)
    coll = reader.json(coll_url)
    ppu = _first((coll.get("summaries") or {}).get("je:ppu_max"))
    ppu_max = float(ppu) if isinstance(ppu, (int, float)) else None
    nodes = _date_nodes(reader, coll, coll_url, period)
    args = (collection, aoi, ppu_max, resolution_deg)
    if len(nodes) <= 1 or max_workers <= 1:
        per_date = [_date_items(reader, n, *args) for n in nodes]
    else:
        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            per_date = list(pool.map(lambda n: _date_items(reader, n, *args), nodes))
    items = [it for found in per_date for it in found]
    log.info(
        "JAXA Earth: %d %s items on %d dates from %d catalog files",
        len(items),
        collection,
        len(nodes),
        reader.count,
    )
    return items
