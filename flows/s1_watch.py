"""The daily Sentinel-1 check: map floods from acquisitions not handled before.

``s1_flood_check`` searches Sentinel-1 over the AOI for the last ``lookback_days`` days,
drops the acquisitions the registry says this watch has handled, and groups the new ones by
day and relative orbit. For each group it finds the municipalities the acquisition covers
(the municipal boundaries intersecting footprint ∩ AOI), writes that area as a GeoJSON AOI
beside the products and runs ``flood_mapping`` on it (a subflow, recorded as its own run)
with the ``pre_event_days`` before the acquisition as the reference. The flood product's
per-municipality table gives the flooded area of each covered municipality.

An acquisition is remembered as handled when its flood run completed (published, exists or
insufficient data). A failed one is not: the next check tries it again while it is inside
the look-back window, and this run ends failed with that run's reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import shapely
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from ..catalogs.extent.aoi import AOI, resolve_aoi
from ..catalogs.extent.boundaries import Boundaries, load_boundaries
from ..catalogs.extent.municipalities import by_code
from ..catalogs.extent.periods import parse_period
from ..catalogs.registry import open_registry
from ..catalogs.registry.run_records import (
    AcquisitionRecord,
    handled_acquisitions,
    mark_acquisitions,
)
from ..catalogs.sources.family_sources import resolve_sources
from ..errors import AcquisitionsFailedError, BoundariesMissingError, reason_of
from ..settings import Settings
from .disaster import flood_mapping
from .flow_factory import with_run_options
from .prepare import Prepared, search_family
from .product_run import SEARCH_TASK
from .tracking import RunContext, tracked

__all__ = ["Acquisition", "acquisition_key", "s1_flood_check"]

log = logging.getLogger(__name__)
#: share of a municipality's area an acquisition must cover for it to count as covered
MIN_COVERED_SHARE = 0.01


@dataclass(frozen=True)
class Acquisition:
    """New Sentinel-1 items of one day and relative orbit, and what they cover in the AOI."""

    day: dt.date
    orbit: str
    item_keys: tuple[str, ...]
    """``collection/item-id`` of each item, as the registry remembers them"""
    acquired_at: dt.datetime
    footprint: BaseGeometry
    """footprint ∩ AOI, EPSG:4326"""
    municipalities: tuple[str, ...]
    """five-digit codes of the municipalities covered"""

    @property
    def key(self) -> str:
        return f"s1-{self.day:%Y%m%d}-{self.orbit}"


def acquisition_key(item: dict[str, Any]) -> str:
    """How the registry names an acquisition's item: ``collection/item-id``."""
    return f"{item.get('collection') or 'sentinel-1'}/{item['id']}"


def _when(item: dict[str, Any]) -> dt.datetime:
    props = item.get("properties", {})
    text = props.get("datetime") or props.get("start_datetime")
    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def group_acquisitions(
    items: list[dict[str, Any]], aoi: AOI, boundaries: Boundaries | None
) -> list[Acquisition]:
    """Group items by (UTC day, relative orbit and pass); footprint ∩ AOI; covered codes."""
    groups: dict[tuple[dt.date, str], list[dict[str, Any]]] = defaultdict(list)
    for it in items:
        props = it.get("properties", {})
        orbit = f"{props.get('sat:orbit_state', 'x')[:3]}{props.get('sat:relative_orbit', 'x')}"
        groups[(_when(it).date(), orbit)].append(it)
    out = []
    for (day, orbit), its in sorted(groups.items()):
        foot = shapely.union_all([shape(i["geometry"]) for i in its if i.get("geometry")])
        area = shapely.make_valid(foot.intersection(aoi.geometry))
        if area.is_empty or area.area == 0:
            continue
        codes: list[str] = []
        if boundaries is not None:
            for code, geom in zip(boundaries.frame["code"], boundaries.frame.geometry, strict=True):
                if geom.area > 0 and geom.intersection(area).area / geom.area >= MIN_COVERED_SHARE:
                    codes.append(str(code))
        out.append(
            Acquisition(
                day=day,
                orbit=orbit,
                item_keys=tuple(sorted(acquisition_key(i) for i in its)),
                acquired_at=min(_when(i) for i in its),
                footprint=area,
                municipalities=tuple(sorted(codes)),
            )
        )
    return out


def _boundaries(settings: Settings) -> Boundaries | None:
    try:
        return load_boundaries(settings.boundaries.path)
    except BoundariesMissingError as e:
        log.warning("no municipal boundaries (%s): each acquisition is mapped as one area", e)
        return None


