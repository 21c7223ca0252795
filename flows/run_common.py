"""What every product flow does the same way: prepare, search, finish (artifact, registry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from catalogs.settings import load_settings
from flows.prepare import Prepared, prepare, search_family
from flows.progress import report
from flows.publish import ProductOutcome, summary_markdown
from flows.register import check_solution_task, register_task

__all__ = ["current_run_id", "finish_run", "prepare_run", "search_task"]


def current_run_id() -> str | None:
    """The Prefect flow-run id, when running inside a flow."""
    rid = flow_run.get_id()
    return str(rid) if rid else None


def prepare_run(
    *,
    aoi: str,
    before: str,
    after: str,
    source: str,
    out: str | None,
    config: str | None,
    profile: str | None,
    solution: str | None,
) -> Prepared:
    """Settings, then every input checked (periods, AOI, source, solution) before any search."""
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
    return prep


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


def finish_run(prep: Prepared, outcome: ProductOutcome, solution: str | None) -> dict[str, Any]:
    """Markdown artifact, JSON-safe result, and registration with the solution if given."""
    create_markdown_artifact(
        key=f"{outcome.kind}-summary",
        markdown=summary_markdown(prep, outcome),
        description=f"{outcome.kind} run",
    )
    result = outcome.as_dict()
    result["solution"] = solution
    if solution and outcome.outcome in ("published", "exists"):
        result["registration"] = register_task(prep.settings, result, solution, current_run_id())
    return result
