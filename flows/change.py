"""The ``change_detection`` Prefect flow: search → analyse and write → publish → summarise.

How the product is computed: :mod:`yamasat.flows.recipes.change_detection`. Tasks pass item
dicts and small frozen values; the dask graph is built and computed inside the analysis task,
at the writes. The run is recorded in the registry (``yamasat runs list``); a failed run ends
with a reason (``no_data: ...``) and can be resumed (``resume_of``).
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from .product_run import run_product
from .recipes import CHANGE

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
    return run_product(CHANGE, params)
