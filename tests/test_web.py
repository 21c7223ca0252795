"""``yamasat web`` in process (Starlette's test client, no browser): read-only, the tiles
from the product COGs, the base layer, the product page's table and downloads, the tally,
and the command's loopback default and its errors. The browser tests are in
``test_web_browser.py``."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.support.web_world import SQUARE, WebWorld
from yamasat.errors import WebServerError
from yamasat.flows.cli import run


@pytest.fixture(scope="module")
def world(web_world: WebWorld, boundaries_path: Path) -> Iterator[WebWorld]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("YAMASAT_STORAGE__OUTPUT_ROOT", str(web_world.out))
        mp.setenv("YAMASAT_BOUNDARIES__PATH", str(boundaries_path))
        yield web_world


@pytest.fixture(scope="module")
def client(world: WebWorld) -> Iterator[object]:
    from starlette.testclient import TestClient

    from yamasat.settings import load_settings
    from yamasat.web import create_app

    with TestClient(create_app(load_settings(None))) as c:
        yield c


def _dump(db: Path) -> list[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return list(conn.iterdump())


def test_write_requests_are_refused_and_nothing_is_written(client, world: WebWorld) -> None:
    before = _dump(world.out / "registry.sqlite")
    for path in ("/", "/indicator", "/runs", f"/products/{world.change_id}", "/api/tally.json"):
        assert client.get(path).status_code == 200, path
        for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            r = client.request(method, path, content=b"status=retired")
            assert r.status_code == 405, (method, path)
            assert r.headers["allow"] == "GET, HEAD"
            assert f"read-only: {method} is refused" in r.text
    assert client.head("/").status_code == 200
    # the indicator re-checked the evidence in memory: the registry is unchanged
    assert _dump(world.out / "registry.sqlite") == before


def test_pages_forbid_other_hosts_by_policy(client) -> None:
    csp = client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    html = client.get("/?lang=en").text
    assert "http://" not in html and "https://" not in html  # no outside address at all


def _pixel(client, product: str, x: float, y: float, z: int) -> tuple[int, ...]:
    """The RGBA of the map tile pixel over EPSG:6671 point (x, y) at zoom z."""
    import morecantile
    import pyproj
    from PIL import Image

    lon, lat = pyproj.Transformer.from_crs(6671, 4326, always_xy=True).transform(x, y)
    tms = morecantile.tms.get("WebMercatorQuad")
    t = tms.tile(lon, lat, z)
    r = client.get(f"/tiles/{product}/{t.z}/{t.x}/{t.y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
    b = tms.xy_bounds(t)
    mx, my = tms.xy(lon, lat)
    col = int((mx - b.left) / (b.right - b.left) * 256)
    row = int((b.top - my) / (b.top - b.bottom) * 256)
    return tuple(int(v) for v in img[row, col])


def test_tiles_draw_the_planted_square_in_the_kinds_colour(client, world: WebWorld) -> None:
    from tests.support.web_world import FLOOD_SQUARE, NODATA_COLS, ORIGIN, RES
    from yamasat.web.tiles import KIND_COLOURS

    r0, r1, c0, c1 = SQUARE

    def at(row: float, col: float, z: int) -> tuple[int, ...]:
        return _pixel(client, world.change_id, ORIGIN[0] + col * RES, ORIGIN[1] - row * RES, z)

    for z in (12, 14, 16):  # overviews and full resolution
        assert at((r0 + r1) / 2, (c0 + c1) / 2, z) == (*KIND_COLOURS["change"], 255), z
        assert at((r0 + r1) / 2, c1 + 40, z)[3] == 0, z  # not detected: transparent
        assert at((r0 + r1) / 2, NODATA_COLS / 2, z)[3] == 0, z  # no observation
    f0, f1, g0, g1 = FLOOD_SQUARE
    flood = (ORIGIN[0] + (g0 + g1) / 2 * RES, ORIGIN[1] - (f0 + f1) / 2 * RES)
    assert _pixel(client, world.flood_id, *flood, 14) == (*KIND_COLOURS["flood"], 255)
    # a tile far away is transparent
    far = _pixel(client, world.change_id, 100_000.0, -100_000.0, 14)
    assert far[3] == 0


def test_base_layer_is_municipal_with_n03_else_the_prefecture(
    world: WebWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from yamasat.settings import load_settings
    from yamasat.web.data import base_layer

    layer = base_layer(load_settings(None))
    names = {f["properties"]["name_en"] for f in layer.geojson["features"]}
    assert layer.municipal and len(names) == 19 and "Hofu City" in names
    monkeypatch.delenv("YAMASAT_BOUNDARIES__PATH")
    fallback = base_layer(load_settings(None))
    assert not fallback.municipal and len(fallback.geojson["features"]) == 1
    assert fallback.geojson["features"][0]["properties"]["name_ja"] == "山口県"


def test_product_page_shows_provenance_table_and_every_download(client, world: WebWorld) -> None:
    ja = client.get(f"/products/{world.change_id}?lang=ja").text
    en = client.get(f"/products/{world.change_id}?lang=en").text
    for page in (ja, en):
        assert "防府市" in page and "Hofu City" in page  # the table has both names
        assert "S2C_T52SGC_20250818T020701_L2A" in page and "threshold_used" in page
        assert f"#run-{world.completed_run}" in page and "hofu-solar" in page
        assert "a planted test warning" in page
    assert "市町村別集計" in ja and "By municipality" in en and '<html lang="ja">' in ja
    item = json.loads(
        (world.out / "change" / world.change_id / f"{world.change_id}.json").read_text()
    )
    for key, asset in item["assets"].items():
        r = client.get(f"/products/{world.change_id}/assets/{key}")
        assert r.status_code == 200 and len(r.content) == asset["file:size"], key
    assert client.get(f"/products/{world.change_id}/item.json").json()["id"] == world.change_id
    # only an asset of the item, inside its folder
    r = client.get(f"/products/{world.change_id}/assets/registry.sqlite")
    assert r.status_code == 404 and "has no asset &#39;registry.sqlite&#39;" in r.text
    assert (
        client.get(f"/products/{world.change_id}/assets/..%2F..%2Fregistry.sqlite").status_code
        == 404
    )
    assert client.get("/products/no-such-product").status_code == 404


def test_tally_json_is_the_clis(
    client, world: WebWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["solutions", "tally", "--format", "json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    web = client.get("/api/tally.json").json()
    for t in (cli, web):  # when each checked the files differs, nothing else
        for row in t["rows"]:
            for c in row["counted"]:
                for e in c["evidence"]:
                    assert e.pop("checked_at")
    assert web == cli
    counted = [c["id"] for r in web["rows"] for c in r["counted"]]
    assert counted == ["hofu-solar"]
    assert {x["id"] for x in web["not_counted"]} == {"ube-idea", "hagi-proto"}


def test_a_changed_evidence_file_uncounts_on_the_page_as_in_the_cli(
    client, world: WebWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    def counted(t: dict) -> list[str]:
        return [c["id"] for r in t["rows"] for c in r["counted"]]

    assert counted(client.get("/api/tally.json").json()) == ["hofu-solar"]
    quicklook = world.out / "change" / world.change_id / "quicklook.png"
    original = quicklook.read_bytes()
    quicklook.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))  # same size
    try:
        web = client.get("/api/tally.json").json()
        assert counted(web) == []
        reason = {x["id"]: x["reason"] for x in web["not_counted"]}["hofu-solar"]
        assert "quicklook" in reason and "no attached product verified" in reason
        assert run(["solutions", "tally", "--format", "json"]) == 0
        cli = json.loads(capsys.readouterr().out)
        assert cli["rows"] == web["rows"] and cli["not_counted"] == web["not_counted"]
    finally:
        quicklook.write_bytes(original)
    assert counted(client.get("/api/tally.json").json()) == ["hofu-solar"]


def test_loopback_by_default_and_a_warning_elsewhere() -> None:
    from yamasat.web.server import LOOPBACK, bind, exposure_warning, is_loopback

    assert LOOPBACK == "127.0.0.1" and is_loopback("localhost") and is_loopback("::1")
    assert exposure_warning("127.0.0.1") is None
    warning = exposure_warning("0.0.0.0")
    assert warning is not None and "anyone who can reach this machine" in warning
    taken = bind("127.0.0.1", 0)
    try:
        with pytest.raises(WebServerError, match=r"cannot listen on 127\.0\.0\.1:\d+.*--port"):
            bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_web_without_a_registry_says_to_run_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("YAMASAT_STORAGE__OUTPUT_ROOT", str(tmp_path / "none"))
    assert run(["web", "--port", "0"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "there is no registry at" in err and "yamasat demo" in err
    assert not (tmp_path / "none").exists()  # nothing created


def test_products_only_in_the_catalog_are_shown_as_the_demos_are(client, world: WebWorld) -> None:
    """``yamasat demo`` publishes into the catalog without registering (no solution): the
    view lists catalog products beside registered ones."""
    fc = client.get("/api/products.geojson?lang=en").json()
    ids = {f["properties"]["id"] for f in fc["features"]}
    assert ids == {world.change_id, world.flood_id}
    page = client.get(f"/products/{world.flood_id}?lang=en").text
    assert "unregistered" in page and "no per-municipality table" in page.lower()


def test_another_host_is_served_only_with_a_warning(
    world: WebWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from yamasat.web import server

    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(
        server, "serve", lambda _s, *, host, port, announce: calls.append((host, port))
    )
    assert run(["web", "--port", "0"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert run(["web", "--host", "0.0.0.0", "--port", "0"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: serving on 0.0.0.0, not loopback" in err
    assert calls == [("127.0.0.1", 0), ("0.0.0.0", 0)]
