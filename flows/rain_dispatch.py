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
naming it). Only **on-demand** deployments count (no schedule: ``flood-on-demand`` and
``landslide-on-demand`` in the default config): a scheduled deployment of the same flow would
fill the parameters the watch does not pass with its own. When a flow has several, the first
by name is used. A product run that no process starts within ``start_timeout_s`` (the
deployment is registered but nobody serves it) is cancelled and reported ``not_started``,
so the watch records the product as pending and asks again on a later day instead of
waiting for hours.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, cast

from ..catalogs.registry import open_registry
from ..catalogs.registry.run_records import run_record
from ..errors import ParameterError, UnknownRunError
from ..settings import Settings

__all__ = ["RUN_PRODUCTS", "START_TIMEOUT_S", "dispatch", "product_deployment"]

RUN_PRODUCTS = ("auto", "inline", "deployments")
#: how long a product's flow run may wait for a process to start it (seconds)
START_TIMEOUT_S = 900.0

log = logging.getLogger(__name__)


def product_deployment(flow_name: str) -> str | None:
    """``flow/deployment`` of the first on-demand deployment (no schedule; by name) of
    ``flow_name`` on the Prefect server this process talks to; None when it has none."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        found = client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name]))
        )
    names = sorted(d.name for d in found if not d.schedules)
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
            f"run_products=deployments but the Prefect server has no on-demand deployment of "
            f"{flow_name}: serve one (yamasat serve with a deployment of flow {flow_name} "
            "without cron, e.g. the default config's) or use run_products=auto"
        )
    if name is None:
        log.warning(
            "no on-demand deployment of %s on the Prefect server: the product runs inline",
            flow_name,
        )
    return name


def _wait(flow_run: Any, start_timeout_s: float, timeout_s: float) -> tuple[Any, bool]:
    """Poll the flow run until it ends, or it was not started within ``start_timeout_s``, or
    ``timeout_s`` passed; the run as last read, and whether a process ever started it."""
    from prefect.client.orchestration import get_client

    began = time.monotonic()
    with get_client(sync_client=True) as client:
        while True:
            flow_run = client.read_flow_run(flow_run.id)
            state = flow_run.state
            started = state is not None and not (state.is_scheduled() or state.is_pending())
            waited = time.monotonic() - began
            done = state is not None and state.is_final()
            if done or waited > timeout_s or (not started and waited > start_timeout_s):
                return flow_run, started
            time.sleep(1.0)


def _cancel(flow_run: Any, why: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run.id, Cancelled(message=why), force=True)


def _as_deployment(
    settings: Settings,
    name: str,
    params: dict[str, Any],
    timeout_s: float,
    start_timeout_s: float = START_TIMEOUT_S,
) -> dict[str, Any]:
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    created = cast(FlowRun, run_deployment(name, parameters=params, timeout=0))
    flow_run, started = _wait(created, start_timeout_s, timeout_s)
    state = flow_run.state.type.value if flow_run.state else "UNKNOWN"
    if not (flow_run.state and flow_run.state.is_final()):
        if started:
            why = f"deployment {name}: flow run {flow_run.id} still {state} after {timeout_s:g} s"
            outcome = "still_running"
        else:
            why = (
                f"deployment {name}: no process started flow run {flow_run.id} within "
                f"{start_timeout_s:g} s (is yamasat serve, or a worker of its pool, running?); "
                "the run was cancelled and the product is asked for again later"
            )
            outcome = "not_started"
            _cancel(flow_run, why)
        log.warning("%s", why)
        return {
            "outcome": outcome, "item_id": None, "message": why, "run_id": str(flow_run.id),
            "deployment": name, "state": state,
        }  # fmt: skip
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
    start_timeout_s: float = START_TIMEOUT_S,
) -> dict[str, Any]:
    """Run ``flow_name`` with ``params``: through its deployment when ``mode`` says so (see
    the module), else ``inline(**params)``; the run's result (``outcome``, ``item_id``)."""
    name = _choose(mode, flow_name)
    if name is None:
        return inline(**params)
    return _as_deployment(settings, name, params, timeout_s, start_timeout_s)
