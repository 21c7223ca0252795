"""Disaster products on the sample archive: accuracy floors, provenance and bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pystac
import pytest
import rasterio
import shapely
from scipy import ndimage

from yamasat.catalogs.sample import SampleManifest, World
from yamasat.errors import SourceError
from yamasat.flows.demo import DEMO_RUNS, demo_truth, score
from yamasat.flows.prepare import prepare, search_family
from yamasat.flows.product_run import analyse_product
from yamasat.flows.recipes import BURN, FLOOD_S1, FLOOD_S2, LANDSLIDE
from yamasat.flows.recipes.flood_mapping_s1 import pick_s1_pair
from yamasat.processing.grid import project_geobox
from yamasat.settings import load_settings

pytestmark = pytest.mark.slow

RUNS = {name: params for name, _flow, params, _floor in DEMO_RUNS}
BANDS = {
    "s1": ("vv", "vh"),
    "flood (S2)": ("green", "swir16", "scl"),
    "landslide": ("red", "nir", "green", "swir16", "blue", "swir22", "scl"),
    "burn": ("nir", "swir22", "green", "swir16", "scl"),
}


def _prep(
    root: Path,
    out: Path,
    before: str,
    after: str,
    settings: Any = None,
    catalog: Path | None = None,
) -> Any:
    m = SampleManifest.read(root)
    return prepare(
        aoi=",".join(f"{v:g}" for v in m.bbox),
        before=before,
        after=after,
        source=str(catalog or root / "catalog.json"),
        out=out,
        settings=settings or load_settings(env={}),
    )


def _search(
    prep: Any, family: str, bands: tuple[str, ...]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return search_family(prep, family, prep.before, bands), search_family(
        prep, family, prep.after, bands
    )


def _read(outcome: Any, key: str) -> np.ndarray:
    with rasterio.open(outcome.files[key]["path"]) as src:
        return src.read(1)


def _truth(root: Path, name: str, kind: str) -> np.ndarray:
    from yamasat.catalogs.extent.periods import parse_period

    m = SampleManifest.read(root)
    world = World(m.seed, m.bbox)
    p = RUNS[name]
    return demo_truth(
        world,
        project_geobox(shapely.box(*m.bbox)),
        name,
        parse_period(p["before"]),
        parse_period(p["after"]),
        kind,
        m.s2_dates,
    )


@pytest.fixture(scope="module")
def products(
    sample_root: Path, tmp_path_factory: pytest.TempPathFactory, boundaries_path: Path
) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("disaster")
    settings = load_settings(env={"YAMASAT_BOUNDARIES__PATH": str(boundaries_path)})
    res: dict[str, Any] = {}
    p = _prep(sample_root, out, RUNS["flood (S1)"]["before"], RUNS["flood (S1)"]["after"], settings)
    res["flood (S1)"] = analyse_product(FLOOD_S1, p, *_search(p, "s1", BANDS["s1"]))
    p = _prep(sample_root, out, RUNS["flood (S2)"]["before"], RUNS["flood (S2)"]["after"], settings)
    res["flood (S2)"] = analyse_product(FLOOD_S2, p, *_search(p, "s2", BANDS["flood (S2)"]))
    p = _prep(sample_root, out, RUNS["landslide"]["before"], RUNS["landslide"]["after"], settings)
    res["landslide"] = analyse_product(LANDSLIDE, p, *_search(p, "s2", BANDS["landslide"]))
    p = _prep(sample_root, out, RUNS["burn"]["before"], RUNS["burn"]["after"], settings)
    res["burn"] = analyse_product(BURN, p, *_search(p, "s2", BANDS["burn"]))
    return res


@pytest.mark.parametrize(
    ("name", "kind", "floor"),
    [("flood (S1)", "flood", 0.85), ("flood (S2)", "flood", 0.80), ("burn", "burn", 0.85)],
)
def test_pixel_accuracy_floors(
    products: dict[str, Any], sample_root: Path, name: str, kind: str, floor: float
) -> None:
    outcome = products[name]
    assert outcome.outcome == "published", outcome.message
    scores, _ = score(name, _read(outcome, kind), _truth(sample_root, name, kind))
    assert scores["csi"] >= floor, scores


def test_landslide_objects(products: dict[str, Any], sample_root: Path) -> None:
    outcome = products["landslide"]
    scores, _ = score(
        "landslide", _read(outcome, "landslide"), _truth(sample_root, "landslide", "landslide")
    )
    assert scores["object_recall"] >= 0.90 and scores["precision"] >= 0.75, scores
    gdf = gpd.read_parquet(outcome.files["polygons"]["path"])
    assert len(gdf) >= 8
    assert (gdf.mean_slope_deg > 15).all() and (gdf.mean_dndvi < -0.2).all()
    assert (gdf.area_m2 >= 800).all()  # the minimum mapping unit: 8 px
    assert gdf.municipality_code.notna().all()


def test_sar_likelihood_and_qa(products: dict[str, Any]) -> None:
    outcome = products["flood (S1)"]
    lik = _read(outcome, "likelihood")
    assert set(np.unique(lik)) <= {0, 33, 67, 100, 255}
    flood = _read(outcome, "flood")
    # the majority vote (likelihood >= 67) seeds every flood region; region growing adds
    # connected pixels with fewer votes, whose likelihood (0 or 33) says so
    labels, n = ndimage.label(flood == 1, structure=np.ones((3, 3)))
    seeds = ndimage.maximum(np.where(flood == 1, lik, 0), labels, np.arange(1, n + 1))
    assert n > 0 and (np.asarray(seeds) >= 67).all()
    assert (lik[flood == 1] >= 67).mean() > 0.5
    assert outcome.qa["terrain_exclusion"] is True and outcome.qa["orbit"] == [39, "ascending"]
    item = pystac.Item.from_file(outcome.item_href)
    assert {"flood", "likelihood", "polygons", "municipalities", "quicklook"} <= set(item.assets)
    assert item.properties["yamasat:parameters"]["sensor"] == "s1"
    assert item.properties["yamasat:statistics"]["qa"]["vv_threshold_db"] < -12


def test_municipality_table(products: dict[str, Any]) -> None:
    outcome = products["flood (S1)"]
    rows = outcome.municipalities
    assert rows and all(
        {"code", "name_ja", "name_en", "area_km2", "share_of_municipality"} <= set(r) for r in rows
    )
    text = Path(outcome.files["municipalities"]["path"]).read_text(encoding="utf-8-sig")
    assert text.startswith("code,name_ja,name_en,area_km2")
    assert "光市" in text or "田布施町" in text or "平生町" in text
    assert sum(r["area_km2"] for r in rows) == pytest.approx(
        outcome.changed_area_m2 / 1e6, rel=0.02
    )


def test_burn_severity_classes(products: dict[str, Any], sample_root: Path) -> None:
    sev = _read(products["burn"], "severity")
    assert set(np.unique(sev)) <= {0, 1, 2, 3, 4, 255}
    truth = _truth(sample_root, "burn", "burn").astype(bool)
    assert np.median(sev[truth]) >= 2  # the planted scar is moderate severity or worse


def test_post_event_clouds_are_insufficient_data(sample_root: Path, tmp_path: Path) -> None:
    cloudy = SampleManifest.read(sample_root).cloudy_date.isoformat()
    p = _prep(sample_root, tmp_path, "2025-05-15/2025-05-25", f"{cloudy}/{cloudy}")
    outcome = analyse_product(FLOOD_S2, p, *_search(p, "s2", BANDS["flood (S2)"]))
    assert outcome.outcome == "insufficient_data" and "no product published" in outcome.message
    assert not (tmp_path / "catalog.json").exists()


def _item(orbit: int, state: str, day: str) -> pystac.Item:
    return pystac.Item(
        f"S1_{orbit}_{state}_{day}",
        None,
        None,
        dt.datetime.fromisoformat(day + "T09:00:00+00:00"),
        {"sat:relative_orbit": orbit, "sat:orbit_state": state},
    )


def test_s1_pair_needs_same_orbit_and_pass() -> None:
    pre, post, orbit = pick_s1_pair(
        [
            _item(39, "ascending", "2025-06-12"),
            _item(39, "ascending", "2025-06-24"),
            _item(112, "descending", "2025-06-20"),
        ],
        [_item(39, "ascending", "2025-07-06"), _item(39, "ascending", "2025-07-18")],
    )
    assert [i.id for i in pre] == ["S1_39_ascending_2025-06-24"] and [i.id for i in post] == [
        "S1_39_ascending_2025-07-06"
    ]
    assert orbit == (39, "ascending")
    with pytest.raises(SourceError, match=r"same relative orbit.*112.*39"):
        pick_s1_pair(
            [_item(112, "descending", "2025-06-20")], [_item(39, "ascending", "2025-07-06")]
        )


def test_flood_flow_under_prefect(prefect_harness: None, sample_root: Path, tmp_path: Path) -> None:
    from yamasat.flows.disaster import flood_mapping

    m = SampleManifest.read(sample_root)
    result = flood_mapping(
        aoi=",".join(f"{v:g}" for v in m.bbox),
        before=RUNS["flood (S1)"]["before"],
        after=RUNS["flood (S1)"]["after"],
        sensor="s1",
        source=str(sample_root / "catalog.json"),
        out=str(tmp_path),
    )
    assert result["outcome"] == "published" and result["kind"] == "flood"
