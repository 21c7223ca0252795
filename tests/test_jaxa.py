"""The JAXA Earth API client on a loopback copy of its static STAC layout (no recorded JAXA
response exists; the layout is built from the ``jaxa-earth`` package's code and JAXA's notes,
see tests/support/jaxa_catalog.py): the walk reads only the branches a query needs, GSMaP
comes back in mm/day from the dataset's own scaling, AW3D30 loads as a DEM in metres through
odc-stac, and a refused connection fails at once."""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from odc.geo.geobox import GeoBox

from tests.support.jaxa_catalog import (
    DEM,
    GSMAP,
    JaxaTree,
    build_jaxa_tree,
    planted_heights,
)
from tests.support.rangeserver import RangeServer
from yamasat.catalogs.extent.periods import Period
from yamasat.catalogs.sources.hrefs import HrefPolicy
from yamasat.catalogs.sources.jaxa import choose_level
from yamasat.catalogs.sources.jaxa import search_jaxa as _search_jaxa
from yamasat.catalogs.sources.network import NetworkPolicy, retrying_session, unreachable
from yamasat.catalogs.sources.profiles import scale_offset
from yamasat.catalogs.sources.search import dedupe_items
from yamasat.errors import (
    HrefPolicyError,
    LoadError,
    NoDataError,
    SourceError,
    SourceUnreachableError,
)
from yamasat.processing.gdal_env import configure_gdal
from yamasat.processing.load import load_bands
from yamasat.processing.rainfall import DAY_NOTE, asset_scaling, read_daily_rainfall

PREFECTURE = shapely.box(130.77, 33.71, 132.49, 34.80)
DAYS = [dt.date(2023, 6, 26) + dt.timedelta(days=i) for i in range(14)]  # 26 Jun - 9 Jul
WEEK = Period(dt.date(2023, 7, 1), dt.date(2023, 7, 7))
GDAL_KEYS = (
    "GDAL_HTTP_TIMEOUT",
    "GDAL_HTTP_CONNECTTIMEOUT",
    "GDAL_HTTP_MAX_RETRY",
    "GDAL_HTTP_RETRY_DELAY",
    "GDAL_DISABLE_READDIR_ON_OPEN",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS",
    "GDAL_HTTP_MULTIRANGE",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES",
    "GDAL_CACHEMAX",
)
FAST = NetworkPolicy(timeout_s=5.0, max_retries=2, backoff_s=0.05)


