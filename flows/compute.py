"""Where the dask graphs of a run are computed: threads, a LocalCluster, or a scheduler.

``dask.scheduler`` in the config: ``threads`` (default; on a 2-core machine the threaded
scheduler is the fastest), ``local-cluster`` (worker processes on this machine, dashboard
on loopback, its link logged), or the address of an existing ``dask.distributed`` scheduler,
which is how a run scales beyond one machine. GDAL's network settings are set in each
worker's environment, not only in this process.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from ..errors import DaskUnavailableError
from ..processing.gdal_env import configure_gdal
from ..settings import Settings

__all__ = ["compute_on"]

log = logging.getLogger(__name__)



def _gdal_settings(settings: Settings) -> dict[str, str]:
    n = settings.network
    return configure_gdal(
        timeout_s=n.timeout_s, max_retries=n.max_retries, retry_delay_s=n.backoff_s
    )


def _announce(message: str) -> None:
    """Log to the Prefect run's log (seen in the UI) when in a run, else to this module's."""
    try:
        from prefect import get_run_logger

        get_run_logger().info(message)
    except Exception:  # outside a flow or task run
        log.warning(message)


@contextlib.contextmanager
def compute_on(settings: Settings) -> Iterator[Any]:
    """Context in which dask computations run where the config says; yields the client
    (None for threads)."""
    cfg = settings.dask
    env = _gdal_settings(settings)
    if cfg.scheduler == "threads":
        yield None
        return
    from distributed import Client, LocalCluster

    if cfg.scheduler == "local-cluster":
        cluster = LocalCluster(
            n_workers=cfg.n_workers,
            threads_per_worker=cfg.threads_per_worker,
            processes=True,
            dashboard_address=cfg.dashboard_address,
            host="127.0.0.1",
        )
        try:
            with Client(cluster) as client:
                client.run(configure_gdal, **_kwargs(settings))
                _announce(f"dask LocalCluster dashboard: {client.dashboard_link}")
                yield client
        finally:
            cluster.close()
        return
    address = cfg.scheduler
    if not address.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        raise DaskUnavailableError(
            f"dask.scheduler {address!r} is neither 'threads', 'local-cluster' nor a scheduler "
            "address such as 'tcp://host:8786'"
        )
    try:
        client = Client(address, timeout=cfg.connect_timeout_s)
    except (OSError, TimeoutError) as e:
        raise DaskUnavailableError(
            f"cannot reach the dask scheduler at {address} within {cfg.connect_timeout_s:g} s "
            f"({e}); check dask.scheduler in the config or start the scheduler"
        ) from e
    try:
        client.run(configure_gdal, **_kwargs(settings))
        _announce(
            f"dask scheduler {address} (dashboard {client.dashboard_link}); GDAL settings "
            f"sent to the workers: {', '.join(sorted(env))}"
        )
        yield client
    finally:
        client.close()


def _kwargs(settings: Settings) -> dict[str, Any]:
    n = settings.network
    return {"timeout_s": n.timeout_s, "max_retries": n.max_retries, "retry_delay_s": n.backoff_s}
