"""Where the dask graphs of a run are computed: threads, a LocalCluster, or a scheduler.

``dask.scheduler`` in the config:

- ``auto`` (the default): ``threads`` on a machine with at most :data:`AUTO_THREADS_MAX_CPUS`
  usable CPUs, else a LocalCluster of ``dask.n_workers`` processes sharing every usable CPU
  (benchmarks/bench_scheduler.py: on a small machine threads are faster and use less memory
  for this GDAL-bound work, and start nothing);
- ``threads``: dask's threaded scheduler in this process, nothing to start;
- ``local-cluster``: ``dask.n_workers`` worker processes on this machine, dashboard on
  loopback, its link logged. Its workers are spawned processes: a script that runs a flow
  needs an ``if __name__ == "__main__":`` guard;
- the address of an existing ``dask.distributed`` scheduler (``tcp://host:8786``), which is
  how a run scales beyond one machine.

GDAL's network settings are set in each worker's environment, not only in this process.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import DaskUnavailableError
from ..processing.gdal_env import configure_gdal
from ..settings import Settings

if TYPE_CHECKING:
    from ..settings import DaskConfig

__all__ = [
    "AUTO_THREADS_MAX_CPUS",
    "cluster_threads_per_worker",
    "compute_on",
    "resolve_scheduler",
    "usable_cpus",
]

log = logging.getLogger(__name__)

#: ``auto`` computes on threads up to this many usable CPUs, on a LocalCluster above
AUTO_THREADS_MAX_CPUS = 4


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which containers and ``taskset``
    narrow), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_scheduler(scheduler: str, cpus: int) -> str:
    """``scheduler`` with ``auto`` decided for a machine of ``cpus`` usable CPUs."""
    if scheduler != "auto":
        return scheduler
    return "threads" if cpus <= AUTO_THREADS_MAX_CPUS else "local-cluster"


def cluster_threads_per_worker(cfg: DaskConfig, cpus: int) -> int:
    """``dask.threads_per_worker``; a cluster that ``auto`` chose shares every usable CPU."""
    if cfg.scheduler == "auto":
        return max(cfg.threads_per_worker, cpus // cfg.n_workers)
    return cfg.threads_per_worker


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
    env = configure_gdal(**_gdal_kwargs(settings))
    cpus = usable_cpus()
    scheduler = resolve_scheduler(cfg.scheduler, cpus)
    if scheduler == "threads":
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler == "local-cluster":
        cluster = LocalCluster(
            n_workers=cfg.n_workers,
            threads_per_worker=cluster_threads_per_worker(cfg, cpus),
            processes=True,
            dashboard_address=cfg.dashboard_address,
            host="127.0.0.1",
        )
        try:
            with Client(cluster) as client:
                client.run(configure_gdal, **_gdal_kwargs(settings))
                _announce(f"dask LocalCluster dashboard: {client.dashboard_link}")
                yield client
        finally:
            cluster.close()
        return
    address = scheduler
    if not address.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        raise DaskUnavailableError(
            f"dask.scheduler {address!r} is neither 'auto', 'threads', 'local-cluster' nor a "
            "scheduler address such as 'tcp://host:8786'"
        )
    try:
        client = Client(address, timeout=cfg.connect_timeout_s)
    except (OSError, TimeoutError) as e:
        raise DaskUnavailableError(
            f"cannot reach the dask scheduler at {address} within {cfg.connect_timeout_s:g} s "
            f"({e}); check dask.scheduler in the config or start the scheduler"
        ) from e
    try:
        client.run(configure_gdal, **_gdal_kwargs(settings))
        _announce(
            f"dask scheduler {address} (dashboard {client.dashboard_link}); GDAL settings "
            f"sent to the workers: {', '.join(sorted(env))}"
        )
        yield client
    finally:
        client.close()


def _gdal_kwargs(settings: Settings) -> dict[str, Any]:
    n = settings.network
    return {"timeout_s": n.timeout_s, "max_retries": n.max_retries, "retry_delay_s": n.backoff_s}
