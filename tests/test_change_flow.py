"""Change detection end to end on the sample archive: accuracy, provenance, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pystac
import pytest
import rasterio
import shapely

from yamasat.catalogs.sample import PADDY, SampleManifest, World
from yamasat.errors import InputDateError, OutputExistsError
from yamasat.flows.demo import CHANGE_PERIODS, truth_between
from yamasat.flows.prepare import prepare, search_family, season_warnings
from yamasat.flows.product_run import analyse_product
from yamasat.flows.recipes import CHANGE
from yamasat.processing.accuracy import confusion
from yamasat.processing.change_map import ChangeParams
from yamasat.processing.grid import project_geobox
from yamasat.settings import load_settings

pytestmark = pytest.mark.slow

CSI_FLOOR = 0.80


def _bbox(root: Path) -> str:
    return ",".join(f"{v:g}" for v in SampleManifest.read(root).bbox)


def _run(
    root: Path,
    out: Path,
    before: str,
    after: str,
    *,
    force: bool = False,
    params: ChangeParams | None = None,
    settings: Any = None,
) -> Any:
    settings = settings or load_settings(env={})
    prep = prepare(
        aoi=_bbox(root),
        before=before,
        after=after,
        source=str(root / "catalog.json"),
        out=out,
        settings=settings,
    )
    bands = (params or ChangeParams()).bands()
    b = search_family(prep, "s2", prep.before, (*bands, "scl"))
    a = search_family(prep, "s2", prep.after, (*bands, "scl"))
    return prep, analyse_product(
        CHANGE, prep, b, a, params=params or ChangeParams(threshold="otsu"), force=force
    )


@pytest.fixture(scope="module")
def published(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    out = tmp_path_factory.mktemp("products")
    prep, outcome = _run(sample_root, out, *CHANGE_PERIODS)
    return prep, outcome, out


def test_change_accuracy_against_planted_truth(
    published: tuple[Any, Any, Path], sample_root: Path
) -> None:
    prep, outcome, _ = published
    assert outcome.outcome == "published"
    manifest = SampleManifest.read(sample_root)
    world = World(manifest.seed, manifest.bbox)
    geobox = project_geobox(shapely.box(*manifest.bbox))
    truth, names = truth_between(world, geobox, prep.before, prep.after)
    assert names == ("change",)
    with rasterio.open(outcome.files["change"]["path"]) as src:
        product = src.read(1)
        assert src.crs.to_epsg() == 6671 and src.nodata == 255
    scores = confusion(product, truth)
    assert scores.csi >= CSI_FLOOR, scores.as_dict()
    assert set(np.unique(product)) <= {0, 1, 255}


def test_product_files_and_stac_provenance(published: tuple[Any, Any, Path]) -> None:
    _prep, outcome, out = published
    item = pystac.Item.from_file(outcome.item_href)
    assert set(item.assets) == {"change", "dndvi", "polygons", "municipalities", "quicklook"}
    p = item.properties
    assert p["yamasat:kind"] == "change" and p["yamasat:outcome"] == "published"
    assert p["processing:software"]["yamasat"]
    assert p["yamasat:flow"] == "change_detection"
    assert p["yamasat:parameters"]["threshold"] == "otsu"
    assert sorted(p["yamasat:input_items"]) == sorted(outcome.input_items)
    assert 0.5 <= p["yamasat:valid_fraction"] <= 1
    assert p["proj:code"] == "EPSG:6671" and len(p["proj:shape"]) == 2
    assert p["yamasat:synthetic_inputs"] is True
    for key, asset in item.assets.items():
        path = Path(asset.get_absolute_href() or "")
        assert path.is_file(), key
        assert asset.extra_fields["file:size"] == path.stat().st_size
        assert asset.extra_fields["file:checksum"] == "1220" + outcome.files[key]["sha256"]
    assert item.assets["change"].extra_fields["raster:bands"][0]["nodata"] == 255
    # ΔNDVI is stored as int16 × 1e-4 (within the configured bound), ZSTD with predictor 2,
    # and says so in STAC and in the GeoTIFF (GDAL readers apply the scale)
    dndvi_band = item.assets["dndvi"].extra_fields["raster:bands"][0]
    assert dndvi_band["data_type"] == "int16" and dndvi_band["nodata"] == -32768
    assert dndvi_band["scale"] == 1e-4 and dndvi_band["offset"] == 0
    assert dndvi_band["yamasat:max_error"] == 1e-4
    with rasterio.open(item.assets["dndvi"].get_absolute_href()) as src:
        assert src.compression is not None and src.compression.name.upper() == "ZSTD"
        assert src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "2"
        assert src.dtypes[0] == "int16" and src.nodata == -32768
        assert src.scales == (1e-4,) and src.offsets == (0.0,)
        stored = src.read(1, out_shape=(64, 64))
    assert stored.min() >= -32768 and 0 < (stored == -32768).sum() < stored.size
    # the output root is a self-contained catalog with one collection per kind
    root = pystac.Catalog.from_file(str(out / "catalog.json"))
    coll = root.get_child("change")
    assert isinstance(coll, pystac.Collection)
    assert [i.id for i in coll.get_items()] == [outcome.item_id]
    from yamasat.catalogs.sample import CoreOnlyValidator

    pystac.validation.set_validator(CoreOnlyValidator())
    try:
        item.validate()
        coll.validate()
    finally:
        pystac.validation.set_validator(pystac.validation.JsonSchemaSTACValidator())
    # polygons: CRS set, areas and municipality columns
    gdf = gpd.read_parquet(outcome.files["polygons"]["path"])
    assert gdf.crs.to_epsg() == 6671
    assert {"id", "area_m2", "municipality_code", "municipality_ja", "municipality_en"} <= set(
        gdf.columns
    )
    assert gdf.area_m2.sum() == pytest.approx(outcome.changed_area_m2, rel=1e-6)
    with Path(outcome.files["quicklook"]["path"]).open("rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_rerun_skips_done_work_and_force_reproduces(
    published: tuple[Any, Any, Path], sample_root: Path
) -> None:
    _, outcome, out = published
    _, again = _run(sample_root, out, *CHANGE_PERIODS)
    assert again.outcome == "exists" and again.item_id == outcome.item_id
    assert again.files["change"]["sha256"] == outcome.files["change"]["sha256"]
    _, forced = _run(sample_root, out, *CHANGE_PERIODS, force=True)
    assert forced.outcome == "published" and forced.item_id == outcome.item_id
    for key in ("change", "dndvi", "polygons"):
        assert forced.files[key]["sha256"] == outcome.files[key]["sha256"], key
    # a product whose file changed is not silently reused, nor overwritten without --force
    Path(forced.files["quicklook"]["path"]).write_bytes(b"tampered")
    with pytest.raises(OutputExistsError, match="does not verify"):
        _run(sample_root, out, *CHANGE_PERIODS)
    _, repaired = _run(sample_root, out, *CHANGE_PERIODS, force=True)
    assert repaired.outcome == "published"


def test_all_cloud_period_is_insufficient_data(sample_root: Path, tmp_path: Path) -> None:
    manifest = SampleManifest.read(sample_root)
    cloudy = manifest.cloudy_date.isoformat()
    _, outcome = _run(sample_root, tmp_path, "2025-04-20/2025-04-30", f"{cloudy}/{cloudy}")
    assert outcome.outcome == "insufficient_data"
    assert outcome.valid_fraction < 0.5 and "no product published" in outcome.message
    assert not (tmp_path / "catalog.json").exists()
    assert not any(p.suffix == ".tif" for p in tmp_path.rglob("*"))


def test_paddy_irrigation_is_not_change_in_comparable_seasons(
    sample_root: Path, tmp_path: Path
) -> None:
    # both periods inside the irrigation season (May–June): no warning, no change on paddies
    _prep, outcome = _run(
        sample_root,
        tmp_path,
        "2025-05-15/2025-05-25",
        "2025-06-25/2025-06-30",
        params=ChangeParams(threshold=-0.25),
    )
    assert outcome.outcome == "published"
    assert not [w for w in outcome.warnings if "season" in w or "irrigation" in w]
    manifest = SampleManifest.read(sample_root)
    lc = World(manifest.seed, manifest.bbox).land_cover(project_geobox(shapely.box(*manifest.bbox)))
    with rasterio.open(outcome.files["change"]["path"]) as src:
        product = src.read(1)
    observed_paddy = (lc == PADDY) & (product != 255)
    assert observed_paddy.sum() > 10_000
    assert ((product == 1) & observed_paddy).sum() / observed_paddy.sum() < 0.001


def test_season_warnings() -> None:
    from yamasat.catalogs.extent.periods import parse_period

    assert (
        season_warnings(
            parse_period("2025-05-01/2025-05-31"), parse_period("2025-06-01/2025-06-20")
        )
        == []
    )
    w = season_warnings(
        parse_period("2025-04-01/2025-04-30"), parse_period("2025-05-10/2025-05-31")
    )
    assert any("irrigation" in x for x in w)
    w = season_warnings(
        parse_period("2025-01-01/2025-01-31"), parse_period("2025-07-01/2025-07-31")
    )
    assert any("seasonal cycle" in x for x in w)


@pytest.mark.parametrize(
    ("before", "after", "fragment"),
    [
        ("2025-08-31/2025-08-01", "2025-09-15/2025-09-30", "reversed"),
        ("2025-08-01/2025-09-20", "2025-09-15/2025-09-30", "overlap"),
        ("2025-09-15/2025-09-30", "2025-08-01/2025-08-31", "swap"),
    ],
)
def test_bad_periods_fail_before_any_search(before: str, after: str, fragment: str) -> None:
    settings = load_settings(env={})
    with pytest.raises(InputDateError, match=fragment):
        prepare(
            aoi="131.9,33.9,132.0,34.0",
            before=before,
            after=after,
            source="http://127.0.0.1:9/unreachable",
            out=None,
            settings=settings,
        )


def test_flow_runs_under_prefect(prefect_harness: None, sample_root: Path, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client

    from yamasat.flows.change import change_detection

    result = change_detection(
        aoi=_bbox(sample_root),
        before=CHANGE_PERIODS[0],
        after=CHANGE_PERIODS[1],
        source=str(sample_root / "catalog.json"),
        out=str(tmp_path),
    )
    assert result["outcome"] == "published"
    json.dumps(result)  # the flow's result is JSON-safe

    async def artifacts() -> list[Any]:
        async with get_client() as client:
            return list(await client.read_artifacts())

    import asyncio

    found = [a for a in asyncio.run(artifacts()) if a.key == "change-summary"]
    assert found and "valid coverage" in str(found[0].data)


def test_municipality_statistics_with_boundaries(
    sample_root: Path, boundaries_path: Path, tmp_path: Path
) -> None:
    settings = load_settings(env={"YAMASAT_BOUNDARIES__PATH": str(boundaries_path)})
    _, outcome = _run(sample_root, tmp_path, *CHANGE_PERIODS, settings=settings)
    assert outcome.outcome == "published"
    rows = {r["code"]: r for r in outcome.municipalities}
    # the demo extent covers Hikari (35210) and its neighbours along the Suo-nada coast
    assert "35210" in rows and rows["35210"]["name_ja"] == "光市"
    assert sum(r["changed_area_m2"] for r in rows.values()) == pytest.approx(
        outcome.changed_area_m2, rel=0.05
    )
    for r in rows.values():
        assert 0 <= r["valid_coverage"] <= 1 and 0 <= r["share_of_municipality"] < 1
    gdf = gpd.read_parquet(outcome.files["polygons"]["path"])
    assert gdf.municipality_code.notna().all()
    assert set(gdf.municipality_code) <= set(rows)


def test_one_zone_computes_on_the_native_grid_and_agrees(
    sample_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items of one UTM zone (53SKT only): the measure is computed on the UTM grid and warped
    once; the product scores like the load onto the project grid and agrees with it."""
    import yamasat.flows.recipes.change_detection as steps

    settings = load_settings(env={})
    aoi = "132.02,33.93,132.06,33.965"  # around the planted change, east of 132°E
    products = {}
    calls: list[Any] = []
    native_geobox = steps.native_geobox

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(native_geobox(*args, **kwargs))
        return calls[-1]

    for mode in ("native", "project"):
        monkeypatch.setattr(
            steps, "native_geobox", spy if mode == "native" else lambda *a, **k: None
        )
        prep = prepare(
            aoi=aoi,
            before=CHANGE_PERIODS[0],
            after=CHANGE_PERIODS[1],
            source=str(sample_root / "catalog.json"),
            out=tmp_path / mode,
            settings=settings,
        )
        b, a = (
            [d for d in search_family(prep, "s2", p, ("red", "nir", "scl")) if "T53SKT" in d["id"]]
            for p in (prep.before, prep.after)
        )
        assert b and a
        outcome = analyse_product(CHANGE, prep, b, a, params=ChangeParams(threshold="otsu"))
        assert outcome.outcome == "published"
        path = Path(outcome.files["change"]["path"])
        assert sorted(p.name for p in path.parent.glob(".*")) == []  # no staging leftovers
        with rasterio.open(path) as src:
            products[mode] = src.read(1)
            assert src.crs.to_epsg() == 6671 and src.res == (10.0, 10.0)
    assert calls and calls[0] is not None and calls[0].crs.epsg == 32653
    geobox = project_geobox(shapely.geometry.box(*map(float, aoi.split(","))))
    manifest = SampleManifest.read(sample_root)
    truth, _ = truth_between(World(manifest.seed, manifest.bbox), geobox, prep.before, prep.after)
    native, project = products["native"], products["project"]
    assert native.shape == project.shape == truth.shape
    assert confusion(native, truth).csi >= CSI_FLOOR
    assert (native == project).mean() > 0.99
    # invalid areas grow by at most about a pixel around clouds
    assert abs((native == 255).mean() - (project == 255).mean()) < 0.01


