"""``yamasat solutions ...``: register solutions, their status and evidence; the indicator."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from .toolkit import (
    ListFormat,
    StatusName,
    literal,
    print_csv,
    print_json,
    print_plain,
    print_rich,
    registry_session,
    settings_of_invocation,
)

if TYPE_CHECKING:  # the registry loads SQLAlchemy and dask: only when a command runs
    from ...catalogs.registry import SolutionRecord, Tally

__all__ = ["solutions_app"]

solutions_app = typer.Typer(
    help="Solutions developed with satellite data: register, evidence, indicator tally.",
    no_args_is_help=True,
)


class TallyFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    md = "md"


def _by(by: str | None) -> str:
    from ..registration import current_user

    return by or current_user()


_By = Annotated[str | None, typer.Option("--by", help="Who makes the change (default: login).")]


@solutions_app.command("add")
def add(
    solution_id: Annotated[str, typer.Argument(help="Id: a slug such as 'ube-flood-alert'.")],
    org: Annotated[str, typer.Option("--org", help="Organization that develops it.")],
    name_ja: Annotated[str | None, typer.Option("--name-ja", help="Japanese name.")] = None,
    name_en: Annotated[str | None, typer.Option("--name-en", help="English name.")] = None,
    theme: Annotated[str, typer.Option(help="Theme, e.g. disaster, agriculture.")] = "",
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Satellite data used (repeatable).")
    ] = None,
    status: Annotated[StatusName, typer.Option(help="Initial status.")] = "proposed",
    developed_on: Annotated[
        str | None, typer.Option(help="Date it reached 'developed' (YYYY-MM-DD).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Date its initial status took effect (YYYY-MM-DD), for a solution registered "
            "late (default: --developed-on for developed/deployed, else today).",
        ),
    ] = None,
    notes: Annotated[str, typer.Option(help="Free notes.")] = "",
    by: _By = None,
) -> None:
    """Register a solution (names compared per organization, ignoring case and width)."""
    from ...catalogs.registry import add_solution

    with registry_session() as reg:
        rec = add_solution(
            reg,
            solution_id,
            organization=org,
            name_ja=name_ja,
            name_en=name_en,
            theme=theme,
            data_sources=source or (),
            status=status,
            developed_on=developed_on,
            since=since,
            notes=notes,
            by=_by(by),
        )
    name, org = literal(rec.name), literal(rec.organization)
    print_rich(f"[green]added[/] {rec.id} — {name} ({org}), {rec.status}")


def _solution_rows(records: list[SolutionRecord]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "name_ja": r.name_ja,
            "name_en": r.name_en,
            "organization": r.organization,
            "theme": r.theme,
            "status": r.status,
            "developed_on": r.developed_on.isoformat() if r.developed_on else None,
            "evidence": [e.product_id for e in r.evidence],
        }
        for r in records
    ]


@solutions_app.command("list")
def list_(
    status: Annotated[StatusName | None, typer.Option(help="Only this status.")] = None,
    fmt: Annotated[ListFormat, typer.Option("--format", help="Output format.")] = ListFormat.table,
) -> None:
    """List the registered solutions."""
    from ...catalogs.registry.records import check_status

    with registry_session() as reg:
        records = reg.solutions(status=check_status(status) if status else None)
    rows = _solution_rows(records)
    if fmt is ListFormat.json:
        print_json(rows)
        return
    if fmt is ListFormat.csv:
        fields = list(rows[0]) if rows else ["id"]
        csv_rows = ({**r, "evidence": ";".join(r["evidence"])} for r in rows)
        print_csv(csv_rows, fields, lineterminator="\n")
        return
    table = Table(title=f"{len(rows)} solutions")
    for col in ("id", "name", "organization", "theme", "status", "developed on", "evidence"):
        table.add_column(col)
    for r in records:
        on = str(r.developed_on or "")
        table.add_row(r.id, r.name, r.organization, r.theme, r.status, on, str(len(r.evidence)))
    print_rich(table)


@solutions_app.command("show")
def show(solution_id: Annotated[str, typer.Argument(help="Solution id.")]) -> None:
    """A solution: details, status history (who, when, why), evidence, and whether it counts."""
    from ...catalogs.registry.tally import fiscal_year, fy_label, qualifies

    with registry_session() as reg:
        r = reg.solution(solution_id)
    print_rich(f"[bold]{literal(r.id)}[/] — {literal(r.name)}")
    print_rich(
        f"  organization: {literal(r.organization)}; theme: {literal(r.theme or '-')}; "
        f"status: {literal(r.status)}"
    )
    print_rich(f"  data sources: {literal(', '.join(r.data_sources) or '-')}")
    if r.developed_on:
        fy = fy_label(fiscal_year(r.developed_on))
        print_rich(f"  developed on: {literal(r.developed_on)} ({literal(fy)})")
    if r.notes:
        print_rich(f"  notes: {literal(r.notes)}")
    on, reason = qualifies(r)
    verdict = f"counts in {fy_label(fiscal_year(on))}" if on else f"does not count: {reason}"
    print_rich(f"  indicator: {literal(verdict)}")
    print_rich("[bold]status history[/] (effective date, change, who, why, recorded UTC)")
    for e in r.history:
        stamp = e.recorded_at.strftime("%Y-%m-%d %H:%M") if e.recorded_at else "?"
        move = f"{e.from_status} → {e.to_status}" if e.from_status else f"added as {e.to_status}"
        print_rich(
            f"  {e.on}  {move}  by {literal(e.by)}: {literal(e.reason)}  [dim](recorded {stamp})[/]"
        )
    print_rich(f"[bold]evidence[/] ({len(r.evidence)} products)")
    for x in r.evidence:
        check = (
            "[green]verified[/]" if x.usable else f"[red]refused: {x.qa_message or x.outcome}[/]"
        )
        print_rich(
            f"  {literal(x.product_id)} ({literal(x.kind)}, run {literal(x.run_id or '-')}) {check}"
        )
        print_rich(f"    item: {literal(x.item_href)}")
        if x.quicklook_href:
            print_rich(f"    quicklook: {literal(x.quicklook_href)}")


@solutions_app.command("set-status")
def set_status_cmd(
    solution_id: Annotated[str, typer.Argument(help="Solution id.")],
    status: Annotated[StatusName, typer.Argument(help="New status.")],
    reason: Annotated[str, typer.Option(help="Why the status changes (recorded).")],
    on: Annotated[
        str | None, typer.Option(help="Effective date YYYY-MM-DD (default today).")
    ] = None,
    by: _By = None,
) -> None:
    """Move a solution along proposed → prototype → developed → deployed → retired."""
    from ...catalogs.registry import set_status

    with registry_session() as reg:
        r = set_status(reg, solution_id, status, by=_by(by), reason=reason, on=on)
    last = r.history[-1]
    move = f"{literal(last.from_status)} → {literal(last.to_status)}"
    print_rich(f"[green]{literal(r.id)}[/]: {move} on {literal(last.on)}")
    if r.developed_on and last.to_status in ("developed", "deployed") and r.developed_on < last.on:
        print_rich(
            f"  developed_on stays {literal(r.developed_on)}: the first date it reached developed"
        )


@solutions_app.command("attach")
def attach(
    solution_id: Annotated[str, typer.Argument(help="Solution id.")],
    product: Annotated[str, typer.Argument(help="Product id, or the path of its STAC item.")],
    by: _By = None,
) -> None:
    """Attach a product as evidence (its files are verified against their checksums first)."""
    from ...catalogs.registry import attach_evidence

    with registry_session() as reg:
        pid, new, registration = attach_evidence(reg, solution_id, product, by=_by(by))
    if registration is not None:
        print_rich(registration.message)
    print_rich(f"{pid} {'attached to' if new else 'was already attached to'} {solution_id}")


def _tally(fy: int | None, verify: bool) -> Tally:
    from ...catalogs.registry import settings_tally, validate_products

    settings = settings_of_invocation()
    with registry_session() as reg:  # says which registry it reads
        if verify:
            validate_products(reg)
        records = reg.solutions()
    return settings_tally(settings, records, until_fy=fy)


def _tally_table(t: Tally) -> None:
    from ...catalogs.registry.formats import TITLE
    from ...catalogs.registry.tally import fy_label

    table = Table(title=TITLE)
    for col in ("FY", "年度", "new", "cumulative", "target", "gap"):
        table.add_column(col, justify="right")
    for r in t.rows:
        cells = ["" if r.future else str(r.new), "" if r.cumulative is None else str(r.cumulative)]
        gap = "" if r.gap is None else str(r.gap)
        table.add_row(f"FY{r.fy}", r.label, *cells, str(r.target), gap)
    print_rich(table)
    for c in t.counted:
        s = c.solution
        print_rich(f"[bold]{s.id}[/] {literal(s.name)} — {c.counted_on} ({fy_label(c.fy)})")
        for e in c.evidence:
            run = literal(e.run_id or "-")
            print_rich(f"    {literal(e.product_id)}  run {run}  {literal(e.item_href)}")
    for x in t.excluded:
        print_rich(f"[dim]not counted[/] {literal(x.solution.id)}: {literal(x.reason)}")
    for w in t.warnings:
        print_rich(f"[yellow]warning:[/] {literal(w)}")


def _checked_line(t: Tally, verify: bool) -> str:
    """When the counted evidence was last verified (now, or the oldest recorded check)."""
    evidence = [e for c in t.counted for e in c.evidence]
    if verify:
        return f"[dim]evidence: {len(evidence)} products re-checked now[/]"
    stamps = [e.checked_at for e in evidence if e.checked_at is not None]
    when = min(stamps).isoformat(timespec="seconds") if stamps else "never"
    return f"[yellow]evidence not re-checked (--no-verify); oldest check: {when}[/]"


_Fy = Annotated[int | None, typer.Option("--fy", help="Last fiscal year (April–March).")]


@solutions_app.command("tally")
def tally_cmd(
    fy: _Fy = None,
    fmt: Annotated[TallyFormat, typer.Option("--format", help="Output format.")] = (
        TallyFormat.table
    ),
    verify: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify",
            help="Re-check every product's files first (default), so that evidence changed "
            "since it was attached is not counted; --no-verify trusts the last check.",
        ),
    ] = True,
) -> None:
    """The indicator per fiscal year: new, cumulative, target, gap, and the evidence."""
    from ...catalogs.registry.formats import tally_csv, tally_json, tally_markdown

    t = _tally(fy, verify)
    if fmt is TallyFormat.table:
        _tally_table(t)
        print_rich(_checked_line(t, verify))
    else:
        render = {"csv": tally_csv, "json": tally_json, "md": tally_markdown}[fmt.value]
        print_plain(render(t))


@solutions_app.command("report")
def report(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder (default <output_root>/reports).")
    ] = None,
    fy: _Fy = None,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Re-check product files first.")
    ] = True,
) -> None:
    """Write the indicator report: a self-contained HTML page and the chart as PNG."""
    from ..indicator import build_report

    result = build_report(settings_of_invocation(), out, fy=fy, verify=verify)
    for w in result.tally.warnings:
        print_rich(f"[yellow]warning:[/] {literal(w)}")
    print_rich(f"report: {literal(result.html)}\nchart:  {literal(result.png)}", soft_wrap=True)
