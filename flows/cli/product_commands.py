"""``yamasat run ...`` and ``yamasat demo``: run the product flows and print their outcome."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..signals import stopping_on_signals
from .toolkit import (
    EXIT_INSUFFICIENT,
    ProfileName,
    SensorName,
    config_path,
    console,
    settings_of_invocation,
)

__all__ = ["demo", "run_app"]

run_app = typer.Typer(
    help="Run a product flow (Prefect) over an AOI and two periods.", no_args_is_help=True
)


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
    from ..product_qa import HONEST_QA_KEYS, qa_lines

    for key, value in result.get("qa", {}).items():
        if key not in HONEST_QA_KEYS:
            table.add_row(f"QA {key}", str(value))
    for label, text in qa_lines(result.get("qa", {})):
        table.add_row(f"QA {label}", text)
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


AoiOpt = Annotated[str, typer.Option(help="AOI: name, 5-digit code, GeoJSON file or W,S,E,N.")]
BeforeOpt = Annotated[str, typer.Option(help="Before (pre-event) period A/B, ISO dates.")]
AfterOpt = Annotated[str, typer.Option(help="After (post-event) period A/B, ISO dates.")]
SourceOpt = Annotated[str, typer.Option(help="Configured source, STAC API URL or catalog.json.")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Output catalog root.")]
SolutionOpt = Annotated[str | None, typer.Option(help="Solution id to attach the product to.")]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Recompute and replace an existing product.")
]
ProfileOpt = Annotated[
    ProfileName | None,
    typer.Option(help="Force an asset layout; default: the source's own, or found per collection."),
]


def _family_option(family: str, what: str) -> inspect.Parameter:
    """``--<family>-source``: the source of one data family, over ``--source``."""
    return inspect.Parameter(
        f"{family}_source",
        _OPTION,
        default=None,
        annotation=Annotated[
            str | None,
            typer.Option(
                f"--{family}-source",
                help=f"Source of the {what} (default: --source).",
                show_default=False,
            ),
        ],
    )


@stopping_on_signals()  # SIGINT/SIGTERM, from the first moment: exit 130/143 (flows/signals.py)
def _run_flow(flow_name: str, title: str, **params: Any) -> None:
    """Run one product flow with a progress display; print its summary; set the exit code."""
    from ..prefect_env import prefect_defaults, prefect_run_settings
    from ..preflight import preflight

    prefect_defaults()
    from ..api_watch import api_url_in_use, watching_api
    from ..deployments import load_flow
    from ..local_prefect import run_api
    from ..progress import set_reporter, stage_progress

    # absolute, so that the run record (and `runs resume` from anywhere) names the same files
    params["out"] = str(Path(params["out"]).resolve()) if params.get("out") else None
    config = config_path()
    params["config"] = str(config.resolve()) if config else None
    settings = settings_of_invocation().for_output(params["out"])  # its registry too
    # every input is checked before Prefect starts: a refusal takes a second, not a server
    preflight(
        settings, aoi=params["aoi"], before=params["before"], after=params["after"],
        source=params["source"], out=params["out"], profile=params.get("profile"),
        family_sources=params.get("family_sources"), solution=params.get("solution"),
    )  # fmt: skip
    # a Prefect server of the run's own unless PREFECT_API_URL names one: out of reach of the
    # signals sent to the run's process group (flows/local_prefect.py)
    # and a run whose API stops answering fails within orchestration.api_lost_timeout_s
    with (
        run_api() as local_api,
        prefect_run_settings(settings),
        watching_api(api_url_in_use(local_api), settings.orchestration.api_lost_timeout_s),
        stage_progress(console) as progress,
    ):
        set_reporter(progress)
        try:
            result = load_flow(flow_name)(**params)
        finally:
            set_reporter(None)
    console.print(_outcome_table(result, title))
    if result["outcome"] not in ("published", "exists"):
        raise typer.Exit(EXIT_INSUFFICIENT)


_OPTION = inspect.Parameter.KEYWORD_ONLY

#: what every ``run`` command asks for first: the AOI and the two periods
_PLACE_AND_PERIODS = (
    inspect.Parameter("aoi", _OPTION, annotation=AoiOpt),
    inspect.Parameter("before", _OPTION, annotation=BeforeOpt),
    inspect.Parameter("after", _OPTION, annotation=AfterOpt),
)
#: what every ``run`` command takes after its own options
_RUN_OPTIONS = (
    inspect.Parameter("source", _OPTION, default="sample", annotation=SourceOpt),
    inspect.Parameter("out", _OPTION, default=None, annotation=OutOpt),
    inspect.Parameter("solution", _OPTION, default=None, annotation=SolutionOpt),
    inspect.Parameter("force", _OPTION, default=False, annotation=ForceOpt),
    inspect.Parameter("profile", _OPTION, default=None, annotation=ProfileOpt),
    _family_option("s2", "Sentinel-2 imagery"),
    _family_option("s1", "Sentinel-1 imagery"),
    _family_option("dem", "DEM (slopes)"),
)


def _add_run_command(
    name: str, flow_name: str, title: str, doc: str, *own: inspect.Parameter
) -> None:
    """Add ``yamasat run <name>``: runs the flow ``flow_name`` with the command's options
    (the AOI, the periods, ``own`` and the run options) and prints its outcome as ``title``
    (formatted with the options)."""

    def command(**options: Any) -> None:
        chosen = {f: options.pop(f"{f}_source") for f in ("s2", "s1", "dem")}
        options["family_sources"] = {f: s for f, s in chosen.items() if s} or None
        _run_flow(flow_name, title.format(**options), **options)

    params = [*_PLACE_AND_PERIODS, *own, *_RUN_OPTIONS]
    command.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
    command.__name__ = command.__qualname__ = f"run_{name}"
    command.__doc__ = doc
    run_app.command(name)(command)


_add_run_command(
    "change",
    "change_detection",
    "change detection",
    "Change detection (ΔNDVI) between two periods; publishes a STAC product.",
)
_add_run_command(
    "flood",
    "flood_mapping",
    "flood mapping ({sensor})",
    "Flood extent (S1: three detectors by vote with a 0–100 likelihood; S2: MNDWI; fused: "
    "every S1 and S2 acquisition after the event, with the sensor that decided each pixel).",
    inspect.Parameter(
        "sensor",
        _OPTION,
        default="s1",
        annotation=Annotated[
            SensorName,
            typer.Option(
                help="s1 (Sentinel-1 SAR, default), s2 (optical) or fused (both sensors)."
            ),
        ],
    ),
    inspect.Parameter(
        "terrain",
        _OPTION,
        default=None,
        annotation=Annotated[
            bool | None,
            typer.Option(
                "--terrain/--no-terrain",
                help="Exclude steep terrain with the DEM (both sensors; default: "
                "analytics.flood.terrain, true). Without a DEM the run fails; --no-terrain "
                "makes a product of its own without the exclusion, its QA saying so.",
                show_default=False,
            ),
        ],
    ),
)
_add_run_command(
    "landslide",
    "landslide_mapping",
    "landslide mapping",
    "Landslide scars (NDVI loss to bare soil on steep slopes); needs a DEM.",
)
_add_run_command(
    "burn",
    "burn_mapping",
    "burn mapping",
    "Burn scar: dNBR with the USGS severity classes and a binary burned product.",
)


def demo(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Workspace: sample/ and products/ go here (default yamasat-data)."
        ),
    ] = None,
) -> None:
    """Offline, one command: sample archive, load check across 132°E, change flow, accuracy."""
    from ..prefect_env import prefect_defaults, prefect_run_settings

    prefect_defaults()
    from ..demo import run_demo
    from ..progress import stage_progress

    settings = settings_of_invocation()
    root = (out / "sample") if out else settings.sample.root
    products = (out / "products") if out else settings.storage.output_root
    from ..local_prefect import run_api

    with (
        stopping_on_signals(),
        run_api(),
        prefect_run_settings(settings),
        stage_progress(console) as progress,
    ):
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
    from ..product_qa import qa_lines

    for (name, result), r in zip(summary.results.items(), summary.qa, strict=True):
        where = result.get("item_href") or result["message"]
        console.print(f"[bold]{name}[/] ({r.before} → {r.after}): {where}")
        for label, text in qa_lines(result.get("qa", {}), short=True):
            console.print(f"  {label}: {text}")
        for w in result.get("warnings", []):
            console.print(f"  [yellow]warning[/] {w}")
    if summary.rain is not None:
        _print_rain(summary.rain)
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


def _print_rain(rain: Any) -> None:
    """The demo's rain chain: one table (each rain event and what it got) and the report."""
    from ..rain_demo import KIND_TITLES

    t = Table(title="rain → events → products (sample GSMaP; the rain_watch flow)")
    for col in ("municipality", "start → end (peak)", "peak day mm", *KIND_TITLES.values()):
        t.add_column(col, justify="right" if col == "peak day mm" else "left")
    for e in rain.events:
        cells = [_short(e.products.get(kind, "")) for kind in KIND_TITLES]
        t.add_row(e.municipality, f"{e.start} → {e.end} ({e.peak})", f"{e.peak_mm:.1f}", *cells)
    console.print(t)
    console.print(f"rain event report: {rain.report}")


def _short(status: str) -> str:
    """``made <product id>`` → ``made``; other statuses as they are (they say why)."""
    return "made" if status.startswith("made ") else status
