"""Prefect flows of the disaster products: ``flood_mapping``, ``landslide_mapping``,
``burn_mapping``. Each reads: config → search → analyse and write → publish → summarise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from catalogs.errors import YamasatError
from catalogs.settings import load_settings
from flows.compute import compute_on
from flows.disaster_steps import analyse_burn, analyse_flood_s1, analyse_flood_s2, analyse_landslide
from flows.prepare import Prepared, prepare, search_family
from flows.progress import report
from flows.publish import ProductOutcome, summary_markdown
from flows.register import check_solution_task, register_task

__all__ = ["burn_mapping", "flood_mapping", "landslide_mapping"]

_BANDS = {
    "s1": ("vv", "vh"),
    "flood-s2": ("green", "swir16", "scl"),
    "landslide": ("red", "nir", "green", "swir16", "scl"),
    "burn": ("nir", "swir22", "green", "swir16", "scl"),
}


@task(name="search", retries=2, retry_delay_seconds=[2, 8], cache_policy=NO_CACHE)
def search_task(
    prep: Prepared, which: str, family: str, bands: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Items of the before or after period (network: retried)."""
    period = prep.before if which == "before" else prep.after
    report(f"search {which}", 0, 1)
    items = search_family(prep, family, period, bands)
    report(f"search {which}", 1, 1)
    get_run_logger().info("%s: %d %s items in %s", which, len(items), family, period)
    return items


def _run_id() -> str | None:
    rid = flow_run.get_id()
    return str(rid) if rid else None


def _prepare(
    solution: str | None,
    aoi: str,
    before: str,
    after: str,
    source: str,
    out: str | None,
    config: str | None,
    profile: str | None,
) -> Prepared:
    settings = load_settings(Path(config) if config else None)
    if solution:
        check_solution_task(settings, solution)
    return prepare(
        aoi=aoi,
        before=before,
        after=after,
        source=source,
        out=Path(out) if out else None,
        settings=settings,
        profile=profile,
    )


def _finish(prep: Prepared, outcome: ProductOutcome, solution: str | None) -> dict[str, Any]:
    """Artifact, result dict, and registration with the solution when one was given."""
    create_markdown_artifact(
        key=f"{outcome.kind}-summary",
        markdown=summary_markdown(prep, outcome),
        description=f"{outcome.kind} run",
    )
    result = outcome.as_dict()
    result["solution"] = solution
    if solution and outcome.outcome in ("published", "exists"):
        result["registration"] = register_task(prep.settings, result, solution, _run_id())
    return result


@task(name="analyse-flood", cache_policy=NO_CACHE)
def flood_task(
    prep: Prepared,
    sensor: str,
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
    force: bool,
) -> ProductOutcome:
    analyse = analyse_flood_s1 if sensor == "s1" else analyse_flood_s2
    with compute_on(prep.settings):
        return analyse(prep, before, after, force=force, run_id=_run_id())


@flow(name="flood_mapping", log_prints=False)
def flood_mapping(
    aoi: str,
    before: str,
    after: str,
    sensor: str = "s1",
    source: str = "sample",
    out: str | None = None,
    solution: str | None = None,
    force: bool = False,
    config: str | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    """Flood extent (and likelihood, for SAR) between a pre-event and a post-event period."""
    if sensor not in ("s1", "s2"):
        raise YamasatError(f"unknown sensor {sensor!r}; use s1 (Sentinel-1 SAR) or s2 (Sentinel-2)")
    prep = _prepare(solution, aoi, before, after, source, out, config, profile)
    family, bands = ("s1", _BANDS["s1"]) if sensor == "s1" else ("s2", _BANDS["flood-s2"])
    b = search_task(prep, "before", family, bands)
    a = search_task(prep, "after", family, bands)
    return _finish(prep, flood_task(prep, sensor, b, a, force), solution)


@task(name="analyse-landslide", cache_policy=NO_CACHE)
def landslide_task(
    prep: Prepared, before: list[dict[str, Any]], after: list[dict[str, Any]], force: bool
) -> ProductOutcome:
    with compute_on(prep.settings):
        return analyse_landslide(prep, before, after, force=force, run_id=_run_id())


@flow(name="landslide_mapping", log_prints=False)
def landslide_mapping(
    aoi: str,
    before: str,
    after: str,
    source: str = "sample",
    out: str | None = None,
    solution: str | None = None,
    force: bool = False,
    config: str | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    """Landslide scars (one polygon per scar with area, mean slope and ΔNDVI)."""
    prep = _prepare(solution, aoi, before, after, source, out, config, profile)
    b = search_task(prep, "before", "s2", _BANDS["landslide"])
    a = search_task(prep, "after", "s2", _BANDS["landslide"])
    return _finish(prep, landslide_task(prep, b, a, force), solution)


@task(name="analyse-burn", cache_policy=NO_CACHE)
def burn_task(
    prep: Prepared, before: list[dict[str, Any]], after: list[dict[str, Any]], force: bool
) -> ProductOutcome:
    with compute_on(prep.settings):
        return analyse_burn(prep, before, after, force=force, run_id=_run_id())


@flow(name="burn_mapping", log_prints=False)
def burn_mapping(
    aoi: str,
    before: str,
    after: str,
    source: str = "sample",
    out: str | None = None,
    solution: str | None = None,
    force: bool = False,
    config: str | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    """Burn scar: dNBR severity classes and a binary burned product."""
    prep = _prepare(solution, aoi, before, after, source, out, config, profile)
    b = search_task(prep, "before", "s2", _BANDS["burn"])
    a = search_task(prep, "after", "s2", _BANDS["burn"])
    return _finish(prep, burn_task(prep, b, a, force), solution)
