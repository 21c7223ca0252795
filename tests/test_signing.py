"""Planetary Computer signing against a loopback stand-in for its token service, on the real
recorded PC item metadata: one token per container, hrefs signed only in the copy that is
read, the key sent from the environment, and refusals or silence named in bounded time."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from tests.support.scripted_http import ScriptedServer, scripted_server
from yamasat.catalogs.sources.network import NetworkPolicy
from yamasat.catalogs.sources.signing import blob_containers, signed_for_reading
from yamasat.errors import LoadError, SourceError

NET = NetworkPolicy(timeout_s=1.0, max_retries=1, backoff_s=0.01)
TOKEN_PATH = "/api/sas/v1/token/sentinel2l2a01/sentinel2-l2"


@pytest.fixture
def pc_items(stac_fixtures: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(
        (stac_fixtures / "planetary-computer__sentinel-2-l2a__4-items.json").read_text()
    )
    return items


@pytest.fixture
def token_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    from planetary_computer.sas import TOKEN_CACHE
    from planetary_computer.settings import Settings

    with scripted_server() as server:
        monkeypatch.setenv("PC_SDK_SAS_URL", f"{server.url}/api/sas/v1/token")
        monkeypatch.setenv("PC_SDK_SUBSCRIPTION_KEY", "test-key-123")
        Settings.get.cache_clear()
        TOKEN_CACHE.clear()
        yield server
    Settings.get.cache_clear()
    TOKEN_CACHE.clear()


def _token(hours: float = 1.0) -> bytes:
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    doc = {"msft:expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"), "token": "sv=2024&sig=abc"}
    return json.dumps(doc).encode()


def test_items_are_signed_once_per_container_in_a_copy(
    pc_items: list[dict[str, Any]], token_service: ScriptedServer
) -> None:
    assert blob_containers(pc_items) == {("sentinel2l2a01", "sentinel2-l2")}
    token_service.files[TOKEN_PATH] = _token()
    signed = signed_for_reading(pc_items, needs_signing=True, policy=NET)
    assert token_service.paths() == [TOKEN_PATH]  # one token for the 4 items' 100+ assets
    assert token_service.hits[0][1].get("Ocp-Apim-Subscription-Key") == "test-key-123"
    for before, after in zip(pc_items, signed, strict=True):
        b02 = after["assets"]["B02"]["href"]
        assert b02 == before["assets"]["B02"]["href"] + "?sv=2024&sig=abc"
        assert "?" not in before["assets"]["B02"]["href"]  # what is kept stays unsigned
    # sources that need no signing are passed through untouched, with no request
    assert signed_for_reading(pc_items, needs_signing=False, policy=NET) is pc_items
    assert len(token_service.hits) == 1


def test_a_refusing_token_service_is_named_with_what_to_do(
    pc_items: list[dict[str, Any]], token_service: ScriptedServer
) -> None:
    token_service.failures[TOKEN_PATH] = [403]
    with pytest.raises(SourceError, match="answered HTTP 403; set PC_SDK_SUBSCRIPTION_KEY"):
        signed_for_reading(pc_items, needs_signing=True, policy=NET)


def test_a_failing_then_answering_token_service_is_retried(
    pc_items: list[dict[str, Any]], token_service: ScriptedServer
) -> None:
    token_service.files[TOKEN_PATH] = _token()
    token_service.failures[TOKEN_PATH] = [503]
    signed = signed_for_reading(pc_items, needs_signing=True, policy=NET)
    assert signed[0]["assets"]["B04"]["href"].endswith("?sv=2024&sig=abc")
    assert token_service.paths() == [TOKEN_PATH, TOKEN_PATH]


def test_a_silent_token_service_fails_in_bounded_time(
    pc_items: list[dict[str, Any]], token_service: ScriptedServer
) -> None:
    token_service.files[TOKEN_PATH] = _token()
    token_service.delay_s = 30
    started = time.monotonic()
    with pytest.raises(SourceError, match="did not answer within"):
        signed_for_reading(pc_items, needs_signing=True, policy=NET)
    assert time.monotonic() - started < 10


# -- re-signing during the read (issue 12, item 3): expiring tokens, a blob store saying 403 --

BLOB = "http://sentinel2l2a01.blob.core.windows.net/sentinel2-l2"


@pytest.fixture
def blob_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, Any, np.ndarray]]:
    """A blob store on loopback (GDAL and the reader reach the real blob host name through
    it as their proxy) and a token service issuing tokens it accepts."""
    from planetary_computer.sas import TOKEN_CACHE
    from planetary_computer.settings import Settings

    from tests.support.pc_tokens import token_service
    from tests.support.rangeserver import RangeServer
    from tests.test_read_faults import SIZE, TRANSFORM

    store = tmp_path / "sentinel2-l2"
    store.mkdir()
    values = np.random.default_rng(3).integers(1, 9000, (SIZE, SIZE), dtype=np.uint16)
    with rasterio.open(
        store / "b04.tif", "w", driver="COG", width=SIZE, height=SIZE, count=1,
        dtype="uint16", crs="EPSG:32652", transform=TRANSFORM, nodata=0, blocksize=256,
    ) as dst:  # fmt: skip
        dst.write(values, 1)
    with token_service() as tokens, RangeServer(tmp_path) as blobs:
        blobs.gate = tokens.gate
        monkeypatch.setenv("PC_SDK_SAS_URL", tokens.url)
        monkeypatch.setenv("GDAL_HTTP_PROXY", blobs.url)
        monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
        Settings.get.cache_clear()
        TOKEN_CACHE.clear()
        yield tokens, blobs, values
    Settings.get.cache_clear()
    TOKEN_CACHE.clear()


def _signed_item() -> dict[str, Any]:
    from tests.test_read_faults import item

    d: dict[str, Any] = item(f"{BLOB}/b04.tif").to_dict()
    (signed,) = signed_for_reading([d], needs_signing=True, policy=NET)
    assert "sig=tok" in signed["assets"]["data"]["href"] and "?" not in d["assets"]["data"]["href"]
    return signed


def _read(signed: dict[str, Any]) -> np.ndarray:
    import pystac

    from tests.test_read_faults import GBOX
    from yamasat.catalogs.sources.hrefs import HrefPolicy
    from yamasat.catalogs.sources.signing import read_policy
    from yamasat.processing.load import load_bands
    from yamasat.processing.read_guard import reading

    with reading(read_policy(HrefPolicy())):
        ds = load_bands(
            [pystac.Item.from_dict(signed)], assets={"v": "data"}, geobox=GBOX,
            scale_fn=lambda *_: (1.0, 0.0), chunk=256, resampling="nearest", scaled=False,
        )  # fmt: skip
        values: np.ndarray = ds["v"].isel(time=0).compute().values
    return values


def test_a_token_refused_during_the_read_is_renewed_once(blob_store: Any) -> None:
    tokens, blobs, values = blob_store
    signed = _signed_item()
    tokens.revoked.add("tok1")  # the store now says 403 to it (expired during a long read)
    np.testing.assert_array_equal(_read(signed), values)
    assert len(tokens.requests) == 2  # signed anew once
    assert any(r.status == 403 for r in blobs.requests)
    assert any("sig=tok2" in r.query and r.status == 206 for r in blobs.requests)


def test_a_token_about_to_expire_is_renewed_before_reading(blob_store: Any) -> None:
    tokens, blobs, values = blob_store
    tokens.ttl_s = 90  # < the reader's margin: renewed before any request with it
    signed = _signed_item()
    tokens.ttl_s = 3600
    np.testing.assert_array_equal(_read(signed), values)
    assert not any("sig=tok1" in r.query for r in blobs.requests)
    assert not any(r.status == 403 for r in blobs.requests)


def test_a_token_refused_again_after_renewal_is_a_clear_token_expired_error(
    blob_store: Any,
) -> None:
    tokens, blobs, _ = blob_store
    signed = _signed_item()
    blobs.gate = lambda path, query: 403
    with pytest.raises(LoadError) as info:
        _read(signed)
    text = str(info.value)
    assert "token expired or refused" in text and "asset 'data' of item 'scene-1'" in text
    assert "tok1" not in text and "tok2" not in text and "sig=" not in text.replace("sig=<", "")
    assert len(tokens.requests) == 2  # one renewal, no storm
