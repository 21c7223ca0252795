"""Replayed real layouts, end to end over HTTP (issue 12, item 5).

The real recorded Earth Search and Planetary Computer items, moved onto Yamaguchi across 132°E
(:mod:`tests.support.replay`), are served by loopback STAC APIs; their assets are loopback COGs
laid out like the real ones, read by GDAL with range requests. Each product runs through the
production code (pystac-client search, href vetting, odc-stac, the recipes, publishing) and
its published pixels are checked against the planted world: scale and offset applied once,
each provider's band mapping, both UTM zones. Planetary Computer hrefs here are loopback, not
Azure Blob, so nothing is signed (the signing step leaves other hosts alone). Nothing leaves
the machine: GDAL's proxy is a dead loopback port.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import yaml

from tests.support import replay_world as world
from tests.support.rangeserver import RangeServer
from tests.support.replay import (
    EDITED_FIELDS,
    LAYOUTS,
    Replay,
    build_earth_search,
    build_planetary_computer,
    undeclared_edits,
)
from yamasat.flows.prepare import prepare, search_family
from yamasat.flows.product_run import analyse_product
from yamasat.flows.recipes import BURN, CHANGE, FLOOD_S1, FLOOD_S2, LANDSLIDE
from yamasat.processing.change_map import ChangeParams
from yamasat.settings import load_settings

pytestmark = pytest.mark.slow

AOI = ",".join(f"{v:g}" for v in world.AOI)
ES_PERIODS = ("2025-07-05/2025-07-15", "2025-07-25/2025-08-05")
PC_PERIODS = ("2024-03-25/2024-04-04", "2024-04-15/2024-04-25")
S1_PERIODS = ("2024-04-01/2024-04-10", "2024-04-15/2024-04-25")
TOL = 0.01
FIXED = ChangeParams(threshold=-0.3)
"""a fixed ΔNDVI threshold: Otsu splits the planted patches among themselves"""
QUIET = world.Patch("quiet", world.VEG, (131.994, 34.0105, 132.006, 34.0185))
"""vegetation in both periods, where the two zones overlap"""

# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """A folder of this module's own: pytest's numbered base folders are pruned by other
    sessions running at the same time on this machine, which removed the replayed COGs
    while a flow was reading them."""
    with tempfile.TemporaryDirectory(prefix="yamasat-replay-") as folder:
        yield Path(folder)


@pytest.fixture
def tmp_path(scratch: Path, request: pytest.FixtureRequest) -> Path:
    out = scratch / "runs" / request.node.name
    out.mkdir(parents=True)
    return out


@pytest.fixture(scope="module")
def es(scratch: Path, stac_fixtures: Path) -> Iterator[Any]:
    rep = build_earth_search(scratch / "es", stac_fixtures)
    with RangeServer(rep.root) as srv:
        yield rep, srv


@pytest.fixture(scope="module")
def pc(scratch: Path, stac_fixtures: Path) -> Iterator[Any]:
    rep = build_planetary_computer(scratch / "pc", stac_fixtures)
    with RangeServer(rep.root) as srv:
        yield rep, srv


@pytest.fixture(autouse=True)
def dead_gdal_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """GDAL (libcurl) bypasses the socket guard: anything not on loopback hits a dead proxy."""
    monkeypatch.setenv("GDAL_HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def _settings(tmp: Path, *servers: RangeServer, dem_bucket: RangeServer | None = None) -> Any:
    hosts = [f"127.0.0.1:{s.port}" for s in servers]
    network: dict[str, Any] = {"allowed_http_hosts": hosts}
    if dem_bucket is not None:
        template = f"{dem_bucket.url}/cop-dem-glo-30/{{key}}"
        network["object_stores"] = {"copernicus-dem-30m": {"https": template}}
    override = tmp / "override.yaml"
    override.write_text(yaml.safe_dump({"network": network}))
    return load_settings(override, env={})


def _run(recipe: Any, prep: Any, params: Any = None) -> Any:
    params = recipe.params(prep.settings) if params is None else params
    bands = recipe.search_bands(params)
    b = search_family(prep, recipe.family, prep.before, bands)
    a = search_family(prep, recipe.family, prep.after, bands)
    return analyse_product(recipe, prep, b, a, params=params)


def _flags_wrong(scratch: Path, stac_fixtures: Path) -> Any:
    """Earth Search's older sentinel-2-l2a whose offset flag is wrong in both directions:
    the west scenes say applied but keep the offset, the east ones say not but removed it."""
    flags = {(z, p): ((True, False) if z == "w" else (False, True))
             for z in "we" for p in ("before", "after")}  # fmt: skip
    return build_earth_search(
        scratch / "es-l2a", stac_fixtures, l2a_flags=flags, collections=("sentinel-2-l2a",)
    )


def _prep(tmp: Path, settings: Any, source: str, periods: tuple[str, str], **kw: Any) -> Any:
    return prepare(
        aoi=AOI, before=periods[0], after=periods[1], source=source, out=tmp / "out",
        settings=settings, **kw,
    )  # fmt: skip


# ----------------------------------------------------------------------------- pixels


def _read(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with rasterio.open(path) as src:
        data = src.read(1)
        if src.scales[0] != 1.0:  # ΔNDVI, dNBR: int16 × scale, as GDAL readers apply it
            data = np.where(data == src.nodata, np.nan, data * src.scales[0] + src.offsets[0])
        lon, lat = world.lonlat_centres(src.crs.to_string(), src.transform, data.shape)
    return data, lon, lat


def _at(path: str, patch: world.Patch) -> np.ndarray:
    """The product's values inside ``patch`` (away from its edges)."""
    data, lon, lat = _read(path)
    values = data[world.interior(patch, lon, lat)]
    assert values.size > 50, f"too few pixels of {patch.name} in {path}"
    return values


