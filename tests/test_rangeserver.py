"""The loopback range server: byte ranges, GDAL reads, STAC API emulation, scripted faults."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pystac_client
import pytest
import rasterio
import requests
from rasterio.transform import Affine
from rasterio.windows import Window

from tests.support.rangeserver import NotSatisfiableError, RangeServer, byte_range

pytestmark = pytest.mark.slow

TIMEOUT = 5.0
SIZE = 256
#: (item id, west, day of January 2024); items are 0.256 degrees square, south edge at 34.0
SCENES = (("scene-a", 131.0, 1), ("scene-b", 131.5, 2), ("scene-c", 132.0, 3))
GDAL_ENV = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "GDAL_HTTP_TIMEOUT": "10"}


def _write_cog(path: Path, west: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 10_000, size=(SIZE, SIZE), dtype=np.uint16)
    profile = {
        "driver": "COG",
        "width": SIZE,
        "height": SIZE,
        "count": 1,
        "dtype": "uint16",
        "crs": "EPSG:4326",
        "transform": Affine(0.001, 0.0, west, 0.0, -0.001, 34.0 + SIZE * 0.001),
        "blocksize": 128,
        "nodata": 0,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def _footprint(west: float) -> tuple[dict[str, Any], list[float]]:
    east, south, north = west + SIZE * 0.001, 34.0, 34.0 + SIZE * 0.001
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}, [west, south, east, north]


@pytest.fixture(scope="module")
def catalog_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-contained static catalog: one collection ``s2`` with three COG items."""
    root = tmp_path_factory.mktemp("static")
    catalog = pystac.Catalog("yamaguchi-test", "Synthetic scenes over Yamaguchi")
    extent = pystac.Extent(
        pystac.SpatialExtent([[131.0, 34.0, 132.3, 34.3]]),
        pystac.TemporalExtent([[datetime(2024, 1, 1, tzinfo=UTC), None]]),
    )
    collection = pystac.Collection("s2", "Synthetic Sentinel-2", extent)
    catalog.add_child(collection)
    for seed, (item_id, west, day) in enumerate(SCENES):
        cog = root / "data" / f"{item_id}.tif"
        cog.parent.mkdir(exist_ok=True)
        _write_cog(cog, west, seed)
        geometry, bbox = _footprint(west)
        item = pystac.Item(item_id, geometry, bbox, datetime(2024, 1, day, 2, tzinfo=UTC), {})
        item.add_asset("red", pystac.Asset(str(cog), media_type=pystac.MediaType.COG))
        collection.add_item(item)
    catalog.normalize_hrefs(str(root))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return root


@pytest.fixture
def srv(catalog_root: Path) -> Any:
    with RangeServer(catalog_root) as server:
        yield server


# ---------------------------------------------------------------------------- byte ranges


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-1000", (0, 99)),
        ("bytes=95-1000", (95, 99)),
        ("bytes=5-5", (5, 5)),
        ("bytes=9-3", None),  # invalid: ignored, whole file
        ("bytes=0-1,5-6", None),  # several ranges: whole file
        ("items=0-9", None),
    ],
)
def test_byte_range_spans(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=-5", 0)]
)
def test_byte_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(NotSatisfiableError):
        byte_range(header, size)


@pytest.mark.parametrize("header", ["bytes=0-99", "bytes=1000-", "bytes=-777", "bytes=5-5"])
def test_range_request_is_byte_exact(srv: RangeServer, catalog_root: Path, header: str) -> None:
    whole = (catalog_root / "data" / "scene-a.tif").read_bytes()
    response = requests.get(
        srv.file_url("data/scene-a.tif"), headers={"Range": header}, timeout=TIMEOUT
    )
    first, last = byte_range(header, len(whole)) or (0, len(whole) - 1)
    assert response.status_code == 206
    assert response.content == whole[first : last + 1]
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(whole)}"
    assert response.headers["Content-Length"] == str(last - first + 1)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Type"] == "image/tiff"
    assert srv.requests[-1].range == header


def test_unsatisfiable_range_is_416(srv: RangeServer, catalog_root: Path) -> None:
    size = (catalog_root / "data" / "scene-a.tif").stat().st_size
    response = requests.get(
        srv.file_url("data/scene-a.tif"), headers={"Range": f"bytes={size}-"}, timeout=TIMEOUT
    )
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{size}"


def test_whole_file_get_and_head(srv: RangeServer, catalog_root: Path) -> None:
    whole = (catalog_root / "catalog.json").read_bytes()
    got = requests.get(srv.file_url("catalog.json"), timeout=TIMEOUT)
    head = requests.head(srv.file_url("catalog.json"), timeout=TIMEOUT)
    assert got.status_code == head.status_code == 200
    assert got.content == whole
    assert got.headers["Content-Type"] == "application/json"
    assert head.headers["Content-Length"] == str(len(whole))
    assert head.content == b""
    assert "ETag" in head.headers and "Last-Modified" in head.headers
    assert [r.method for r in srv.requests] == ["GET", "HEAD"]


