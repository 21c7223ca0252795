"""Raster reads that fail, fail loudly and cleanly (FAULTS.md §B), through the real loader:
odc-stac with the guarded reader, GDAL's /vsicurl over loopback (RangeServer), dask threads.

Each case either gives pixels identical to a clean read or one LoadError naming the item,
the asset and the cause; never blank pixels, never a request outside the href policy."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
from odc.geo.geobox import GeoBox
from rasterio.transform import from_origin

from tests.support.rangeserver import RangeServer
from yamasat.catalogs.sources.hrefs import HrefPolicy
from yamasat.catalogs.sources.signing import read_policy
from yamasat.errors import LoadError
from yamasat.processing.load import load_bands
from yamasat.processing.read_gtiff import read_gtiff
from yamasat.processing.read_guard import GuardedDriver, ReadPolicy, reading

SIZE = 512
TRANSFORM = from_origin(600000, 3760000, 10, 10)
GBOX = GeoBox((SIZE, SIZE), TRANSFORM, "EPSG:32652")
HEADER = 16384  # GDAL reads a COG's first 16 KiB at open: block reads start after
FAST = ReadPolicy(attempts=3, backoff_s=0.05)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("assets")
    rng = np.random.default_rng(12)
    values = rng.integers(1, 10000, (SIZE, SIZE), dtype=np.uint16)
    profile = {
        "driver": "COG", "width": SIZE, "height": SIZE, "count": 1, "dtype": "uint16",
        "crs": "EPSG:32652", "transform": TRANSFORM, "nodata": 0, "compress": "deflate",
        "blocksize": 256,
    }  # fmt: skip
    with rasterio.open(folder / "clean.tif", "w", **profile) as dst:
        dst.write(values, 1)
    data = (folder / "clean.tif").read_bytes()
    (folder / "truncated.tif").write_bytes(data[: len(data) * 2 // 3])
    (folder / "login.tif").write_text("<!DOCTYPE html><html><body>Please log in</body></html>")
    (folder / "pointer.tif").write_text(
        f'<VRTDataset rasterXSize="{SIZE}" rasterYSize="{SIZE}"><VRTRasterBand '
        'dataType="UInt16" band="1"><SimpleSource><SourceFilename>/etc/hostname'
        "</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>"
    )
    return folder


@pytest.fixture(autouse=True)
def _fast_gdal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "GDAL_HTTP_TIMEOUT": "2",
        "GDAL_HTTP_CONNECTTIMEOUT": "2",
        "GDAL_HTTP_MAX_RETRY": "1",
        "GDAL_HTTP_RETRY_DELAY": "0.05",
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    }.items():
        monkeypatch.setenv(key, value)
    with reading(FAST):
        yield


@pytest.fixture
def server(root: Path) -> Iterator[RangeServer]:
    with RangeServer(root) as srv:
        yield srv


_COUNT = iter(range(10**6))


def fresh(root: Path, name: str = "clean.tif") -> str:
    """A new copy of ``name`` (GDAL and the reader cache what they learnt of a URL)."""
    copy = f"c{next(_COUNT)}-{name}"
    shutil.copy(root / name, root / copy)
    return copy


def item(href: str, item_id: str = "scene-1") -> pystac.Item:
    geom = GBOX.extent.to_crs("EPSG:4326").geom
    it = pystac.Item(
        item_id, geom.__geo_interface__, list(geom.bounds), dt.datetime(2024, 5, 1), {}
    )
    it.properties.update(
        {"proj:epsg": 32652, "proj:shape": [SIZE, SIZE], "proj:transform": list(TRANSFORM)[:6]}
    )
    it.add_asset(
        "data",
        pystac.Asset(
            href,
            media_type=pystac.MediaType.COG,
            roles=["data"],
            extra_fields={"raster:bands": [{"nodata": 0, "data_type": "uint16"}]},
        ),
    )
    return it


def load(href: str) -> np.ndarray:
    ds = load_bands(
        [item(href)],
        assets={"v": "data"},
        geobox=GBOX,
        scale_fn=lambda *_: (1.0, 0.0),
        chunk=256,
        resampling="nearest",
        scaled=False,
    )
    values: np.ndarray = ds["v"].isel(time=0).compute().values
    return values


@pytest.fixture(scope="module")
def clean(root: Path) -> np.ndarray:
    with rasterio.open(root / "clean.tif") as src:
        values: np.ndarray = src.read(1)
    return values


def fails(href: str, *causes: str) -> LoadError:
    with pytest.raises(LoadError) as info:
        load(href)
    text = str(info.value)
    assert "asset 'data' of item 'scene-1'" in text, text
    for cause in causes:
        assert cause in text, text
    assert info.value.reason == "load_failed"
    return info.value


# -- retried to clean pixels ------------------------------------------------------------


def test_clean_read_over_http_equals_the_file(
    server: RangeServer, root: Path, clean: np.ndarray
) -> None:
    np.testing.assert_array_equal(load(server.file_url(fresh(root))), clean)
    assert any(r.range and r.status == 206 for r in server.requests)


@pytest.mark.parametrize(
    "fault", [("status", 503), ("drop_after", 100)], ids=["503", "dropped-mid-range"]
)
def test_one_failed_range_read_after_a_good_open_is_retried_to_clean_pixels(
    server: RangeServer, root: Path, clean: np.ndarray, fault: tuple[Any, ...]
) -> None:
    name = fresh(root)
    server.script(f"/{name}$", [fault], min_offset=HEADER)
    np.testing.assert_array_equal(load(server.file_url(name)), clean)
    assert [r.action for r in server.requests].count(fault[0]) == 1


@pytest.mark.parametrize("status", [404, 403])
def test_a_refused_open_then_200_really_asks_again(
    server: RangeServer, root: Path, clean: np.ndarray, status: int
) -> None:
    name = fresh(root)
    server.script(f"/{name}$", [("status", status)], method="HEAD")
    np.testing.assert_array_equal(load(server.file_url(name)), clean)
    heads = [r.status for r in server.requests if r.method == "HEAD"]
    assert heads[:2] == [status, 200]  # GDAL's cached refusal was dropped, not replayed


# -- clear errors -----------------------------------------------------------------------


def test_truncated_cog_fails_naming_asset_and_cause(server: RangeServer, root: Path) -> None:
    fails(server.file_url(fresh(root, "truncated.tif")), "truncated", "c")


def test_deleted_asset_fails_as_not_found(server: RangeServer) -> None:
    fails(server.file_url("gone.tif"), "not found (HTTP 404)")


def test_html_page_with_200_is_not_a_geotiff_and_not_retried(
    server: RangeServer, root: Path
) -> None:
    name = fresh(root, "login.tif")
    fails(server.file_url(name), "HTML page, not a GeoTIFF")
    asked = [r for r in server.requests if r.path.endswith(name)]
    # no retry storm: at most one look per chunk (4), and GDAL is never handed the page
    assert 1 <= len(asked) <= 4 and all(r.range == "bytes=0-63" for r in asked)


def test_vrt_under_a_tif_name_is_refused(server: RangeServer, root: Path) -> None:
    name = fresh(root, "pointer.tif")
    url = server.file_url(name)
    with rasterio.open(f"/vsicurl/{url}") as opened:  # GDAL alone opens it by content
        assert opened.driver == "VRT"
    fails(url, "VRT", "not a GeoTIFF")
    # and the reader's GDAL open itself is pinned to GTiff (not only the sniffing)
    with pytest.raises(rasterio.errors.RasterioIOError, match="not recognized"):
        read_gtiff(
            f"/vsicurl/{url}",
            SimpleNamespace(ydim=None),
            SimpleNamespace(nearest=True),
            GBOX,
            None,
            None,
        )


def test_stalled_server_times_out_within_the_limit(
    server: RangeServer, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "1")
    name = fresh(root)
    server.script(f"/{name}$", [("trickle", 1, 5.0)], min_offset=HEADER, cycle=True)
    started = time.monotonic()
    with reading(ReadPolicy(attempts=2, backoff_s=0.05)):
        fails(server.file_url(name), "timed out")
    assert time.monotonic() - started < 12
    # the timeout is handed to every dask worker, not left to odc-stac's defaults
    env = GuardedDriver({}, FAST).capture_env()
    assert env["GDAL_HTTP_TIMEOUT"] == "1" and env["GDAL_HTTP_MAX_RETRY"] == "1"


def test_rate_limited_range_reads_end_in_a_clear_error(server: RangeServer, root: Path) -> None:
    name = fresh(root)
    server.script(f"/{name}$", [("status", 429, {"Retry-After": "1"})], cycle=True,
                  min_offset=0)  # fmt: skip
    started = time.monotonic()
    with reading(ReadPolicy(attempts=2, backoff_s=0.05)):
        fails(server.file_url(name), "rate limited (HTTP 429, Retry-After 1 s)")
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 15  # Retry-After honoured once, bounded
    assert len([r for r in server.requests if r.status == 429]) < 30


# -- redirects: the href policy decides on the final URL ---------------------------------


def test_redirect_to_another_host_is_checked_by_the_policy(
    server: RangeServer, root: Path, clean: np.ndarray
) -> None:
    with RangeServer(root) as other:
        target = other.file_url(fresh(root))
        name = fresh(root)
        server.script(f"/{name}$", [("status", 302, {"Location": target})], cycle=True)
        fails(server.file_url(name), "redirected off the allowed hosts")  # no policy: same host
        only_first = HrefPolicy(allowed_http_hosts=(f"127.0.0.1:{server.port}",))
        with reading(read_policy(only_first)):
            fails(server.file_url(name), "redirected off the allowed hosts", "allowed_http_hosts")
        assert other.requests == []  # never asked
        both = HrefPolicy(allowed_http_hosts=tuple(f"127.0.0.1:{s.port}" for s in (server, other)))
        with reading(read_policy(both)):
            np.testing.assert_array_equal(load(server.file_url(name)), clean)
        assert any(r.range for r in other.requests)


# -- nothing leaves the machine, nothing secret is told ----------------------------------


def test_a_non_loopback_href_fails_without_traffic(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with reading(ReadPolicy(attempts=1)):
        started = time.monotonic()
        fails("https://example.com/x.tif", "connection failed")
        assert time.monotonic() - started < 10
        # what GDAL sends to a non-loopback host goes to the proxy: here a recording one
        with RangeServer(root) as proxy:
            monkeypatch.setenv("GDAL_HTTP_PROXY", proxy.url)
            fails("http://example.com/nowhere.tif", "not found")
            asked = [r.path for r in proxy.requests]
    assert asked and all(p == "/nowhere.tif" for p in asked)


def test_no_token_in_errors_or_logs(
    server: RangeServer, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    canary = "CANARY7f3a9"
    caplog.set_level(logging.DEBUG)
    name = fresh(root)
    server.script(f"/{name}$", [("status", 429)], cycle=True, min_offset=HEADER)
    href = server.file_url(name) + f"?sv=2024-01-01&se=2099-01-01T00%3A00%3A00Z&sig={canary}"
    with reading(ReadPolicy(attempts=1)):
        error = fails(href)
    assert any(r.query.endswith(canary) for r in server.requests)  # it was really used
    assert canary not in str(error) and canary not in repr(error.args)
    ours = [r for r in caplog.records if not r.name.startswith("tests.support")]  # not the server's
    assert ours and not [r.getMessage() for r in ours if canary in r.getMessage()]


# -- through the product flow: reason load_failed, nothing published, no canary ----------


@pytest.mark.slow
def test_change_run_with_an_html_asset_fails_load_failed_and_publishes_nothing(
    sample_root: Path,
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import yaml

    from yamasat.catalogs.registry import open_registry
    from yamasat.catalogs.registry.run_records import run_records
    from yamasat.catalogs.sample import SampleManifest
    from yamasat.flows.cli import run
    from yamasat.flows.demo import CHANGE_PERIODS
    from yamasat.settings import load_settings

    canary = "CANARYflow42"

    def signed_looking(doc: dict[str, Any]) -> dict[str, Any]:
        for feature in doc.get("features", []):
            nir = feature["assets"].get("nir")
            if nir:
                nir["href"] += f"?se=2099-01-01&sig={canary}"
        return doc

    caplog.set_level(logging.INFO)
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    with RangeServer(sample_root) as srv:
        srv.script(r"^/search$", [("transform", signed_looking)], cycle=True)
        srv.script(r"/B08\.tif$", [("body", "<html><body>Sign in</body></html>", "text/html")],
                   cycle=True)  # fmt: skip
        override = workspace / "override.yaml"
        override.write_text(
            yaml.safe_dump({"network": {"allowed_http_hosts": [f"127.0.0.1:{srv.port}"]}})
        )
        code = run(
            ["--config", str(override), "run", "change", "--aoi", bbox,
             "--before", CHANGE_PERIODS[0], "--after", CHANGE_PERIODS[1],
             "--source", srv.stac_api_url, "--profile", "sample"]
        )  # fmt: skip
        asked_nir = [r for r in srv.requests if r.path.endswith("/B08.tif")]
    err = capsys.readouterr().err
    assert asked_nir and any(canary in r.query for r in asked_nir), err  # the flow read them
    # the documented exit status and one clear error line (Prefect itself logs the task's
    # failure above it, with the message redacted)
    assert code == LoadError.exit_code and "error:" in err
    assert "HTML page, not a GeoTIFF" in err and "asset 'nir' of item" in err
    reg = open_registry(load_settings(override, env=dict(os.environ)))
    runs = run_records(reg)
    assert [(r.reason, "HTML page" in (r.message or "")) for r in runs[:1]] == [
        ("load_failed", True)
    ]
    assert not any(canary in (r.message or "") for r in runs)
    assert not list((workspace / "products").rglob("*.tif"))  # nothing published
    assert canary not in err
    ours = [r for r in caplog.records if not r.name.startswith("tests.support")]
    assert not [r.getMessage() for r in ours if canary in r.getMessage()]
