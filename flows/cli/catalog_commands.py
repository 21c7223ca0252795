"""``yamasat catalog ...``: registered products, their checks, repair and rebuild."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .toolkit import (
    EXIT_CHECK_FAILED,
    ListFormat,
    literal,
    print_json,
    print_rich,
    registry_session,
    settings_of_invocation,
)

__all__ = ["catalog_app"]

_Out = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Output catalog root (default storage.output_root); the registry is its "
        "registry.sqlite unless storage.registry_url names one.",
    ),
]


catalog_app = typer.Typer(
    help="The product catalog and its registry records.", no_args_is_help=True
)


@catalog_app.command("list")
def catalog_list(
    out: _Out = None,
    fmt: Annotated[ListFormat, typer.Option("--format", help="Output format.")] = ListFormat.table,
) -> None:
    """List the registered products with their check status and solutions."""
    with registry_session(out) as reg:
        products = reg.products()
    rows = [
        {
            "id": p.id,
            "kind": p.kind,
            "aoi": p.aoi,
            "before": p.before,
            "after": p.after,
            "run_id": p.run_id,
            "check": p.qa_status,
            "solutions": sols,
            "item_href": p.item_href,
        }
        for p, sols in products
    ]
    if fmt is not ListFormat.table:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} registered products")
    for col in ("id", "kind", "aoi", "after", "check", "solutions"):
        table.add_column(col)
    for p, sols in products:
        table.add_row(p.id, p.kind, p.aoi, p.after, p.qa_status, ", ".join(sols))
    print_rich(table)


@catalog_app.command("validate")
def catalog_validate(out: _Out = None) -> None:
    """Re-verify every product (STAC validity, files present, sizes and checksums) and
    report every disagreement among the run records, the catalog and the registry:
    products not in the catalog or not registered, folders at final paths the catalog does
    not list, products a run recorded that are missing, registrations left pending and
    staging left behind. Exit status 1 when there is any."""
    from ...catalogs.registry import validate_products
    from ...catalogs.registry.consistency import compare
    from ..registration import pending_registrations

    settings = settings_of_invocation().for_output(out)
    root = settings.storage.output_root.resolve()
    with registry_session(out) as reg:
        results = validate_products(reg)
        disagreements = compare(
            reg, root, default_root=settings_of_invocation().storage.output_root,
            products=[e for e, _ in results],
        )  # fmt: skip
    bad = [(e, c) for e, c in results if not c.ok]
    for entry, check in bad:
        print_rich(f"[red]FAILED[/] {literal(entry.id)}: {literal(check.reason)}")
    for d in disagreements:
        print_rich(f"[red]{d.what}[/] {literal(d.subject)}: {literal(d.message)}")
    pending = pending_registrations(root)
    for p in pending:
        print_rich(
            f"[red]pending[/] {literal(p.product_id)}: registration asked by run "
            f"{literal(p.run_id)} at {literal(p.asked_at)}"
            + (f" (solution {literal(p.solution)})" if p.solution else "")
            + " is not done: 'yamasat catalog repair' or the next run completes it"
        )
    print_rich(f"{len(results) - len(bad)} of {len(results)} products verified")
    problems = len(bad) + len(disagreements) + len(pending)
    print_rich(
        f"{len(disagreements) + len(pending)} disagreement(s) among run records, "
        f"catalog {literal(root / 'catalog.json')} and registry"
    )
    if problems:
        raise typer.Exit(EXIT_CHECK_FAILED)


@catalog_app.command("rebuild")
def catalog_rebuild(out: _Out = None) -> None:
    """Regenerate <out>/catalog.json, its collections and items from the registry."""
    from ...catalogs.registry import rebuild_catalog

    root = settings_of_invocation().for_output(out).storage.output_root.resolve()
    with registry_session(out) as reg:
        rep = rebuild_catalog(reg, root)
    print_rich(f"rebuilt {literal(rep.catalog)}: {len(rep.items)} items")
    if rep.elsewhere:
        print_rich(
            f"[yellow]left out[/] {len(rep.elsewhere)} registered product(s) under other "
            f"output roots (e.g. {literal(rep.elsewhere[0][1])}): give that root with --out"
        )
    for pid, why in rep.skipped:
        print_rich(f"[yellow]left out[/] {literal(pid)}: {literal(why)}")
    for path in rep.unregistered:
        print_rich(
            f"[yellow]not registered[/] {literal(path)} (run 'yamasat catalog repair' first)"
        )


@catalog_app.command("repair")
def catalog_repair(out: _Out = None) -> None:
    """Register published products found in the catalog but missing from the registry."""
    from ...catalogs.registry import repair_catalog
    from ..registration import complete_pending

    settings = settings_of_invocation().for_output(out)
    root = settings.storage.output_root.resolve()
    with registry_session(out) as reg:
        rep = repair_catalog(reg, root)
    done, failed = complete_pending(settings, root)
    for reg_done in done:
        print_rich(f"[green]pending registration done[/] {literal(reg_done.message)}")
    for pending, why in failed:
        print_rich(
            f"[red]pending registration failed[/] {literal(pending.product_id)}: {literal(why)}"
        )
    for pid in rep.registered:
        print_rich(f"[green]registered[/] {literal(pid)}")
    for path, why in rep.refused:
        print_rich(f"[red]refused[/] {literal(path)}: {literal(why)}")
    print_rich(f"{len(rep.registered)} registered, {len(rep.already)} already registered")
