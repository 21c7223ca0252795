"""The ``change_detection`` Prefect flow: search → analyse and write → publish → summarise.

Tasks pass item dicts and small frozen values; the dask graph is built and computed inside
the analysis task, at the write.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.change_steps import analyse_change
from flows.compute import compute_on
from flows.prepare import Prepared
from flows.publish import ProductOutcome
from flows.run_common import current_run_id, finish_run, prepare_run, search_task
from processing.change_detection import ChangeParams

__all__ = ["change_detection"]


@task(name="analyse-and-write", cache_policy=NO_CACHE)
def analyse_task(
    prep: Prepared,
    before_items: list[dict[str, Any]],
    after_items: list[dict[str, Any]],
    params: ChangeParams,
    force: bool,
) -> ProductOutcome:
    """Composites, ΔNDVI, threshold, MMU and the product files; publishes the STAC item."""
    with compute_on(prep.settings):
        return analyse_change(
            prep, before_items, after_items, params=params, force=force, run_id=current_run_id()
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
    prep = prepare_run(
        aoi=aoi,
        before=before,
        after=after,
        source=source,
        out=out,
        config=config,
        profile=profile,
        solution=solution,
    )
    settings = prep.settings
    ch = settings.analytics.change
    params = ChangeParams(
        index=ch.index,
        threshold=ch.threshold,
        direction=ch.direction,
        min_mapping_unit_px=ch.min_mapping_unit_px,
    )
    bands = params.bands()
    before_items = search_task(prep, "before", "s2", (*bands, "scl"))
    after_items = search_task(prep, "after", "s2", (*bands, "scl"))
    outcome = analyse_task(prep, before_items, after_items, params, force)
    return finish_run(prep, outcome, solution)