def _delta(index: str, patch: world.Patch) -> float:
    return world.expected_index(index, patch.cover) - world.expected_index(index, world.VEG)


def _shifted(index: str, cover: str, shift: float) -> float:
    """The index if every reflectance were off by ``shift`` (offset never or twice applied)."""
    r = world.REFLECTANCE[cover]
    a, b = {"ndvi": ("nir", "red"), "nbr": ("nir", "swir22")}[index]
    return (r[a] - r[b]) / (r[a] + r[b] + 2 * shift)


def assert_index_change(path: str, index: str, names: tuple[str, ...]) -> None:
    """Δindex (after − before) on each patch as planted with the offset applied once, and
    discriminating: offset never (+0.1) or twice (−0.1) would be off by far more than TOL."""
    sign = 1 if index == "ndvi" else -1  # dNBR is before − after
    for name in names:
        p = world.patch(name)
        want = sign * _delta(index, p)
        got = float(np.median(_at(path, p)))
        assert got == pytest.approx(want, abs=TOL), (name, got, want)
        for shift in (0.1, -0.1):
            wrong = sign * (_shifted(index, p.cover, shift) - _shifted(index, world.VEG, shift))
            assert abs(wrong - want) > 5 * TOL, (name, shift)
    quiet = _at(path, QUIET)
    assert np.nanmax(np.abs(quiet)) < TOL


def assert_both_zones(outcome: Any, srv: RangeServer) -> None:
    ids = " ".join(outcome.input_items)
    assert "52SGD" in ids and "53SKU" in ids, ids
    ranged = {r.path for r in srv.requests if r.range and ".tif" in r.path}
    assert any("52SGD" in p for p in ranged) and any("53SKU" in p for p in ranged), ranged


def _share(path: str, name: str, value: int) -> float:
    return float(np.mean(_at(path, world.patch(name)) == value))


# ----------------------------------------------------------------------------- the replay


def test_replay_edits_only_the_listed_fields(es: Any, pc: Any) -> None:
    for rep, _srv in (es, pc):
        assert isinstance(rep, Replay)
        assert rep.edits and not undeclared_edits(rep)
        # each field a replayed S2/S1 item had moved is one of the listed ones
        moved = {p.split(".")[0] for paths in rep.edits.values() for p in paths}
        assert moved <= {"id", "bbox", "geometry", "properties", "assets"}
    assert "properties.proj:epsg" in EDITED_FIELDS
    epsgs = {
        it["properties"]["proj:epsg"] for rep, _ in (es, pc) for items in rep.items.values()
        for it in items
    }  # fmt: skip
    assert epsgs == {32652, 32653, 4326}


