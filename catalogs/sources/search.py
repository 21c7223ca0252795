"""Data sources: resolve what the user named, search it, and return deduplicated items.

A source is a configured name (``sample``, ``earth-search``, ...), a STAC API URL, or the path
(or URL) of a static STAC catalog. STAC APIs are searched with pystac-client; static catalogs
are walked with pystac. Network access has explicit timeouts and retries with backoff on 429
and 5xx (urllib3 ``Retry`` inside pystac-client's session).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pystac
import shapely
from shapely.geometry.base import BaseGeometry

from ...errors import (
    NoDataError,
    SourceError,
    SourceRefusedError,
    SourceUnreachableError,
    redact_urls,
)
from ..extent.periods import Period
from .hrefs import HrefPolicy, check_href, object_store_url
from .network import NetworkPolicy, retry_strategy, retrying_session, unreachable
from .paging import collect_pages
from .profiles import Profile, collections_for, get_profile, layout_of

if TYPE_CHECKING:
    from pystac_client.stac_api_io import StacApiIO

__all__ = [
    "Source",
    "dedupe_items",
    "no_connection",
    "resolve_source",
    "search_items",
    "vet_assets",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """A resolved data source."""

    name: str
    """configured name, or the URL/path the user gave"""
    kind: str
    """``static``, ``stac-api`` or ``jaxa`` (the JAXA Earth API's static tree, walked only
    along the branches of the AOI and period)"""
    location: str
    """catalog.json path/URL or API root URL"""
    profile: Profile | None
    """layout of the provider, or None: found per collection from its id and asset keys"""

    @property
    def label(self) -> str:
        """The source as named to the user: its name, and where it is when that differs."""
        return self.location if self.name == self.location else f"{self.name!r} ({self.location})"


def _infer_profile(location: str) -> str | None:
    """The profile of a known service's URL; None (per collection) for any other."""
    host = urlparse(location).hostname or ""
    if host.endswith("planetarycomputer.microsoft.com"):
        return "planetary-computer"
    if host.endswith("earth.jaxa.jp"):
        return "jaxa-earth"
    if host.endswith("earth-search.aws.element84.com"):
        return "earth-search"
    return None


def _profile(name: str | None) -> Profile | None:
    return get_profile(name) if name else None


def _static_profile(path: Path) -> str | None:
    try:
        import json

        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    prof = data.get("yamasat:profile")
    return prof if isinstance(prof, str) else None


def resolve_source(
    spec: str,
    *,
    configured: dict[str, Any] | None = None,
    profile: str | None = None,
) -> Source:
    """Resolve ``spec``: a configured source name, an http(s) URL, or a local catalog path.

    ``configured`` maps names to objects with ``kind``, ``location`` and ``profile`` attributes
    (``Settings.sources``). ``profile`` overrides the profile otherwise taken from the config,
    the catalog's ``yamasat:profile`` field, or the host name.
    """
    configured = configured or {}
    text = spec.strip()
    if text in configured:
        cfg = configured[text]
        if cfg.kind == "by-family":
            raise SourceError(
                f"source {text!r} draws each data family from another source "
                f"({', '.join(f'{f}: {s}' for f, s in cfg.families.items())}); "
                "name one of those for a single source"
            )
        kind, location = str(cfg.kind), str(cfg.location)
        prof = profile or cfg.profile
        if kind == "static" and not location.startswith(("http://", "https://")):
            path = Path(location)
            if path.is_dir():
                path = path / "catalog.json"
            if not path.is_file():
                raise SourceError(
                    f"source {text!r}: static catalog {path} does not exist"
                    + (
                        "; build it with `yamasat sample build`"
                        if text == "sample"
                        else "; check sources." + text + ".location"
                    )
                )
            location = str(path.resolve())
            prof = profile or _static_profile(path) or prof
        return Source(text, kind, location, _profile(prof))
    if text.startswith(("http://", "https://")):
        kind = "static" if text.endswith(".json") else "stac-api"
        if kind == "static" and (urlparse(text).hostname or "").endswith("earth.jaxa.jp"):
            kind = "jaxa"  # its static tree is walked only where the AOI and period lie
        return Source(text, kind, text, _profile(profile or _infer_profile(text)))
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / "catalog.json"
    if path.is_file():
        prof = profile or _static_profile(path)
        return Source(str(path), "static", str(path.resolve()), _profile(prof))
    raise SourceError(
        f"unknown source {text!r}: not a configured source ({', '.join(configured) or 'none'}), "
        "not an http(s) URL and not a catalog.json on disk"
    )


def dedupe_items(items: Iterable[pystac.Item]) -> list[pystac.Item]:
    """Drop repeated items by (collection, id), keeping the first; duplicates are logged."""
    seen: set[tuple[str | None, str]] = set()
    out: list[pystac.Item] = []
    for item in items:
        key = (item.collection_id, item.id)
        if key in seen:
            log.warning("duplicate item %s/%s in search results dropped", *key)
            continue
        seen.add(key)
        out.append(item)
    return out