def test_nothing_outside_root_is_served(srv: RangeServer, catalog_root: Path) -> None:
    secret = catalog_root.parent / "secret.txt"
    secret.write_text("secret")
    (catalog_root / "escape").symlink_to(catalog_root.parent)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
    try:
        statuses = []
        for target in ("/../secret.txt", "/%2e%2e/secret.txt", "/escape/secret.txt", "/data"):
            conn.request("GET", target)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        conn.close()
    assert statuses == [404, 404, 404, 404]


# ---------------------------------------------------------------------------- GDAL over HTTP


def test_rasterio_reads_identical_pixels_over_http(srv: RangeServer, catalog_root: Path) -> None:
    local = catalog_root / "data" / "scene-b.tif"
    with rasterio.Env(**GDAL_ENV):
        with rasterio.open(local) as ds:
            expected = ds.read(1)
            expected_window = ds.read(1, window=Window(130, 7, 50, 60))
        with rasterio.open(srv.file_url("data/scene-b.tif")) as ds:
            remote = ds.read(1)
            remote_window = ds.read(1, window=Window(130, 7, 50, 60))
            assert ds.crs == "EPSG:4326"
    np.testing.assert_array_equal(remote, expected)
    np.testing.assert_array_equal(remote_window, expected_window)
    ranged = [r for r in srv.requests if r.path == "/data/scene-b.tif" and r.range]
    assert ranged, "GDAL should read the COG with range requests"
    assert all(r.status == 206 for r in ranged)


# ---------------------------------------------------------------------------- STAC API


def test_landing_page_and_conformance(srv: RangeServer) -> None:
    landing = requests.get(srv.stac_api_url, timeout=TIMEOUT).json()
    assert landing["type"] == "Catalog"
    assert landing["id"] == "yamaguchi-test"
    assert "https://api.stacspec.org/v1.0.0/core" in landing["conformsTo"]
    assert "https://api.stacspec.org/v1.0.0/item-search" in landing["conformsTo"]
    rels = {(link["rel"], link.get("method")) for link in landing["links"]}
    assert {("root", None), ("self", None), ("conformance", None), ("data", None)} <= rels
    assert {("search", "GET"), ("search", "POST")} <= rels
    conformance = requests.get(f"{srv.url}/conformance", timeout=TIMEOUT).json()
    assert conformance["conformsTo"] == landing["conformsTo"]


def test_collection_endpoints(srv: RangeServer) -> None:
    collections = requests.get(f"{srv.url}/collections", timeout=TIMEOUT).json()
    assert [c["id"] for c in collections["collections"]] == ["s2"]
    one = requests.get(f"{srv.url}/collections/s2", timeout=TIMEOUT).json()
    assert one["links"][0] == {
        "rel": "self",
        "href": f"{srv.url}/collections/s2",
        "type": "application/json",
    }
    page = requests.get(f"{srv.url}/collections/s2/items?limit=2", timeout=TIMEOUT).json()
    assert [f["id"] for f in page["features"]] == ["scene-a", "scene-b"]
    next_href = next(link["href"] for link in page["links"] if link["rel"] == "next")
    rest = requests.get(next_href, timeout=TIMEOUT).json()
    assert [f["id"] for f in rest["features"]] == ["scene-c"]
    item = requests.get(f"{srv.url}/collections/s2/items/scene-c", timeout=TIMEOUT).json()
    assert item["assets"]["red"]["href"] == srv.file_url("data/scene-c.tif")
    for missing in ("/collections/nope", "/collections/s2/items/nope", "/nope.json"):
        assert requests.get(f"{srv.url}{missing}", timeout=TIMEOUT).status_code == 404


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_pystac_client_search_pages(srv: RangeServer, method: str) -> None:
    client = pystac_client.Client.open(srv.stac_api_url, timeout=TIMEOUT)
    search = client.search(
        method=method,
        collections=["s2"],
        bbox=[131.2, 33.9, 132.1, 34.1],  # touches scene-a, scene-b, scene-c
        datetime="2024-01-02T00:00:00Z/2024-01-31T00:00:00Z",  # excludes scene-a
        limit=1,
    )
    items = list(search.items())
    assert [item.id for item in items] == ["scene-b", "scene-c"]
    assert search.matched() == 2
    assert items[0].assets["red"].href == srv.file_url("data/scene-b.tif")
    assert items[0].get_self_href() == f"{srv.url}/collections/s2/items/scene-b"
    searches = [r for r in srv.requests if r.path == "/search"]
    assert {r.method for r in searches} == {method}
    tokens = [r.body if method == "POST" else r.query for r in searches]
    assert any(b"token" in t if isinstance(t, bytes) else "token" in t for t in tokens)


