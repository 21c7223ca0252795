"""Pre-flight (issue 17, item 3): a run's inputs are refused before Prefect starts and before
any request, with exit status 2 and a message naming what to fix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.rangeserver import RangeServer
from yamasat.flows import preflight as preflight_mod
from yamasat.flows.cli import run

GOOD = ["--aoi", "131.95,33.9,132.05,33.95", "--before", "2025-04-01/2025-04-30",
        "--after", "2025-05-01/2025-05-31"]  # fmt: skip


@pytest.fixture
def no_prefect(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records (and refuses) any attempt to enter the Prefect run settings: pre-flight must
    refuse before a server is started or connected to."""
    entered: list[str] = []

    def refuse(*_: Any, **__: Any) -> Iterator[None]:
        entered.append("prefect")
        raise AssertionError("Prefect was started before the inputs were checked")

    from yamasat.flows import prefect_env

    monkeypatch.setattr(prefect_env, "prefect_run_settings", refuse)
    return entered


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[RangeServer]:
    (tmp_path / "api").mkdir()
    with RangeServer(tmp_path / "api") as server:
        yield server


def _sample(root: Path) -> list[str]:
    return ["--source", str(root / "catalog.json")]


def _refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert run(["run", "change", *args]) == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"--before": "2025-04-30/2025-04-01"}, "before"),  # reversed period
        ({"--aoi": "33.9,131.95,33.95,132.05"}, "lat"),  # lat/lon swapped
        ({"--after": "2025-04-15/2025-05-31"}, "overlap"),  # after overlaps before
    ],
)
def test_bad_input_is_refused_before_prefect_and_any_request(
    change: dict[str, str],
    expected: str,
    srv: RangeServer,
    no_prefect: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = list(GOOD)
    for key, value in change.items():
        args[args.index(key) + 1] = value
    err = _refused([*args, "--source", srv.stac_api_url], capsys)
    assert expected in err.lower()
    assert no_prefect == [] and srv.requests == []


def test_an_output_folder_that_cannot_be_written_is_refused(
    tmp_path: Path, sample_root: Path, no_prefect: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    err = _refused([*GOOD, *_sample(sample_root), "--out", str(blocker / "products")], capsys)
    assert "cannot be written" in err and "--out" in err
    assert no_prefect == []


def test_too_little_free_space_is_refused(
    tmp_path: Path,
    sample_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_prefect: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(preflight_mod, "BYTES_PER_PIXEL", 10**12)
    err = _refused([*GOOD, *_sample(sample_root), "--out", str(tmp_path / "out")], capsys)
    assert "GB free" in err and "needs about" in err
    assert no_prefect == []


def test_a_source_host_the_policy_refuses_gets_no_request(
    no_prefect: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # a private address is refused by the href policy; the socket guard would fail a request
    err = _refused([*GOOD, "--source", "http://10.11.12.13/stac/v1"], capsys)
    assert "cannot be used" in err and "10.11.12.13" in err
    assert no_prefect == []


def test_a_missing_catalog_and_an_unknown_solution_are_refused(
    tmp_path: Path, sample_root: Path, no_prefect: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused([*GOOD, "--source", str(tmp_path / "nowhere" / "catalog.json")], capsys)
    assert "unknown source" in err
    args = [*GOOD, *_sample(sample_root), "--out", str(tmp_path / "out"), "--solution", "no-such"]
    err = _refused(args, capsys)
    assert "no-such" in err
    assert no_prefect == []


def test_good_inputs_pass_and_measure_the_room(tmp_path: Path, sample_root: Path) -> None:
    from yamasat.settings import load_settings

    found = preflight_mod.preflight(
        load_settings(env={}), aoi=GOOD[1], before=GOOD[3], after=GOOD[5],
        source=str(sample_root / "catalog.json"), out=tmp_path / "out",
    )  # fmt: skip
    # 0.1° x 0.05° at 10 m: about 9.2 km x 5.6 km, some 0.5 M pixels
    assert 5e6 < found.needed_bytes < 2e7
    assert found.free_bytes > found.needed_bytes
    assert not list((tmp_path / "out").iterdir())  # the probe file is gone
