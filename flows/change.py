"""The ``change_detection`` Prefect flow: search → analyse and write → publish → summarise.

How the product is computed: :mod:`yamasat.flows.recipes.change_detection`. Tasks pass item
dicts and small frozen values; the dask graph is built and computed inside the analysis task,
at the writes. The run is recorded in the registry (``yamasat runs list``); a failed run ends
with a reason (``no_data: ...``) and can be resumed (``resume_of``). Its parameters:
:func:`yamasat.flows.flow_factory.product_flow`.
"""

from __future__ import annotations

from .flow_factory import product_flow
from .recipes import CHANGE

__all__ = ["change_detection"]

change_detection = product_flow(
    "change_detection",
    CHANGE,
    """Detect vegetation-loss change over ``aoi`` between two periods and publish the product.

    Periods are ``A/B`` dates or relative to the run's day (``P30D/today``). ``resume_of``
    names a failed run to resume: its finished stages are not repeated.
    """,
    __name__,
)