def test_assets_read_through_the_api_match_local_files(
    srv: RangeServer, catalog_root: Path
) -> None:
    client = pystac_client.Client.open(srv.stac_api_url, timeout=TIMEOUT)
    (item,) = client.search(ids=["scene-c"], collections=["s2"]).items()
    with rasterio.Env(**GDAL_ENV):
        with rasterio.open(item.assets["red"].href) as remote:
            pixels = remote.read(1)
        with rasterio.open(catalog_root / "data" / "scene-c.tif") as local:
            np.testing.assert_array_equal(pixels, local.read(1))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, ["scene-a", "scene-b", "scene-c"]),
        ({"ids": ["scene-c", "scene-a"]}, ["scene-a", "scene-c"]),
        ({"collections": ["other"]}, []),
        ({"bbox": [131.6, 34.1, 131.7, 34.2]}, ["scene-b"]),
        ({"bbox": [131.6, 34.1, 0, 131.7, 34.2, 9]}, ["scene-b"]),
        (
            {"intersects": {"type": "Point", "coordinates": [132.1, 34.1]}},
            ["scene-c"],
        ),
        ({"datetime": "../2024-01-01T23:00:00Z"}, ["scene-a"]),
        ({"datetime": "2024-01-02T00:00:00Z/.."}, ["scene-b", "scene-c"]),
        ({"datetime": "2024-01-03T02:00:00Z"}, ["scene-c"]),
    ],
)
def test_search_filters(srv: RangeServer, body: dict[str, Any], expected: list[str]) -> None:
    response = requests.post(f"{srv.url}/search", json=body, timeout=TIMEOUT)
    doc = response.json()
    assert response.headers["Content-Type"] == "application/geo+json"
    assert [f["id"] for f in doc["features"]] == expected
    assert doc["numberMatched"] == doc["numberReturned"] == len(expected)


@pytest.mark.parametrize(
    "query",
    [
        "bbox=1,2,3",
        "bbox=a,b,c,d",
        "datetime=2024-02-01T00:00:00Z/2024-01-01T00:00:00Z",
        "datetime=yesterday",
        "limit=0",
        "token=x",
        "intersects=nope",
    ],
)
def test_bad_search_is_400(srv: RangeServer, query: str) -> None:
    response = requests.get(f"{srv.url}/search?{query}", timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.json()["code"] == "BadRequest"


def test_static_catalog_is_readable_over_http(srv: RangeServer) -> None:
    catalog = pystac.Catalog.from_file(srv.file_url("catalog.json"))
    ids = sorted(item.id for item in catalog.get_items(recursive=True))
    assert ids == ["scene-a", "scene-b", "scene-c"]


def test_hostile_asset_hrefs_pass_through_untouched(tmp_path: Path) -> None:
    hrefs = {"a": "file:///etc/passwd", "b": "/vsicurl/http://169.254.169.254/", "c": "x.tif"}
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "evil",
        "collection": "c",
        "geometry": None,
        "properties": {"datetime": "2024-01-01T00:00:00Z"},
        "links": [],
        "assets": {key: {"href": href} for key, href in hrefs.items()},
    }
    (tmp_path / "evil.json").write_text(json.dumps(item))
    with RangeServer(tmp_path) as server:  # no catalog.json: every STAC file is indexed
        doc = requests.get(f"{server.url}/search", timeout=TIMEOUT).json()
        assets = doc["features"][0]["assets"]
        assert assets["a"]["href"] == hrefs["a"]
        assert assets["b"]["href"] == hrefs["b"]
        assert assets["c"]["href"] == server.file_url("x.tif")


def test_broken_catalog_answers_500_naming_the_error(tmp_path: Path) -> None:
    (tmp_path / "catalog.json").write_text("{broken")
    with RangeServer(tmp_path) as server:
        response = requests.get(f"{server.url}/collections", timeout=TIMEOUT)
        assert response.status_code == 500
        assert "JSONDecodeError" in response.json()["description"]
        (tmp_path / "catalog.json").write_text(
            json.dumps({"type": "Catalog", "id": "fixed", "stac_version": "1.0.0", "links": []})
        )
        server.reload()
        assert requests.get(server.stac_api_url, timeout=TIMEOUT).json()["id"] == "fixed"


# ---------------------------------------------------------------------------- faults


