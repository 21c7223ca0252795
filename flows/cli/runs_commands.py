"""``yamasat runs ...``: recent flow runs with outcome, reason, duration and products; resume."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from .toolkit import (
    ListFormat,
    RunStateName,
    literal,
    print_csv,
    print_json,
    print_rich,
    registry_session,
    settings_of_invocation,
)

if TYPE_CHECKING:  # the registry loads SQLAlchemy: only when a command runs
    from ...catalogs.registry.run_records import RunRecord

__all__ = ["runs_app"]

runs_app = typer.Typer(help="Recorded flow runs: list, show, resume, prune.", no_args_is_help=True)

#: runs are recorded in the registry of the output root they wrote to
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", help="The runs' output root (default storage.output_root); its "
        "registry.sqlite unless storage.registry_url names one.",
    ),
]  # fmt: skip


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def _short_aoi(aoi: str | None) -> str:
    if not aoi:
        return "-"
    return aoi.rsplit("/", 1)[-1] if "/" in aoi else aoi


def _short_products(products: tuple[str, ...]) -> str:
    if not products:
        return "-"
    first = products[0] if len(products[0]) <= 28 else products[0][:27] + "…"
    return first + (f" +{len(products) - 1}" if len(products) > 1 else "")


@runs_app.command("list")
def runs_list(
    limit: Annotated[int, typer.Option(min=1, max=10000, help="How many runs.")] = 20,
    flow: Annotated[str | None, typer.Option(help="Only runs of this flow.")] = None,
    state: Annotated[RunStateName | None, typer.Option(help="Only runs in this state.")] = None,
    aoi: Annotated[str | None, typer.Option(help="Only runs over this AOI.")] = None,
    fmt: Annotated[ListFormat, typer.Option("--format", help="Output format.")] = ListFormat.table,
    out: OutOpt = None,
) -> None:
    """Recent runs, newest first: when, flow, AOI, state, outcome or failure reason, duration,
    products. Times are shown in orchestration.timezone."""
    from ...catalogs.registry.run_records import completed_resumes, run_records

    settings = settings_of_invocation()
    tz = ZoneInfo(settings.orchestration.timezone)
    with registry_session(out) as reg:
        records = run_records(reg, limit=limit, flow=flow, state=state, aoi=aoi)
        resumed = completed_resumes(reg, [r.id for r in records if r.state != "completed"])
    if fmt is ListFormat.json:
        print_json([r.as_dict() for r in records])
        return
    if fmt is ListFormat.csv:
        cols = ["id", "flow", "deployment", "aoi", "state", "outcome", "reason", "started_at",
                "duration_s", "products", "message"]  # fmt: skip
        rows = ({**r.as_dict(), "products": " ".join(r.products)} for r in records)
        print_csv(rows, cols, extrasaction="ignore")
        return
    table = Table(title=f"runs ({len(records)} most recent; times {tz.key})", box=None)
    table.add_column("started", no_wrap=True)
    table.add_column("run", no_wrap=True)
    table.add_column("flow", overflow="fold")
    table.add_column("aoi", overflow="fold")
    table.add_column("state", no_wrap=True)
    table.add_column("outcome / reason", overflow="fold")
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("products", overflow="fold")
    for r in records:
        shown = "lost" if r.lost else r.state
        colour = {"completed": "green", "failed": "red", "running": "yellow", "lost": "red"}.get(
            shown, ""
        )
        result = r.outcome or ""
        if r.state == "failed":
            result = f"{r.reason}: {r.message or ''}"
        if r.id in resumed:
            result = f"resumed by {resumed[r.id][:8]} (completed); " + result
        elif shown == "lost":
            result = f"its process ({r.host}:{r.pid}) is gone; yamasat runs resume {r.id[:8]}"
        flow_name = r.flow + (f" ({r.deployment})" if r.deployment else "")
        table.add_row(
            r.started_at.astimezone(tz).strftime("%m-%d %H:%M"),
            r.id[:8],
            literal(flow_name),
            literal(_short_aoi(r.aoi)),
            f"[{colour}]{shown}[/]" if colour else shown,
            literal(result[:120]),
            _duration(r.duration_s),
            literal(_short_products(r.products)),
        )
    print_rich(table)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id (or its first 8 characters).")],
    out: OutOpt = None,
) -> None:
    """Everything recorded about one run (JSON)."""
    from ...catalogs.registry.run_records import run_record

    with registry_session(out) as reg:
        record = run_record(reg, run_id)
    print_json(record.as_dict())


def _refuse_live(record: RunRecord, *, anyway: bool) -> None:
    """Refuse to resume a run whose process may be alive (``--anyway`` for another host's)."""
    import socket

    from ...errors import ParameterError

    if not anyway or record.host == socket.gethostname():
        raise ParameterError(
            f"run {record.id} is still running ({record.host}:{record.pid})"
            + (
                ": its process is alive on this machine"
                if record.host == socket.gethostname()
                else "; if its process died on that machine, resume it with --anyway "
                "(a live run would race with it)"
            )
        )


@runs_app.command("resume")
def runs_resume(
    run_id: Annotated[str, typer.Argument(help="The failed run (id or its first 8 characters).")],
    anyway: Annotated[
        bool,
        typer.Option("--anyway", help="Resume a run still marked running (its process died)."),
    ] = False,
    out: OutOpt = None,
) -> None:
    """Run a failed run again with its recorded parameters; stages it finished are not
    repeated (searches come from its checkpoints, a published product is found, not remade)."""
    from ...catalogs.registry.run_records import completed_resumes, run_record
    from ...errors import ParameterError
    from ...settings import FLOW_NAMES
    from ..deployments import load_flow
    from ..prefect_env import prefect_defaults, prefect_run_settings

    with registry_session(out) as reg:
        record = run_record(reg, run_id)
        done_by = completed_resumes(reg, [record.id]).get(record.id)
    if done_by:
        raise ParameterError(
            f"run {record.id} was already resumed by run {done_by}, which completed"
        )
    if record.flow not in FLOW_NAMES:
        raise ParameterError(f"runs of flow {record.flow!r} cannot be resumed")
    if record.state == "completed":
        raise ParameterError(
            f"run {record.id} completed ({record.outcome}); there is nothing to resume. "
            "Run the flow again (with --force to remake its product)"
        )
    if record.state == "running" and not record.lost:
        _refuse_live(record, anyway=anyway)
    if record.state == "running":  # its process is gone (or --anyway says so): close it
        from ...catalogs.registry.run_records import close_lost_run

        why = (
            f"its process ({record.host}:{record.pid}) ended without recording an end; "
            "closed when it was resumed"
            if record.lost
            else f"declared lost with --anyway (process {record.host}:{record.pid}) when it "
            "was resumed"
        )
        with registry_session(out) as reg:
            record = close_lost_run(reg, record.id, why=why)
    params = dict(record.parameters)
    params["resume_of"] = record.id
    if not params.get("out") and out is not None:  # recorded in --out's registry: made there
        params["out"] = str(out.resolve())
    prefect_defaults()
    print_rich(
        f"resuming {record.flow} run {record.id} ({record.reason}: {literal(record.message or '')})"
    )
    from ..api_watch import api_url_in_use, watching_api
    from ..local_prefect import run_api
    from ..signals import stopping_on_signals

    # as `yamasat run`: SIGINT/SIGTERM stop it (exit 130/143), a Prefect server of its own,
    # out of reach of the signals sent to the process group (flows/local_prefect.py), and a
    # lost API fails it within orchestration.api_lost_timeout_s (flows/api_watch.py)
    settings = settings_of_invocation()
    with (
        stopping_on_signals(),
        run_api() as local_api,
        prefect_run_settings(settings),
        watching_api(api_url_in_use(local_api), settings.orchestration.api_lost_timeout_s),
    ):
        result = load_flow(record.flow)(**params)
    print_rich(
        f"run {result.get('run_id', '?')} completed: {literal(result.get('outcome', 'done'))} "
        f"{literal(result.get('item_href') or '')}",
        soft_wrap=True,
    )


@runs_app.command("prune")
def runs_prune(
    older_than_days: Annotated[
        float, typer.Option(min=0, help="Only checkpoints not written for this many days.")
    ] = 14,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
    out: OutOpt = None,
) -> None:
    """Remove the checkpoints (item lists, kept rasters) of failed runs nobody resumed: those
    not written for --older-than-days, unless their run is still running. A run whose
    checkpoints are gone can still be resumed; it then searches and computes again."""
    import datetime as dt
    import shutil
    import time

    from ...catalogs.registry.run_records import run_record
    from ...errors import UnknownRunError
    from ..checkpoints import lineages

    settings = settings_of_invocation().for_output(out)
    cutoff = time.time() - older_than_days * 86400
    tz = ZoneInfo(settings.orchestration.timezone)
    freed, removed = 0, 0
    with registry_session(out) as reg:
        for lineage in lineages(settings.storage.output_root):
            if lineage.last_used > cutoff:
                continue
            try:
                record = run_record(reg, lineage.id)
                if record.state == "running" and not record.lost:
                    continue  # its run may still need them
            except UnknownRunError:
                pass  # a run recorded elsewhere, or its record removed: only age counts
            when = dt.datetime.fromtimestamp(lineage.last_used, tz).strftime("%Y-%m-%d %H:%M")
            verb = "would remove" if dry_run else "removed"
            print_rich(f"{verb} {lineage.id}: {lineage.bytes / 1e6:.1f} MB, last written {when}")
            if not dry_run:
                shutil.rmtree(lineage.folder, ignore_errors=True)
            freed += lineage.bytes
            removed += 1
    verb = "would free" if dry_run else "freed"
    print_rich(f"{removed} lineage(s), {verb} {freed / 1e6:.1f} MB")
