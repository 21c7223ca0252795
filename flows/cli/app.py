"""The ``yamasat`` command line (typer + rich): the root command and its global options,
with every command group added. Exit code 0 only on success."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ...errors import YamasatError
from ...processing.gdal_env import ignore_not_georeferenced
from ..signals import interrupted_by, signal_name
from .catalog_commands import catalog_app
from .inputs_commands import aoi_show, boundaries_app, config_app, sample_app, search
from .product_commands import demo, run_app
from .rain_commands import rainfall_app
from .runs_commands import runs_app
from .serve_commands import deployments_app, serve
from .solutions_commands import solutions_app
from .toolkit import EXIT_SYSTEM, err_console, set_config_path
from .web_command import web

__all__ = ["app", "main", "run"]

app = typer.Typer(
    help="yamasat: satellite-data pipeline of Yamaguchi Prefecture (STAC -> analytics -> catalog).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# typer lists the commands in the order they are added, commands before groups
app.add_typer(sample_app, name="sample")
app.add_typer(boundaries_app, name="boundaries")
app.add_typer(config_app, name="config")
app.add_typer(solutions_app, name="solutions")
app.add_typer(catalog_app, name="catalog")
app.add_typer(runs_app, name="runs")
app.add_typer(rainfall_app, name="rainfall")
app.add_typer(deployments_app, name="deployments")
app.add_typer(run_app, name="run")
app.command("serve")(serve)
app.command("aoi")(aoi_show)
app.command("search")(search)
app.command("demo")(demo)
app.command("web")(web)


def _print_version(value: bool) -> None:
    if value:
        from ..prepare import software_version

        typer.echo(f"yamasat {software_version()}")
        raise typer.Exit()


@app.callback()
def _main(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Override config file (else $YAMASAT_CONFIG)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    set_config_path(config)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # distributed logs cluster start-up at INFO through its own handlers
        logging.getLogger("distributed").setLevel(logging.WARNING)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv``; returns the exit status (0 only on success)."""
    try:
        app(args=argv, prog_name="yamasat")
    except SystemExit as e:  # typer/click end every run this way in standalone mode
        code = e.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except YamasatError as e:
        err_console.print(f"[bold red]error:[/] {escape(str(e))}")
        return e.exit_code
    except OSError as e:  # no space, no permission: the system's refusal, not a bug
        err_console.print(f"[bold red]error:[/] {escape(str(e))}")
        return EXIT_SYSTEM
    except BaseException as e:  # a stop signal (flows/signals.py): 128 + its number
        signum = interrupted_by(e)
        if signum is None:
            raise
        err_console.print(f"[yellow]interrupted[/] ({signal_name(signum)})")
        return 128 + signum
    return 0


def main() -> None:
    """Console-script entry point."""
    ignore_not_georeferenced()
    sys.exit(run())
