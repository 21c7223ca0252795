"""Which dask scheduler a run computes on: ``auto`` decided by the machine's size."""

from __future__ import annotations

import pytest

from yamasat.flows import compute
from yamasat.flows.compute import (
    AUTO_THREADS_MAX_CPUS,
    cluster_threads_per_worker,
    compute_on,
    resolve_scheduler,
)
from yamasat.settings import load_settings


def test_auto_is_the_default() -> None:
    assert load_settings(env={}).dask.scheduler == "auto"


@pytest.mark.parametrize(
    ("cpus", "expected"),
    [(1, "threads"), (2, "threads"), (AUTO_THREADS_MAX_CPUS, "threads"),
     (AUTO_THREADS_MAX_CPUS + 1, "local-cluster"), (64, "local-cluster")],
)  # fmt: skip
def test_auto_takes_threads_on_a_small_machine(cpus: int, expected: str) -> None:
    assert resolve_scheduler("auto", cpus) == expected


@pytest.mark.parametrize("scheduler", ["threads", "local-cluster", "tcp://10.0.0.5:8786"])
def test_an_explicit_scheduler_is_kept(scheduler: str) -> None:
    assert resolve_scheduler(scheduler, 64) == scheduler


def test_auto_on_a_small_machine_starts_no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compute, "usable_cpus", lambda: 2)
    with compute_on(load_settings(env={"YAMASAT_DASK__SCHEDULER": "auto"})) as client:
        assert client is None


def test_a_cluster_that_auto_chose_shares_every_cpu() -> None:
    auto = load_settings(env={"YAMASAT_DASK__SCHEDULER": "auto"}).dask
    assert auto.n_workers == 2 and auto.threads_per_worker == 1
    assert cluster_threads_per_worker(auto, 16) == 8
    explicit = load_settings(env={"YAMASAT_DASK__SCHEDULER": "local-cluster"}).dask
    assert cluster_threads_per_worker(explicit, 16) == 1
