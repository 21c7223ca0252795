"""``yamasat demo`` — the README's main job — end to end on the sample archive, in a
workspace of its own: exit 0, the QA table against the planted truth, the rain chain (the
sample's storm → one event → the S1 flood, fused flood and landslide the rain watch asks for,
the first and last of them scored in the QA table → the event report), and its runs recorded
beside its products; quiet (at most 150 lines, no traceback)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from yamasat.flows.cli import run

pytestmark = pytest.mark.slow


def test_demo_runs_every_product_and_records_its_runs(
    prefect_harness: None,
    sample_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "sample").symlink_to(sample_root)  # the session's archive, not built again
    assert run(["demo", "--out", str(workspace)]) == 0
    printed = capfd.readouterr()  # what a terminal shows: both streams, logs included
    out = printed.out
    lines = (printed.out + printed.err).splitlines()
    assert len(lines) <= 150, "\n".join(lines)  # a quiet demo: the QA table, not the logs
    assert "Traceback" not in printed.out + printed.err
    row = re.compile(
        r"│ (change|flood \(S1\)|flood \(S2\)|burn)\s+│ published\s+│[^│]+│\s+([0-9.]+)"
    )
    rows = {m.group(1): float(m.group(2)) for m in row.finditer(out)}
    assert rows.keys() == {"change", "flood (S1)", "flood (S2)", "burn"}, out
    assert rows["change"] >= 0.80 and rows["burn"] >= 0.85 and rows["flood (S1)"] >= 0.85
    assert "10/10 scars" in out
    products = workspace / "products"
    assert f"YAMASAT_STORAGE__OUTPUT_ROOT={products} yamasat runs list" in out
    # the rain chain: one table (one event over the extent, every product made) and the report
    rain = out.split("rain → events → products")[1].split("rain event report: ")
    assert re.search(r"2025-07-02 → 2025-07-0\d.*│ made\s+│ made\s+│ made", rain[0]), out
    report = Path(rain[1].split()[0])
    page = report.read_text(encoding="utf-8")
    assert page.count("<section>") == 1 and page.count('alt="rainfall ') == 1  # its chart
    assert page.count("whole area") == 3  # no boundaries: each product over its whole area

    monkeypatch.setenv("YAMASAT_STORAGE__OUTPUT_ROOT", str(products))
    assert run(["runs", "list", "--format", "json"]) == 0
    runs = json.loads(capfd.readouterr().out)
    made = [r for r in runs if r["flow"] != "rain_watch"]
    assert sorted(r["flow"] for r in made) == sorted(
        ["change_detection", "burn_mapping", "landslide_mapping"] + ["flood_mapping"] * 3
    )  # the S2 flood, and the S1 and fused floods of the rain watch
    assert all(r["state"] == "completed" and r["outcome"] == "published" for r in made)
    watch = [r for r in runs if r["flow"] == "rain_watch"]
    assert len(watch) == 2 and all(r["outcome"] == "mapped" for r in watch)
    assert not (tmp_path / "yamasat-data").exists()  # nothing written outside the workspace
    _methods_pinned_to_their_products(products)
    _web_view_shows_the_demo(len(made))


#: each recipe's method revision with the digest of its main layer in the demo (decoded
#: pixels, so a change of compression does not count)
PINS = Path(__file__).parent / "support" / "method_pins.json"


def _methods_pinned_to_their_products(products: Path) -> None:
    """A method's code that changes its demo product must raise its ``method_revision``, so
    that products made by the old code no longer quote the expected-accuracy row measured
    with the new one (:attr:`yamasat.flows.product_run.Recipe.method_revision`). With
    YAMASAT_WRITE_PINS=1 the pins are written instead (after a deliberate change)."""
    import hashlib
    import os

    import rasterio

    seen: dict[str, dict[str, object]] = {}
    for path in sorted(products.rglob("*.json")):
        item = json.loads(path.read_text(encoding="utf-8"))
        props = item.get("properties", {}) if isinstance(item, dict) else {}
        if "yamasat:parameters" not in props:
            continue
        kind, params = props["yamasat:kind"], props["yamasat:parameters"]
        recipe = f"flood-{params['sensor']}" if kind == "flood" else kind
        with rasterio.open(path.parent / item["assets"][kind]["href"]) as src:
            layer = src.read(1)
        seen[recipe] = {
            "method_revision": params.get("method_revision"),
            "layer_sha256": hashlib.sha256(layer.tobytes()).hexdigest(),
        }
    if os.environ.get("YAMASAT_WRITE_PINS") == "1":
        PINS.write_text(json.dumps(seen, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    pins = json.loads(PINS.read_text(encoding="utf-8"))
    assert seen.keys() == pins.keys(), (sorted(seen), sorted(pins))
    for recipe, now in seen.items():
        pin = pins[recipe]
        assert now["method_revision"] == pin["method_revision"], (
            f"{recipe}'s method_revision is {now['method_revision']}, pinned "
            f"{pin['method_revision']}: pin its product (YAMASAT_WRITE_PINS=1)"
        )
        assert now["layer_sha256"] == pin["layer_sha256"], (
            f"the demo's {recipe} product changed with its method_revision still "
            f"{pin['method_revision']}: raise the recipe's method_revision, measure its row "
            "again (benchmarks/accuracy.py --write-table) and pin the new product "
            "(YAMASAT_WRITE_PINS=1)"
        )


def _web_view_shows_the_demo(n_products: int) -> None:
    """The README's next step, ``yamasat web``: the demo's products on the map (their tiles
    draw detected pixels in the kind's colour) and the indicator page."""
    import io

    import morecantile
    import numpy as np
    from PIL import Image
    from starlette.testclient import TestClient

    from yamasat.settings import load_settings
    from yamasat.web import create_app
    from yamasat.web.tiles import KIND_COLOURS

    tms = morecantile.tms.get("WebMercatorQuad")
    with TestClient(create_app(load_settings(None))) as web:
        features = web.get("/api/products.geojson").json()["features"]
        assert len(features) == n_products
        for f in features:
            p = f["properties"]
            drawn = 0
            for t in tms.tiles(*p["bbox"], zooms=[11]):
                png = web.get(p["tiles"].format(z=t.z, x=t.x, y=t.y)).content
                rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
                drawn += int((rgba[..., :3] == KIND_COLOURS[p["kind"]]).all(axis=-1).sum())
            assert drawn > 0, f"{p['id']} draws nothing on the map"
            assert web.get(p["page"]).status_code == 200
        assert web.get("/indicator").status_code == 200
