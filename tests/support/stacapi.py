"""The STAC API that :class:`tests.support.rangeserver.RangeServer` emulates.

:class:`StacIndex` reads the static STAC catalog under a root (``catalog.json`` and what its
child/item links reach, or, without one, every STAC JSON file under the root) and answers the
API endpoints :func:`api_route` recognises: ``GET /`` (landing page), ``/conformance``,
``/collections``, ``/collections/{id}``, ``/collections/{id}/items[/{item}]`` and
``GET``/``POST /search`` with ``collections``, ``ids``, ``bbox``, ``intersects``, ``datetime``
and ``limit``, paged through ``next`` links that carry a ``token``. Items are served with asset
hrefs and links rewritten to absolute URLs on the server; asset hrefs that point outside the
root (or to other hosts) are passed through untouched.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import shapely.geometry
from shapely.geometry.base import BaseGeometry

from .http_responses import (
    GEOJSON_TYPE,
    JSON_TYPE,
    BadRequestError,
    Response,
    error_response,
    json_response,
)

__all__ = ["CONFORMANCE", "STAC_VERSION", "StacIndex", "api_route"]

STAC_VERSION = "1.0.0"
CONFORMANCE = (
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
)
_DEFAULT_LIMIT = 10
_MAX_LIMIT = 10_000


def api_route(path: str) -> tuple[str, ...] | None:
    """The API endpoint a path names, or None for a static file."""
    segments = [s for s in path.split("/") if s]
    if not segments:
        return ("landing",)
    head, rest = segments[0], segments[1:]
    if head in ("conformance", "search") and not rest:
        return (head,)
    if head == "collections":
        if not rest:
            return ("collections",)
        if len(rest) == 1:
            return ("collection", rest[0])
        if len(rest) == 2 and rest[1] == "items":
            return ("items", rest[0])
        if len(rest) == 3 and rest[1] == "items":
            return ("item", rest[0], rest[2])
    return None


@dataclass
class StacIndex:
    """The static catalog as the API serves it, hrefs already pointing at the server."""

    url: str
    catalog: dict[str, Any]
    collections: dict[str, dict[str, Any]]
    items: list[dict[str, Any]]

    @classmethod
    def load(cls, root: Path, catalog_path: Path, url: str) -> StacIndex:
        docs = _walk(catalog_path, root) if catalog_path.is_file() else _scan(root)
        catalog: dict[str, Any] = {"id": "rangeserver", "description": "RangeServer STAC API"}
        collections_: dict[str, dict[str, Any]] = {}
        items: list[dict[str, Any]] = []
        for file, doc, parent_collection in docs:
            kind = doc.get("type")
            if kind == "Catalog" and file == catalog_path:
                catalog = doc
            elif kind == "Collection":
                collections_[doc["id"]] = _rewrite_collection(doc, file, root, url)
            elif kind == "Feature":
                items.append(_rewrite_item(doc, file, root, url, parent_collection))
        return cls(url, catalog, collections_, items)

    def answer(self, route: tuple[str, ...], params: dict[str, Any], *, method: str) -> Response:
        kind = route[0]
        if kind == "search":
            return self._search(params, method, "/search")
        if kind == "landing":
            return json_response(200, self._landing())
        if kind == "conformance":
            return json_response(200, {"conformsTo": list(CONFORMANCE)})
        if kind == "collections":
            links = [self._link("root", "/"), self._link("self", "/collections")]
            return json_response(
                200, {"collections": list(self.collections.values()), "links": links}
            )
        if route[1] not in self.collections:
            return error_response(404, "NotFound", f"no collection {route[1]!r}")
        if kind == "collection":
            return json_response(200, self.collections[route[1]])
        if kind == "item":
            for item in self.items:
                if item.get("collection") == route[1] and item["id"] == route[2]:
                    return json_response(200, item, GEOJSON_TYPE)
            return error_response(404, "NotFound", f"no item {route[2]!r} in {route[1]!r}")
        path = f"/collections/{quote(route[1])}/items"
        return self._search({**params, "collections": [route[1]]}, method, path)

    def _search(self, params: dict[str, Any], method: str, path: str) -> Response:
        query = _SearchQuery.parse(params)
        matched = [item for item in self.items if query.matches(item)]
        page = matched[query.offset : query.offset + query.limit]
        links = [self._link("root", "/")]
        next_offset = query.offset + len(page)
        if next_offset < len(matched):
            if method == "POST":
                links.append(
                    {
                        "rel": "next",
                        "href": f"{self.url}{path}",
                        "type": GEOJSON_TYPE,
                        "method": "POST",
                        "body": {**params, "token": str(next_offset)},
                        "merge": False,
                    }
                )
            else:
                get_params = {k: _as_query_value(v) for k, v in params.items() if k != "token"}
                if path != "/search":
                    get_params.pop("collections", None)
                get_params["token"] = str(next_offset)
                links.append(
                    {
                        "rel": "next",
                        "href": f"{self.url}{path}?{urlencode(get_params)}",
                        "type": GEOJSON_TYPE,
                        "method": "GET",
                    }
                )
        doc = {
            "type": "FeatureCollection",
            "features": page,
            "links": links,
            "numberMatched": len(matched),
            "numberReturned": len(page),
        }
        return json_response(200, doc, GEOJSON_TYPE)

    def _landing(self) -> dict[str, Any]:
        links = [
            self._link("root", "/"),
            self._link("self", "/"),
            self._link("conformance", "/conformance", JSON_TYPE),
            self._link("data", "/collections", JSON_TYPE),
            {**self._link("search", "/search", GEOJSON_TYPE), "method": "GET"},
            {**self._link("search", "/search", GEOJSON_TYPE), "method": "POST"},
        ]
        links += [self._link("child", f"/collections/{quote(cid)}") for cid in self.collections]
        return {
            "type": "Catalog",
            "stac_version": STAC_VERSION,
            "id": self.catalog.get("id", "rangeserver"),
            "title": self.catalog.get("title", "RangeServer"),
            "description": self.catalog.get("description", "RangeServer STAC API"),
            "conformsTo": list(CONFORMANCE),
            "links": links,
        }

    def _link(self, rel: str, path: str, media_type: str = JSON_TYPE) -> dict[str, Any]:
        return {"rel": rel, "href": f"{self.url}{path}", "type": media_type}


def _as_query_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


@dataclass(frozen=True)
class _SearchQuery:
    collections: frozenset[str] | None
    ids: frozenset[str] | None
    area: BaseGeometry | None
    start: datetime | None
    end: datetime | None
    limit: int
    offset: int

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> _SearchQuery:
        if params.get("bbox") not in (None, "") and params.get("intersects") not in (None, ""):
            raise BadRequestError("give bbox or intersects, not both")
        area = None
        if params.get("bbox") not in (None, ""):
            area = _bbox_geometry(_number_list(params["bbox"], "bbox"))
        elif params.get("intersects") not in (None, ""):
            area = _geometry(params["intersects"])
        start, end = _interval(params.get("datetime"))
        limit = _integer(params.get("limit", _DEFAULT_LIMIT), "limit")
        if not 1 <= limit <= _MAX_LIMIT:
            raise BadRequestError(f"limit must be between 1 and {_MAX_LIMIT}, got {limit}")
        offset = _integer(params.get("token") or 0, "token")
        if offset < 0:
            raise BadRequestError(f"invalid token {params.get('token')!r}")
        return cls(
            _string_set(params.get("collections")),
            _string_set(params.get("ids")),
            area,
            start,
            end,
            limit,
            offset,
        )

    def matches(self, item: Mapping[str, Any]) -> bool:
        if self.collections is not None and item.get("collection") not in self.collections:
            return False
        if self.ids is not None and item.get("id") not in self.ids:
            return False
        if self.area is not None:
            footprint = _item_footprint(item)
            if footprint is None or not footprint.intersects(self.area):
                return False
        if self.start is not None or self.end is not None:
            span = _item_interval(item)
            if span is None:
                return False
            if self.end is not None and span[0] > self.end:
                return False
            if self.start is not None and span[1] < self.start:
                return False
        return True


def _string_set(value: Any) -> frozenset[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return frozenset(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list):
        return frozenset(str(v) for v in value)
    raise BadRequestError(f"expected a list of strings, got {value!r}")


def _number_list(value: Any, name: str) -> list[float]:
    raw = value.split(",") if isinstance(value, str) else value
    try:
        numbers = [float(v) for v in raw]
    except (TypeError, ValueError):
        raise BadRequestError(f"{name} must be numbers, got {value!r}") from None
    return numbers


def _integer(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequestError(f"{name} must be an integer, got {value!r}") from None


def _bbox_geometry(bbox: list[float]) -> BaseGeometry:
    if len(bbox) == 6:
        bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
    if len(bbox) != 4:
        raise BadRequestError(f"bbox needs 4 or 6 numbers, got {len(bbox)}")
    west, south, east, north = bbox
    if south > north:
        raise BadRequestError(f"bbox south {south} is north of north {north}")
    if west > east:  # crosses the antimeridian
        return shapely.geometry.MultiPolygon(
            [
                shapely.geometry.box(west, south, 180.0, north),
                shapely.geometry.box(-180.0, south, east, north),
            ]
        )
    return shapely.geometry.box(west, south, east, north)


def _geometry(value: Any) -> BaseGeometry:
    try:
        doc = json.loads(value) if isinstance(value, str) else value
        geometry = shapely.geometry.shape(doc)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise BadRequestError(f"intersects is not a GeoJSON geometry: {e}") from None
    if geometry.is_empty:
        raise BadRequestError("intersects is empty")
    return geometry


def _interval(value: Any) -> tuple[datetime | None, datetime | None]:
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        raise BadRequestError(f"datetime must be a string, got {value!r}")
    if "/" not in value:
        instant = _parse_datetime(value, "datetime")
        return instant, instant
    first, last = value.split("/", 1)
    start = None if first in ("", "..") else _parse_datetime(first, "datetime")
    end = None if last in ("", "..") else _parse_datetime(last, "datetime")
    if start is None and end is None:
        raise BadRequestError("datetime interval must have at least one closed end")
    if start is not None and end is not None and start > end:
        raise BadRequestError(f"datetime interval {value!r} ends before it starts")
    return start, end


def _parse_datetime(text: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise BadRequestError(f"{name} {text!r} is not RFC 3339") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _item_interval(item: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
    props = item.get("properties") or {}
    start = props.get("start_datetime") or props.get("datetime")
    end = props.get("end_datetime") or props.get("datetime")
    if not start or not end:
        return None
    return _parse_datetime(start, "item datetime"), _parse_datetime(end, "item datetime")


def _item_footprint(item: Mapping[str, Any]) -> BaseGeometry | None:
    if item.get("geometry"):
        return shapely.geometry.shape(item["geometry"])
    if item.get("bbox"):
        return _bbox_geometry([float(v) for v in item["bbox"]])
    return None


# ---------------------------------------------------------------------------- catalog files


def _walk(start: Path, root: Path) -> list[tuple[Path, dict[str, Any], str | None]]:
    """Documents reachable from ``start`` through child/item links inside ``root``, with
    the id of the collection each was reached through."""
    found: list[tuple[Path, dict[str, Any], str | None]] = []
    seen: set[Path] = set()
    queue: collections.deque[tuple[Path, str | None]] = collections.deque([(start, None)])
    while queue:
        file, parent = queue.popleft()
        if file in seen:
            continue
        seen.add(file)
        doc = json.loads(file.read_text(encoding="utf-8"))
        found.append((file, doc, parent))
        here = doc["id"] if doc.get("type") == "Collection" else parent
        for link in doc.get("links", []):
            if link.get("rel") in ("child", "item"):
                target = _local_target(str(link.get("href", "")), file, root)
                if target is not None and target.is_file():
                    queue.append((target, here))
    return found


def _scan(root: Path) -> list[tuple[Path, dict[str, Any], str | None]]:
    found: list[tuple[Path, dict[str, Any], str | None]] = []
    for file in sorted(root.rglob("*.json")):
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict) and "stac_version" in doc:
            found.append((file, doc, None))
    return found


def _local_target(href: str, base_file: Path, root: Path) -> Path | None:
    """The file under ``root`` an href names (relative to ``base_file``), else None."""
    parts = urlsplit(href)
    if parts.scheme == "file":
        candidate = Path(unquote(parts.path))
    elif parts.scheme or href.startswith("/vsi") or not href:
        return None
    else:
        candidate = Path(href) if Path(href).is_absolute() else base_file.parent / href
    resolved = candidate.resolve()
    return resolved if resolved.is_relative_to(root) else None


def _served_href(href: str, base_file: Path, root: Path, url: str) -> str:
    target = _local_target(href, base_file, root)
    if target is None:
        return href
    return f"{url}/{quote(target.relative_to(root).as_posix())}"


_STRUCTURAL_RELS = frozenset({"self", "root", "parent", "collection", "child", "item", "items"})


def _other_links(doc: Mapping[str, Any], file: Path, root: Path, url: str) -> list[Any]:
    return [
        {**link, "href": _served_href(str(link.get("href", "")), file, root, url)}
        for link in doc.get("links", [])
        if link.get("rel") not in _STRUCTURAL_RELS
    ]


def _rewrite_collection(doc: Mapping[str, Any], file: Path, root: Path, url: str) -> dict[str, Any]:
    cid = quote(str(doc["id"]))
    out = json.loads(json.dumps(doc))
    out["links"] = [
        {"rel": "self", "href": f"{url}/collections/{cid}", "type": JSON_TYPE},
        {"rel": "root", "href": f"{url}/", "type": JSON_TYPE},
        {"rel": "parent", "href": f"{url}/", "type": JSON_TYPE},
        {"rel": "items", "href": f"{url}/collections/{cid}/items", "type": GEOJSON_TYPE},
        *_other_links(doc, file, root, url),
    ]
    _rewrite_assets(out, file, root, url)
    return dict(out)


def _rewrite_item(
    doc: Mapping[str, Any], file: Path, root: Path, url: str, parent_collection: str | None
) -> dict[str, Any]:
    out = json.loads(json.dumps(doc))
    cid = out.get("collection") or parent_collection
    links: list[Any] = [{"rel": "root", "href": f"{url}/", "type": JSON_TYPE}]
    if cid is not None:
        out["collection"] = cid
        base = f"{url}/collections/{quote(cid)}"
        links += [
            {"rel": "self", "href": f"{base}/items/{quote(out['id'])}", "type": GEOJSON_TYPE},
            {"rel": "parent", "href": base, "type": JSON_TYPE},
            {"rel": "collection", "href": base, "type": JSON_TYPE},
        ]
    out["links"] = links + _other_links(doc, file, root, url)
    _rewrite_assets(out, file, root, url)
    return dict(out)


def _rewrite_assets(doc: dict[str, Any], file: Path, root: Path, url: str) -> None:
    for asset in (doc.get("assets") or {}).values():
        if isinstance(asset, dict) and isinstance(asset.get("href"), str):
            asset["href"] = _served_href(asset["href"], file, root, url)
