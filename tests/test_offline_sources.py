"""With no network a remote source fails fast (issue 12, item 8): a refused connection is not
retried with backoff (neither by urllib3 nor by the Prefect search task), and the message
names the source and suggests ``--source sample``."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
import shapely

from yamasat.catalogs.extent.periods import parse_period
from yamasat.catalogs.sources.network import NetworkPolicy
from yamasat.catalogs.sources.search import resolve_source, search_items
from yamasat.errors import (
    HrefPolicyError,
    NoDataError,
    SourceError,
    SourceRefusedError,
    SourceUnreachableError,
)
from yamasat.flows.cli import run
from yamasat.flows.product_run import retry_worthwhile

#: the production defaults: 5 retries doubling from 1 s would take half a minute and more
DEFAULT = NetworkPolicy()
WINDOW = shapely.box(131.975, 33.90, 132.025, 33.93)


@pytest.fixture()
def refused_url() -> str:
    """An API root on a loopback port nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("YAMASAT_")]:
        monkeypatch.delenv(key)


def test_refused_connection_fails_fast_through_the_cli(
    refused_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    start = time.monotonic()
    code = run(
        [
            "search",
            "--aoi",
            "131.95,33.9,132.05,33.95",
            "--period",
            "2025-04-01/2025-10-31",
            "--source",
            refused_url,
        ]
    )
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == SourceUnreachableError.exit_code
    assert elapsed < 5.0, f"a refused connection took {elapsed:.1f} s to fail"
    assert refused_url in err
    assert "no connection" in err
    assert "--source sample" in err


def test_refused_connection_is_not_retried(refused_url: str) -> None:
    src = resolve_source(refused_url, profile="sample")
    start = time.monotonic()
    with pytest.raises(SourceUnreachableError) as info:
        search_items(
            src,
            family="s2",
            aoi=WINDOW,
            period=parse_period("2025-04-01/2025-10-31"),
            policy=DEFAULT,
        )
    assert time.monotonic() - start < 5.0
    assert info.value.reason == "source_unreachable"
    assert "--source sample" in str(info.value)


class _State:
    def __init__(self, exc: BaseException) -> None:
        self._exc = exc

    def result(self) -> None:
        raise self._exc


def test_prefect_retries_a_failing_service_but_not_an_unreachable_one() -> None:
    assert retry_worthwhile(None, None, _State(SourceError("HTTP 503")))
    assert not retry_worthwhile(None, None, _State(SourceUnreachableError("refused")))


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        (SourceRefusedError("HTTP 400"), False),  # a 4xx, a bad document: the same again
        (HrefPolicyError("refused href"), False),
        (NoDataError("nothing"), False),
        (FileNotFoundError("catalog.json"), False),
        (PermissionError("out"), False),
        (KeyError("a bug"), False),
        (ConnectionResetError("reset"), True),
        (TimeoutError("timed out"), True),
    ],
)
def test_only_what_can_pass_is_retried(exc: BaseException, retried: bool) -> None:
    assert retry_worthwhile(None, None, _State(exc)) is retried


def test_a_4xx_and_a_bad_document_are_refused_not_retried(tmp_path: Path) -> None:
    """A 400 from the API and a body that is not JSON end as SourceRefusedError (not
    retried), with the source's own words; a 503 stays retryable."""
    import shapely

    from tests.support.rangeserver import RangeServer
    from yamasat.catalogs.extent.periods import parse_period

    (tmp_path / "api").mkdir()
    aoi, period = shapely.box(131.9, 33.9, 132.0, 34.0), parse_period("2025-01-01/2025-01-31")
    fast = NetworkPolicy(timeout_s=2.0, max_retries=1, backoff_s=0.01)
    with RangeServer(tmp_path / "api") as srv:
        src = resolve_source(srv.stac_api_url, profile="earth-search")
        srv.script(r"^/search$", [("status", 400)])
        with pytest.raises(SourceRefusedError, match="refused the search"):
            search_items(src, family="s2", aoi=aoi, period=period, policy=fast)
        srv.script(r"^/search$", [("body", "<html>maintenance</html>", "text/html")])
        with pytest.raises(SourceRefusedError, match="did not answer with STAC JSON"):
            search_items(src, family="s2", aoi=aoi, period=period, policy=fast)
        srv.script(r"^/search$", [("status", 503)], cycle=True)
        with pytest.raises(SourceError) as info:
            search_items(src, family="s2", aoi=aoi, period=period, policy=fast)
        assert info.value.retryable