def test_script_503_then_success(srv: RangeServer) -> None:
    srv.script(r"^/search$", [("status", 503, {"Retry-After": "0"})])
    first = requests.get(f"{srv.url}/search", timeout=TIMEOUT)
    second = requests.get(f"{srv.url}/search", timeout=TIMEOUT)
    assert first.status_code == 503
    assert first.headers["Retry-After"] == "0"
    assert second.status_code == 200
    assert [(r.status, r.action) for r in srv.requests] == [(503, "status"), (200, None)]
    assert srv.requests[0].headers["User-Agent"].startswith("python-requests")


def test_pystac_client_surfaces_scripted_503(srv: RangeServer) -> None:
    client = pystac_client.Client.open(srv.stac_api_url, timeout=TIMEOUT)
    srv.script(r"^/search$", [("status", 503)], method="POST")
    with pytest.raises(pystac_client.exceptions.APIError):
        list(client.search(collections=["s2"]).items())
    assert len(list(client.search(collections=["s2"]).items())) == 3


def test_script_on_range_read_then_normal(srv: RangeServer, catalog_root: Path) -> None:
    srv.script(r"\.tif$", [("status", 503), ("status", 404)], method="GET")
    url = srv.file_url("data/scene-a.tif")
    statuses = [
        requests.get(url, headers={"Range": "bytes=0-15"}, timeout=TIMEOUT).status_code
        for _ in range(3)
    ]
    assert statuses == [503, 404, 206]
    assert [r.range for r in srv.requests] == ["bytes=0-15"] * 3


def test_drop_after_closes_mid_body(srv: RangeServer) -> None:
    srv.script(r"scene-a\.tif$", [("drop_after", 1000)])
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(srv.file_url("data/scene-a.tif"), timeout=TIMEOUT).raise_for_status()
    assert srv.requests[-1].action == "drop_after"
    whole = requests.get(srv.file_url("data/scene-a.tif"), timeout=TIMEOUT)
    assert whole.status_code == 200


def test_hang_and_delay_trip_client_timeouts(srv: RangeServer) -> None:
    srv.script(r"^/conformance$", [("hang",), ("delay", 2.0)])
    for _ in range(2):
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(f"{srv.url}/conformance", timeout=(TIMEOUT, 0.2))
    assert requests.get(f"{srv.url}/conformance", timeout=TIMEOUT).status_code == 200
    assert [(r.action, r.status) for r in srv.requests][:2] == [("hang", 0), ("delay", 0)]


def test_close_body_trickle_and_transform(srv: RangeServer, catalog_root: Path) -> None:
    srv.script(r"^/search$", [("close",), ("body", "{not json"), ("transform", _inflate)])
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{srv.url}/search", timeout=TIMEOUT)
    assert requests.get(f"{srv.url}/search", timeout=TIMEOUT).text == "{not json"
    assert requests.get(f"{srv.url}/search", timeout=TIMEOUT).json()["numberMatched"] == 99
    srv.script(r"catalog\.json$", [("trickle", 64, 0.0)])
    slow = requests.get(srv.file_url("catalog.json"), timeout=TIMEOUT)
    assert slow.content == (catalog_root / "catalog.json").read_bytes()


def _inflate(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "numberMatched": 99}


def test_cycle_repeats_forever_and_bad_scripts_refused(srv: RangeServer) -> None:
    srv.script(r"^/$", [("status", 502)], cycle=True)
    assert {requests.get(srv.url, timeout=TIMEOUT).status_code for _ in range(4)} == {502}
    srv.clear_scripts()
    assert requests.get(srv.url, timeout=TIMEOUT).status_code == 200
    with pytest.raises(ValueError, match="unknown fault"):
        srv.script(".", [("explode",)])
    with pytest.raises(ValueError, match="arguments"):
        srv.script(".", [("delay",)])


# ---------------------------------------------------------------------------- life cycle


def test_stops_cleanly_with_open_connections(catalog_root: Path) -> None:
    before = set(threading.enumerate())
    session = requests.Session()
    with RangeServer(catalog_root) as server:
        port = server.port
        session.get(server.file_url("catalog.json"), timeout=TIMEOUT)  # keep-alive stays open
        server.script(".", [("hang",)])
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(server.url, timeout=(TIMEOUT, 0.2))
    session.close()
    assert set(threading.enumerate()) <= before
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass


def test_gdal_keepalive_connections_do_not_block_shutdown(catalog_root: Path) -> None:
    before = set(threading.enumerate())
    with (
        RangeServer(catalog_root) as server,
        rasterio.Env(**GDAL_ENV),
        rasterio.open(server.file_url("data/scene-c.tif")) as ds,
    ):
        ds.read(1, window=Window(0, 0, 8, 8))
    assert set(threading.enumerate()) <= before