def test_cogs_copy_the_recorded_layouts(es: Any, pc: Any, stac_fixtures: Path) -> None:
    """dtype and nodata of the COGs are those the recorded metadata state."""
    es_rep, _ = es
    pc_rep, _ = pc
    c1 = es_rep.items["sentinel-2-c1-l2a"][0]
    rb = c1["assets"]["red"]["raster:bands"][0]
    assert (LAYOUTS["es/s2"].dtype, LAYOUTS["es/s2"].nodata) == (rb["data_type"], rb["nodata"])
    coll = pc_rep.collections["sentinel-2-l2a"]["item_assets"]["B04"]["raster:bands"][0]
    assert (LAYOUTS["pc/s2"].dtype, LAYOUTS["pc/s2"].nodata) == (coll["data_type"], coll["nodata"])
    rtc = pc_rep.items["sentinel-1-rtc"][0]["assets"]["vv"]["raster:bands"][0]
    assert (LAYOUTS["pc/s1"].dtype, LAYOUTS["pc/s1"].nodata) == (rtc["data_type"], rtc["nodata"])
    dem = es_rep.items["cop-dem-glo-30"][0]["assets"]["data"]["raster:bands"][0]
    assert LAYOUTS["dem"].dtype == dem["data_type"] and "nodata" not in dem
    red = es_rep.root / "sentinel-2-c1-l2a" / c1["id"] / "B04.tif"
    with rasterio.open(red) as src:
        assert src.dtypes[0] == "uint16" and src.nodata == 0
        assert src.compression is not None and src.compression.name.upper() == "DEFLATE"
        assert src.block_shapes[0] == (1024, 1024)
        assert src.crs.to_epsg() == c1["properties"]["proj:epsg"]
        assert list(src.transform)[:6] == c1["assets"]["red"]["proj:transform"]


# ----------------------------------------------------------------------------- products


def test_change_from_earth_search_c1(es: Any, tmp_path: Path) -> None:
    _rep, srv = es
    settings = _settings(tmp_path, srv)
    prep = _prep(tmp_path, settings, srv.stac_api_url, ES_PERIODS)
    outcome = _run(CHANGE, prep, FIXED)
    assert outcome.outcome == "published", outcome.message
    assert_index_change(outcome.files["dndvi"]["path"], "ndvi", ("change_w", "change_e", "burn_w"))
    change = outcome.files["change"]["path"]
    for name in ("change_w", "change_e", "slide_e"):
        assert _share(change, name, 1) > 0.95, name
    assert np.all(_at(change, QUIET) == 0)
    assert_both_zones(outcome, srv)


def test_burn_from_earth_search_c1(es: Any, tmp_path: Path) -> None:
    _rep, srv = es
    settings = _settings(tmp_path, srv)
    prep = _prep(tmp_path, settings, srv.stac_api_url, ES_PERIODS)
    outcome = _run(BURN, prep)
    assert outcome.outcome == "published", outcome.message
    assert_index_change(outcome.files["dnbr"]["path"], "nbr", ("burn_w", "burn_e"))
    for name in ("burn_w", "burn_e"):
        assert _share(outcome.files["burn"]["path"], name, 1) > 0.95
        assert _share(outcome.files["severity"]["path"], name, 4) > 0.95  # dNBR ≥ 0.66: high
    assert _share(outcome.files["burn"]["path"], "water", 0) > 0.95  # water is excluded
    assert_both_zones(outcome, srv)


def test_change_from_planetary_computer_s2(pc: Any, tmp_path: Path) -> None:
    """PC's B04/B08 keys, no raster:bands on the items: scale and offset from the baseline."""
    _rep, srv = pc
    settings = _settings(tmp_path, srv)
    prep = _prep(tmp_path, settings, srv.stac_api_url, PC_PERIODS)
    outcome = _run(CHANGE, prep)
    assert outcome.outcome == "published", outcome.message
    assert_index_change(outcome.files["dndvi"]["path"], "ndvi", ("change_w", "change_e", "burn_e"))
    assert_both_zones(outcome, srv)


