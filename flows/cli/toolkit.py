"""What the ``yamasat`` commands share: the consoles, this invocation's settings and registry,
output helpers, list formats and exit statuses."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape

from ...settings import Settings, load_settings

if TYPE_CHECKING:  # the registry (SQLAlchemy, and dask through evidence) only when used
    from ...catalogs.registry import Registry

__all__ = [
    "EXIT_CHECK_FAILED",
    "EXIT_INSUFFICIENT",
    "EXIT_SYSTEM",
    "FamilyName",
    "ListFormat",
    "ProfileName",
    "RunStateName",
    "SensorName",
    "StatusName",
    "config_path",
    "console",
    "err_console",
    "literal",
    "print_csv",
    "print_json",
    "print_plain",
    "print_rich",
    "registry_in_use",
    "registry_session",
    "set_config_path",
    "settings_of_invocation",
]

# soft wrap: long paths and messages stay on one line, so they can be copied whole
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
#: the width of a console that is not a terminal (piped, redirected): tables are never cut,
#: so ids come out whole (``COLUMNS`` in the environment still wins)
PIPED_WIDTH = 1000
for _c in (console, err_console):
    if not _c.is_terminal and "COLUMNS" not in os.environ:
        _c.width = PIPED_WIDTH

#: exit status when ``catalog validate`` finds products that fail their checks
EXIT_CHECK_FAILED = 1

#: exit status of a run that ended without a product because the data were insufficient
EXIT_INSUFFICIENT = 4

#: exit status when the system refused a file operation (no space, no permission: OSError)
EXIT_SYSTEM = 6


#: the values of --profile, --family, --status, --sensor and `runs list --state`: listed in
#: --help and checked before anything runs (tests/test_cli_choices.py holds them to the code's
#: own lists; written out here because importing those lists would load the registry at start)
ProfileName = Literal["earth-search", "planetary-computer", "sample", "jaxa-earth"]
FamilyName = Literal["s2", "s1", "dem", "rainfall"]
RunStateName = Literal["running", "completed", "failed"]
StatusName = Literal["proposed", "prototype", "developed", "deployed", "retired"]
SensorName = Literal["s1", "s2", "fused"]


class ListFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@dataclass
class _Invocation:
    """The global options of the running command (``yamasat --config FILE ...``)."""

    config: Path | None = None


_invocation = _Invocation()


def set_config_path(path: Path | None) -> None:
    """Remember ``--config`` for the commands of this invocation (the main callback sets it)."""
    _invocation.config = path


def config_path() -> Path | None:
    """The ``--config`` file given to this invocation, if any."""
    return _invocation.config


def settings_of_invocation() -> Settings:
    """The settings: defaults, the ``--config`` file (else $YAMASAT_CONFIG), YAMASAT_* vars."""
    return load_settings(_invocation.config)


def registry_in_use(settings: Settings) -> str:
    """Which registry ``settings`` name, and by which rule (credentials masked): the one
    ``storage.registry_url``, else the ``registry.sqlite`` of the output root."""
    if settings.storage.registry_url is not None:
        shown = settings.describe()["storage"]["registry_url"]  # credentials masked
        return f"{shown} (storage.registry_url)"
    root = settings.storage.output_root
    return f"{root / 'registry.sqlite'} (the SQLite file of the output root {root})"


@contextmanager
def registry_session(out: Path | None = None) -> Iterator[Registry]:
    """The registry of the output root ``out`` (else ``storage.output_root``; always
    ``storage.registry_url`` when set), open for the ``with`` block; says which on stderr."""
    from ...catalogs.registry import open_registry

    settings = settings_of_invocation().for_output(out)
    err_console.print(f"registry: {literal(registry_in_use(settings))}", highlight=False)
    with open_registry(settings) as reg:
        yield reg


def print_rich(*args: Any, soft_wrap: bool = False) -> None:
    """Print through the CLI's console; ``soft_wrap`` keeps long paths on one line."""
    console.print(*args, soft_wrap=soft_wrap)


def literal(value: object) -> str:
    """``value`` as text that rich prints literally (no markup from user data)."""
    return escape(str(value))


def print_plain(text: str) -> None:
    """Machine-readable output: plain text on stdout, no markup or wrapping."""
    typer.echo(text, nl=not text.endswith("\n"))


def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout, non-ASCII text as it is."""
    print_plain(json.dumps(value, ensure_ascii=False, indent=2))


def print_csv(rows: Iterable[dict[str, Any]], fieldnames: list[str], **options: Any) -> None:
    """``rows`` as CSV with a header line on stdout; ``options`` go to ``csv.DictWriter``."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fieldnames, **options)
    writer.writeheader()
    writer.writerows(rows)
    print_plain(buf.getvalue())
