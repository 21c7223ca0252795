"""Object-store hrefs (issue 12, item 2): ``s3://`` hrefs of public buckets are read over their
HTTPS endpoint; requester-pays and undeclared buckets are refused naming another source; the
href policy still decides on the rewritten URL. No test leaves the machine: the end-to-end read
points the DEM bucket's template at a loopback range server."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
import yaml
from rasterio.transform import from_origin

from tests.support.rangeserver import RangeServer
from yamasat.catalogs.extent.aoi import resolve_aoi
from yamasat.catalogs.extent.periods import parse_period
from yamasat.catalogs.sources.family_sources import resolve_sources
from yamasat.catalogs.sources.hrefs import HrefPolicy, ObjectStore, check_href, object_store_url
from yamasat.catalogs.sources.profiles import scale_offset
from yamasat.catalogs.sources.search import vet_assets
from yamasat.errors import ConfigError, HrefPolicyError
from yamasat.flows.prepare import Prepared, href_policy, search_family
from yamasat.processing.grid import project_geobox
from yamasat.processing.load import load_bands
from yamasat.settings import load_settings

ES_DEM = "earth-search-v1__search__cop-dem-glo-30__vcr-cassette.yaml"
ES_S1 = "earth-search-v1__search__sentinel-1-grd_sentinel-2-c1-l2a_sentinel-2-l2a_sentinel-2-l1c__vcr-cassette.yaml"  # noqa: E501
DEM_TEMPLATE = "https://copernicus-dem-30m.s3.amazonaws.com/{key}"
STORES = (
    ObjectStore("copernicus-dem-30m", "public", DEM_TEMPLATE),
    ObjectStore("sentinel-s1-l1c", "requester-pays", serves="planetary-computer (sentinel-1-rtc)"),
)
POLICY = HrefPolicy(object_stores=STORES)


def _features(stac_fixtures: Path, name: str, page: int) -> list[dict[str, Any]]:
    cassette = yaml.safe_load((stac_fixtures / name).read_text())
    body = json.loads(cassette["interactions"][page]["response"]["body"]["string"])
    return list(body["features"])


def _item(feature: dict[str, Any]) -> pystac.Item:
    return pystac.Item.from_dict(copy.deepcopy(feature))


@pytest.fixture
def dem_feature(stac_fixtures: Path) -> dict[str, Any]:
    return _features(stac_fixtures, ES_DEM, 1)[0]


def test_fixture_dem_href_is_rewritten_to_the_template(dem_feature: dict[str, Any]) -> None:
    href = dem_feature["assets"]["data"]["href"]
    assert href.startswith("s3://copernicus-dem-30m/")
    key = href.removeprefix("s3://copernicus-dem-30m/")
    assert object_store_url(href, STORES, family="dem") == DEM_TEMPLATE.format(key=key)
    # through the vetting every search result passes: the item keeps the URL GDAL reads
    item = _item(dem_feature)
    vet_assets([item], ["data"], POLICY, family="dem")
    assert item.assets["data"].href == f"https://copernicus-dem-30m.s3.amazonaws.com/{key}"
    # other hrefs pass unchanged; {bucket} may be used in the template
    assert object_store_url("https://example.com/a.tif", STORES) == "https://example.com/a.tif"
    other = (ObjectStore("copernicus-dem-30m", "public", "https://{bucket}.example.net/{key}"),)
    assert object_store_url("s3://copernicus-dem-30m/a/b.tif", other) == (
        "https://copernicus-dem-30m.example.net/a/b.tif"
    )


def test_requester_pays_bucket_is_refused_naming_another_source(stac_fixtures: Path) -> None:
    s1 = next(f for f in _features(stac_fixtures, ES_S1, 1) if f["collection"] == "sentinel-1-grd")
    item = _item(s1)
    assert item.assets["hh"].href.startswith("s3://sentinel-s1-l1c/")
    with pytest.raises(HrefPolicyError) as err:
        vet_assets([item], ["hh"], POLICY, family="s1")
    message = str(err.value)
    assert "requester-pays" in message and "sentinel-s1-l1c" in message
    assert "use planetary-computer (sentinel-1-rtc)" in message
    assert f"item {item.id!r}" in message and "asset 'hh'" in message
    assert item.assets["hh"].href.startswith("s3://")  # nothing was rewritten


def test_unknown_bucket_is_refused() -> None:
    canary = "CANARY-amz-0123456789"
    href = f"s3://someone-elses-bucket/x/y.tif?X-Amz-Signature={canary}"
    with pytest.raises(HrefPolicyError) as err:
        object_store_url(href, STORES, family="dem", item_id="X", asset="data")
    message = str(err.value)
    assert "object-store-unknown" in message and "network.object_stores" in message
    assert "earth-search (cop-dem-glo-30)" in message
    assert canary not in message
    with pytest.raises(HrefPolicyError, match="a source that serves this data"):
        object_store_url("s3://someone-elses-bucket/k.tif", ())
    with pytest.raises(HrefPolicyError, match="bucket and a key"):
        object_store_url("s3://copernicus-dem-30m/", STORES)


def test_policy_decides_on_the_rewritten_url() -> None:
    private = (ObjectStore("copernicus-dem-30m", "public", "http://10.1.2.3:9000/{key}"),)
    href = "s3://copernicus-dem-30m/t/t.tif"
    url = object_store_url(href, private)
    with pytest.raises(HrefPolicyError, match="private-address"):
        check_href(url, HrefPolicy(object_stores=private))
    item = pystac.Item("t", None, None, dt.datetime(2021, 4, 22, tzinfo=dt.UTC), {})
    item.add_asset("data", pystac.Asset(href))
    with pytest.raises(HrefPolicyError, match="private-address"):
        vet_assets([item], ["data"], HrefPolicy(object_stores=private), family="dem")
    allowed = HrefPolicy(allowed_http_hosts=("10.1.2.3:9000",), object_stores=private)
    vet_assets([item], ["data"], allowed, family="dem")
    assert item.assets["data"].href == "http://10.1.2.3:9000/t/t.tif"
    # check_href alone never reads s3:// hrefs, whatever the stores
    with pytest.raises(HrefPolicyError, match="scheme"):
        check_href(href, HrefPolicy(object_stores=STORES))


def test_store_templates_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"\{key\}"):
        ObjectStore("b-1", "public", "https://b.example.com/data.tif")
    with pytest.raises(ConfigError, match="http"):
        ObjectStore("b-1", "public", "file:///tmp/{key}")
    with pytest.raises(ConfigError, match="requester-pays"):
        ObjectStore("b-1", "private")
    with pytest.raises(ConfigError, match="object_stores"):
        load_settings(env={"YAMASAT_NETWORK__OBJECT_STORES__NEW_BUCKET__ACCESS": "public"})
    # a variable names a bucket with _ for -, as it does sources and deployments
    url = "https://mirror.example.org/{key}"
    env = {"YAMASAT_NETWORK__OBJECT_STORES__COPERNICUS_DEM_30M__HTTPS": url}
    assert load_settings(env=env).network.object_stores["copernicus-dem-30m"].https == url


def test_default_config_declares_the_es_buckets() -> None:
    settings = load_settings(env={})
    stores = settings.network.object_stores
    assert stores["copernicus-dem-30m"].access == "public"
    assert stores["sentinel-s1-l1c"].access == "requester-pays"
    assert "sentinel-1-rtc" in (stores["sentinel-s1-l1c"].serves or "")
    # the daily S1 check reads S1 RTC from Planetary Computer and the DEM from Earth Search
    daily = settings.orchestration.deployments["s1-flood-daily"].parameters["source"]
    chosen = resolve_sources(daily, configured=dict(settings.sources))
    assert chosen.of("s1").name == "planetary-computer"
    assert chosen.of("dem").name == "earth-search"


# -------------------------------------------------------------- end to end over loopback

TILE = "Copernicus_DSM_COG_10_N33_00_E131_00_DEM"
RES = 1 / 360  # 10 arc seconds: a small stand-in for the 1 arc second tile


def _planted(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (100.0 * (lon - 131.0) + 50.0 * (lat - 33.0)).astype("float32")


def _write_tile(path: Path) -> None:
    n = 360
    centres = (np.arange(n) + 0.5) * RES
    lon, lat = np.meshgrid(131.0 + centres, 34.0 - centres)
    path.parent.mkdir(parents=True)
    profile = {
        "driver": "COG",
        "width": n,
        "height": n,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": from_origin(131.0, 34.0, RES, RES),
        "compress": "DEFLATE",
        "blocksize": 128,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(_planted(lon, lat), 1)


def _es_catalog(root: Path, feature: dict[str, Any]) -> str:
    """An Earth Search-layout DEM item over Yamaguchi whose data asset is an s3:// href."""
    key = f"{TILE}/{TILE}.tif"
    _write_tile(root / key)
    d = copy.deepcopy(feature)
    d["id"] = TILE
    d["bbox"] = [131.0, 33.0, 132.0, 34.0]
    d["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[131, 33], [132, 33], [132, 34], [131, 34], [131, 33]]],
    }
    d["links"] = []
    d["assets"]["data"]["href"] = f"s3://copernicus-dem-30m/{key}"
    d["properties"]["proj:shape"] = [360, 360]
    d["properties"]["proj:transform"] = [RES, 0.0, 131.0, 0.0, -RES, 34.0]
    item = pystac.Item.from_dict(d)
    catalog = pystac.Catalog("es", "Earth Search layout (test)")
    collection = pystac.Collection(
        "cop-dem-glo-30",
        "Copernicus DEM GLO-30",
        pystac.Extent(
            pystac.SpatialExtent([[131.0, 33.0, 132.0, 34.0]]),
            pystac.TemporalExtent([[item.datetime, None]]),
        ),
    )
    collection.add_item(item)
    catalog.add_child(collection)
    catalog.normalize_hrefs(str(root / "stac"))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return key