def _stac_io(policy: NetworkPolicy) -> StacApiIO:
    from pystac_client.stac_api_io import StacApiIO

    return StacApiIO(
        timeout=(policy.timeout_s, policy.timeout_s), max_retries=retry_strategy(policy)
    )


def no_connection(source: Source, e: BaseException) -> SourceUnreachableError:
    """The error for a source that cannot be connected to at all, naming it."""
    where = (
        source.location
        if source.name == source.location
        else (f"{source.name!r} ({source.location})")
    )
    return SourceUnreachableError(
        f"source {where}: no connection; check the network, or use --source sample for the "
        f"offline sample archive ({e})"
    )


class _HttpStacIO(pystac.stac_io.DefaultStacIO):
    """pystac I/O for static catalogs over http(s): timeouts and retries with backoff."""

    def __init__(self, policy: NetworkPolicy) -> None:
        super().__init__()
        self._policy = policy
        self._session = retrying_session(policy)

    def read_text_from_href(self, href: str) -> str:
        if not href.startswith(("http://", "https://")):
            return str(super().read_text_from_href(href))
        t = self._policy.timeout_s
        resp = self._session.get(href, timeout=(t, t))
        if resp.status_code != 200:
            kind = SourceError if _may_pass(resp.status_code) else SourceRefusedError
            raise kind(f"GET {redact_urls(href)} answered HTTP {resp.status_code}")
        return resp.text


def _may_pass(status: int | None) -> bool:
    """Whether a request answered ``status`` may pass if tried again (408, 429, 5xx)."""
    return status is None or status in (408, 429) or status >= 500


def _network(e: BaseException) -> bool:
    """Whether ``e`` is a network failure (which may pass later), not a bad document."""
    import requests

    return isinstance(e, (requests.RequestException, ConnectionError, TimeoutError))


def _item_datetime(item: pystac.Item) -> dt.datetime | None:
    if item.datetime is not None:
        return item.datetime
    start = item.common_metadata.start_datetime
    return start


def _matches(item: pystac.Item, geom: BaseGeometry, period: Period | None) -> bool:
    when = _item_datetime(item)
    if period is not None and (when is None or not period.contains(when)):
        return False
    if item.geometry is not None:
        return bool(shapely.geometry.shape(item.geometry).intersects(geom))
    if item.bbox is not None:
        return bool(shapely.box(*item.bbox[:2], *item.bbox[-2:]).intersects(geom))
    return False


def _search_static(
    source: Source,
    family: str,
    geom: BaseGeometry,
    period: Period | None,
    policy: NetworkPolicy,
) -> list[pystac.Item]:
    try:
        if source.location.startswith(("http://", "https://")):
            root = pystac.Catalog.from_file(source.location, stac_io=_HttpStacIO(policy))
        else:
            root = pystac.Catalog.from_file(source.location)
    except SourceError:
        raise
    except Exception as e:  # pystac raises many kinds (STACTypeError, JSONDecodeError, OSError)
        if unreachable(e):
            raise no_connection(source, e) from e
        kind = SourceError if _network(e) else SourceRefusedError  # a missing file, bad JSON
        raise kind(f"could not read the STAC catalog at {source.location}: {e}") from e
    if source.profile is not None:
        collection = source.profile.family(family).collection
        child = root.get_child(collection)
    else:
        children = {c.id: c for c in root.get_children()}
        collection = _pick_collection(source, family, list(children))
        child = children[collection]
    if child is None:
        known = [c.id for c in root.get_children()]
        raise NoDataError(
            f"source {source.name!r} has no collection {collection!r} (it has {known})"
        )
    return [
        it
        for it in child.get_items(recursive=True)
        if it.collection_id in (None, collection) and _matches(it, geom, period)
    ]


def _pick_collection(source: Source, family: str, available: Sequence[str]) -> str:
    """The collection of ``family`` in a source without a profile: the first known one, in
    order of preference, that the source has (its items' asset keys then decide the layout)."""
    for collection in collections_for(family):
        if collection in available:
            return collection
    raise NoDataError(
        f"source {source.name!r} has no collection of data family {family!r} (looked for "
        f"{', '.join(collections_for(family))}; it has {', '.join(available) or 'none'}); "
        f"name a source for {family} (--{family}-source) or force a layout with --profile"
    )


