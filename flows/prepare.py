"""Validated inputs of a product run and the searches that feed it.

:func:`prepare` checks periods, AOI and source before any request is sent; :func:`search_family`
returns vetted item dicts (small, JSON-safe) for Prefect tasks to pass on.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pystac

from ..catalogs.extent.aoi import AOI, resolve_aoi
from ..catalogs.extent.periods import Period, check_before_after, parse_period
from ..catalogs.sources.family_sources import SourceSet, resolve_sources
from ..catalogs.sources.hrefs import HrefPolicy, ObjectStore
from ..catalogs.sources.network import NetworkPolicy
from ..catalogs.sources.profiles import Family, layout_of
from ..catalogs.sources.search import search_items, vet_assets
from ..errors import NoDataError
from ..settings import Settings

__all__ = [
    "Prepared",
    "href_policy",
    "layout",
    "needs_signing",
    "network_policy",
    "prepare",
    "product_id",
    "search_family",
    "season_warnings",
    "software_version",
]


def software_version() -> str:
    """The installed yamasat version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yamasat")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class Prepared:
    """Validated inputs of a run; made before any search."""

    settings: Settings
    aoi: AOI
    before: Period
    after: Period
    sources: SourceSet
    out_root: Path


def prepare(
    *,
    aoi: str,
    before: str,
    after: str,
    source: str,
    out: Path | None,
    settings: Settings,
    profile: str | None = None,
    family_sources: dict[str, str | None] | None = None,
) -> Prepared:
    """Check periods, AOI and sources (``source`` for every family, ``family_sources`` for
    single ones); raises a clear error before any request is sent."""
    p_before = parse_period(before, what="before period")
    p_after = parse_period(after, what="after period")
    check_before_after(p_before, p_after)
    # the latest calendar day anywhere (UTC+14): "today" in Tokyo is tomorrow in UTC until 09:00
    latest = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=14)).date()
    if p_after.start > latest:
        raise NoDataError(f"the after period {p_after} lies in the future: no data can exist yet")
    area = resolve_aoi(aoi, boundaries_path=settings.boundaries.path)
    src = resolve_sources(
        source, configured=dict(settings.sources), profile=profile, overrides=family_sources
    )
    out_root = (out or settings.storage.output_root).resolve()
    return Prepared(settings, area, p_before, p_after, src, out_root)


def network_policy(settings: Settings) -> NetworkPolicy:
    """Timeouts and retries from ``network.*``."""
    n = settings.network
    return NetworkPolicy(timeout_s=n.timeout_s, max_retries=n.max_retries, backoff_s=n.backoff_s)


def href_policy(settings: Settings, sources: SourceSet) -> HrefPolicy:
    """The asset-href policy: configured roots, the sample root, the folders of local
    catalogs the run reads, and the object-store buckets whose s3:// hrefs are read over
    https."""
    roots = [*settings.network.allowed_roots, settings.sample.root]
    for source in sources.all():
        if source.kind == "static" and not source.location.startswith(("http://", "https://")):
            roots.append(Path(source.location).parent)
    return HrefPolicy(
        allowed_roots=tuple(Path(r) for r in roots),
        allowed_http_hosts=tuple(settings.network.allowed_http_hosts),
        object_stores=tuple(
            ObjectStore(bucket, store.access, store.https, store.serves)
            for bucket, store in settings.network.object_stores.items()
        ),
    )


def search_family(
    prep: Prepared, family: str, period: Period | None, bands: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Search ``family`` items for ``period``; vet the hrefs of ``bands``; return item dicts."""
    items = search_items(
        prep.sources.of(family),
        family=family,
        aoi=prep.aoi.geometry,
        period=period,
        policy=network_policy(prep.settings),
    )
    return vetted(prep, family, bands, items)


def vetted(
    prep: Prepared, family: str, bands: Sequence[str], items: list[pystac.Item]
) -> list[dict[str, Any]]:
    """``items`` as dicts once the hrefs of ``bands`` pass the security policy."""
    if not items:
        return []
    fam = layout(prep, family, items)
    vet_assets(
        items,
        [fam.asset_key(b) for b in bands],
        href_policy(prep.settings, prep.sources),
        family=family,
    )
    return [it.to_dict(include_self_link=False, transform_hrefs=False) for it in items]


def needs_signing(prep: Prepared, family: str, items: Sequence[dict[str, Any]]) -> bool:
    """Whether ``items`` of ``family`` must be signed before reading: their source's profile
    says so (Planetary Computer), or, without a profile, they name Azure Blob hrefs."""
    from ..catalogs.sources.signing import blob_containers  # (it imports the guarded reader)

    profile = prep.sources.of(family).profile
    if profile is not None:
        return profile.needs_signing
    return bool(blob_containers(items))


def layout(prep: Prepared, family: str, items: Sequence[Any]) -> Family:
    """How ``items`` of ``family`` name their assets: the profile of the family's source if
    it has one (``--profile``, or a known service), else found from the items' collection and
    asset keys (pystac Items or item dicts)."""
    profile = prep.sources.of(family).profile
    return profile.family(family) if profile is not None else layout_of(family, items)


def season_warnings(before: Period, after: Period) -> list[str]:
    """Warnings when the two periods are not in comparable seasons.

    Paddies in Yamaguchi are flooded for transplanting from May to June: comparing a period
    in that window with one outside it shows irrigation water as vegetation change.
    """

    def mid(p: Period) -> dt.date:
        return p.start + (p.end - p.start) / 2

    def in_irrigation(p: Period) -> bool:
        return any((p.start + dt.timedelta(days=d)).month in (5, 6) for d in range(0, p.days, 3))

    warnings = []
    gap = abs(mid(after).timetuple().tm_yday - mid(before).timetuple().tm_yday)
    gap = min(gap, 365 - gap)
    if gap > 45:
        warnings.append(
            f"before ({before}) and after ({after}) are {gap} days apart in the seasonal cycle: "
            "phenology may show up as change; compare the same season of two years"
        )
    if in_irrigation(before) != in_irrigation(after):
        warnings.append(
            "only one period falls in the paddy irrigation season (May–June): flooded paddies "
            "may be detected as change"
        )
    return warnings


def product_id(kind: str, prep: Prepared, inputs: list[str], params: dict[str, Any]) -> str:
    """Deterministic identity of a product: kind, AOI, periods, inputs, parameters, grid,
    how its float rasters are stored, version."""
    key = json.dumps(
        {
            "kind": kind,
            "aoi": prep.aoi.key,
            "before": str(prep.before),
            "after": str(prep.after),
            "inputs": sorted(inputs),
            "params": params,
            "grid": [prep.settings.grid.crs, prep.settings.grid.resolution],
            # another error bound gives other files: not the same product
            "float_max_error": prep.settings.storage.float_max_error,
            "version": software_version(),
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    aoi = "".join(c if c.isalnum() else "-" for c in prep.aoi.key)[:40]
    return f"{kind}-{aoi}-{prep.after.start:%Y%m%d}-{digest}"