@pytest.fixture
def dead_gdal_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """GDAL bypasses the socket guard: anything not on loopback goes to a dead proxy."""
    monkeypatch.setenv("GDAL_HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.mark.usefixtures("dead_gdal_proxy")
def test_s3_dem_read_over_loopback_https_template(
    tmp_path: Path, dem_feature: dict[str, Any]
) -> None:
    _es_catalog(tmp_path, dem_feature)
    with RangeServer(tmp_path, catalog="stac/catalog.json") as srv:
        host = f"127.0.0.1:{srv.port}"
        override = tmp_path / "override.yaml"
        override.write_text(
            yaml.safe_dump(
                {
                    "network": {
                        "allowed_http_hosts": [host],
                        "object_stores": {
                            "copernicus-dem-30m": {"https": f"http://{host}/{{key}}"}
                        },
                    }
                }
            )
        )
        settings = load_settings(override, env={})
        sources = resolve_sources(srv.stac_api_url, profile="earth-search")
        aoi = resolve_aoi("131.9,33.9,132.0,34.0")
        period = parse_period("2024-01-01/2024-01-31", what="period")
        prep = Prepared(settings, aoi, period, period, sources, tmp_path / "out")
        assert href_policy(settings, sources).object_stores
        dicts = search_family(prep, "dem", None, ("dem",))
        assert [d["assets"]["data"]["href"] for d in dicts] == [f"http://{host}/{TILE}/{TILE}.tif"]
        geobox = project_geobox(aoi.geometry, crs="EPSG:4326", resolution=RES)
        dem = load_bands(
            [pystac.Item.from_dict(d) for d in dicts],
            assets={"dem": "data"},
            geobox=geobox,
            scale_fn=scale_offset,
            resampling="nearest",
        )["dem"].compute()
        ranged = [r for r in srv.requests if r.range and r.path.endswith(".tif")]
    assert ranged, "GDAL should read the COG with range requests"
    lon, lat = np.meshgrid(geobox.coords["longitude"].values, geobox.coords["latitude"].values)
    got = dem.isel(time=0).values if "time" in dem.dims else dem.values
    np.testing.assert_allclose(got, _planted(lon, lat), atol=0.6)
