"""``yamasat config``, ``sample``, ``boundaries``, ``aoi`` and ``search``: what a run reads
(configuration, the sample archive, municipal boundaries, AOIs, a source's items)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .toolkit import FamilyName, ProfileName, console, settings_of_invocation

__all__ = ["aoi_show", "boundaries_app", "config_app", "sample_app", "search"]

sample_app = typer.Typer(
    help="The embedded sample archive (offline, synthetic).", no_args_is_help=True
)
boundaries_app = typer.Typer(help="Municipal boundaries (MLIT N03).", no_args_is_help=True)
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)


@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration (defaults + override file + YAMASAT_* variables);
    storage.registry_url is the registry in use (the output root's SQLite file when unset)."""
    from .toolkit import err_console, literal, registry_in_use

    settings = settings_of_invocation()
    shown = settings.describe()  # a configured URL is shown with its credentials masked
    if settings.storage.registry_url is None:
        shown["storage"]["registry_url"] = settings.registry_url_resolved
    err_console.print(f"registry: {literal(registry_in_use(settings))}", highlight=False)
    console.print_json(json.dumps(shown, default=str))


@sample_app.command("build")
def sample_build(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder to write (default sample.root).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default sample.seed).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing archive.")] = False,
    vary: Annotated[
        bool,
        typer.Option(
            "--vary", help="Draw the scene parameters from their ranges by seed (not the demo's)."
        ),
    ] = False,
) -> None:
    """Write the embedded sample archive: STAC catalog, COG assets and planted ground truth."""
    from ...catalogs.sample import build_sample
    from ..progress import stage_progress

    settings = settings_of_invocation()
    root = (out or settings.sample.root).resolve()
    with stage_progress(console) as progress:
        manifest = build_sample(
            root,
            bbox=settings.sample.bbox,
            seed=seed if seed is not None else settings.sample.seed,
            vary=vary,
            overwrite=force,
            progress=progress,
        )
    _print_sample_summary(root, manifest)


def _print_sample_summary(root: Path, manifest: object) -> None:
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    n_files = sum(1 for p in root.rglob("*") if p.is_file())
    console.print(f"[bold green]sample archive[/] {root / 'catalog.json'}")
    console.print(
        f"  {n_files} files, {size / 1e6:.1f} MB, synthetic (seeded), "
        f"bbox {getattr(manifest, 'bbox', '')}"
    )


@boundaries_app.command("fetch")
def boundaries_fetch(
    year: Annotated[int, typer.Option(help="N03 edition (1 January of this year).")] = 2024,
    url: Annotated[str | None, typer.Option(help="Download from here instead of MLIT.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to keep the zip in.")] = Path(
        "yamasat-data/boundaries"
    ),
    force: Annotated[bool, typer.Option("--force", help="Download again if present.")] = False,
) -> None:
    """Download MLIT's N03 boundaries of prefecture 35, check them, and say how to use them."""
    from ...catalogs.extent.boundaries import MLIT_CREDIT
    from ...catalogs.sources.boundaries_download import fetch_boundaries
    from ...catalogs.sources.hrefs import HrefPolicy

    settings = settings_of_invocation()
    result = fetch_boundaries(
        out,
        year=year,
        url=url,
        network=_network_policy(settings),
        href_policy=HrefPolicy(allowed_http_hosts=tuple(settings.network.allowed_http_hosts)),
        force=force,
        prefecture_code=settings.boundaries.prefecture_code,
    )
    what = "downloaded" if result.downloaded else "already present (--force downloads again)"
    console.print(f"{result.path.resolve()}: {what}; {len(result.boundaries.codes)} municipalities")
    console.print(
        "use it: set boundaries.path in an override config, or "
        f"export YAMASAT_BOUNDARIES__PATH={result.path.resolve()}"
    )
    console.print(MLIT_CREDIT)


@boundaries_app.command("show")
def boundaries_show() -> None:
    """List the AOIs available and where their boundaries come from."""
    from ...catalogs.extent.boundaries import MLIT_CREDIT, load_boundaries, municipalities_table
    from ...catalogs.extent.municipalities import PREFECTURE
    from ...errors import BoundariesMissingError

    settings = settings_of_invocation()
    path = settings.boundaries.path
    try:
        b = load_boundaries(path)
        source = b.source
        problem = None
    except BoundariesMissingError as e:
        b, source, problem = None, None, str(e)
    table = Table(title="Yamaguchi AOIs")
    for col in ("AOI", "code", "名称", "name", "boundary"):
        table.add_column(col)
    pref_src = source or "japanmap package (coarse outline, mainland only)"
    table.add_row(
        PREFECTURE.slug, PREFECTURE.code, PREFECTURE.name_ja, PREFECTURE.name_en, pref_src
    )
    for m, have in municipalities_table(b):
        table.add_row(
            m.slug,
            m.code,
            m.name_ja,
            m.name_en,
            "N03 file" if have else "[yellow]needs boundaries file[/]",
        )
    console.print(table)
    if problem:
        console.print(f"[yellow]boundaries:[/] {problem}")
    else:
        console.print(f"boundaries: {source}\n{MLIT_CREDIT}")


def aoi_show(
    aoi: Annotated[str, typer.Argument(help="Name, 5-digit code, GeoJSON file or W,S,E,N.")],
) -> None:
    """Resolve an AOI and print its extent, area and source."""
    from ...catalogs.extent.aoi import resolve_aoi

    settings = settings_of_invocation()
    a = resolve_aoi(aoi, boundaries_path=settings.boundaries.path)
    w, s, e, n = a.bbox
    console.print(f"[bold]{a.name_ja}[/] ({a.name_en}) key={a.key}")
    console.print(
        f"  bbox W,S,E,N = {w:.5f},{s:.5f},{e:.5f},{n:.5f}; "
        f"area {a.area_km2(settings.grid.crs):.1f} km²"
    )
    console.print(f"  source: {a.source}")


def search(
    aoi: Annotated[str, typer.Option(help="AOI: name, code, GeoJSON file or W,S,E,N.")],
    period: Annotated[str, typer.Option(help="Period A/B (ISO dates).")],
    source: Annotated[
        str, typer.Option(help="Configured source, STAC API URL or catalog.json.")
    ] = "sample",
    family: Annotated[FamilyName, typer.Option(help="Data family.")] = "s2",
    profile: Annotated[
        ProfileName | None,
        typer.Option(help="Asset layout profile (default: from the source)."),
    ] = None,
) -> None:
    """Search a source and list the items found (deduplicated)."""
    from ...catalogs.extent.aoi import resolve_aoi
    from ...catalogs.extent.periods import parse_period
    from ...catalogs.sources.family_sources import resolve_sources
    from ...catalogs.sources.search import search_items

    settings = settings_of_invocation()
    p = parse_period(period)
    a = resolve_aoi(aoi, boundaries_path=settings.boundaries.path)
    src = resolve_sources(source, configured=dict(settings.sources), profile=profile).of(family)
    items = search_items(
        src, family=family, aoi=a.geometry, period=p, policy=_network_policy(settings)
    )
    table = Table(title=f"{len(items)} items from {src.name}")
    for col in ("id", "datetime", "cloud %", "crs"):
        table.add_column(col)
    for it in items:
        crs = it.properties.get("proj:code") or it.properties.get("proj:epsg") or ""
        cc = it.properties.get("eo:cloud_cover")
        table.add_row(it.id, str(it.datetime), "" if cc is None else f"{cc:.1f}", str(crs))
    console.print(table)


def _network_policy(settings: Any) -> Any:
    from ..prepare import network_policy  # pystac, shapely and the sources: only when used

    return network_policy(settings)
