"""``yamasat boundaries fetch`` against a loopback stand-in for MLIT's download server: the
zip is checked before it replaces anything; failures are named and leave nothing behind."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.scripted_http import ScriptedServer, scripted_server
from yamasat.catalogs.sources.boundaries_download import fetch_boundaries, n03_url
from yamasat.catalogs.sources.hrefs import HrefPolicy
from yamasat.catalogs.sources.network import NetworkPolicy
from yamasat.errors import BoundariesMissingError, HrefPolicyError, SourceError
from yamasat.flows.cli import run


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as s:
        yield s


@pytest.fixture
def n03_zip(boundaries_path: Path, tmp_path: Path) -> bytes:
    """The real N03 GeoJSON of the shared fixtures, zipped as MLIT ships it."""
    path = tmp_path / "N03.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(boundaries_path, f"N03-20240101_35_GML/{boundaries_path.name[:-5]}.geojson")
    return path.read_bytes()


NET = NetworkPolicy(timeout_s=5, max_retries=3, backoff_s=0.01)
LOOPBACK = HrefPolicy(allowed_http_hosts=("127.0.0.1",))


def test_official_address() -> None:
    assert n03_url(2024) == (
        "https://nlftp.mlit.go.jp/ksj/gml/data/N03/N03-2024/N03-20240101_35_GML.zip"
    )


def test_fetch_checks_then_places_the_zip_and_retries_5xx(
    server: ScriptedServer, n03_zip: bytes, tmp_path: Path
) -> None:
    server.files["/N03-20240101_35_GML.zip"] = n03_zip
    server.failures["/N03-20240101_35_GML.zip"] = [503, 503]
    dest = tmp_path / "boundaries"
    url = f"{server.url}/N03-20240101_35_GML.zip"
    got = fetch_boundaries(dest, year=2024, url=url, network=NET, href_policy=LOOPBACK)
    assert got.downloaded and got.path == dest / "N03-20240101_35_GML.zip"
    assert len(got.boundaries.codes) == 19
    assert server.paths().count("/N03-20240101_35_GML.zip") == 3  # two 503s, then the file
    assert sorted(p.name for p in dest.iterdir()) == ["N03-20240101_35_GML.zip"]
    again = fetch_boundaries(dest, year=2024, url=url, network=NET, href_policy=LOOPBACK)
    assert not again.downloaded and len(server.hits) == 3  # kept, not downloaded again


def test_bad_downloads_leave_nothing_and_say_why(
    server: ScriptedServer, n03_zip: bytes, tmp_path: Path
) -> None:
    dest = tmp_path / "boundaries"
    with pytest.raises(SourceError, match="answered HTTP 404; check the year"):
        fetch_boundaries(dest, year=2024, url=f"{server.url}/missing.zip", network=NET,
                         href_policy=LOOPBACK)  # fmt: skip
    server.files["/not-n03.zip"] = b"PK\x05\x06" + b"\x00" * 18  # an empty zip
    with pytest.raises(BoundariesMissingError, match="not usable N03 boundaries"):
        fetch_boundaries(dest, year=2024, url=f"{server.url}/not-n03.zip", network=NET,
                         href_policy=LOOPBACK)  # fmt: skip
    assert list(dest.iterdir()) == []
    # a good file already there is not replaced by a bad download
    server.files["/N03-20240101_35_GML.zip"] = n03_zip
    good = fetch_boundaries(dest, year=2024, url=f"{server.url}/N03-20240101_35_GML.zip",
                            network=NET, href_policy=LOOPBACK)  # fmt: skip
    server.files["/N03-20240101_35_GML.zip"] = b"garbage"
    with pytest.raises(BoundariesMissingError):
        fetch_boundaries(dest, year=2024, url=f"{server.url}/N03-20240101_35_GML.zip",
                         network=NET, href_policy=LOOPBACK, force=True)  # fmt: skip
    assert good.path.read_bytes() == n03_zip
    assert [p.name for p in dest.iterdir()] == ["N03-20240101_35_GML.zip"]
    # plain http to a host the policy does not list is refused before any request
    hits = len(server.hits)
    with pytest.raises(HrefPolicyError):
        fetch_boundaries(tmp_path / "b2", year=2024, url=f"{server.url}/x.zip", network=NET)
    assert len(server.hits) == hits


def test_cli_fetch_prints_how_to_use_it(
    server: ScriptedServer,
    n03_zip: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.files["/n03.zip"] = n03_zip
    monkeypatch.setenv("YAMASAT_NETWORK__ALLOWED_HTTP_HOSTS", '["127.0.0.1"]')
    code = run(["boundaries", "fetch", "--url", f"{server.url}/n03.zip", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "downloaded; 19 municipalities" in out
    assert f"YAMASAT_BOUNDARIES__PATH={tmp_path / 'n03.zip'}" in out
    assert "国土数値情報" in out


def test_redirects_are_checked_before_they_are_followed(
    server: ScriptedServer, n03_zip: bytes, tmp_path: Path
) -> None:
    server.files["/real/N03.zip"] = n03_zip
    server.redirects["/latest.zip"] = "/real/N03.zip"  # relative Location, same host
    got = fetch_boundaries(tmp_path / "a", year=2024, url=f"{server.url}/latest.zip",
                           network=NET, href_policy=LOOPBACK)  # fmt: skip
    assert got.downloaded and server.paths() == ["/latest.zip", "/real/N03.zip"]
    server.redirects["/elsewhere.zip"] = "http://10.1.2.3/N03.zip"  # a private host
    with pytest.raises(HrefPolicyError):
        fetch_boundaries(tmp_path / "b", year=2024, url=f"{server.url}/elsewhere.zip",
                         network=NET, href_policy=LOOPBACK)  # fmt: skip
    assert not list((tmp_path / "b").glob("*.zip"))
