"""``yamasat web`` in headless Chromium (Debian's ``chromium`` through Playwright): the real
command serves the test world on a free loopback port, and the browser, whose resolver maps
every other host to nothing, records every request the pages make.

Screenshots are saved in ``tests/artifacts/web/`` (git-ignored; ``YAMASAT_TEST_ARTIFACTS``
moves them).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest

from tests.support.web_world import WebWorld
from yamasat.flows.cli import run

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("YAMASAT_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # a slip cannot leave the machine: every host but loopback resolves to nothing
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason="needs Debian's chromium at /usr/bin/chromium (.ci/run installs it: "
        "apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def server(web_world: WebWorld, boundaries_path: Path) -> Iterator[str]:
    """``yamasat web --port 0`` in its own process; yields its URL."""
    env = {
        **os.environ,
        "YAMASAT_STORAGE__OUTPUT_ROOT": str(web_world.out),
        "YAMASAT_BOUNDARIES__PATH": str(boundaries_path),
    }
    cmd = [sys.executable, "-m", "yamasat.flows.cli", "web", "--port", "0"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        assert m, f"no URL announced: {line!r} {proc.stderr.read() if proc.poll() else ''}"
        yield m.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Chromium context with a fresh profile; ``context.seen`` lists every request URL."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 900},
            device_scale_factor=1,
        )
        seen: list[str] = []
        context.on("request", lambda r: seen.append(r.url))
        context.seen = seen
        try:
            yield context
        finally:
            context.close()


def _shot(page: Any, name: str, **kw: Any) -> Path:
    folder = ARTIFACTS / "web"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), **kw)
    return path


def _outside(urls: list[str]) -> list[str]:
    return [u for u in urls if not u.startswith("data:") and urlsplit(u).hostname != "127.0.0.1"]


def _open(browser: Any, url: str) -> Any:
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page


def _map_ready(page: Any) -> None:
    """Every product layer loaded once and every tile in the page loaded."""
    page.wait_for_function("document.body.dataset.tiles !== undefined", timeout=30_000)
    page.wait_for_function(
        "() => { const t = [...document.querySelectorAll('img.leaflet-tile')];"
        " return t.length > 0 && t.every(i => i.complete && i.naturalWidth > 0); }",
        timeout=30_000,
    )
    assert page.evaluate("document.getElementById('map').dataset.tileErrors") is None
    assert page.evaluate("document.body.dataset.tiles") == "loaded", page.evaluate(
        "document.getElementById('map').dataset.error"
    )


def test_map_shows_the_product_layer_with_no_outside_request(
    server: str, browser: Any, web_world: WebWorld
) -> None:
    from PIL import Image

    from yamasat.web.tiles import KIND_COLOURS

    browser.seen.clear()
    page = _open(browser, server + "?lang=en")
    _map_ready(page)
    box = page.locator("#map")
    path = _shot(box, "map-en")
    img = np.asarray(Image.open(path).convert("RGB")).astype(int)
    pts = page.evaluate(
        "(c) => c.map(p => { const q = window.yamasatMap.latLngToContainerPoint([p[1], p[0]]);"
        " return [q.x, q.y]; })",
        [list(c) for c in web_world.square_4326],
    )
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    assert x1 - x0 > 40 and y1 - y0 > 40, pts  # the map zoomed to the products
    inner = img[int(y0 + 6) : int(y1 - 6), int(x0 + 6) : int(x1 - 6)]
    colour = np.array(KIND_COLOURS["change"])
    share = (np.abs(inner - colour).max(axis=-1) <= 12).mean()
    assert share > 0.95, f"only {share:.0%} of the planted square is drawn in its colour ({path})"
    ring = img[int(y1 + 15) : int(y1 + 40), int(x0) : int(x1)]  # below it: not detected
    assert (np.abs(ring - colour).max(axis=-1) <= 12).mean() < 0.01
    assert page.locator(".leaflet-control-layers-overlays label").count() == 3  # base + 2
    assert not _outside(browser.seen), _outside(browser.seen)
    assert any("/tiles/change-web-hofu/" in u for u in browser.seen)
    assert not page.errors, page.errors
    page.close()


def _links(page: Any) -> list[str]:
    return page.evaluate(
        "() => [...document.querySelectorAll('a[href], link[href], script[src], img[src]')]"
        ".map(e => e.href || e.src)"
    )


def test_every_link_resolves_and_stays_on_the_host(
    server: str, browser: Any, web_world: WebWorld
) -> None:
    browser.seen.clear()
    pages = ["", "indicator", "runs", f"products/{web_world.change_id}"]
    checked: dict[str, int] = {}
    for lang in ("ja", "en"):
        for p in pages:
            page = _open(browser, f"{server}{p}?lang={lang}")
            for link in _links(page):
                assert not _outside([link]), f"{p}: link off the host {link}"
                target = link.split("#")[0]
                if target not in checked and not target.startswith("data:"):
                    checked[target] = browser.request.get(target).status
            assert not page.errors, (p, page.errors)
            if p.startswith("products/"):
                _shot(page, f"product-{lang}", full_page=True)
            page.close()
    bad = {u: s for u, s in checked.items() if s != 200}
    assert not bad, bad
    assert len(checked) > 30  # pages, languages, assets, downloads, static files
    assert not _outside(browser.seen), _outside(browser.seen)


def test_indicator_numbers_equal_solutions_tally_json(
    server: str,
    browser: Any,
    web_world: WebWorld,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("YAMASAT_STORAGE__OUTPUT_ROOT", str(web_world.out))
    assert run(["solutions", "tally", "--format", "json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    page = _open(browser, server + "indicator?lang=ja")
    shown = page.evaluate(
        "() => [...document.querySelectorAll('#tally tbody tr')].map(r => ({fy: +r.dataset.fy,"
        " ...Object.fromEntries([...r.querySelectorAll('td[data-field]')]"
        ".map(td => [td.dataset.field, td.textContent.trim()]))}))"
    )
    cell = lambda v: "" if v is None else str(v)  # noqa: E731
    expected = [
        {"fy": r["fy"], "new": cell(r["new"]), "cumulative": cell(r["cumulative"]),
         "target": cell(r["target"]), "gap": cell(r["gap"])}
        for r in cli["rows"]
    ]  # fmt: skip
    assert shown == expected
    counted = page.evaluate(
        "() => [...document.querySelectorAll('#counted tbody tr')].map(r => [r.dataset.solution,"
        " [...r.querySelectorAll('a')].map(a => a.textContent)])"
    )
    assert counted == [
        [c["id"], [e["product_id"] for e in c["evidence"]]]
        for r in cli["rows"]
        for c in r["counted"]
    ]
    reasons = page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#not-counted tbody tr')]"
        ".map(r => [r.dataset.solution, r.querySelector('td:last-child').textContent]))"
    )
    assert reasons == {x["id"]: x["reason"] for x in cli["not_counted"]}
    _shot(page, "indicator-ja", full_page=True)
    page.close()


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_keyboard_navigation_and_labelled_controls(
    server: str, browser: Any, web_world: WebWorld, lang: str
) -> None:
    page = _open(browser, f"{server}?lang={lang}")
    _map_ready(page)
    assert page.evaluate("document.documentElement.lang") == lang
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    unlabelled = page.evaluate(
        "() => [...document.querySelectorAll('input, button, select, textarea, a, [role=button],"
        " [tabindex]')].filter(e => !((e.labels && e.labels.length && e.labels[0].textContent"
        ".trim()) || e.getAttribute('aria-label') || e.textContent.trim()"
        " || e.getAttribute('title'))).map(e => e.outerHTML.slice(0, 80))"
    )
    assert not unlabelled, unlabelled
    zoom_in = "拡大" if lang == "ja" else "Zoom in"
    assert page.locator(f"a[aria-label='{zoom_in}']").count() == 1
    # the map is reached with Tab and zoomed with the keyboard
    page.locator("#map").focus()
    zoom = page.evaluate("window.yamasatMap.getZoom()")
    page.keyboard.press("Equal")  # '+' / '=' zooms in
    page.wait_for_function("(z) => window.yamasatMap.getZoom() > z", arg=zoom, timeout=5000)
    # a product layer's checkbox toggles it from the keyboard
    box = page.locator(".leaflet-control-layers-overlays input").nth(1)
    box.focus()
    page.keyboard.press("Space")
    assert not box.is_checked()
    # the nav reaches the other pages, in the same language
    page.locator("nav a").nth(1).focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/indicator" in page.url and f"lang={lang}" in page.url
    assert page.evaluate("document.documentElement.lang") == lang
    _shot(page, f"indicator-{lang}-keyboard")
    page.close()


def test_a_loopback_server_answers_only_loopback_names(server: str, browser: Any) -> None:
    """A page elsewhere that rebinds its own name to 127.0.0.1 gets nothing."""
    port = urlsplit(server).port
    ok = browser.request.get(server, headers={"Host": f"localhost:{port}"})
    assert ok.status == 200
    r = browser.request.get(server, headers={"Host": f"attacker.example:{port}"})
    assert r.status == 400


def test_recent_runs_show_state_reason_and_products(
    server: str, browser: Any, web_world: WebWorld
) -> None:
    page = _open(browser, server + "runs?lang=en")
    failed = page.locator(f"#run-{web_world.failed_run}")
    assert failed.get_attribute("data-state") == "failed"
    assert "no_data: no Sentinel-1 scene" in failed.inner_text()
    done = page.locator(f"#run-{web_world.completed_run}")
    assert done.locator(f"a[href^='/products/{web_world.change_id}']").count() == 1
    # the browser's own write requests are refused too
    for method in ("POST", "PUT", "DELETE"):
        status = page.evaluate(
            "(m) => fetch('/runs', {method: m, body: 'x'}).then(r => r.status)", method
        )
        assert status == 405, method
    _shot(page, "runs-en", full_page=True)
    page.close()
