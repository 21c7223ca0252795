"""What every product flow does the same way: prepare, search (checkpointed, so a resumed run
does not search again), analyse under the product's lock, finish (artifact, registry)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from ..catalogs.sources.signing import signed_for_reading
from ..errors import HrefPolicyError, SourceError, YamasatError
from ..settings import Settings
from .checkpoints import Checkpoints
from .compute import compute_on
from .prepare import Prepared, network_policy, prepare, search_family
from .progress import report
from .publish import ProductOutcome, summary_markdown
from .registration import check_solution_task, register_task
from .tracking import current_run_id, product_lock

__all__ = [
    "SEARCH_TASK",
    "analyse_locked",
    "analyse_task",
    "finish_run",
    "prepare_run",
    "retry_worthwhile",
    "search_task",
]


def prepare_run(
    *,
    aoi: str,
    before: str,
    after: str,
    source: str,
    settings: Settings,
    out_root: Path,
    profile: str | None,
    solution: str | None,
) -> Prepared:
    """Every input checked (periods, AOI, source, solution) before any search."""
    prep = prepare(
        aoi=aoi,
        before=before,
        after=after,
        source=source,
        out=out_root,
        settings=settings,
        profile=profile,
    )
    if solution:
        check_solution_task(settings, solution)
    return prep


def retry_worthwhile(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a search only when it failed in a way that may pass: the network or the service
    (SourceError), or something unexpected; not for no data, a refused href or bad input."""
    try:
        state.result()
    except HrefPolicyError:
        return False
    except SourceError:
        return True
    except YamasatError:
        return False
    except Exception:
        return True
    return False


#: options of every task that searches a source: network failures are retried with backoff
SEARCH_TASK: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [2, 8],
    "retry_condition_fn": retry_worthwhile,
    "cache_policy": NO_CACHE,
}


@task(name="search", **SEARCH_TASK)
def search_task(
    prep: Prepared,
    which: str,
    family: str,
    bands: tuple[str, ...],
    checkpoints: Checkpoints | None = None,
) -> list[dict[str, Any]]:
    """Items of the before or after period (network: retried); a resumed run takes them from
    the checkpoint of the run it resumes."""
    period = prep.before if which == "before" else prep.after
    stage = f"search-{which}-{family}"
    saved = checkpoints.load(stage) if checkpoints else None
    if saved is not None:
        get_run_logger().info(
            "%s: %d items from the checkpoint of run %s",
            stage,
            len(saved),
            checkpoints.lineage if checkpoints else "?",
        )
        report(f"search {which}", 1, 1)
        return revetted(prep, family, bands, list(saved))
    report(f"search {which}", 0, 1)
    items = search_family(prep, family, period, bands)
    report(f"search {which}", 1, 1)
    get_run_logger().info("%s: %d %s items in %s", which, len(items), family, period)
    if checkpoints:
        checkpoints.save(stage, items)
    return items


def revetted(
    prep: Prepared, family: str, bands: tuple[str, ...], items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Items read back from a checkpoint, their hrefs checked by the security policy again:
    the file lives in the output folder, which is not trusted more than a source."""
    import pystac

    from .prepare import vetted

    return vetted(prep, family, bands, [pystac.Item.from_dict(d) for d in items])


def analyse_locked(
    prep: Prepared, flow: str, variant: str, analyse: Callable[..., ProductOutcome], **kwargs: Any
) -> ProductOutcome:
    """Run ``analyse(prep, **kwargs)`` on the configured dask scheduler, holding the lock of the
    product (flow, AOI, periods, variant): a second run of the same product waits, then finds
    it published and does nothing."""
    key = {
        "flow": flow,
        "variant": variant,
        "aoi": prep.aoi.key,
        "before": str(prep.before),
        "after": str(prep.after),
    }
    with product_lock(prep.settings, prep.out_root, key), compute_on(prep.settings):
        for name in ("before_items", "after_items"):  # sign just before reading
            if name in kwargs:
                kwargs[name] = signed_for_reading(
                    kwargs[name],
                    needs_signing=prep.source.profile.needs_signing,
                    policy=network_policy(prep.settings),
                )
        return analyse(prep, run_id=current_run_id(), **kwargs)


@task(name="analyse-and-write", cache_policy=NO_CACHE)
def analyse_task(
    prep: Prepared,
    flow: str,
    variant: str,
    analyse: Callable[..., ProductOutcome],
    before_items: list[dict[str, Any]],
    after_items: list[dict[str, Any]],
    force: bool,
    checkpoints: Checkpoints | None = None,
    **extra: Any,
) -> ProductOutcome:
    """The analysis of one product, under its lock (:func:`analyse_locked`). Each flow
    names its run of it with ``analyse_task.with_options(name="analyse-burn")``."""
    return analyse_locked(
        prep, flow, variant, analyse, before_items=before_items, after_items=after_items,
        force=force, checkpoints=checkpoints, **extra,
    )  # fmt: skip


def finish_run(prep: Prepared, outcome: ProductOutcome, solution: str | None) -> dict[str, Any]:
    """Markdown artifact, JSON-safe result, and registration with the solution if given."""
    create_markdown_artifact(
        key=f"{outcome.kind}-summary",
        markdown=summary_markdown(prep, outcome),
        description=f"{outcome.kind} run",
    )
    if outcome.municipalities:
        create_table_artifact(
            key=f"{outcome.kind}-municipalities",
            table=[
                {k: v for k, v in row.items() if isinstance(v, str | int | float)}
                for row in outcome.municipalities
            ],
            description=f"{outcome.kind}: detected area per municipality",
        )
    result = outcome.as_dict()
    result["solution"] = solution
    if solution and outcome.outcome in ("published", "exists"):
        result["registration"] = register_task(prep.settings, result, solution, current_run_id())
    return result
