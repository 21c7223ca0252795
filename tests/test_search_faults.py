"""STAC search against a scripted loopback server: retries, give-up, timeouts, bad answers.

Cases from FAULTS.md section A, injected for real on the wire.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
import shapely

from tests.support.rangeserver import RangeServer
from yamasat.catalogs.extent.periods import Period
from yamasat.catalogs.sample import SampleManifest
from yamasat.catalogs.sources.network import NetworkPolicy
from yamasat.catalogs.sources.search import resolve_source, search_items
from yamasat.errors import SourceError, SourceRefusedError

pytestmark = pytest.mark.slow

FAST = NetworkPolicy(timeout_s=2.0, max_retries=3, backoff_s=0.05)
WINDOW = shapely.box(131.975, 33.90, 132.025, 33.93)


def _period(root: Path) -> Period:
    dates = SampleManifest.read(root).s2_dates
    return Period(dates[0], dates[-1])


def _search(srv: RangeServer, root: Path, policy: NetworkPolicy = FAST) -> list[Any]:
    src = resolve_source(srv.stac_api_url, profile="sample")
    return search_items(src, family="s2", aoi=WINDOW, period=_period(root), policy=policy)


def test_503_twice_then_ok_is_retried(sample_root: Path, caplog: Any) -> None:
    with RangeServer(sample_root) as srv:
        clean = sorted(i.id for i in _search(srv, sample_root))
        srv.clear_requests()
        srv.script(r"^/search$", [("status", 503), ("status", 429, {"Retry-After": "1"})])
        with caplog.at_level(logging.INFO, logger="yamasat.catalogs.sources.network"):
            again = sorted(i.id for i in _search(srv, sample_root))
        assert again == clean and len(clean) == 16
        statuses = [r.status for r in srv.requests if r.path == "/search"]
        assert statuses[:3] == [503, 429, 200]
        url = srv.url
    # each retry is logged: the URL, why, and how long it waits (Retry-After honoured)
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
    assert len(retries) == 2, retries
    assert f"POST {url}/search after HTTP 503 (retry 1 of 3)" in retries[0]
    assert "after HTTP 429 (retry 2 of 3), waiting 1.0 s" in retries[1]


def test_503_forever_gives_up_in_bounded_time(sample_root: Path) -> None:
    with RangeServer(sample_root) as srv:
        srv.script(r"^/search$", [("status", 503)], cycle=True)
        t0 = time.monotonic()
        with pytest.raises(SourceError, match=r"127\.0\.0\.1"):
            _search(srv, sample_root)
        assert time.monotonic() - t0 < 20
        assert sum(r.path == "/search" for r in srv.requests) == FAST.max_retries + 1


def test_silent_server_hits_the_read_timeout(sample_root: Path) -> None:
    with RangeServer(sample_root) as srv:
        srv.script(r"^/search$", [("hang",)], cycle=True)
        t0 = time.monotonic()
        with pytest.raises(SourceError, match="timeout"):
            _search(srv, sample_root, NetworkPolicy(timeout_s=1.0, max_retries=0, backoff_s=0))
        assert time.monotonic() - t0 < 10


def test_malformed_json_is_a_clear_error(sample_root: Path) -> None:
    with RangeServer(sample_root) as srv:
        srv.script(r"^/search$", [("body", "{not json", "application/json", 200)])
        with pytest.raises(SourceRefusedError, match=r"did not answer with STAC JSON"):
            _search(srv, sample_root, NetworkPolicy(timeout_s=2, max_retries=0, backoff_s=0))


def test_incomplete_results_fail_and_duplicates_count_once(sample_root: Path) -> None:
    def inflate(doc: dict[str, Any]) -> dict[str, Any]:
        doc["numberMatched"] = int(doc.get("numberMatched") or 0) + 50
        return doc

    def duplicate(doc: dict[str, Any]) -> dict[str, Any]:
        doc["features"] = doc["features"] + doc["features"][:3]
        return doc

    with RangeServer(sample_root) as srv:
        srv.script(r"^/search$", [("transform", inflate)])
        with pytest.raises(SourceError, match="incomplete"):
            _search(srv, sample_root)
        srv.script(r"^/search$", [("transform", duplicate)])
        items = _search(srv, sample_root)
        assert len(items) == len({(i.collection_id, i.id) for i in items}) == 16


def _with_next(doc: dict[str, Any], link: dict[str, Any]) -> dict[str, Any]:
    """``doc`` whose only next link is ``link``."""
    return {**doc, "links": [*(x for x in doc.get("links", []) if x["rel"] != "next"), link]}


def _next_post(srv: RangeServer, body: dict[str, Any]) -> dict[str, Any]:
    return {"rel": "next", "href": f"{srv.url}/search", "method": "POST", "body": body,
            "merge": False, "type": "application/geo+json"}  # fmt: skip


def test_a_next_link_that_repeats_is_stopped_within_a_few_pages(sample_root: Path) -> None:
    """Every page links to the same next page: stopped at page 2, not followed forever."""
    with RangeServer(sample_root) as srv:
        same = _next_post(srv, {"collections": ["sentinel-2-c1-l2a"], "limit": 3})

        def loop(doc: dict[str, Any]) -> dict[str, Any]:
            return _with_next(doc, same)

        srv.script(r"^/search$", [("transform", loop)], cycle=True)
        with pytest.raises(SourceError, match="same next page as page 1: the server's paging"):
            _search(srv, sample_root)
        assert sum(r.path == "/search" for r in srv.requests) == 2


def test_a_page_that_repeats_under_new_tokens_is_stopped(sample_root: Path) -> None:
    """Each next link is new (a fresh token), but the server sends the same items again."""
    with RangeServer(sample_root) as srv:
        count = iter(range(1000))

        def fresh(doc: dict[str, Any]) -> dict[str, Any]:
            body = {"collections": ["sentinel-2-c1-l2a"], "limit": 3, "nonce": next(count)}
            return _with_next(doc, _next_post(srv, body))

        srv.script(r"^/search$", [("transform", fresh)], cycle=True)
        with pytest.raises(SourceError, match="page 3 repeats page 2"):
            _search(srv, sample_root)
        assert sum(r.path == "/search" for r in srv.requests) == 3


def test_the_page_cap_bounds_a_search() -> None:
    from yamasat.catalogs.sources.paging import collect_pages

    def endless() -> Any:
        for n in range(10**6):
            yield {"features": [{"id": f"item-{n}"}], "links": [{"rel": "next", "href": f"?t={n}"}]}

    with pytest.raises(SourceError, match="past 50 pages"):
        collect_pages(endless(), where="http://example.test", max_pages=50)
