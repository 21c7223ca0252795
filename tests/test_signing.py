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

import pytest

from tests.support.scripted_http import ScriptedServer, scripted_server
from yamasat.catalogs.sources.search import NetworkPolicy
from yamasat.catalogs.sources.signing import blob_containers, signed_for_reading
from yamasat.errors import SourceError

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
