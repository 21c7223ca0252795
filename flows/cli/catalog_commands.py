"""``yamasat catalog ...``: registered products, their checks, repair and rebuild; and the
small helpers the registry commands share (settings, registry, output)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..catalogs.registry import Registry
from ..settings import Settings

__all__ = ["EXIT_CHECK_FAILED", "catalog_app"]

catalog_app = typer.Typer(
    help="The product catalog and its registry records.", no_args_is_help=True
)

#: exit status when ``catalog validate`` finds products that fail their checks
EXIT_CHECK_FAILED = 1


class ListFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _settings() -> Settings:
    from . import cli as _cli

    settings: Settings = _cli._settings()
    return settings


@contextmanager
def _registry() -> Iterator[Registry]:
    from ..catalogs.registry import open_registry

    with open_registry(_settings()) as reg:
        yield reg


def _print(*args: Any, soft_wrap: bool = False) -> None:
    """Print through the CLI's console; ``soft_wrap`` keeps long paths on one line."""
    from .cli import console

    console.print(*args, soft_wrap=soft_wrap)


def _e(value: object) -> str:
    """``value`` as text that rich prints literally (no markup from user data)."""
    from rich.markup import escape

    return escape(str(value))


def _out(text: str) -> None:
    """Machine-readable output: plain text on stdout, no markup or wrapping."""
    typer.echo(text, nl=not text.endswith("\n"))


@catalog_app.command("list")
def catalog_list(
    fmt: Annotated[ListFormat, typer.Option("--format", help="Output format.")] = ListFormat.table,
) -> None:
    """List the registered products with their check status and solutions."""
    with _registry() as reg:
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
        _out(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{len(rows)} registered products")
    for col in ("id", "kind", "aoi", "after", "check", "solutions"):
        table.add_column(col)
    for p, sols in products:
        table.add_row(p.id, p.kind, p.aoi, p.after, p.qa_status, ", ".join(sols))
    _print(table)


@catalog_app.command("validate")
def catalog_validate() -> None:
    """Re-verify every product: STAC validity, files present, sizes and checksums."""
    from ..catalogs.registry import validate_products

    with _registry() as reg:
        results = validate_products(reg)
    bad = [(e, c) for e, c in results if not c.ok]
    for entry, check in bad:
        _print(f"[red]FAILED[/] {_e(entry.id)}: {_e(check.reason)}")
    _print(f"{len(results) - len(bad)} of {len(results)} products verified")
    if bad:
        raise typer.Exit(EXIT_CHECK_FAILED)


_Out = Annotated[
    Path | None, typer.Option("--out", "-o", help="Output catalog root (default output_root).")
]


@catalog_app.command("rebuild")
def catalog_rebuild(out: _Out = None) -> None:
    """Regenerate <out>/catalog.json, its collections and items from the registry."""
    from ..catalogs.registry import rebuild_catalog

    settings = _settings()
    with _registry() as reg:
        rep = rebuild_catalog(reg, (out or settings.storage.output_root).resolve())
    _print(f"rebuilt {_e(rep.catalog)}: {len(rep.items)} items")
    for pid, why in rep.skipped:
        _print(f"[yellow]left out[/] {_e(pid)}: {_e(why)}")
    for path in rep.unregistered:
        _print(f"[yellow]not registered[/] {_e(path)} (run 'yamasat catalog repair' first)")


@catalog_app.command("repair")
def catalog_repair(out: _Out = None) -> None:
    """Register published products found in the catalog but missing from the registry."""
    from ..catalogs.registry import repair_catalog

    settings = _settings()
    with _registry() as reg:
        rep = repair_catalog(reg, (out or settings.storage.output_root).resolve())
    for pid in rep.registered:
        _print(f"[green]registered[/] {_e(pid)}")
    for path, why in rep.refused:
        _print(f"[red]refused[/] {_e(path)}: {_e(why)}")
    _print(f"{len(rep.registered)} registered, {len(rep.already)} already registered")
