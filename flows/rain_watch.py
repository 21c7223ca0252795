"""The daily rain watch: rain → events → the disaster products they call for.

``rain_watch`` reads the last ``lookback_days`` of daily rainfall (``rainfall.source``, or
``rain_source``) over the AOI, detects and records rain events (``rain_events``: one row per
storm and municipality, so a rerun over the same days adds none), groups the events still
within their product windows into storms (``rain_plan.storms``), and for each storm and
product kind decides (``rain_plan.plan``) and acts:

* S1 flood (``flood_mapping``, sensor s1) on the first Sentinel-1 acquisition after the peak,
  over the storm's municipalities ∩ that acquisition's footprint, with the
  ``rainfall.watch.reference_days`` before the storm as reference;
* fused flood (``flood_mapping``, sensor fused) where S1 covers the event: on the same pass,
  from every S1 and S2 acquisition between the day after the peak and it, same area;
* S2 landslide (``landslide_mapping``) on the first Sentinel-2 date after the peak whose
  clear fraction (1 − the mean ``eo:cloud_cover`` of its tiles) reaches
  ``rainfall.watch.s2_min_clear_fraction``.

At the end it writes the event report (``rain_report.py``) under ``<out>/rain-report/``.
The products run inline as subflows (recorded runs of their own), or as deployments with a
Prefect server (``rain_dispatch.py``, ``run_products``). What each event got — the
product, or pending and why, or closed — is kept in ``rain_event_products``, one row per
event and kind; a storm whose product is made is not asked again, so reruns on the same days
make no second product. The coverage-driven ``s1_flood_check`` (``s1-flood-daily``) stays
as it is: it maps every new S1 pass, rain or not; this watch asks for products only after
rain events.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any, cast

import shapely
from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from ..catalogs.extent.aoi import AOI, resolve_aoi
from ..catalogs.extent.periods import Period, parse_period
from ..catalogs.registry import open_registry
from ..catalogs.registry.events import event_links, link_event_product, rain_events, record_events
from ..catalogs.sources.family_sources import resolve_sources
from ..errors import NoDataError
from .disaster import flood_mapping, landslide_mapping
from .flow_factory import with_run_options
from .prepare import Prepared, search_family
from .rain_data import boundaries_or_none, detect, rainfall_table
from .rain_dispatch import dispatch
from .rain_plan import (
    FLOOD_FUSED,
    KINDS,
    S1_KINDS,
    Request,
    Scene,
    Storm,
    fused_plan,
    plan,
    storms,
)
from .rain_report import write_rain_report
from .tracking import RunContext, tracked

__all__ = ["rain_watch"]

log = logging.getLogger(__name__)

_BANDS = {"s1": ("vv", "vh"), "s2": ("red", "nir")}


def _scenes(
    ctx: RunContext, options: dict[str, Any], family: str, area: AOI, period: Period
) -> tuple[list[Scene], dict[dt.date, BaseGeometry]]:
    """The acquisition dates of ``family`` (s1, s2) over ``area`` in ``period``, with their
    clear fraction (S1: 1) and footprint."""
    bands = _BANDS[family]
    src = resolve_sources(
        options["source"], configured=dict(ctx.settings.sources), profile=options["profile"],
        overrides=options["family_sources"],
    )  # fmt: skip
    try:
        items = search_family(Prepared(ctx.settings, area, period, period, src, ctx.out_root),
                              family, period, bands)  # fmt: skip
    except NoDataError:
        return [], {}
    by_day: dict[dt.date, list[dict[str, Any]]] = {}
    for it in items:
        props = it.get("properties", {})
        when = str(props.get("datetime") or props.get("start_datetime"))
        by_day.setdefault(dt.date.fromisoformat(when[:10]), []).append(it)
    scenes: list[Scene] = []
    feet: dict[dt.date, BaseGeometry] = {}
    for day, its in sorted(by_day.items()):
        clouds = [float(i["properties"].get("eo:cloud_cover", 0.0)) for i in its]
        clear = 1.0 if family == "s1" else 1.0 - sum(clouds) / len(clouds) / 100.0
        scenes.append(Scene(day, round(clear, 3)))
        feet[day] = shapely.union_all([shape(i["geometry"]) for i in its if i.get("geometry")])
    return scenes, feet


def _storm_aoi(folder: Path, storm: Storm, kind: str, area: BaseGeometry, day: dt.date) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{storm.key}-{kind}-{day:%Y%m%d}.geojson"
    feature = {"type": "Feature", "geometry": mapping(area),
               "properties": {"storm": storm.key, "municipalities": list(storm.codes)}}  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def _make(
    ctx: RunContext, params: dict[str, Any], storm: Storm, req: Request, area: BaseGeometry
) -> dict[str, Any]:
    """Run the product flow the request asks for (inline or as a deployment); its result,
    with the run's ``aoi``, ``before`` and ``after``."""
    assert req.after is not None and req.before is not None
    folder = ctx.out_root / ".yamasat" / "watch" / "rain"
    aoi = str(_storm_aoi(folder, storm, req.kind, area, req.after))
    run: dict[str, Any] = {
        k: params[k] for k in ("source", "out", "force", "config", "profile", "family_sources")
    }
    first = req.first or req.after
    run.update(aoi=aoi, before=f"{req.before[0]}/{req.before[1]}", after=f"{first}/{req.after}")
    if req.kind in S1_KINDS:
        run["sensor"] = "fused" if req.kind == FLOOD_FUSED else "s1"
        flow_name, inline = "flood_mapping", flood_mapping
    else:
        flow_name, inline = "landslide_mapping", landslide_mapping
    result = dispatch(ctx.settings, params["run_products"], flow_name, inline, run)
    return {**result, "aoi": aoi, "before": run["before"], "after": run["after"]}


