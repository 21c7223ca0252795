"""The ``yamasat`` command line (typer + rich). Exit code 0 only on success."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import YamasatError

__all__ = ["app", "main"]

# soft wrap: long paths and messages stay on one line, so they can be copied whole
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

app = typer.Typer(
    help="yamasat: satellite-data pipeline of Yamaguchi Prefecture (STAC -> analytics -> catalog).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
sample_app = typer.Typer(
    help="The embedded sample archive (offline, synthetic).", no_args_is_help=True
)
boundaries_app = typer.Typer(help="Municipal boundaries (MLIT N03).", no_args_is_help=True)
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)
app.add_typer(sample_app, name="sample")
app.add_typer(boundaries_app, name="boundaries")
app.add_typer(config_app, name="config")
from .cli_runs import runs_app  # noqa: E402
from .cli_serve import deployments_app, serve  # noqa: E402
from .cli_solutions import catalog_app, solutions_app  # noqa: E402

app.add_typer(solutions_app, name="solutions")
app.add_typer(catalog_app, name="catalog")
app.add_typer(runs_app, name="runs")
app.add_typer(deployments_app, name="deployments")
app.command("serve")(serve)


@dataclass
class _State:
    config: Path | None = None


_state = _State()


@app.callback()
def _main(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Override config file (else $YAMASAT_CONFIG)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    _state.config = config
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # distributed logs cluster start-up at INFO through its own handlers
        logging.getLogger("distributed").setLevel(logging.WARNING)


def _settings():  # type: ignore[no-untyped-def]
    from ..settings import load_settings

    return load_settings(_state.config)


@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration (defaults + override file + YAMASAT_* variables)."""
    import json

    console.print_json(json.dumps(_settings().describe(), default=str))


