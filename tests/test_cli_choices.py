"""Options with a fixed set of values list them in ``--help`` and refuse anything else before
a command runs (issue 16, item 4)."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from yamasat.catalogs.registry.records import STATUSES
from yamasat.catalogs.registry.run_records import RunState
from yamasat.catalogs.sources.profiles import FAMILIES, PROFILES
from yamasat.flows.cli import run
from yamasat.flows.cli.toolkit import FamilyName, ProfileName, RunStateName, StatusName


def _help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("COLUMNS", "300")  # wide enough that no list of values is wrapped
    assert run([*args, "--help"]) == 0
    return capsys.readouterr().out


def test_the_cli_lists_are_the_codes_lists() -> None:
    assert set(get_args(ProfileName)) == set(PROFILES)
    assert get_args(FamilyName) == FAMILIES
    assert get_args(RunStateName) == get_args(RunState)
    assert get_args(StatusName) == STATUSES


@pytest.mark.parametrize(
    ("command", "values"),
    [
        (("solutions", "add"), STATUSES),
        (("solutions", "list"), STATUSES),
        (("solutions", "set-status"), STATUSES),
        (("solutions", "list"), ("table", "csv", "json")),
        (("solutions", "tally"), ("table", "csv", "json", "md")),
        (("run", "change"), tuple(PROFILES)),
        (("run", "flood"), tuple(PROFILES)),
        (("run", "flood"), ("s1", "s2", "fused")),
        (("search",), FAMILIES),
        (("search",), tuple(PROFILES)),
        (("runs", "list"), get_args(RunState)),
    ],
)
def test_help_lists_the_allowed_values(
    command: tuple[str, ...],
    values: tuple[str, ...],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = _help(capsys, monkeypatch, *command)
    choices = [set(m.split("|")) for m in re.findall(r"<([a-z0-9|-]+\|[a-z0-9|-]+)>", text)]
    assert set(values) in choices, (values, choices)


@pytest.mark.parametrize(
    "args",
    [
        ["solutions", "add", "x", "--org", "o", "--status", "develped"],
        ["solutions", "set-status", "x", "done", "--reason", "r"],
        ["search", "--aoi", "hofu", "--period", "2025-01-01/2025-01-31", "--family", "s3"],
        ["runs", "list", "--state", "crashed"],
        [
            "run",
            "flood",
            "--aoi",
            "hofu",
            "--before",
            "2025-06-01/2025-06-10",
            "--after",
            "2025-07-01/2025-07-10",
            "--sensor",
            "s3",
        ],
    ],
)
def test_other_values_are_refused_naming_the_allowed_ones(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(args) == 2
    err = capsys.readouterr().err
    assert "is not one of" in err, err