# ------------------------------------------- families from different sources, no profile


def test_s1_flood_from_pc_rtc_with_the_earth_search_dem(es: Any, pc: Any, tmp_path: Path) -> None:
    """S1 RTC from the Planetary Computer layout, the DEM from Earth Search's s3:// bucket
    read over its https template: two sources, two layouts, no --profile."""
    (_, srv_es), (_, srv_pc) = es, pc
    settings = _settings(tmp_path, srv_pc, srv_es, dem_bucket=srv_es)
    prep = _prep(tmp_path, settings, srv_pc.stac_api_url, S1_PERIODS,
                 family_sources={"dem": srv_es.stac_api_url})  # fmt: skip
    outcome = _run(FLOOD_S1, prep)
    assert outcome.outcome == "published", outcome.message
    flood = outcome.files["flood"]["path"]
    assert _share(flood, "water", 1) > 0.95
    for name in ("change_w", "change_e", "slide_w", "slide_e"):
        assert _share(flood, name, 0) > 0.95, name
    assert outcome.qa["terrain_exclusion"] is True
    dem_reads = {r.path for r in srv_es.requests if r.range and "cop-dem-glo-30" in r.path}
    assert dem_reads, "the DEM was not read from the Earth Search bucket"


def test_s2_flood_from_earth_search(es: Any, tmp_path: Path) -> None:
    _rep, srv = es
    settings = _settings(tmp_path, srv, dem_bucket=srv)
    prep = _prep(tmp_path, settings, srv.stac_api_url, ES_PERIODS)
    outcome = _run(FLOOD_S2, prep)
    assert outcome.outcome == "published", outcome.message
    flood = outcome.files["flood"]["path"]
    assert _share(flood, "water", 1) > 0.95
    assert _share(flood, "change_w", 0) > 0.95 and np.all(_at(flood, QUIET) == 0)
    assert_both_zones(outcome, srv)


def test_landslide_from_earth_search_with_the_pc_dem(es: Any, pc: Any, tmp_path: Path) -> None:
    """Scars on the steep slope are found; bare soil on flat ground is not a landslide, which
    needs the slope from the Planetary Computer DEM."""
    (_, srv_es), (_, srv_pc) = es, pc
    settings = _settings(tmp_path, srv_es, srv_pc)
    prep = _prep(tmp_path, settings, srv_es.stac_api_url, ES_PERIODS,
                 family_sources={"dem": srv_pc.stac_api_url})  # fmt: skip
    outcome = _run(LANDSLIDE, prep)
    assert outcome.outcome == "published", outcome.message
    product = outcome.files["landslide"]["path"]
    for name in ("slide_w", "slide_e"):
        assert _share(product, name, 1) > 0.9, name
    for name in ("change_w", "change_e"):
        assert _share(product, name, 0) > 0.95, name
    assert any("cop-dem-glo-30" in r.path for r in srv_pc.requests if r.range)


def test_change_from_earth_search_l2a_with_wrong_flags(
    scratch: Path, stac_fixtures: Path, tmp_path: Path
) -> None:
    """The flag says the offset was applied where it was not, and the reverse: the pixels
    decide, the QA says which rule did, and the published ΔNDVI is as planted."""
    rep = _flags_wrong(scratch, stac_fixtures)
    with RangeServer(rep.root) as srv:
        settings = _settings(tmp_path, srv)
        prep = _prep(tmp_path, settings, srv.stac_api_url, ES_PERIODS)
        outcome = _run(CHANGE, prep, FIXED)
    assert outcome.outcome == "published", outcome.message
    assert_index_change(outcome.files["dndvi"]["path"], "ndvi", ("change_w", "change_e", "burn_w"))
    decisions = outcome.qa["s2_offset"]
    assert len(decisions) == 4
    for item_id, d in decisions.items():
        assert d["flag_wrong"] and d["rule"].startswith("negative-share"), (item_id, d)
        assert d["offset"] == (-0.1 if "52SGD" in item_id else 0.0), (item_id, d)
    assert sum("contradicts" in w for w in outcome.warnings) == 4