def _handle(
    ctx: RunContext,
    params: dict[str, Any],
    storm: Storm,
    kind: str,
    zones: dict[str, BaseGeometry],
    today: dt.date,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Decide, act and record for one storm and kind; the row of the run's table and the
    product run's result (None when nothing ran)."""
    cfg = ctx.settings.rainfall.watch
    with open_registry(ctx.settings) as reg:
        links = event_links(reg, storm.event_ids)
    # force: ask again for what was made or closed (and remake it), as a product run would
    done = not params["force"] and all(
        links.get((e, kind)) and links[(e, kind)].status in ("made", "closed")
        for e in storm.event_ids
    )
    union = shapely.union_all([zones[c] for c in storm.codes if c in zones])
    window = cfg.s1_window_days if kind in S1_KINDS else cfg.s2_window_days
    scenes: list[Scene] = []
    feet: dict[dt.date, BaseGeometry] = {}
    last = min(today, storm.peak + dt.timedelta(days=window))
    area = AOI(storm.key, storm.key, storm.key, union, "rain watch")
    after = Period(storm.peak + dt.timedelta(days=1), last)
    searching = not done and not union.is_empty and last > storm.peak
    if searching:
        scenes, feet = _scenes(ctx, params, "s1" if kind in S1_KINDS else "s2", area, after)
    min_clear = cfg.s2_min_clear_fraction if kind not in S1_KINDS else 0.0
    req = plan(
        storm, kind, scenes, today=today, window_days=window,
        reference_days=cfg.reference_days, min_clear=min_clear, done=done,
    )  # fmt: skip
    if kind == FLOOD_FUSED and req.status == "run":
        optical, _ = _scenes(ctx, params, "s2", area, after)
        req = fused_plan(storm, req, optical, today=today, window_days=window)
    row = {
        "storm": storm.key,
        "kind": kind,
        "status": req.status,
        "reason": req.reason,
        "product": None,
    }
    status, product, reason, result = req.status, None, req.reason, None
    if req.status == "run":
        day = cast(dt.date, req.footprint_day or req.after)
        area_now = shapely.make_valid(union.intersection(feet[day]))
        result = _make(ctx, params, storm, req, area_now)
        product = result.get("item_id") if result["outcome"] in ("published", "exists") else None
        status = "made" if product else "pending"
        reason = f"{req.reason}: {result['outcome']}"
        row.update(status=status, product=product, reason=reason, after=result["after"])
    if status != "done":
        with open_registry(ctx.settings) as reg:
            link_event_product(
                reg, storm.event_ids, kind=kind, status=status, product_id=product,
                reason=reason, clear_fraction=req.clear_fraction, run_id=ctx.run_id,
            )  # fmt: skip
    return row, result


def _detect(ctx: RunContext, area: AOI, today: dt.date, lookback: int, rain_source: str | None,
            boundaries: Any) -> tuple[dict[str, BaseGeometry], list[str]]:  # fmt: skip
    """Read the rain, record the events; the zones and the new event ids."""
    period = Period(today - dt.timedelta(days=lookback), today)
    try:
        table = rainfall_table(ctx.settings, aoi=area, period=period, source=rain_source,
                               today=today, boundaries=boundaries)  # fmt: skip
    except NoDataError as e:
        get_run_logger().warning("no rainfall for %s: %s; stored events only", period, e)
        from .rain_data import zones_of

        return zones_of(area, boundaries), []
    for warning in table.warnings:
        get_run_logger().warning("rainfall: %s", warning)
    found = detect(ctx.settings, table)
    with open_registry(ctx.settings) as reg:
        _, new = record_events(reg, found, merge_gap_days=ctx.settings.rainfall.merge_gap_days)
    return table.zones, new


@flow(name="rain_watch", log_prints=False)
@with_run_options(after="today")
def rain_watch(
    aoi: str = "yamaguchi",
    lookback_days: int = 10,
    today: str | None = None,
    rain_source: str | None = None,
    run_products: str = "auto",
    resume_of: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Detect rain events over ``aoi`` in the last ``lookback_days`` days up to ``today``
    (a date or ``today``, Asia/Tokyo) and make or follow up their S1 flood and S2 landslide
    products (and the fused flood where S1 covers). ``source`` is where the products' imagery
    comes from; ``rain_source`` the rainfall (default ``rainfall.source``); ``run_products``
    auto, inline or deployments (``rain_dispatch.py``)."""
    params = dict(aoi=aoi, lookback_days=lookback_days, today=today, rain_source=rain_source,
                  run_products=run_products, **options, resume_of=resume_of)  # fmt: skip

    def body(ctx: RunContext) -> dict[str, Any]:
        end = parse_period(ctx.params["today"], what="today").end
        boundaries = boundaries_or_none(ctx.settings)
        area = resolve_aoi(aoi, boundaries_path=ctx.settings.boundaries.path, boundaries=boundaries)
        zones, new = _detect(ctx, area, end, lookback_days, rain_source, boundaries)
        cfg = ctx.settings.rainfall.watch
        horizon = end - dt.timedelta(days=max(cfg.s1_window_days, cfg.s2_window_days) + 7)
        with open_registry(ctx.settings) as reg:
            events = rain_events(reg, codes=list(zones), since=horizon)
        handled = [
            _handle(ctx, params, storm, kind, zones, end)
            for storm in storms(events)
            for kind in KINDS
        ]
        rows = [row for row, _ in handled]
        create_table_artifact(
            key="rain-watch", table=rows or [{"storm": "none", "status": "-"}],
            description=f"rain events and products up to {end} over {area.name_en}",
        )  # fmt: skip
        products = [r["product"] for r in rows if r["product"]]
        report = write_rain_report(ctx.settings, ctx.out_root / "rain-report", today=end,
                                   rain_source=rain_source)  # fmt: skip
        return {
            "outcome": "mapped" if products else ("events" if events else "no_events"),
            "message": f"{len(events)} events ({len(new)} new), {len(products)} products",
            "new_events": new,
            "rows": rows,
            "products": products,
            "results": {row["kind"]: res for row, res in handled if res is not None},
            "report": str(report.html),
        }

    return cast(dict[str, Any], tracked("rain_watch", params, body, output_root=options["out"]))
