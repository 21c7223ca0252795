"""Prefect tasks that tie product flows to the solutions registry (``--solution ID``)."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from catalogs.settings import Settings
from flows.indicator import check_solution, register_outcome

__all__ = ["check_solution_task", "register_task"]


@task(name="check-solution", cache_policy=NO_CACHE)
def check_solution_task(settings: Settings, solution: str) -> None:
    """Refuse an unknown solution id before any search or analysis."""
    check_solution(settings, solution)


@task(name="register", retries=2, retry_delay_seconds=[1, 4], cache_policy=NO_CACHE)
def register_task(
    settings: Settings, outcome: dict[str, Any], solution: str, run_id: str | None
) -> dict[str, Any]:
    """Verify the published product's files and register it, linked to ``solution``."""
    # a product found already published is verified again from its STAC item
    target: dict[str, Any] | str = (
        str(outcome["item_href"]) if outcome.get("outcome") == "exists" else outcome
    )
    reg = register_outcome(settings, target, solution_id=solution, run_id=run_id)
    get_run_logger().info("%s", reg.message)
    return reg.as_dict()
