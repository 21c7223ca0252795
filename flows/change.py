"""The ``change_detection`` Prefect flow: search → analyse and write → publish → summarise.

Tasks pass item dicts and small frozen values; the dask graph is built and computed inside
the analysis task, at the write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from catalogs.settings import load_settings
from flows.change_steps import analyse_change
from flows.compute import compute_on
from flows.prepare import Prepared, prepare, search_family
from flows.progress import report
from flows.publish import ProductOutcome, summary_markdown
from flows.register import check_solution_task, register_task
from processing.change_detection import ChangeParams

__all__ = ["change_detection"]


@task(name="search", retries=2, retry_delay_seconds=[2, 8], cache_policy=NO_CACHE)
def search_task(prep: Prepared, which: str, bands: tuple[str, ...]) -> list[dict[str, Any]]:
    """Items of the before or after period (network: retried)."""
    period = prep.before if which == "before" else prep.after
    report(f"search {which}", 0, 1)
    items = search_family(prep, "s2", period, (*bands, "scl"))
    report(f"search {which}", 1, 1)
    get_run_logger().info("%s: %d Sentinel-2 items in %s", which, len(items), period)
    return items


@task(name="analyse-and-write", cache_policy=NO_CACHE)
def analyse_task(
    prep: Prepared,
    before_items: list[dict[str, Any]],
    after_items: list[dict[str, Any]],
    params: ChangeParams,
    force: bool,
) -> ProductOutcome:
    """Composites, ΔNDVI, threshold, MMU and the product files; publishes the STAC item."""
    run_id = str(flow_run.get_id() or "")
    with compute_on(prep.settings):
        return analyse_change(
            prep, before_items, after_items, params=params, force=force, run_id=run_id or None
        )


@flow(name="change_detection", log_prints=False)
def change_detection(
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
    """Detect vegetation-loss change over ``aoi`` between two periods and publish the product."""
    settings = load_settings(Path(config) if config else None)
    prep = prepare(
        aoi=aoi,
        before=before,
        after=after,
        source=source,
        out=Path(out) if out else None,
        settings=settings,
        profile=profile,
    )
    if solution:
        check_solution_task(settings, solution)
    ch = settings.analytics.change
    params = ChangeParams(
        index=ch.index,
        threshold=ch.threshold,
        direction=ch.direction,
        min_mapping_unit_px=ch.min_mapping_unit_px,
    )
    bands = params.bands()
    before_items = search_task(prep, "before", bands)
    after_items = search_task(prep, "after", bands)
    outcome = analyse_task(prep, before_items, after_items, params, force)
    create_markdown_artifact(
        key="change-summary", markdown=summary_markdown(prep, outcome), description="change run"
    )
    result = outcome.as_dict()
    result["solution"] = solution
    if solution and outcome.outcome in ("published", "exists"):
        rid = flow_run.get_id()
        result["registration"] = register_task(
            settings, result, solution, str(rid) if rid else None
        )
    return result