def _search_api(
    source: Source,
    family: str,
    geom: BaseGeometry,
    period: Period | None,
    policy: NetworkPolicy,
    max_items: int | None,
) -> tuple[str, list[pystac.Item]]:
    from pystac_client import Client
    from pystac_client.exceptions import APIError

    try:
        # Client.open resets the I/O timeout to its own argument: pass it there too
        timeout = (policy.timeout_s, policy.timeout_s)
        client = Client.open(source.location, stac_io=_stac_io(policy), timeout=timeout)
        if source.profile is not None:
            collection = source.profile.family(family).collection
        else:
            ids = [c.id for c in client.get_collections()]
            collection = _pick_collection(source, family, ids)
        search = client.search(
            collections=[collection],
            intersects=shapely.geometry.mapping(geom),
            datetime=period.stac_datetime if period is not None else None,
            max_items=max_items,
            limit=100,
        )
        pages = collect_pages(search.pages_as_dicts(), where=source.location)
    except (NoDataError, SourceError):
        raise
    except APIError as e:
        if unreachable(e):
            raise no_connection(source, e) from e
        kind = SourceError if _may_pass(getattr(e, "status_code", None)) else SourceRefusedError
        raise kind(f"STAC API {source.location} refused the search: {e}") from e
    except Exception as e:  # requests/urllib3 errors after retries, JSON errors
        if unreachable(e):
            raise no_connection(source, e) from e
        if not _network(e):
            raise SourceRefusedError(
                f"STAC API {source.location} did not answer with STAC JSON: {e}"
            ) from e
        raise SourceError(
            f"STAC API {source.location} could not be searched "
            f"(after {policy.max_retries} retries, timeout {policy.timeout_s:g} s): {e}"
        ) from e
    features: list[dict[str, Any]] = [f for page in pages for f in page.get("features", [])]
    matched = pages[0].get("numberMatched") if pages else None
    if (
        isinstance(matched, int)
        and max_items is None
        and matched > len({(f.get("collection"), f.get("id")) for f in features})
    ):
        raise SourceError(
            f"STAC API {source.location} reported {matched} matching items but returned "
            f"{len(features)}: the result is incomplete; try again later or narrow the search"
        )
    return collection, [pystac.Item.from_dict(f, preserve_dict=False) for f in features]


def search_items(
    source: Source,
    *,
    family: str,
    aoi: BaseGeometry,
    period: Period | None,
    policy: NetworkPolicy | None = None,
    max_items: int | None = None,
) -> list[pystac.Item]:
    """Items of ``family`` (``s2``, ``s1``, ``dem``) intersecting ``aoi`` (EPSG:4326) in ``period``
    (``None``: any time, as for a DEM).

    Deduplicated by (collection, id) and sorted by datetime then id. Raises
    :class:`NoDataError` (outcome ``no_data``) when nothing matches.
    """
    policy = policy or NetworkPolicy()
    if source.kind == "stac-api":
        collection, items = _search_api(source, family, aoi, period, policy, max_items)
    elif source.kind == "jaxa":
        from .jaxa import search_jaxa

        collection = (source.profile or get_profile("jaxa-earth")).family(family).collection
        items = search_jaxa(
            source.location, collection, aoi, period, policy,
            session=retrying_session(policy), unreachable=unreachable,
        )  # fmt: skip
    else:
        items = _search_static(source, family, aoi, period, policy)
        collection = (items[0].collection_id if items else None) or _wanted(source, family)
    items = dedupe_items(items)
    for it in items:  # callers pass items on as dicts: keep hrefs resolvable without the catalog
        if it.get_self_href():
            it.make_asset_hrefs_absolute()
    items.sort(key=lambda it: (_item_datetime(it) or dt.datetime.min.replace(tzinfo=dt.UTC), it.id))
    if not items:
        raise NoDataError(
            f"no {collection} items in source {source.name!r} for the AOI "
            f"{tuple(round(v, 4) for v in aoi.bounds)} in {period or 'any period'} "
            "(outcome no_data)"
        )
    if source.profile is None:
        layout_of(family, items)  # the asset keys fit a known layout, or a clear error
    log.info("found %d %s items in %s", len(items), collection, source.name)
    return items


def _wanted(source: Source, family: str) -> str:
    if source.profile is not None:
        return source.profile.family(family).collection
    return " or ".join(collections_for(family))


def vet_assets(
    items: Sequence[pystac.Item],
    asset_keys: Iterable[str],
    policy: HrefPolicy,
    *,
    family: str | None = None,
) -> None:
    """Check every asset href that will be read against the security ``policy``.

    Relative hrefs are resolved against the item first. ``s3://`` hrefs of buckets the policy
    declares public are rewritten to their HTTPS endpoint, and the policy decides on that URL;
    other buckets are refused naming a source that serves ``family``. Raises
    :class:`SourceError` when an item lacks an asset and :class:`HrefPolicyError` (naming item,
    asset and rule) before GDAL or pystac would open a refused href. Local hrefs are rewritten
    to their resolved paths, s3 hrefs to their URLs: the item keeps what GDAL will read.
    """
    keys = list(asset_keys)
    for item in items:
        for key in keys:
            asset = item.assets.get(key)
            if asset is None:
                raise SourceError(
                    f"item {item.id} has no asset {key!r} (it has {', '.join(item.assets)})"
                )
            href = asset.get_absolute_href() or asset.href
            href = object_store_url(
                href, policy.object_stores, family=family, item_id=item.id, asset=key
            )
            asset.href = check_href(href, policy, item_id=item.id, asset=key)