@pytest.fixture(autouse=True)
def _dead_gdal_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """GDAL bypasses the socket guard: anything not on loopback goes to a dead proxy."""
    monkeypatch.setenv("GDAL_HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    # the GDAL settings the flows set (configure_gdal), undone after each test
    for key in GDAL_KEYS:
        monkeypatch.delenv(key, raising=False)
    configure_gdal(timeout_s=5.0, max_retries=1, retry_delay_s=0.1)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> JaxaTree:
    return build_jaxa_tree(tmp_path_factory.mktemp("jaxa"), days=DAYS)


@pytest.fixture
def srv(tree: JaxaTree) -> Iterator[RangeServer]:
    with RangeServer(tree.root) as server:
        yield server


def search_jaxa(
    location: str,
    collection: str,
    aoi: Any,
    period: Period | None,
    policy: NetworkPolicy,
    **kw: Any,
) -> list[Any]:
    """The call ``search.search_items`` makes for a source of kind ``jaxa``."""
    return _search_jaxa(
        location,
        collection,
        aoi,
        period,
        policy,
        session=retrying_session(policy),
        unreachable=unreachable,
        **kw,
    )


def _root(srv: RangeServer) -> str:
    return f"{srv.url}/catalog.json"


def _paths(srv: RangeServer) -> list[str]:
    return [r.path for r in srv.requests]


def test_a_week_of_gsmap_reads_only_its_days_level_and_strip(srv: RangeServer) -> None:
    items = search_jaxa(_root(srv), GSMAP, PREFECTURE, WEEK, FAST)

    assert len(dedupe_items(items)) == 7  # ids are unique per day
    assert sorted(it.datetime.date() for it in items if it.datetime) == [
        WEEK.start + dt.timedelta(days=i) for i in range(7)
    ]
    paths = _paths(srv)
    assert len(paths) <= 36, paths  # root, collection, month, 4 per day
    gsmap = [p.split(GSMAP + "/", 1)[1] for p in paths if GSMAP + "/" in p]
    dates = {p.split("/")[0] + "/" + p.split("/")[1] for p in gsmap if p.count("/") >= 2}
    assert dates == {f"2023-07/{d:02d}" for d in range(1, 8)}  # no day outside the week
    assert not any(p.startswith("2023-06") for p in gsmap)  # no month outside the week
    tiles = [p for p in gsmap if p.count("/") >= 3]
    assert all(p.split("/")[2] == "1" for p in tiles)  # level 1 only (0.1°)
    strips = {p.split("/")[3] for p in tiles if p.count("/") >= 4}
    assert strips == {"E090.00-E180.00"}
    assert not any(p.endswith("S90.00-N00.00.json") for p in gsmap)  # southern tile
    assert not any(p.endswith(".tiff") for p in paths)  # a search reads no raster


def test_a_week_across_two_months_reads_both_months_only(srv: RangeServer) -> None:
    period = Period(dt.date(2023, 6, 28), dt.date(2023, 7, 2))
    items = search_jaxa(_root(srv), GSMAP, PREFECTURE, period, FAST)

    assert len(items) == 5
    months = {p.split(GSMAP + "/", 1)[1][:7] for p in _paths(srv) if GSMAP + "/20" in p}
    assert months == {"2023-06", "2023-07"}
    assert len(srv.requests) <= 4 + 4 * 5


def test_aw3d30_walk_reads_level_3_tiles_over_the_aoi_only(srv: RangeServer) -> None:
    items = search_jaxa(_root(srv), DEM, PREFECTURE, None, FAST, resolution_deg=1 / 3600)

    names = sorted(it.id.split("_", 1)[1] for it in items)
    assert names == [
        f"E{w}.00-N{s}.00-E{w + 1}.00-N{s + 1}.00" for w in (130, 131, 132) for s in (33, 34)
    ]
    paths = _paths(srv)
    tiles = [p for p in paths if "/2021-02/" in p and p.count("/") > 3]
    assert tiles and all("/2021-02/3/" in p for p in tiles)
    strips = {p.split("/2021-02/3/")[1].split("/")[0] for p in tiles if p.count("/") > 4}
    assert strips == {"E130.00-E131.00", "E131.00-E132.00", "E132.00-E133.00"}
    assert len(paths) <= 13
    dsm = items[0].assets["DSM"].extra_fields["raster:bands"][0]
    assert (dsm["nodata"], dsm["scale"], dsm["unit"]) == (-9999, 1.0, "m")


def test_choose_level_follows_the_wanted_resolution() -> None:
    assert choose_level([0, 1], ppu_max=10, resolution_deg=0.1) == 1
    assert choose_level([0, 1], ppu_max=10, resolution_deg=0.5) == 0
    assert choose_level([0, 1, 2, 3], ppu_max=3600, resolution_deg=1 / 3600) == 3
    assert choose_level([0, 1, 2, 3], ppu_max=3600, resolution_deg=0.01) == 2
    assert choose_level([0, 1], ppu_max=10, resolution_deg=None) == 1
    assert choose_level([0], ppu_max=10, resolution_deg=0.1) == 0


def test_unknown_collection_is_no_data_naming_it(srv: RangeServer) -> None:
    with pytest.raises(NoDataError, match=r"no collection 'JAXA\.nothing'"):
        search_jaxa(_root(srv), "JAXA.nothing", PREFECTURE, WEEK, FAST)


def test_a_server_error_names_the_url_after_retries(srv: RangeServer) -> None:
    srv.script(r"/2023-07/03/catalog\.json$", [("status", 503)], cycle=True)
    with pytest.raises(SourceError, match=r"2023-07/03/catalog\.json") as info:
        search_jaxa(_root(srv), GSMAP, PREFECTURE, WEEK, FAST)
    assert not isinstance(info.value, SourceUnreachableError)
    assert sum(p.endswith("2023-07/03/catalog.json") for p in _paths(srv)) == 1 + 2


def test_a_link_outside_the_href_policy_is_not_fetched(srv: RangeServer) -> None:
    policy = HrefPolicy()  # loopback http not allowed
    with pytest.raises(HrefPolicyError):
        search_jaxa(_root(srv), GSMAP, PREFECTURE, WEEK, FAST, href_policy=policy)
    assert srv.requests == []


def test_refused_connection_fails_fast_as_unreachable() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    policy = NetworkPolicy(timeout_s=5.0, max_retries=5, backoff_s=1.0)
    t0 = time.monotonic()
    with pytest.raises(SourceUnreachableError, match=f"127.0.0.1:{port}/catalog.json"):
        search_jaxa(f"http://127.0.0.1:{port}/catalog.json", GSMAP, PREFECTURE, WEEK, policy)
    assert time.monotonic() - t0 < 2.0


def _prefecture_window(tree: JaxaTree) -> tuple[slice, slice]:
    west, north, res = tree.rain_grid
    minx, miny, maxx, maxy = PREFECTURE.bounds
    cols = slice(int(np.floor((minx - west) / res)), int(np.ceil((maxx - west) / res)))
    rows = slice(int(np.floor((north - maxy) / res)), int(np.ceil((north - miny) / res)))
    return rows, cols


def test_gsmap_week_reads_as_mm_per_day_on_its_own_grid(tree: JaxaTree, srv: RangeServer) -> None:
    items = search_jaxa(_root(srv), GSMAP, PREFECTURE, WEEK, FAST)
    rain = read_daily_rainfall(items, aoi=PREFECTURE, asset="PRECIP")

    assert rain.dims == ("time", "y", "x")
    assert rain.attrs["units"] == "mm/day"
    assert DAY_NOTE in rain.attrs["day"]
    days = [dt.date.fromisoformat(str(t)[:10]) for t in rain["time"].values]
    assert days == [WEEK.start + dt.timedelta(days=i) for i in range(7)]
    rows, cols = _prefecture_window(tree)
    values = rain.values
    for i, day in enumerate(days):
        expected = 24.0 * tree.rain_mm_per_hr[day][rows, cols]
        np.testing.assert_allclose(values[i], expected, rtol=1e-6, equal_nan=True)
    r, c = tree.rain_nodata_pixel
    assert np.isnan(values[:, r - rows.start, c - cols.start]).all()
    assert np.isfinite(values).sum() == values.size - len(days)
    assert rain["x"].values[0] == pytest.approx(130.75, abs=1e-9)  # pixel centres, 0.1°
    assert rain["y"].values[0] == pytest.approx(34.75, abs=1e-9)  # 34.80 is an edge


def test_gsmap_stored_as_scaled_integers_is_scaled_once(tmp_path: Path) -> None:
    tree = build_jaxa_tree(
        tmp_path, days=DAYS[5:8], rain_dtype="int16", rain_slope=0.1, rain_nodata=-999
    )
    with RangeServer(tree.root) as srv:
        period = Period(DAYS[5], DAYS[7])
        items = search_jaxa(_root(srv), GSMAP, PREFECTURE, period, FAST)
        rain = read_daily_rainfall(items, aoi=PREFECTURE, asset="PRECIP").values
    rows, cols = _prefecture_window(tree)
    for i, day in enumerate(DAYS[5:8]):
        expected = 24.0 * tree.rain_mm_per_hr[day][rows, cols]
        np.testing.assert_allclose(rain[i], expected, rtol=1e-5, equal_nan=True)
    assert np.nanmax(rain) > 24.0 * 1.0  # not the raw DNs / 10 nor DNs × 10 again
    assert np.nanmax(rain) < 24.0 * 20.0


def test_aw3d30_dem_loads_in_metres_on_a_small_geobox(srv: RangeServer) -> None:
    geobox = GeoBox.from_bbox((131.20, 34.90, 131.30, 34.995), "EPSG:4326", resolution=1 / 3600)
    items = search_jaxa(_root(srv), DEM, shapely.box(*geobox.boundingbox), None, FAST)
    assert [it.id.split("_", 1)[1] for it in items] == ["E131.00-N34.00-E132.00-N35.00"]

    ds = load_bands(
        items, assets={"dem": "DSM"}, geobox=geobox, scale_fn=scale_offset, resampling="nearest"
    )
    dem = ds["dem"].isel(time=0).values
    lon, lat = np.meshgrid(geobox.coords["longitude"].values, geobox.coords["latitude"].values)
    np.testing.assert_allclose(dem, planted_heights(lon, lat), atol=0.5)
    assert 400 < np.nanmean(dem) < 450 and ds["dem"].dtype == np.float32
    assert any(p.endswith("-DSM.tiff") for p in _paths(srv))


def test_aw3d30_voids_are_nan(srv: RangeServer) -> None:
    geobox = GeoBox.from_bbox((131.0, 34.995, 131.005, 35.0), "EPSG:4326", resolution=1 / 3600)
    items = search_jaxa(_root(srv), DEM, shapely.box(*geobox.boundingbox), None, FAST)
    ds = load_bands(
        items, assets={"dem": "DSM"}, geobox=geobox, scale_fn=scale_offset, resampling="nearest"
    )
    dem = ds["dem"].isel(time=0).values
    assert dem.shape == (18, 18)
    assert np.isnan(dem[:8, :8]).all() and np.isfinite(dem[8:, 8:]).all()


def test_reading_a_week_of_rain_reads_only_its_seven_cogs(tree: JaxaTree, srv: RangeServer) -> None:
    items = search_jaxa(_root(srv), GSMAP, PREFECTURE, WEEK, FAST)
    srv.clear_requests()
    read_daily_rainfall(items, aoi=PREFECTURE, asset="PRECIP")

    paths = _paths(srv)
    cogs = {p.split(GSMAP + "/", 1)[1][:10] for p in paths}
    assert cogs == {f"2023-07/{d:02d}" for d in range(1, 8)}
    assert all(p.endswith("-PRECIP.tiff") for p in paths)
    assert len(paths) <= 4 * 7 + 2, [(r.method, r.path[-40:], r.range) for r in srv.requests]


def test_a_rainfall_cog_that_cannot_be_read_is_a_load_error(srv: RangeServer) -> None:
    items = search_jaxa(_root(srv), GSMAP, PREFECTURE, WEEK, FAST)
    srv.script(r"07/04/.*PRECIP\.tiff$", [("status", 503)], cycle=True)
    with pytest.raises(LoadError, match="PRECIP"):
        read_daily_rainfall(items, aoi=PREFECTURE, asset="PRECIP")


def test_scaling_is_taken_from_je_rasters_then_raster_bands() -> None:
    je = {
        "dn": {"nodata": -99},
        "dn2value": {"slope": 0.01, "offset": 1.5},
        "value": {"unit": "mm/hr"},
    }
    rb = [{"nodata": 0, "scale": 2.0, "offset": 0.0, "unit": "mm/day"}]
    both = asset_scaling({"je:rasters": je, "raster:bands": rb})
    assert both is not None and (both.scale, both.offset, both.nodata, both.unit) == (
        0.01,
        1.5,
        -99.0,
        "mm/hr",
    )
    only_rb = asset_scaling({"raster:bands": rb})
    assert only_rb is not None and (only_rb.scale, only_rb.nodata, only_rb.evidence) == (
        2.0,
        0.0,
        "raster:bands",
    )
    assert asset_scaling({"href": "x.tif"}) is None


def test_a_configured_jaxa_source_is_searched_through_search_items(srv: RangeServer) -> None:
    """The production path: a source of kind ``jaxa`` serves both families it has (DEM and
    rainfall) through ``search_items`` with the walker, not the generic static-catalog walk."""
    from yamasat.catalogs.sources.profiles import layout_of
    from yamasat.catalogs.sources.search import resolve_source, search_items
    from yamasat.settings.access import SourceConfig

    cfg = SourceConfig(kind="jaxa", location=_root(srv), profile="jaxa-earth")
    src = resolve_source("jaxa", configured={"jaxa": cfg})
    assert src.kind == "jaxa"
    rain = search_items(src, family="rainfall", aoi=PREFECTURE, period=WEEK, policy=FAST)
    assert len(rain) == 7 and layout_of("rainfall", rain).assets == {"rainfall": "PRECIP"}
    assert len(_paths(srv)) <= 31
    dem = search_items(src, family="dem", aoi=PREFECTURE, period=None, policy=FAST)
    assert len(dem) == 6 and layout_of("dem", dem).assets == {"dem": "DSM"}
    with pytest.raises(SourceError, match="offers no 's2'"):
        search_items(src, family="s2", aoi=PREFECTURE, period=WEEK, policy=FAST)