def test_resumed_change_publishes_the_rasters_its_failed_run_wrote(
    sample_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change analysis keeps its verified rasters when publishing fails, and a run of
    the same lineage publishes them without computing them again (same checksums)."""
    import yamasat.flows.publish
    import yamasat.flows.recipes.change_detection
    from yamasat.flows.checkpoints import Checkpoints

    settings = load_settings(env={})
    prep = prepare(aoi=_bbox(sample_root), before=CHANGE_PERIODS[0], after=CHANGE_PERIODS[1],
                   source=str(sample_root / "catalog.json"), out=tmp_path, settings=settings,
                   profile="sample")  # fmt: skip
    b = search_family(prep, "s2", prep.before, ("nir", "red", "scl"))
    a = search_family(prep, "s2", prep.after, ("nir", "red", "scl"))
    ckpt = Checkpoints(tmp_path, "lineage-1")
    params = ChangeParams(threshold="otsu")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("simulated: the disk filled up")

    with monkeypatch.context() as m, pytest.raises(OSError):
        m.setattr(yamasat.flows.publish, "polygons", broken)
        analyse_product(CHANGE, prep, b, a, params=params, checkpoints=ckpt)
    kept = ckpt.folder / "rasters"
    (product,) = kept.iterdir()
    manifest = json.loads((product / "draft.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) == {"dndvi", "change"} and manifest["inside_px"] > 0
    assert not list(kept.glob("*.partial"))

    # a manifest whose grid or file names do not match is not used, and is dropped
    import shutil

    from yamasat.flows.publish import resumed_draft

    grid = settings.grid
    geobox = project_geobox(prep.aoi.geometry, crs=grid.crs, resolution=grid.resolution)
    spare = tmp_path / "spare"
    shutil.copytree(product, spare)
    staging = tmp_path / "staging-probe"
    for bad in (
        {"grid": {**manifest["grid"], "shape": [1, 1]}},
        {
            "files": {
                **manifest["files"],
                "change": {**manifest["files"]["change"], "name": "../change.tif"},
            }
        },
    ):
        (product / "draft.json").write_text(json.dumps({**manifest, **bad}), encoding="utf-8")
        staging.mkdir()
        assert resumed_draft("change", product.name, staging, geobox, ckpt) is None
        assert not product.exists() and not list(staging.iterdir())
        shutil.copytree(spare, product)
        staging.rmdir()  # fmt: skip

    def no_compute(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the rasters must not be computed again")

    with monkeypatch.context() as m:
        m.setattr(yamasat.flows.recipes.change_detection, "measure_on_grid", no_compute)
        outcome = analyse_product(CHANGE, prep, b, a, params=params, checkpoints=ckpt)
    assert outcome.outcome == "published" and outcome.item_id == product.name
    assert outcome.files["change"]["sha256"] == manifest["files"]["change"]["sha256"]
    assert outcome.threshold == manifest["threshold"] and not product.exists()
    # the resumed finalize starts from the warnings the rasters had: none said twice
    assert len(outcome.warnings) == len(set(outcome.warnings))


@pytest.mark.parametrize("where", ["while the note is written", "after the claim", "before staged"])
def test_a_stop_between_claim_and_staged_leaves_no_staging(
    where: str, sample_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop signal that lands just after the staging folder is made, or between the draft
    and the block that owns it, leaves no staging behind (a CI run once caught the gap)."""
    import signal

    import yamasat.flows.product_run
    import yamasat.flows.publish
    from yamasat.flows.signals import RunInterrupted
    from yamasat.flows.staging import claim_staging

    def stop(*args: Any, **kwargs: Any) -> Any:
        if where == "after the claim":
            claim_staging(*args, **kwargs)
        elif where == "while the note is written":  # the note's file made, not yet filled
            out_root, item_id = args
            (out_root / ".staging").mkdir(parents=True, exist_ok=True)
            (out_root / ".staging" / f"{item_id}.owner").touch()
        raise RunInterrupted(signal.SIGINT)

    target = (yamasat.flows.publish, "claim_staging") if where != "before staged" else (
        yamasat.flows.product_run, "staged")  # fmt: skip
    monkeypatch.setattr(*target, stop)
    with pytest.raises(RunInterrupted):
        _run(sample_root, tmp_path, *CHANGE_PERIODS)
    assert not list((tmp_path / ".staging").iterdir())
    # a folder another process owns is left alone
    from yamasat.flows.staging import release_own_staging

    other = tmp_path / ".staging" / "someone-elses"
    other.mkdir()
    (tmp_path / ".staging" / "someone-elses.owner").write_text("otherhost 1", encoding="utf-8")
    release_own_staging(tmp_path, "someone-elses")
    assert other.is_dir()
