"""How the ``rain_watch`` flow runs the products it asks for: inline, or as deployments.

* **inline** (the demo, ``yamasat run``, any run with no Prefect server of its own): the
  product flow runs in this process as a subflow, recorded as a run of its own.
* **deployments**: with a Prefect server, the watch runs each product through
  ``run_deployment`` on a deployment of the product's flow (``flood_mapping`` or
  ``landslide_mapping``, served by ``yamasat serve`` or a worker), waits for it and reads its
  outcome and product from the registry's record of that run (the run's id is the flow
  run's id), not from Prefect's result storage.

``run_products``: ``auto`` (default) runs as deployments when this watch itself runs from a
deployment and the product's flow has a deployment on the same server, else inline;
``inline``; ``deployments`` insists (a product flow without a deployment fails the watch,
naming it). When a flow has several deployments, the first by name is used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from ..catalogs.registry import open_registry
from ..catalogs.registry.run_records import run_record
from ..errors import ParameterError, UnknownRunError
from ..settings import Settings

__all__ = ["RUN_PRODUCTS", "dispatch", "product_deployment"]

RUN_PRODUCTS = ("auto", "inline", "deployments")

log = logging.getLogger(__name__)


def product_deployment(flow_name: str) -> str | None:
    """``flow/deployment`` of the first deployment (by name) of ``flow_name`` on the Prefect
    server this process talks to; None when it has none."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        found = client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name]))
        )
    names = sorted(d.name for d in found)
    return f"{flow_name}/{names[0]}" if names else None


def _in_deployment() -> bool:
    from prefect.runtime import deployment

    return bool(deployment.id)


def _choose(mode: str, flow_name: str) -> str | None:
    if mode not in RUN_PRODUCTS:
        raise ParameterError(
            f"run_products {mode!r}: use auto, inline or deployments ({', '.join(RUN_PRODUCTS)})"
        )
    if mode == "inline" or (mode == "auto" and not _in_deployment()):
        return None
    name = product_deployment(flow_name)
    if name is None and mode == "deployments":
        raise ParameterError(
            f"run_products=deployments but the Prefect server has no deployment of "
            f"{flow_name}: serve one (yamasat serve, a deployment of flow {flow_name}) or use "
            "run_products=auto"
        )
    if name is None:
        log.warning("no deployment of %s on the Prefect server: the product runs inline", flow_name)
    return name


def _as_deployment(
    settings: Settings, name: str, params: dict[str, Any], timeout_s: float
) -> dict[str, Any]:
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    flow_run = cast(
        FlowRun, run_deployment(name, parameters=params, timeout=timeout_s, poll_interval=1)
    )
    state = flow_run.state.type.value if flow_run.state else "UNKNOWN"
    with open_registry(settings) as reg:
        try:
            record = run_record(reg, str(flow_run.id))
        except UnknownRunError as e:
            raise UnknownRunError(
                f"deployment {name}: flow run {flow_run.id} ended {state} without a run record "
                f"in the registry ({e}); see its logs on the Prefect server"
            ) from e
    return {
        "outcome": record.outcome or record.state,
        "item_id": record.products[0] if record.products else None,
        "message": record.message,
        "run_id": record.id,
        "deployment": name,
        "state": state,
    }


def dispatch(
    settings: Settings,
    mode: str,
    flow_name: str,
    inline: Callable[..., dict[str, Any]],
    params: dict[str, Any],
    *,
    timeout_s: float = 6 * 3600,
) -> dict[str, Any]:
    """Run ``flow_name`` with ``params``: through its deployment when ``mode`` says so (see
    the module), else ``inline(**params)``; the run's result (``outcome``, ``item_id``)."""
    name = _choose(mode, flow_name)
    if name is None:
        return inline(**params)
    return _as_deployment(settings, name, params, timeout_s)
