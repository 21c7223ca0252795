"""``yamasat rainfall``: accumulated rainfall per municipality and day (JAXA GSMaP), as a
table, CSV or JSON, with a PNG map and bar chart; ``--events`` detects rain events and keeps
them in the registry. Heavy imports happen inside the command (``--help`` stays light)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ...errors import ParameterError
from .toolkit import (
    ListFormat,
    err_console,
    literal,
    print_csv,
    print_json,
    print_rich,
    settings_of_invocation,
)

if TYPE_CHECKING:
    from ..rain_data import RainfallTable

__all__ = ["rainfall", "rainfall_app"]

GSMAP_CREDIT = "GSMaP: © JAXA (JAXA Global Rainfall Watch / JAXA Earth API)"


rainfall_app = typer.Typer(
    invoke_without_command=True,
    help="Accumulated rainfall per municipality and day (JAXA GSMaP); `report`: the event report.",
)


@rainfall_app.callback()
def rainfall(
    ctx: typer.Context,
    aoi: Annotated[
        str | None, typer.Option(help="AOI: yamaguchi, a municipality, GeoJSON or W,S,E,N.")
    ] = None,
    period: Annotated[
        str | None, typer.Option(help="Period A/B (ISO dates, GSMaP's UTC days).")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Rainfall source (default: rainfall.source).")
    ] = None,
    fmt: Annotated[ListFormat, typer.Option("--format", help="table, csv or json.")] = (
        ListFormat.table
    ),
    png: Annotated[
        Path | None,
        typer.Option(help="PNG map and bar chart (default: <output_root>/rainfall/...png)."),
    ] = None,
    events: Annotated[
        bool, typer.Option("--events", help="Detect rain events and keep them in the registry.")
    ] = False,
) -> None:
    """Accumulated rainfall per municipality and day: max and area-weighted mean of the 1-,
    2- and 3-day totals. Days are GSMaP's UTC days, 09:00-09:00 JST. ``yamasat rainfall
    report``: the rain event report alone."""
    if ctx.invoked_subcommand is not None:
        return
    if aoi is None or period is None:
        raise ParameterError(
            "yamasat rainfall needs --aoi and --period (e.g. --aoi yamaguchi --period "
            "2025-07-01/2025-07-10), or a command: yamasat rainfall report"
        )
    from ...catalogs.extent.aoi import resolve_aoi
    from ...catalogs.extent.periods import parse_period
    from ..rain_data import rainfall_table, records

    settings = settings_of_invocation()
    area = resolve_aoi(aoi, boundaries_path=settings.boundaries.path)
    table = rainfall_table(settings, aoi=area, period=parse_period(period), source=source)
    rows = records(table)
    for warning in table.warnings:
        err_console.print(f"[yellow]warning:[/] {literal(warning)}")
    _print(table, rows, fmt)
    target = png or (
        settings.storage.output_root / "rainfall" / f"rainfall_{_slug(area.key)}_"
        f"{table.period.start:%Y%m%d}_{table.period.end:%Y%m%d}.png"
    )
    _write_png(table, rows, target, title=f"{area.name_ja} {area.name_en}")
    err_console.print(f"chart: {literal(target)}")
    if events:
        _events(settings, table, fmt)


def _slug(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in key)[:60]


def _print(table: RainfallTable, rows: list[dict[str, Any]], fmt: ListFormat) -> None:
    from ..rain_data import COLUMNS

    if fmt is ListFormat.json:
        print_json(
            {
                "period": str(table.period),
                "day": table.day_note,
                "units": table.units,
                "source": table.source,
                "source_unit": table.source_unit,
                "missing_days": [d.isoformat() for d in table.missing],
                "late_days": [d.isoformat() for d in table.late],
                "warnings": table.warnings,
                "credit": GSMAP_CREDIT,
                "rows": rows,
            }
        )
        return
    if fmt is ListFormat.csv:
        print_csv(rows, COLUMNS)
        return
    out = Table(
        title=f"rainfall (mm) {table.period} — {table.source}",
        caption=f"{table.day_note}; totals end on the day; max / area-weighted mean. "
        + GSMAP_CREDIT,
    )
    for col in ("code", "municipality", "day (UTC)", "24h max", "24h mean", "48h max",
                "48h mean", "72h max", "72h mean", "coverage"):  # fmt: skip
        out.add_column(col, justify="right" if "h " in col or col == "coverage" else "left")
    for r in rows:
        out.add_row(
            r["code"],
            literal(f"{r['name_ja']} {r['name_en']}"),
            r["day"],
            *(_mm(r[f"{s}_{k}d_mm"]) for k in (1, 2, 3) for s in ("max", "mean")),
            "" if r["coverage"] is None else f"{r['coverage']:.2f}",
        )
    print_rich(out)


def _mm(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}"


def _write_png(
    table: RainfallTable, rows: list[dict[str, Any]], target: Path, *, title: str
) -> None:
    from ...processing.rainfall_chart import ZoneBar, render_rainfall_png

    best: dict[str, ZoneBar] = {}
    for r in rows:
        label = f"{r['name_ja']} {r['name_en']}"
        old = best.get(r["code"], ZoneBar(label, 0.0, 0.0))
        best[r["code"]] = ZoneBar(
            label,
            max(old.max_1d_mm, r["max_1d_mm"] or 0.0),
            max(old.max_3d_mm, r["max_3d_mm"] or 0.0),
        )
    if table.total is None:
        return
    note = f"{table.day_note}. {table.source}. {GSMAP_CREDIT}"
    if table.missing:
        note += f". missing/late days: {', '.join(d.isoformat() for d in table.missing)}"
    data = render_rainfall_png(
        table.total,
        table.zones,
        list(best.values()),
        title=f"積算雨量 accumulated rainfall — {title} ({table.period})",
        note=note,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _events(settings: Any, table: RainfallTable, fmt: ListFormat) -> None:
    """Detect, record (idempotent) and list the events; on stderr for CSV and JSON output, so
    stdout stays one document."""
    from ...catalogs.registry import open_registry
    from ...catalogs.registry.events import record_events
    from ..rain_data import detect

    found = detect(settings, table)
    with open_registry(settings) as reg:
        stored, new = record_events(reg, found, merge_gap_days=settings.rainfall.merge_gap_days)
    out = Table(
        title=f"rain events: {len(stored)} ({len(new)} new) — {settings.rainfall.statistic}"
    )
    for col in ("event", "municipality", "start", "peak", "end", "peak 24h mm", "crossed"):
        out.add_column(col)
    for e in stored:
        m = table.frame[table.frame["code"] == e.code]
        name = f"{m['name_ja'].iloc[0]} {m['name_en'].iloc[0]}" if len(m) else e.code
        out.add_row(
            e.id, literal(name), str(e.start), str(e.peak), str(e.end or "ongoing"),
            f"{e.peak_mm:.1f}", literal(", ".join(e.crossed)),
        )  # fmt: skip
    if fmt is ListFormat.table:
        print_rich(out)
    else:
        err_console.print(out)


@rainfall_app.command("report")
def report(
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder (default <output_root>/rain-report)."),
    ] = None,
    today: Annotated[
        str | None,
        typer.Option(help="The report's day (ISO date; default today in Asia/Tokyo)."),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Rainfall source of the charts (default: rainfall.source).")
    ] = None,
) -> None:
    """Write the rain event report from the registry's events and products, as the rain_watch
    flow does after each run: a self-contained HTML page (Japanese and English) and a PNG."""
    from ...catalogs.extent.periods import parse_period
    from ..rain_report import write_rain_report

    settings = settings_of_invocation()
    day = parse_period(today or "today", what="today").end
    target = out or settings.storage.output_root / "rain-report"
    written = write_rain_report(settings, target, today=day, rain_source=source)
    print_rich(
        f"rain event report ({written.storms} storms): {literal(written.html)}\n"
        f"chart: {literal(written.png)}",
        soft_wrap=True,
    )
