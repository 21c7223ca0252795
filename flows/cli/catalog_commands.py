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

catalog_app = typer.Typer(
    help="The product catalog and its registry records.", no_args_is_help=True
)


@catalog_app.command("list")
def catalog_list(
    fmt: Annotated[ListFormat, typer.Option("--format", help="Output format.")] = ListFormat.table,
) -> None:
    """List the registered products with their check status and solutions."""
    with registry_session() as reg:
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
def catalog_validate() -> None:
    """Re-verify every product: STAC validity, files present, sizes and checksums."""
    from ...catalogs.registry import validate_products

    with registry_session() as reg:
        results = validate_products(reg)
    bad = [(e, c) for e, c in results if not c.ok]
    for entry, check in bad:
        print_rich(f"[red]FAILED[/] {literal(entry.id)}: {literal(check.reason)}")
    print_rich(f"{len(results) - len(bad)} of {len(results)} products verified")
    if bad:
        raise typer.Exit(EXIT_CHECK_FAILED)


_Out = Annotated[
    Path | None, typer.Option("--out", "-o", help="Output catalog root (default output_root).")
]


@catalog_app.command("rebuild")
def catalog_rebuild(out: _Out = None) -> None:
    """Regenerate <out>/catalog.json, its collections and items from the registry."""
    from ...catalogs.registry import rebuild_catalog

    settings = settings_of_invocation()
    with registry_session() as reg:
        rep = rebuild_catalog(reg, (out or settings.storage.output_root).resolve())
    print_rich(f"rebuilt {literal(rep.catalog)}: {len(rep.items)} items")
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

    settings = settings_of_invocation()
    with registry_session() as reg:
        rep = repair_catalog(reg, (out or settings.storage.output_root).resolve())
    for pid in rep.registered:
        print_rich(f"[green]registered[/] {literal(pid)}")
    for path, why in rep.refused:
        print_rich(f"[red]refused[/] {literal(path)}: {literal(why)}")
    print_rich(f"{len(rep.registered)} registered, {len(rep.already)} already registered")