@sample_app.command("build")
def sample_build(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder to write (default sample.root).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default sample.seed).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing archive.")] = False,
) -> None:
    """Write the embedded sample archive: STAC catalog, COG assets and planted ground truth."""
    from ..catalogs.sample import build_sample
    from .progress import stage_progress

    settings = _settings()
    root = (out or settings.sample.root).resolve()
    with stage_progress(console) as progress:
        manifest = build_sample(
            root,
            bbox=settings.sample.bbox,
            seed=seed if seed is not None else settings.sample.seed,
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
    from ..catalogs.extent.boundaries import MLIT_CREDIT
    from ..catalogs.sources.boundaries_download import fetch_boundaries
    from ..catalogs.sources.hrefs import HrefPolicy

    settings = _settings()
    result = fetch_boundaries(
        out,
        year=year,
        url=url,
        network=_network(settings),
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
    from ..catalogs.extent.boundaries import MLIT_CREDIT, load_boundaries, municipalities_table
    from ..catalogs.extent.municipalities import PREFECTURE
    from ..errors import BoundariesMissingError

    settings = _settings()
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


@app.command("aoi")
def aoi_show(
    aoi: Annotated[str, typer.Argument(help="Name, 5-digit code, GeoJSON file or W,S,E,N.")],
) -> None:
    """Resolve an AOI and print its extent, area and source."""
    from ..catalogs.extent.aoi import resolve_aoi

    settings = _settings()
    a = resolve_aoi(aoi, boundaries_path=settings.boundaries.path)
    w, s, e, n = a.bbox
    console.print(f"[bold]{a.name_ja}[/] ({a.name_en}) key={a.key}")
    console.print(
        f"  bbox W,S,E,N = {w:.5f},{s:.5f},{e:.5f},{n:.5f}; "
        f"area {a.area_km2(settings.grid.crs):.1f} km²"
    )
    console.print(f"  source: {a.source}")


@app.command("search")
def search(
    aoi: Annotated[str, typer.Option(help="AOI: name, code, GeoJSON file or W,S,E,N.")],
    period: Annotated[str, typer.Option(help="Period A/B (ISO dates).")],
    source: Annotated[
        str, typer.Option(help="Configured source, STAC API URL or catalog.json.")
    ] = "sample",
    family: Annotated[str, typer.Option(help="s2, s1 or dem.")] = "s2",
    profile: Annotated[
        str | None, typer.Option(help="Asset layout profile (default: from the source).")
    ] = None,
) -> None:
    """Search a source and list the items found (deduplicated)."""
    from ..catalogs.extent.aoi import resolve_aoi
    from ..catalogs.extent.periods import parse_period
    from ..catalogs.sources.search import resolve_source, search_items

    settings = _settings()
    p = parse_period(period)
    a = resolve_aoi(aoi, boundaries_path=settings.boundaries.path)
    src = resolve_source(source, configured=dict(settings.sources), profile=profile)
    items = search_items(src, family=family, aoi=a.geometry, period=p, policy=_network(settings))
    table = Table(title=f"{len(items)} items from {src.name}")
    for col in ("id", "datetime", "cloud %", "crs"):
        table.add_column(col)
    for it in items:
        crs = it.properties.get("proj:code") or it.properties.get("proj:epsg") or ""
        cc = it.properties.get("eo:cloud_cover")
        table.add_row(it.id, str(it.datetime), "" if cc is None else f"{cc:.1f}", str(crs))
    console.print(table)


def _network(settings):  # type: ignore[no-untyped-def]
    from ..catalogs.sources.search import NetworkPolicy

    n = settings.network
    return NetworkPolicy(timeout_s=n.timeout_s, max_retries=n.max_retries, backoff_s=n.backoff_s)


run_app = typer.Typer(
    help="Run a product flow (Prefect) over an AOI and two periods.", no_args_is_help=True
)
app.add_typer(run_app, name="run")


def _outcome_table(result: dict[str, Any], title: str) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("outcome", str(result["outcome"]))
    table.add_row("message", str(result["message"]))
    table.add_row("valid coverage", f"{100 * float(result['valid_fraction']):.1f} %")
    if result.get("threshold") is not None:
        table.add_row("threshold", f"{result['threshold']:g}")
    if result["outcome"] in ("published", "exists"):
        table.add_row("detected area", f"{result['changed_area_m2'] / 1e4:.2f} ha")
        table.add_row("polygons", str(result["n_polygons"]))
        table.add_row("STAC item", str(result["item_href"]))
        for name, f in result["files"].items():
            table.add_row(name, str(f["path"]))
    for key, value in result.get("qa", {}).items():
        table.add_row(f"QA {key}", str(value))
    if result.get("registration"):
        table.add_row("registry", str(result["registration"]["message"]))
    for w in result.get("warnings", []):
        table.add_row("[yellow]warning[/]", str(w))
    for r in result.get("municipalities", []):
        table.add_row(
            f"{r['code']} {r['name_ja']} {r['name_en']}",
            f"{r['changed_area_m2'] / 1e4:.2f} ha ({100 * r['share_of_municipality']:.3f} %), "
            f"{r.get('objects', 0)} objects, coverage {100 * r['valid_coverage']:.1f} %",
        )
    return table


#: exit status of a run that ended without a product because the data were insufficient
EXIT_INSUFFICIENT = 4


AoiOpt = Annotated[str, typer.Option(help="AOI: name, 5-digit code, GeoJSON file or W,S,E,N.")]
BeforeOpt = Annotated[str, typer.Option(help="Before (pre-event) period A/B, ISO dates.")]
AfterOpt = Annotated[str, typer.Option(help="After (post-event) period A/B, ISO dates.")]
SourceOpt = Annotated[str, typer.Option(help="Configured source, STAC API URL or catalog.json.")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Output catalog root.")]
SolutionOpt = Annotated[str | None, typer.Option(help="Solution id to attach the product to.")]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Recompute and replace an existing product.")
]
ProfileOpt = Annotated[str | None, typer.Option(help="Asset layout profile of the source.")]


def _run_flow(flow_name: str, title: str, **params: Any) -> None:
    """Run one product flow with a progress display; print its summary; set the exit code."""
    from .prefect_env import prefect_defaults, prefect_run_settings

    prefect_defaults()
    from .deployments import load_flow
    from .progress import set_reporter, stage_progress

    # absolute, so that the run record (and `runs resume` from anywhere) names the same files
    params["out"] = str(Path(params["out"]).resolve()) if params.get("out") else None
    params["config"] = str(_state.config.resolve()) if _state.config else None
    with prefect_run_settings(_settings()), stage_progress(console) as progress:
        set_reporter(progress)
        try:
            result = load_flow(flow_name)(**params)
        finally:
            set_reporter(None)
    console.print(_outcome_table(result, title))
    if result["outcome"] not in ("published", "exists"):
        raise typer.Exit(EXIT_INSUFFICIENT)


@run_app.command("change")
def run_change(
    aoi: AoiOpt,
    before: BeforeOpt,
    after: AfterOpt,
    source: SourceOpt = "sample",
    out: OutOpt = None,
    solution: SolutionOpt = None,
    force: ForceOpt = False,
    profile: ProfileOpt = None,
) -> None:
    """Change detection (ΔNDVI) between two periods; publishes a STAC product."""
    _run_flow(
        "change_detection",
        "change detection",
        aoi=aoi,
        before=before,
        after=after,
        source=source,
        out=out,
        solution=solution,
        force=force,
        profile=profile,
    )


@run_app.command("flood")
def run_flood(
    aoi: AoiOpt,
    before: BeforeOpt,
    after: AfterOpt,
    sensor: Annotated[
        str, typer.Option(help="s1 (Sentinel-1 SAR, default) or s2 (optical).")
    ] = "s1",
    source: SourceOpt = "sample",
    out: OutOpt = None,
    solution: SolutionOpt = None,
    force: ForceOpt = False,
    profile: ProfileOpt = None,
) -> None:
    """Flood extent (S1: three detectors by vote with a 0–100 likelihood; S2: MNDWI)."""
    _run_flow(
        "flood_mapping",
        f"flood mapping ({sensor})",
        aoi=aoi,
        before=before,
        after=after,
        sensor=sensor,
        source=source,
        out=out,
        solution=solution,
        force=force,
        profile=profile,
    )


@run_app.command("landslide")
def run_landslide(
    aoi: AoiOpt,
    before: BeforeOpt,
    after: AfterOpt,
    source: SourceOpt = "sample",
    out: OutOpt = None,
    solution: SolutionOpt = None,
    force: ForceOpt = False,
    profile: ProfileOpt = None,
) -> None:
    """Landslide scars (NDVI loss to bare soil on steep slopes); needs a DEM."""
    _run_flow(
        "landslide_mapping",
        "landslide mapping",
        aoi=aoi,
        before=before,
        after=after,
        source=source,
        out=out,
        solution=solution,
        force=force,
        profile=profile,
    )


@run_app.command("burn")
def run_burn(
    aoi: AoiOpt,
    before: BeforeOpt,
    after: AfterOpt,
    source: SourceOpt = "sample",
    out: OutOpt = None,
    solution: SolutionOpt = None,
    force: ForceOpt = False,
    profile: ProfileOpt = None,
) -> None:
    """Burn scar: dNBR with the USGS severity classes and a binary burned product."""
    _run_flow(
        "burn_mapping",
        "burn mapping",
        aoi=aoi,
        before=before,
        after=after,
        source=source,
        out=out,
        solution=solution,
        force=force,
        profile=profile,
    )


@app.command("demo")
def demo(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Workspace: sample/ and products/ go here (default yamasat-data)."
        ),
    ] = None,
) -> None:
    """Offline, one command: sample archive, load check across 132°E, change flow, accuracy."""
    from .prefect_env import prefect_defaults, prefect_run_settings

    prefect_defaults()
    from .demo import run_demo
    from .progress import stage_progress

    settings = _settings()
    root = (out / "sample") if out else settings.sample.root
    products = (out / "products") if out else settings.storage.output_root
    with prefect_run_settings(settings), stage_progress(console) as progress:
        summary = run_demo(settings, root.resolve(), products.resolve(), progress=progress)
    lc = summary.load
    console.print(
        f"[bold]load check[/] {lc.grid}: median |loaded − planted| red reflectance over "
        f"{lc.dates} clear dates: west of 132°E (UTM 52N) {lc.west_median_abs_err:.4f}, "
        f"east (UTM 53N) {lc.east_median_abs_err:.4f}"
    )
    t = Table(title="QA against the planted truth (synthetic sample)")
    for col in ("product", "outcome", "coverage", "CSI", "precision", "recall", "objects"):
        t.add_column(col, justify="left" if col in ("product", "outcome", "objects") else "right")
    for r in summary.qa:
        t.add_row(
            r.product,
            r.outcome,
            f"{100 * r.valid_fraction:.1f} %",
            f"{r.csi:.3f}",
            f"{r.precision:.3f}",
            f"{r.recall:.3f}",
            r.objects,
        )
    console.print(t)
    console.print(
        "floors asserted by the tests: " + "; ".join(f"{r.product} {r.floor}" for r in summary.qa)
    )
    for (name, result), r in zip(summary.results.items(), summary.qa, strict=True):
        where = result.get("item_href") or result["message"]
        console.print(f"[bold]{name}[/] ({r.before} → {r.after}): {where}")
        for w in result.get("warnings", []):
            console.print(f"  [yellow]warning[/] {w}")
    console.print(
        f"sample catalog: {summary.catalog}\nproduct catalog: {summary.products / 'catalog.json'}"
    )
    hint = "yamasat runs list"
    if summary.products.resolve() != settings.storage.output_root.resolve():
        hint = f"YAMASAT_STORAGE__OUTPUT_ROOT={summary.products} {hint}"
    console.print(f"the runs and their outcomes: {hint}")
    failed = [r.product for r in summary.qa if r.outcome != "published"]
    if failed:
        console.print(f"[red]not published:[/] {', '.join(failed)}")
        raise typer.Exit(EXIT_INSUFFICIENT)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv``; returns the exit status (0 only on success)."""
    try:
        app(args=argv, prog_name="yamasat")
    except SystemExit as e:  # typer/click end every run this way in standalone mode
        code = e.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except YamasatError as e:
        from rich.markup import escape

        err_console.print(f"[bold red]error:[/] {escape(str(e))}")
        return e.exit_code
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return 130
    return 0


def main() -> None:
    """Console-script entry point."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    # odc-stac warps through in-memory rasters that carry no transform by design
    warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
    sys.exit(run())


if __name__ == "__main__":
    main()
