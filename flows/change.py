"""The ``change_detection`` Prefect flow: search → analyse and write → publish → summarise.

Tasks pass item dicts and small frozen values; the dask graph is built and computed inside
the analysis task, at the write. The run is recorded in the registry (``yamasat runs list``);
a failed run ends with a reason (``no_data: ...``) and can be resumed (``resume_of``).
"""

from __future__ import annotations

from typing import Any, cast

from prefect import flow

from ..processing.change_detection import ChangeParams
from .change_steps import analyse_change
from .run_common import analyse_task, finish_run, prepare_run, search_task
from .tracking import RunContext, tracked

__all__ = ["change_detection"]


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
    resume_of: str | None = None,
) -> dict[str, Any]:
    """Detect vegetation-loss change over ``aoi`` between two periods and publish the product.

    Periods are ``A/B`` dates or relative to the run's day (``P30D/today``). ``resume_of``
    names a failed run to resume: its finished stages are not repeated.
    """
    params = dict(aoi=aoi, before=before, after=after, source=source, out=out,
                  solution=solution, force=force, config=config, profile=profile,
                  resume_of=resume_of)  # fmt: skip

    def body(ctx: RunContext) -> dict[str, Any]:
        prep = prepare_run(
            aoi=aoi,
            before=ctx.params["before"],  # relative periods resolved once, as recorded
            after=ctx.params["after"],
            source=source,
            settings=ctx.settings,
            out_root=ctx.out_root,
            profile=profile,
            solution=solution,
        )
        ch = ctx.settings.analytics.change
        change = ChangeParams(
            index=ch.index,
            threshold=ch.threshold,
            direction=ch.direction,
            min_mapping_unit_px=ch.min_mapping_unit_px,
        )
        bands = (*change.bands(), "scl")
        b = search_task(prep, "before", "s2", bands, ctx.checkpoints)
        a = search_task(prep, "after", "s2", bands, ctx.checkpoints)
        outcome = analyse_task.with_options(name="analyse-change")(
            prep,
            "change_detection",
            change.index,
            analyse_change,
            b,
            a,
            force,
            ctx.checkpoints,
            params=change,
        )
        return finish_run(prep, outcome, solution)

    # a failure returns a Failed state (reason in its message); Prefect raises the original
    # exception to a direct caller, so callers only ever receive the dict
    return cast(dict[str, Any], tracked("change_detection", params, body, output_root=out))
