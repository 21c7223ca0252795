"""``yamasat serve`` and ``yamasat deployments ...``: the scheduled deployments of config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ...errors import PrefectServerError
from .toolkit import config_path, literal, print_plain, print_rich, settings_of_invocation

if TYPE_CHECKING:
    from ..deployments import DeploymentSpec

__all__ = ["deployments_app", "serve"]

deployments_app = typer.Typer(
    help="Scheduled deployments (orchestration.deployments in config).", no_args_is_help=True
)

ApiOpt = Annotated[
    str | None,
    typer.Option("--api-url", help="Prefect server API, e.g. http://127.0.0.1:4200/api "
                 "(else $PREFECT_API_URL)."),
]  # fmt: skip
OnlyOpt = Annotated[
    list[str] | None, typer.Option("--only", help="Serve only this deployment (repeatable).")
]

_START_SERVER = (
    "start one with `prefect server start --host 127.0.0.1 --port 4200` (analytics off: "
    "PREFECT_SERVER_ANALYTICS_ENABLED=false) and set "
    "PREFECT_API_URL=http://127.0.0.1:4200/api"
)


def _table(settings_only: list[str] | None) -> list[DeploymentSpec]:
    from ..deployments import deployment_specs, next_runs

    specs = deployment_specs(settings_of_invocation(), only=settings_only)
    table = Table(title="deployments", box=None)
    for col in ("name", "flow", "cron", "next run", "limit", "parameters"):
        table.add_column(col, overflow="fold")
    for s in specs:
        upcoming = next_runs(s, 1)
        runs = upcoming[0].strftime("%Y-%m-%d %H:%M %Z") if upcoming else "on demand"
        params = "\n".join(f"{k}={v}" for k, v in s.parameters.items())
        table.add_row(
            literal(s.name), s.flow, literal(s.cron or "-"),
            runs if s.active else f"paused ({runs})",
            str(s.concurrency_limit), literal(params),
        )  # fmt: skip
    print_rich(table)
    return specs


@deployments_app.command("list")
def deployments_list(only: OnlyOpt = None) -> None:
    """Check the configured deployments and show their next scheduled runs."""
    _table(only)


@deployments_app.command("yaml")
def deployments_yaml(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here (else print), e.g. prefect.yaml.")
    ] = None,
) -> None:
    """The prefect.yaml of the configured deployments, for a process work pool."""
    from ..deployments import prefect_yaml

    text = prefect_yaml(settings_of_invocation())
    if out is None:
        print_plain(text)
        return
    out.write_text(text, encoding="utf-8")
    print_rich(f"wrote {out}", soft_wrap=True)


def _check_server(api_url: str, timeout_s: float = 10.0) -> None:
    import httpx

    health = api_url.rstrip("/") + "/health"
    try:
        answer = httpx.get(health, timeout=timeout_s)
        answer.raise_for_status()
    except httpx.HTTPError as e:
        raise PrefectServerError(
            f"the Prefect server at {api_url} does not answer ({e}); {_START_SERVER}"
        ) from e


def serve(
    only: OnlyOpt = None,
    api_url: ApiOpt = None,
    check: Annotated[
        bool, typer.Option("--check", help="Check the deployments and the server; do not serve.")
    ] = False,
) -> None:
    """Serve the scheduled deployments (Asia/Tokyo cron) against a running Prefect server.

    Deployments, schedules, parameters and concurrency limits come from config
    (orchestration.deployments); every schedule is checked before anything is deployed.
    Runs execute in this process; Ctrl-C stops serving and pauses the schedules.
    """
    from ..prefect_env import prefect_defaults

    specs = _table(only)  # a schedule that does not parse is refused here
    url = api_url or os.environ.get("PREFECT_API_URL")
    if not url:
        raise PrefectServerError(
            "yamasat serve needs a running Prefect server: the temporary server Prefect starts "
            f"for a single run cannot run schedules; {_START_SERVER}"
        )
    _check_server(url)
    if check:
        print_rich(f"Prefect server {url}: healthy; {len(specs)} deployments ready to serve")
        return
    prefect_defaults()
    config = config_path()
    if config:  # served runs run in processes the runner starts: they read this
        os.environ["YAMASAT_CONFIG"] = str(config.resolve())
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from ..deployments import runner_deployments

    # served runs execute in processes the runner starts: Prefect's heartbeats stay on there,
    # so the server can tell when one of them crashed
    with temporary_settings(updates={PREFECT_API_URL: url}):
        deployments = runner_deployments(specs)
        print_rich(f"serving {len(deployments)} deployments against {url} (Ctrl-C stops)")
        prefect_serve(*deployments, print_starting_message=False)
