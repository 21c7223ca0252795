"""The demo's rain chain: the sample's GSMaP series → rain events → the flood and landslide
products they call for → the event report, offline (``yamasat demo``).

The ``rain_watch`` flow runs over the demo extent on two days of the sample's timeline: on
:data:`WATCH_DAYS` ``[0]`` the storm of 07-02..07-05 is found and the Sentinel-1 pass of
07-06 makes the S1 flood (and the fused flood, S1 covering the event); on ``[1]`` the clear
Sentinel-2 scene of 08-18 makes the landslide product (the 07-09 scene is too cloudy). These
*are* the demo's S1 flood and landslide products (:data:`WATCH_MADE`): the demo scores them
against the planted truth like its other runs, instead of making them a second time.
Products run inline (no Prefect server of the demo's own is configured).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalogs.registry import Registry
from ..catalogs.registry.events import event_links, rain_events
from ..catalogs.sample.manifest import SampleManifest
from .rain_plan import FLOOD_FUSED, FLOOD_S1, KINDS, LANDSLIDE_S2
from .rain_report import municipality_name

__all__ = ["WATCH_DAYS", "WATCH_MADE", "EventRow", "RainChain", "run_rain_chain"]

#: the demo's products the rain watch makes: demo name → the watch's product kind
WATCH_MADE = {"flood (S1)": FLOOD_S1, "landslide": LANDSLIDE_S2}

#: the days the demo's watch runs on: after the S1 pass of 07-06, after the clear 08-18 scene
WATCH_DAYS = ("2025-07-08", "2025-08-20")

#: column titles of the kinds in the demo's table
KIND_TITLES = {FLOOD_S1: "flood (S1)", FLOOD_FUSED: "flood (fused)", LANDSLIDE_S2: "landslide"}


@dataclass(frozen=True)
class EventRow:
    """One rain event of the demo and what it got, per product kind."""

    municipality: str
    start: str
    peak: str
    end: str
    peak_mm: float
    products: dict[str, str] = field(default_factory=dict)
    """kind → ``made <product>``, ``pending: reason`` or ``closed: reason``"""


@dataclass(frozen=True)
class RainChain:
    """What the demo's rain watch did."""

    results: dict[str, dict[str, Any]]
    """the product runs the watch made, by kind (flow results with ``aoi``, ``before``,
    ``after``)"""
    events: tuple[EventRow, ...]
    report: Path
    runs: int


def _status(link: Any) -> str:
    if link is None:
        return "not checked"
    if link.status == "made":
        return f"made {link.product_id}"
    return f"{link.status}: {link.reason}"


def event_rows(registry_url: str) -> tuple[EventRow, ...]:
    """The events in the registry at ``registry_url`` and what each got."""
    with Registry.open(registry_url) as reg:
        events = rain_events(reg)
        links = event_links(reg, [e.id for e in events])
    return tuple(
        EventRow(
            municipality_name(e.code),
            str(e.start),
            str(e.peak),
            str(e.end or "ongoing"),
            e.peak_mm,
            {k: _status(links.get((e.id, k))) for k in KINDS},
        )
        for e in sorted(events, key=lambda e: (e.start, e.code))
    )


def run_rain_chain(root: Path, products: Path, aoi: str, registry_url: str) -> RainChain:
    """Run the rain watch over ``aoi`` with the sample archive at ``root`` on each of
    :data:`WATCH_DAYS`, products under ``products``; its products, events (from the registry
    at ``registry_url``) and report."""
    SampleManifest.read(root)  # the archive must be there (run_demo builds it)
    results: dict[str, dict[str, Any]] = {}
    report = ""
    # a quiet demo: "no municipal boundaries" is said once per product already (its
    # warnings), and "no rainfall" on 08-20 is the sample's series ending on 07-20
    quiet = [logging.getLogger(n) for n in ("yamasat.flows.rain_data", "prefect.flow_runs")]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.ERROR)
    try:
        for day in WATCH_DAYS:
            results_of_day = _watch(root, products, aoi, day)
            results.update(results_of_day["results"])
            report = results_of_day["report"]
    finally:
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)
    return RainChain(results, event_rows(registry_url), Path(report), len(WATCH_DAYS))


def _watch(root: Path, products: Path, aoi: str, day: str) -> dict[str, Any]:
    from .rain_watch import rain_watch

    # force on the first day: a rerun of the demo in the same workspace makes its products
    # again, as the demo's other runs do (the stored events would say "made")
    return rain_watch(
        aoi=aoi,
        today=day,
        rain_source=str(root / "gsmap" / "catalog.json"),
        run_products="inline",
        source=str(root / "catalog.json"),
        out=str(products),
        force=day == WATCH_DAYS[0],
    )
