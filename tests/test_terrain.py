"""Terrain is explicit: a flood without terrain exclusion only when asked, a product of its own;
without a DEM a flood or a landslide fails with an error naming the DEM source and family."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from yamasat.catalogs.sample import SampleManifest
from yamasat.errors import SourceError
from yamasat.flows.cli import run
from yamasat.flows.demo import DEMO_RUNS
from yamasat.flows.prepare import prepare, search_family
from yamasat.flows.product_run import analyse_product
from yamasat.flows.recipes import FLOOD_S1, FLOOD_S2, LANDSLIDE
from yamasat.settings import load_settings

pytestmark = pytest.mark.slow

RUNS = {name: params for name, _flow, params, _floor in DEMO_RUNS}


def _catalog_without_dem(root: Path, tmp: Path) -> Path:
    cat = json.loads((root / "catalog.json").read_text())
    cat["links"] = [
        {**link, "href": str((root / link["href"]).resolve())} if link["rel"] == "child" else link
        for link in cat["links"]
        if not (link["rel"] == "child" and "cop-dem" in link["href"])
    ]
    path = tmp / "no-dem" / "catalog.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(cat))
    return path


def _bbox(root: Path) -> str:
    return ",".join(f"{v:g}" for v in SampleManifest.read(root).bbox)


def _prep(root: Path, out: Path, run: str, catalog: Path, dem: Path | None = None) -> Any:
    settings = load_settings(env={"YAMASAT_NETWORK__ALLOWED_ROOTS": f"[{root}]"})
    return prepare(
        aoi=_bbox(root),
        before=RUNS[run]["before"],
        after=RUNS[run]["after"],
        source=str(catalog),
        out=out,
        settings=settings,
        family_sources={"dem": str(dem)} if dem else None,
    )


def _items(prep: Any, family: str, bands: tuple[str, ...]) -> tuple[list[Any], list[Any]]:
    return (
        search_family(prep, family, prep.before, bands),
        search_family(prep, family, prep.after, bands),
    )


def _published(out: Path) -> list[Path]:
    return (
        sorted(p for p in out.rglob("*.json") if p.name != "catalog.json") if out.exists() else []
    )


def test_flood_without_dem_fails_unless_asked(sample_root: Path, tmp_path: Path) -> None:
    no_dem = _catalog_without_dem(sample_root, tmp_path)
    out = tmp_path / "out"
    p = _prep(sample_root, out, "flood (S1)", no_dem)
    items = _items(p, "s1", ("vv", "vh"))
    with pytest.raises(SourceError) as err:
        analyse_product(FLOOD_S1, p, *items)
    msg = str(err.value)
    assert "family 'dem'" in msg and p.sources.of("dem").name in msg and "cop-dem-glo-30" in msg
    assert "--no-terrain" in msg
    assert not _published(out / "flood")

    params = FLOOD_S1.choose(FLOOD_S1.params(p.settings), {"terrain": False})
    bare = analyse_product(FLOOD_S1, p, *items, params=params)
    assert bare.outcome == "published"
    assert bare.qa["terrain_exclusion"] is False
    assert "by request" in bare.qa["terrain"]
    assert any("--no-terrain" in w for w in bare.warnings)
    assert FLOOD_S1.record(params)["terrain_exclusion"] is False
    assert FLOOD_S1.lock_variant(params) != FLOOD_S1.lock_variant(FLOOD_S1.params(p.settings))

    # the full product, with the DEM from a source of its own (--dem-source), is its own
    # product: not "already exists"
    full_prep = _prep(sample_root, out, "flood (S1)", no_dem, dem=sample_root / "catalog.json")
    assert full_prep.sources.of("s1").location != full_prep.sources.of("dem").location
    full = analyse_product(FLOOD_S1, full_prep, *_items(full_prep, "s1", ("vv", "vh")))
    assert full.outcome == "published" and full.qa["terrain_exclusion"] is True
    assert "terrain" not in full.qa and "terrain_exclusion" not in FLOOD_S1.record(
        FLOOD_S1.params(p.settings)
    )
    assert full.item_id != bare.item_id


def test_s2_flood_record_keeps_full_identity(sample_root: Path) -> None:
    settings = load_settings(env={})
    full = FLOOD_S2.params(settings)
    assert FLOOD_S2.choose(full, {}) == full  # the flow's default: terrain on
    bare = FLOOD_S2.choose(full, {"terrain": False})
    assert "terrain_exclusion" not in FLOOD_S2.record(full)
    assert FLOOD_S2.record(bare) == {**FLOOD_S2.record(full), "terrain_exclusion": False}


def test_landslide_names_family_and_source(sample_root: Path, tmp_path: Path) -> None:
    no_dem = _catalog_without_dem(sample_root, tmp_path)
    p = _prep(sample_root, tmp_path / "out", "landslide", no_dem)
    with pytest.raises(SourceError) as err:
        analyse_product(LANDSLIDE, p, *_items(p, "s2", ("red", "nir", "green", "swir16", "scl")))
    msg = str(err.value)
    assert "family 'dem'" in msg and p.sources.of("dem").name in msg and "cop-dem-glo-30" in msg
    assert "landslide" in msg and "--no-terrain" not in msg
    assert "offers no DEM" not in msg


def test_cli_no_terrain(
    sample_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("YAMASAT_NETWORK__ALLOWED_ROOTS", f"[{sample_root}]")
    no_dem = _catalog_without_dem(sample_root, tmp_path)
    out = tmp_path / "cli-out"
    args = [
        "run", "flood", "--aoi", _bbox(sample_root),
        "--before", RUNS["flood (S1)"]["before"], "--after", RUNS["flood (S1)"]["after"],
        "--source", str(no_dem), "--profile", "sample", "--out", str(out),
    ]  # fmt: skip
    assert run(args) != 0
    captured = capsys.readouterr()
    assert "family 'dem'" in captured.out + captured.err
    assert not _published(out / "flood")
    assert run([*args, "--no-terrain"]) == 0
    text = capsys.readouterr().out
    assert "published" in text and "by request" in text


def test_config_turns_terrain_off_and_the_flag_overrides_it(tmp_path: Path) -> None:
    """analytics.flood.terrain: false makes floods without terrain exclusion (the same
    product identity as --no-terrain); an explicit --terrain still asks for it."""
    override = tmp_path / "override.yaml"
    override.write_text("analytics:\n  flood:\n    terrain: false\n")
    off = load_settings(override, env={})
    on = load_settings(env={})
    for recipe in (FLOOD_S1, FLOOD_S2):
        by_config = recipe.choose(recipe.params(off), {})
        by_flag = recipe.choose(recipe.params(on), {"terrain": False})
        assert by_config.terrain is False and by_config == by_flag
        assert recipe.record(by_config)["terrain_exclusion"] is False
        assert recipe.choose(recipe.params(off), {"terrain": True}).terrain is True
        assert recipe.choose(recipe.params(on), {"terrain": None}).terrain is True