def _write_aoi(folder: Path, acq: Acquisition, boundaries: Boundaries | None) -> Path:
    """The area to map: covered municipalities ∩ footprint ∩ AOI, as GeoJSON."""
    area = acq.footprint
    if boundaries is not None and acq.municipalities:
        covered = boundaries.frame[boundaries.frame["code"].isin(acq.municipalities)]
        area = shapely.make_valid(area.intersection(shapely.union_all(covered.geometry.values)))
    names = [m.name_en for c in acq.municipalities if (m := by_code(c))]
    folder.mkdir(parents=True, exist_ok=True)
    # the AOI's key is its file name: the watch and the exact items make it unique, so two
    # watches, or a slice that arrives later, never share a product id or overwrite the file
    digest = hashlib.sha256("|".join(acq.item_keys).encode()).hexdigest()[:8]
    path = folder / f"{folder.name}-{acq.key}-{digest}.geojson"
    feature = {
        "type": "Feature",
        "properties": {
            "acquisition": acq.key,
            "municipalities": list(acq.municipalities),
            "names": names,
        },
        "geometry": mapping(area),
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


@task(name="search-new-s1", **SEARCH_TASK)
def search_new(
    ctx: RunContext, aoi: AOI, options: dict[str, Any], window: str, watch: str
) -> list[dict[str, Any]]:
    """Sentinel-1 items in the window that this watch has not handled."""
    settings = ctx.settings
    src = resolve_sources(
        options["source"], configured=dict(settings.sources), profile=options["profile"],
        overrides=options["family_sources"],
    )  # fmt: skip
    period = parse_period(window, what="look-back window")
    prep = Prepared(settings, aoi, period, period, src, ctx.out_root)
    items = search_family(prep, "s1", period, ("vv", "vh"))
    with open_registry(settings) as reg:
        done = handled_acquisitions(reg, watch, [acquisition_key(i) for i in items])
    new = [i for i in items if acquisition_key(i) not in done]
    get_run_logger().info(
        "%d Sentinel-1 items in %s, %d already handled, %d new", len(items), window,
        len(items) - len(new), len(new),
    )  # fmt: skip
    return new


@flow(name="s1_flood_check", log_prints=False)
@with_run_options(after="today")
def s1_flood_check(
    aoi: str = "yamaguchi",
    lookback_days: int = 3,
    pre_event_days: int = 30,
    today: str | None = None,
    watch: str = "s1-flood",
    resume_of: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Map floods from the Sentinel-1 acquisitions of the last ``lookback_days`` days that
    were not handled before, over the municipalities each one covers.

    ``today`` (a date or ``today``, Asia/Tokyo by default) ends the look-back window.
    """
    params = dict(aoi=aoi, lookback_days=lookback_days, pre_event_days=pre_event_days,
                  today=today, **options, watch=watch, resume_of=resume_of)  # fmt: skip

    def body(ctx: RunContext) -> dict[str, Any]:
        if lookback_days < 1 or pre_event_days < 12:
            from ..errors import ParameterError

            raise ParameterError(
                f"lookback_days must be ≥ 1 (got {lookback_days}) and pre_event_days ≥ 12, "
                f"one Sentinel-1 repeat cycle (got {pre_event_days})"
            )
        end = parse_period(ctx.params["today"], what="today").end  # resolved once, recorded
        window = f"{end - dt.timedelta(days=lookback_days)}/{end}"
        boundaries = _boundaries(ctx.settings)  # read once: the AOI and the coverage use it
        area = resolve_aoi(aoi, boundaries_path=ctx.settings.boundaries.path, boundaries=boundaries)
        new = search_new(ctx, area, options, window, watch)
        acqs = group_acquisitions(new, area, boundaries)
        rows, products, failures = _map_each(ctx, params, acqs, boundaries)
        create_table_artifact(
            key="s1-flood-check", table=rows or [{"acquisition": "none new", "outcome": "-"}],
            description=f"Sentinel-1 acquisitions {window} over {area.name_en}",
        )  # fmt: skip
        if failures:
            first = failures[0]
            raise AcquisitionsFailedError(
                f"{len(failures)} of {len(acqs)} new acquisitions could not be mapped "
                f"(they are tried again by the next check); first: {first}",
                reason_of(first),
            )
        outcome = "mapped" if products else ("nothing_new" if not acqs else "insufficient_data")
        return {
            "outcome": outcome,
            "message": f"{len(acqs)} new acquisitions in {window}, {len(products)} products",
            "window": window,
            "acquisitions": rows,
            "products": products,
        }

    return cast(dict[str, Any], tracked("s1_flood_check", params, body, output_root=options["out"]))


def _map_each(
    ctx: RunContext,
    params: dict[str, Any],
    acqs: list[Acquisition],
    boundaries: Boundaries | None,
) -> tuple[list[dict[str, Any]], list[str], list[Exception]]:
    rows: list[dict[str, Any]] = []
    products: list[str] = []
    failures: list[Exception] = []
    folder = ctx.out_root / ".yamasat" / "watch" / params["watch"]
    for acq in acqs:
        first_day = acq.day - dt.timedelta(days=params["pre_event_days"])
        pre = f"{first_day}/{acq.day - dt.timedelta(days=1)}"
        row: dict[str, Any] = {
            "acquisition": acq.key,
            "items": len(acq.item_keys),
            "municipalities": " ".join(acq.municipalities) or "(no boundaries)",
        }
        try:
            result = flood_mapping(
                aoi=str(_write_aoi(folder, acq, boundaries)),
                before=pre,
                after=f"{acq.day}/{acq.day}",
                sensor="s1",
                source=params["source"],
                out=params["out"],
                solution=params["solution"],
                force=params["force"],
                config=params["config"],
                profile=params["profile"],
                family_sources=params["family_sources"],
            )
        except Exception as e:  # one bad acquisition must not keep the others unmapped
            failures.append(e)
            row.update(outcome="failed", reason=reason_of(e), message=str(e)[:300])
            rows.append(row)
            continue
        flooded_ha = round(float(result.get("changed_area_m2", 0.0)) / 1e4, 2)
        row.update(outcome=result["outcome"], product=result.get("item_id"), flooded_ha=flooded_ha)
        if result["outcome"] in ("published", "exists"):
            products.append(str(result["item_id"]))
        rows.append(row)
        records = [
            AcquisitionRecord(
                watch=params["watch"], id=key, collection=key.split("/", 1)[0],
                acquired_at=acq.acquired_at, outcome=str(result["outcome"]),
                municipalities=acq.municipalities, run_id=ctx.run_id,
            )
            for key in acq.item_keys
        ]  # fmt: skip
        try:
            with open_registry(ctx.settings) as reg:
                mark_acquisitions(reg, records)
        except Exception as e:  # mapped and published; the next check finds the product
            log.warning("acquisition %s mapped but not remembered: %s", acq.key, e)
    return rows, products, failures
