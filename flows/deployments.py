"""Scheduled deployments from config: checked, served (``yamasat serve``) or written as a
``prefect.yaml`` for a process work pool. One source, so the two cannot drift apart.

Every deployment's cron and time zone are checked with Prefect's own schedule model, its
parameters against the flow's signature, and its periods (which may be relative, e.g.
``P30D/today``) by parsing them, all before anything contacts a server. Each deployment gets
a concurrency limit (default 1) with the ``ENQUEUE`` strategy: a second run waits for the
first; the product lock inside the flows covers runs started outside the deployment.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from ..catalogs.extent.periods import check_before_after, parse_period
from ..errors import ConfigError, InvariantError, YamasatError
from ..settings import Settings

__all__ = [
    "ENTRYPOINTS",
    "DeploymentSpec",
    "deployment_specs",
    "load_flow",
    "next_runs",
    "prefect_yaml",
    "runner_deployments",
]

#: flow name → module entrypoint (importable wherever yamasat is installed)
ENTRYPOINTS: dict[str, str] = {
    "change_detection": "yamasat.flows.change:change_detection",
    "flood_mapping": "yamasat.flows.disaster:flood_mapping",
    "landslide_mapping": "yamasat.flows.disaster:landslide_mapping",
    "burn_mapping": "yamasat.flows.disaster:burn_mapping",
    "s1_flood_check": "yamasat.flows.s1_watch:s1_flood_check",
    "rain_watch": "yamasat.flows.rain_watch:rain_watch",
    "indicator_report": "yamasat.flows.indicator:indicator_report",
}


def load_flow(name: str) -> Any:
    """The Prefect flow object called ``name`` (one of ``settings.FLOW_NAMES``, which
    tests/test_deployments.py checks are exactly the names here)."""
    if name not in ENTRYPOINTS:
        raise InvariantError(f"no entrypoint for flow {name!r}; flows: {', '.join(ENTRYPOINTS)}")
    module, attr = ENTRYPOINTS[name].split(":")
    return getattr(importlib.import_module(module), attr)


_PERIOD_PARAMS = ("before", "after", "today")


@dataclass(frozen=True)
class DeploymentSpec:
    """One checked deployment."""

    name: str
    flow: str
    cron: str | None
    """None: no schedule; run on demand (the rain watch's products, ``run_deployment``)"""
    timezone: str
    parameters: dict[str, Any] = field(default_factory=dict)
    concurrency_limit: int = 1
    active: bool = True
    description: str = ""

    @property
    def entrypoint(self) -> str:
        return ENTRYPOINTS[self.flow]

    def load_flow(self) -> Any:
        """The Prefect flow object."""
        return load_flow(self.flow)


def _check_cron(cron: str, timezone: str) -> str | None:
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        ZoneInfo(timezone)
    except (ValueError, KeyError, OSError):
        return f"unknown time zone {timezone!r}; use an IANA name such as 'Asia/Tokyo'"
    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValidationError as e:
        why = "; ".join(str(err.get("msg", err)) for err in e.errors())
        return (
            f"cron {cron!r} does not parse ({why}); write five fields 'minute hour day month "
            "weekday', e.g. '0 3 * * 1' for 03:00 every Monday"
        )
    return None


def _check_parameters(spec: DeploymentSpec, settings: Settings) -> list[str]:
    problems = []
    signature = inspect.signature(spec.load_flow().fn)
    names = set(signature.parameters)
    for key in spec.parameters:
        if key not in names:
            problems.append(
                f"parameters.{key}: flow {spec.flow} has no such parameter "
                f"(it takes {', '.join(sorted(names))})"
            )
    for pname, p in signature.parameters.items():
        # an on-demand deployment gets its run's parameters from the caller
        needed = p.default is inspect.Parameter.empty and spec.cron is not None
        if needed and pname not in spec.parameters:
            problems.append(f"parameters.{pname}: flow {spec.flow} needs it")
    today = dt.datetime.now(ZoneInfo(spec.timezone)).date()
    periods = {}
    for key in _PERIOD_PARAMS:
        value = spec.parameters.get(key)
        if isinstance(value, str):
            try:
                periods[key] = parse_period(value, what=key, today=today)
            except YamasatError as e:
                problems.append(f"parameters.{key}: {e}")
    if "before" in periods and "after" in periods:
        try:
            check_before_after(periods["before"], periods["after"])
        except YamasatError as e:
            problems.append(f"parameters.before/after: {e} (as of {today})")
    source = spec.parameters.get("source")
    local = isinstance(source, str) and ("://" in source or source.endswith(".json"))
    if isinstance(source, str) and not local and source not in settings.sources:
        known = ", ".join(sorted(settings.sources))
        problems.append(f"parameters.source: unknown source {source!r} (configured: {known})")
    return problems


def deployment_specs(settings: Settings, *, only: list[str] | None = None) -> list[DeploymentSpec]:
    """The configured deployments, checked; one :class:`ConfigError` lists every problem."""
    orch = settings.orchestration
    problems: list[str] = []
    specs: list[DeploymentSpec] = []
    unknown = sorted(set(only or ()) - set(orch.deployments))
    if unknown:
        known = ", ".join(sorted(orch.deployments)) or "none"
        raise ConfigError(f"no deployment named {', '.join(unknown)} (configured: {known})")
    for name, d in orch.deployments.items():
        if only and name not in only:
            continue
        spec = DeploymentSpec(
            name=name,
            flow=d.flow,
            cron=d.cron.strip() if d.cron else None,
            timezone=d.timezone or orch.timezone,
            parameters=dict(d.parameters),
            concurrency_limit=d.concurrency_limit,
            active=d.active,
            description=d.description,
        )
        where = f"orchestration.deployments.{name}"
        bad_cron = _check_cron(spec.cron, spec.timezone) if spec.cron else None
        if bad_cron:
            problems.append(f"{where}.cron: {bad_cron}")
            continue
        problems += [f"{where}.{p}" for p in _check_parameters(spec, settings)]
        specs.append(spec)
    if problems:
        raise ConfigError(
            "the deployments in the config are not valid; nothing was deployed:\n  - "
            + "\n  - ".join(problems)
        )
    return specs


def next_runs(
    spec: DeploymentSpec, n: int = 2, *, after: dt.datetime | None = None
) -> list[dt.datetime]:
    """The next ``n`` scheduled times of ``spec`` in its time zone (none if on demand)."""
    from cronsim import CronSim

    if spec.cron is None:
        return []

    tz = ZoneInfo(spec.timezone)
    it = CronSim(spec.cron, (after or dt.datetime.now(tz)).astimezone(tz))
    return [next(it) for _ in range(n)]


def runner_deployments(specs: list[DeploymentSpec]) -> list[Any]:
    """Prefect ``RunnerDeployment`` objects for ``prefect.serve``."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    out = []
    for spec in specs:
        out.append(
            spec.load_flow().to_deployment(
                name=spec.name,
                schedule=(
                    Cron(spec.cron, timezone=spec.timezone, active=spec.active)
                    if spec.cron
                    else None
                ),
                parameters=spec.parameters,
                concurrency_limit=ConcurrencyLimitConfig(
                    limit=spec.concurrency_limit,
                    collision_strategy=ConcurrencyLimitStrategy.ENQUEUE,
                ),
                description=spec.description or None,
                tags=["yamasat", spec.flow],
                # by module, as prefect.yaml does: a flow module loaded as a script cannot
                # resolve its package's relative imports
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
        )
    return out


def prefect_yaml(settings: Settings) -> str:
    """``prefect.yaml`` describing the configured deployments for a process work pool."""
    specs = deployment_specs(settings)
    doc = {
        "name": "yamasat",
        "prefect-version": "3",
        "build": None,
        "push": None,
        "pull": None,
        "deployments": [
            {
                "name": s.name,
                "description": s.description,
                "entrypoint": s.entrypoint,
                "tags": ["yamasat", s.flow],
                "parameters": s.parameters,
                "schedules": (
                    [{"cron": s.cron, "timezone": s.timezone, "active": s.active}] if s.cron else []
                ),
                "concurrency_limit": {
                    "limit": s.concurrency_limit,
                    "collision_strategy": "ENQUEUE",
                },
                "work_pool": {
                    "name": settings.orchestration.work_pool,
                    "work_queue_name": None,
                    "job_variables": {},
                },
            }
            for s in specs
        ],
    }
    header = (
        "# The yamasat deployments for a Prefect process work pool.\n"
        "# Generated from config/yamasat.yaml by `yamasat deployments yaml`: edit the config\n"
        "# (orchestration.deployments) and regenerate; a test checks the two agree.\n"
        "#   prefect work-pool create yamasat-process --type process\n"
        "#   prefect deploy --all            # from this folder, PREFECT_API_URL set\n"
        "#   prefect worker start --pool yamasat-process\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
