"""Tests of the embedded sample archive (yamasat.catalogs.sample): the world, the files, the truth.

Everything is synthesised here; no network (conftest blocks it). The archive tests build a
small archive (0.04° x 0.03° across 132°E, about 2 s); the event tests evaluate the default
world directly on the project grid, without files. The real STAC fixtures in
``../shared/fixtures/stac`` are only read, to compare layouts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import odc.stac
import pystac
import pytest
import rasterio
import yaml
from odc.geo.geobox import GeoBox
from pyproj import Transformer
from rio_cogeo import cog_validate
from scipy import ndimage
from skimage.measure import label, regionprops

from yamasat.catalogs.sample import (
    BANDS,
    DEFAULT_BBOX,
    DEFAULT_SEED,
    FOREST,
    PADDY,
    WATER,
    CoreOnlyValidator,
    EventRecord,
    SampleManifest,
    World,
    build_sample,
)
from yamasat.catalogs.sample import build as build_module
from yamasat.catalogs.sample.coast import is_land
from yamasat.catalogs.sample.cog import write_cog
from yamasat.catalogs.sample.noise import rng_for
from yamasat.catalogs.sample.scenes import S2_NOISE, dem_tiles, s2_tiles
from yamasat.errors import SampleArchiveError

SMALL_BBOX = (131.98, 33.93, 132.02, 33.96)
"""Small enough to build in ~2 s, crosses 132°E, holds all four events."""
S2_KEYS = {"blue", "green", "red", "nir", "nir08", "swir16", "swir22", "scl"}
CLEAR = (4, 5, 6)


def _sha256_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _lonlat(geobox: GeoBox) -> tuple[np.ndarray, np.ndarray]:
    a = geobox.transform
    xs = a.c + a.a * (np.arange(geobox.shape.x) + 0.5)
    ys = a.f + a.e * (np.arange(geobox.shape.y) + 0.5)
    xx, yy = np.meshgrid(xs, ys)
    crs = geobox.crs
    assert crs is not None
    return Transformer.from_crs(crs.to_wkt(), 4326, always_xy=True).transform(xx, yy)


def _index(world: World, grid: GeoBox, a: str, b: str, day: str) -> np.ndarray:
    x = world.surface_reflectance(grid, a, day)
    y = world.surface_reflectance(grid, b, day)
    return (x - y) / (x + y)


# ---------------------------------------------------------------------------- fast units


def test_rng_streams_are_independent_and_reproducible() -> None:
    a = rng_for(1, "cloud", 5).standard_normal(4)
    assert np.array_equal(a, rng_for(1, "cloud", 5).standard_normal(4))
    assert not np.array_equal(a, rng_for(1, "cirrus", 5).standard_normal(4))
    assert not np.array_equal(a, rng_for(2, "cloud", 5).standard_normal(4))


def test_coastline_is_real_and_read_without_loading_the_globe() -> None:
    # Hikari station is on land, the Suo-nada off Murozumi is sea, Yamaguchi city is inland
    lat = np.array([33.962, 33.85, 34.186])
    lon = np.array([131.942, 131.95, 131.474])
    assert is_land(lat, lon).tolist() == [True, False, True]


@pytest.mark.slow
def test_coastline_window_equals_the_package_lookup() -> None:
    spec = importlib.util.find_spec("global_land_mask")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "globe_combined_mask_compressed.npz"
    with np.load(path) as npz:
        ocean, glat, glon = npz["mask"], npz["lat"], npz["lon"]
    rng = np.random.default_rng(1)
    lat, lon = rng.uniform(32.5, 35.5, 20000), rng.uniform(130.0, 133.5, 20000)
    # global_land_mask.globe.is_land: truncating index from the first grid line
    rows = ((lat - glat[0]) / (glat[1] - glat[0])).astype(int)
    cols = ((lon - glon[0]) / (glon[1] - glon[0])).astype(int)
    expected = ~ocean[rows, cols]
    del ocean
    assert np.array_equal(is_land(lat, lon), expected)


def test_s2_tiles_are_real_mgrs_crops_overlapping_132e() -> None:
    tiles = {t.mgrs: t for t in s2_tiles(DEFAULT_BBOX)}
    assert set(tiles) == {"52SGC", "53SKT"}
    assert tiles["52SGC"].epsg == 32652 and tiles["53SKT"].epsg == 32653
    for t, x0 in ((tiles["52SGC"], 699960), (tiles["53SKT"], 199980)):
        a = t.geobox10.transform
        assert (a.c - x0) % 60 == 0 and (3800040 - a.f) % 60 == 0
        assert t.geobox20.transform.c == a.c and t.geobox20.shape.x * 2 == t.geobox10.shape.x
        lon, lat = _lonlat(t.geobox10)
        assert lon.min() < 131.98 - 0.001 or t.epsg == 32653
        assert lon.min() <= 131.98 and lon.max() >= 132.02
        assert lat.min() <= DEFAULT_BBOX[1] and lat.max() >= DEFAULT_BBOX[3]


def test_dem_tiles_keep_the_real_one_arcsecond_grid() -> None:
    tiles = dem_tiles(DEFAULT_BBOX)
    assert [t.name for t in tiles] == [
        "Copernicus_DSM_COG_10_N33_00_E131_00_DEM",
        "Copernicus_DSM_COG_10_N33_00_E132_00_DEM",
    ]
    for t in tiles:
        a = t.geobox.transform
        assert a.a == pytest.approx(1 / 3600)
        centre_arcsec = (a.c + a.a / 2) * 3600
        assert centre_arcsec == pytest.approx(round(centre_arcsec), abs=1e-6)
        assert t.geobox.shape.x < 3600  # cropped to the bbox


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bbox": (132.0, 33.9, 131.9, 34.0)}, "reversed"),
        ({"bbox": (140.0, 35.0, 140.1, 35.1)}, "outside"),
        ({"bbox": (131.0, 33.5, 132.5, 34.5)}, "span"),
        ({"seed": -1}, "seed"),
    ],
)
def test_world_rejects_bad_input(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(SampleArchiveError, match=match):
        World(**kwargs)


def test_world_methods_name_valid_choices() -> None:
    world = World(bbox=SMALL_BBOX)
    grid = world.project_geobox(100.0)
    with pytest.raises(SampleArchiveError, match="swir22"):
        world.surface_reflectance(grid, "B04", "2025-08-18")
    with pytest.raises(SampleArchiveError, match="vh"):
        world.sar_backscatter(grid, "2025-08-18", "hh")
    with pytest.raises(SampleArchiveError, match="landslide"):
        world.truth(grid, "earthquake")
    with pytest.raises(SampleArchiveError, match="YYYY-MM-DD"):
        world.scl(grid, "18 Aug")


def test_world_is_deterministic_and_seeded() -> None:
    grid = World(bbox=SMALL_BBOX).project_geobox(20.0)
    a = World(7, SMALL_BBOX).surface_reflectance(grid, "nir", "2025-08-18")
    b = World(7, SMALL_BBOX).surface_reflectance(grid, "nir", dt.date(2025, 8, 18))
    c = World(8, SMALL_BBOX).surface_reflectance(grid, "nir", "2025-08-18")
    assert a.dtype == np.float32 and a.shape == tuple(grid.shape.yx)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_land_cover_agrees_across_utm_and_project_grids() -> None:
    world = World(bbox=SMALL_BBOX)
    grid = world.project_geobox()
    cover = world.land_cover(grid)
    for tile in s2_tiles(SMALL_BBOX):
        utm = world.land_cover(tile.geobox10)
        # look up each UTM pixel centre in the project grid (nearest pixel)
        a = tile.geobox10.transform
        xx, yy = np.meshgrid(
            a.c + 10 * (np.arange(tile.geobox10.shape.x) + 0.5),
            a.f - 10 * (np.arange(tile.geobox10.shape.y) + 0.5),
        )
        px, py = Transformer.from_crs(tile.epsg, 6671, always_xy=True).transform(xx, yy)
        col, row = ~grid.transform * (px, py)
        inside = (row >= 0) & (row < grid.shape.y) & (col >= 0) & (col < grid.shape.x)
        r, c = row[inside].astype(int), col[inside].astype(int)
        assert (utm[inside] == cover[r, c]).mean() > 0.97


def test_manifest_round_trip_and_read(tmp_path: Path) -> None:
    d = dt.date(2025, 7, 6)
    m = SampleManifest(
        bbox=SMALL_BBOX,
        seed=3,
        s2_dates=(dt.date(2025, 4, 25),),
        s1_dates=(d,),
        events=(
            EventRecord(
                "flood", d, "x", d, d, "s1", 2, 1e6, "truth/flood.tif", "truth/flood.geojson"
            ),
        ),
        truth={"flood": "truth/flood.tif"},
        items={"sentinel-1-rtc": 1},
        cloudy_date=None,
    )
    assert SampleManifest.from_json(m.to_json()) == m
    (tmp_path / "manifest.json").write_text(m.to_json())
    assert SampleManifest.read(tmp_path).event("flood").parts == 2
    with pytest.raises(SampleArchiveError, match="build the archive"):
        SampleManifest.read(tmp_path / "missing")
    with pytest.raises(SampleArchiveError, match="no event"):
        m.event("burn")


def test_write_cog_is_valid_tiled_deflate_with_overviews_and_reproducible(tmp_path: Path) -> None:
    grid = GeoBox.from_bbox((770000, 3750000, 782000, 3761000), "EPSG:32652", resolution=10)
    data = np.random.default_rng(0).integers(1, 3000, size=grid.shape.yx, dtype=np.uint16)
    a = write_cog(tmp_path / "a.tif", data, geobox=grid, nodata=0)
    b = write_cog(tmp_path / "b.tif", data, geobox=grid, nodata=0)
    assert a.multihash == b.multihash and a.size == b.size
    assert a.multihash.startswith("1220") and len(a.multihash) == 68
    valid, errors, warnings = cog_validate(str(a.path))
    assert valid and not errors and not warnings
    with rasterio.open(a.path) as src:
        assert src.block_shapes[0] == (512, 512)
        assert src.compression is not None and src.compression.name == "deflate"
        assert src.overviews(1), "a 1200 px raster must have overviews"
        assert src.nodata == 0
    with pytest.raises(SampleArchiveError, match="does not match"):
        write_cog(tmp_path / "c.tif", data[:10], geobox=grid, nodata=0)


def test_core_validator_works_offline() -> None:
    item = pystac.Item(
        "x",
        {"type": "Point", "coordinates": [132.0, 33.9]},
        [132.0, 33.9, 132.0, 33.9],
        dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        {},
        stac_extensions=["https://stac-extensions.github.io/eo/v1.1.0/schema.json"],
    )
    item.validate(validator=CoreOnlyValidator())
    bad = item.to_dict()
    del bad["geometry"]
    with pytest.raises(pystac.errors.STACValidationError):
        pystac.validation.validate_dict(bad, validator=CoreOnlyValidator())


# ---------------------------------------------------------------------------- default world


@pytest.fixture(scope="module")
def default_world() -> tuple[World, GeoBox]:
    world = World(DEFAULT_SEED, DEFAULT_BBOX)
    return world, world.project_geobox()


@pytest.mark.slow
def test_default_world_plants_every_event(default_world: tuple[World, GeoBox]) -> None:
    world, grid = default_world
    assert [e.name for e in world.events()] == ["flood", "landslide", "change", "burn"]
    cover, slope, height = world.land_cover(grid), world.slope_deg(grid), world.elevation(grid)
    pixel_ha = 100.0 / 1e4

    slides = label(world.truth(grid, "landslide"), connectivity=2)
    regions = regionprops(slides)
    assert len(regions) >= 8
    for r in regions:
        inside = slides == r.label
        assert r.area * pixel_ha >= 0.5
        assert slope[inside].mean() > 20.0
        assert (cover[inside] == FOREST).all()
        assert r.axis_major_length > 1.3 * r.axis_minor_length  # elongated downslope

    flood = world.truth(grid, "flood").astype(bool)
    sea = (cover == WATER) & (height == 0)
    assert 1.0 <= flood.sum() * pixel_ha / 100 <= 5.0  # km²
    assert not (ndimage.binary_dilation(flood, iterations=10) & sea).any(), (
        "the flood must not touch the sea"
    )
    assert np.median(height[flood]) < 20 and np.median(slope[flood]) < 3

    farm = world.truth(grid, "change").astype(bool)
    assert 10 <= farm.sum() * pixel_ha <= 30 and (cover[farm] == PADDY).mean() > 0.95

    burn = world.truth(grid, "burn").astype(bool)
    assert 20 <= burn.sum() * pixel_ha <= 100 and (cover[burn] == FOREST).all()
    assert all(e.geometry.is_valid for e in world.events())


@pytest.mark.slow
def test_events_have_their_signatures(default_world: tuple[World, GeoBox]) -> None:
    world, grid = default_world
    slide = world.truth(grid, "landslide").astype(bool)
    assert np.median(_index(world, grid, "nir", "red", "2025-06-29")[slide]) > 0.6
    assert np.median(_index(world, grid, "nir", "red", "2025-08-18")[slide]) < 0.2

    burn = world.truth(grid, "burn").astype(bool)
    dnbr = _index(world, grid, "nir", "swir22", "2025-04-25") - _index(
        world, grid, "nir", "swir22", "2025-05-20"
    )
    assert np.median(dnbr[burn]) >= 0.3 and np.percentile(dnbr[burn], 10) >= 0.27

    farm = world.truth(grid, "change").astype(bool)
    assert np.median(_index(world, grid, "nir", "red", "2025-08-18")[farm]) > 0.6
    assert np.median(_index(world, grid, "nir", "red", "2025-09-22")[farm]) < 0.2

    flood = world.truth(grid, "flood").astype(bool)
    vv = {
        d: 10 * np.log10(world.sar_backscatter(grid, d, "vv"))
        for d in ("2025-06-24", "2025-07-06", "2025-07-18")
    }
    vh = 10 * np.log10(world.sar_backscatter(grid, "2025-07-06", "vh"))
    assert np.median(vv["2025-07-06"][flood]) < -18
    assert ((vv["2025-07-06"] - vv["2025-06-24"])[flood] < -3).mean() > 0.95
    assert np.median(vv["2025-07-18"][flood]) > -15  # gone 12 days later
    assert 6 <= np.median(vv["2025-07-06"][flood] - vh[flood]) <= 8
    # receding, smaller, on the S2 pass three days later
    wet = _index(world, grid, "green", "swir16", "2025-07-09") > 0.3
    assert 0.2 < wet[flood].mean() < 0.8


@pytest.mark.slow
def test_paddies_look_like_water_in_may_june(default_world: tuple[World, GeoBox]) -> None:
    world, grid = default_world
    paddy = world.land_cover(grid) == PADDY
    for day in ("2025-05-20", "2025-06-14"):
        assert (_index(world, grid, "green", "swir16", day)[paddy] > 0).mean() > 0.9
        assert np.median(world.surface_reflectance(grid, "nir", day)[paddy]) < 0.12
    assert np.median(_index(world, grid, "nir", "red", "2025-08-18")[paddy]) > 0.7


# ---------------------------------------------------------------------------- the archive


@pytest.fixture(scope="module")
def small_archive(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, SampleManifest, list[tuple]]]:
    out = tmp_path_factory.mktemp("sample") / "archive"
    calls: list[tuple] = []
    manifest = build_sample(
        out, bbox=SMALL_BBOX, seed=DEFAULT_SEED, progress=lambda *a: calls.append(a)
    )
    yield out, manifest, calls


@pytest.mark.slow
def test_progress_is_reported(small_archive: tuple[Path, SampleManifest, list[tuple]]) -> None:
    _, _, calls = small_archive
    stages = [c[0] for c in calls]
    for stage in ("world", "sentinel-2", "sentinel-1", "dem", "truth", "catalog"):
        done = [c for c in calls if c[0] == stage]
        assert done and done[-1][1] == done[-1][2], stage
        assert [c[1] for c in done] == sorted(c[1] for c in done)
    assert stages.index("world") < stages.index("sentinel-2") < stages.index("catalog")


@pytest.mark.slow
def test_catalog_reads_and_validates_offline(
    small_archive: tuple[Path, SampleManifest, list[tuple]],
) -> None:
    root, manifest, _ = small_archive
    catalog = pystac.Catalog.from_file(str(root / "catalog.json"))
    validator = CoreOnlyValidator()
    catalog.validate(validator=validator)
    assert catalog.extra_fields["yamasat:synthetic"] is True
    children = {c.id: c for c in catalog.get_children()}
    assert set(children) == {"sentinel-2-c1-l2a", "sentinel-1-rtc", "cop-dem-glo-30"}
    counts = {}
    for cid, coll in children.items():
        coll.validate(validator=validator)
        assert "synthetic" in coll.description.lower()
        items = list(coll.get_items())
        counts[cid] = len(items)
        for item in items:
            item.validate(validator=validator)
            assert item.properties["yamasat:synthetic"] is True
            assert item.properties["proj:code"].startswith("EPSG:")  # proj:epsg migrated by pystac
    assert counts == manifest.items
    assert counts == {
        "sentinel-2-c1-l2a": 2 * len(manifest.s2_dates),
        "sentinel-1-rtc": 4,
        "cop-dem-glo-30": 2,
    }
    assert len(manifest.s2_dates) >= 6 and len(manifest.s1_dates) >= 3
    raw = json.loads(next(root.glob("sentinel-2-c1-l2a/*/*_L2A.json")).read_text())
    assert raw["properties"]["proj:epsg"] in (32652, 32653)  # as Earth Search writes it


@pytest.mark.slow
def test_items_look_like_the_real_sources(
    small_archive: tuple[Path, SampleManifest, list[tuple]],
) -> None:
    root, _, _ = small_archive
    catalog = pystac.Catalog.from_file(str(root / "catalog.json"))
    s2 = list(catalog.get_child("sentinel-2-c1-l2a").get_items())  # type: ignore[union-attr]
    assert {i.properties["grid:code"] for i in s2} == {"MGRS-52SGC", "MGRS-53SKT"}
    for item in s2:
        p = item.properties
        assert item.id.split("_")[1] == "T" + p["grid:code"][5:]
        assert (
            p["s2:processing_baseline"] == "05.11" and p["earthsearch:boa_offset_applied"] is False
        )
        assert p["mgrs:utm_zone"] in (52, 53) and p["constellation"] == "sentinel-2"
        assert 0 <= p["eo:cloud_cover"] <= 100
        assert set(item.assets) == S2_KEYS
        for key, asset in item.assets.items():
            band = asset.extra_fields["raster:bands"][0]
            if key == "scl":
                assert band == {"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}
            else:
                assert (
                    band["scale"] == 0.0001
                    and band["offset"] == -0.1
                    and band["data_type"] == "uint16"
                )
                assert band["spatial_resolution"] == (
                    10 if key in ("blue", "green", "red", "nir") else 20
                )
                assert asset.roles == ["data", "reflectance"]
            assert asset.media_type == "image/tiff; application=geotiff; profile=cloud-optimized"
            path = Path(asset.get_absolute_href() or "")
            assert asset.extra_fields["file:size"] == path.stat().st_size
            assert (
                asset.extra_fields["file:checksum"]
                == "1220" + hashlib.sha256(path.read_bytes()).hexdigest()
            )
            with rasterio.open(path) as src:
                assert list(src.shape) == asset.extra_fields["proj:shape"]
                assert list(src.transform)[:6] == asset.extra_fields["proj:transform"]
                assert src.crs.to_epsg() == int(item.properties["proj:code"][5:])
    s1 = list(catalog.get_child("sentinel-1-rtc").get_items())  # type: ignore[union-attr]
    assert len({i.properties["sat:relative_orbit"] for i in s1}) == 1
    assert {i.properties["sat:orbit_state"] for i in s1} == {"ascending"}
    days = sorted(i.datetime.date() for i in s1 if i.datetime is not None)
    assert {(b - a).days for a, b in itertools.pairwise(days)} == {12}
    for item in s1:
        assert set(item.assets) == {"vv", "vh"}
        assert item.assets["vv"].extra_fields["raster:bands"][0]["data_type"] == "float32"
        with rasterio.open(item.assets["vv"].get_absolute_href() or "") as src:
            vv = src.read(1)
        assert vv.dtype == np.float32 and np.nanmin(vv) > 0  # linear power
    dem = list(catalog.get_child("cop-dem-glo-30").get_items())  # type: ignore[union-attr]
    assert {i.id for i in dem} == {
        "Copernicus_DSM_COG_10_N33_00_E131_00_DEM",
        "Copernicus_DSM_COG_10_N33_00_E132_00_DEM",
    }
    assert all(set(i.assets) == {"data"} and "cropped" in i.properties["description"] for i in dem)


def _real_items(stac_fixtures: Path) -> dict[str, dict[str, Any]]:
    """One real item per collection from the Earth Search cassettes and the PC fixture."""
    found: dict[str, dict[str, Any]] = {}
    for name in (
        "earth-search-v1__search__sentinel-1-grd_sentinel-2-c1-l2a_sentinel-2-l2a_sentinel-2-l1c"
        "__vcr-cassette.yaml",
        "earth-search-v1__search__cop-dem-glo-30__vcr-cassette.yaml",
    ):
        cassette = yaml.safe_load((stac_fixtures / name).read_text())
        for interaction in cassette["interactions"]:
            body = json.loads(interaction["response"]["body"]["string"])
            for feature in body.get("features", []):
                found.setdefault(feature["collection"], feature)
    pc = json.loads(
        (stac_fixtures / "planetary-computer__sentinel-1-rtc__4-items.json").read_text()
    )
    found["sentinel-1-rtc"] = pc[0]
    return found


@pytest.mark.slow
def test_layout_matches_the_real_fixtures(
    small_archive: tuple[Path, SampleManifest, list[tuple]], stac_fixtures: Path
) -> None:
    root, _, _ = small_archive
    real = _real_items(stac_fixtures)
    for cid in ("sentinel-2-c1-l2a", "sentinel-1-rtc", "cop-dem-glo-30"):
        ours = json.loads(next(root.glob(f"{cid}/*/*.json")).read_text())
        theirs = real[cid]
        assert set(ours["assets"]) <= set(theirs["assets"]), cid
        for key, asset in ours["assets"].items():
            twin = theirs["assets"][key]
            assert asset["type"] == twin["type"] and asset["roles"] == twin["roles"], (cid, key)
            ours_band, their_band = asset["raster:bands"][0], twin.get("raster:bands", [{}])[0]
            for field in ("nodata", "data_type", "scale", "offset", "sampling", "unit"):
                assert ours_band.get(field) == their_band.get(field), (cid, key, field)
            if "eo:bands" in twin:
                assert asset["eo:bands"] == twin["eo:bands"], (cid, key)
        # every property the real item has that a loader or profile reads, we have too
        wanted = {"datetime", "platform", "constellation", "proj:epsg", "eo:cloud_cover"}
        wanted |= {
            k for k in theirs["properties"] if k.split(":")[0] in ("mgrs", "grid", "sat", "sar")
        }
        wanted |= (
            {"s2:processing_baseline", "s2:product_uri"} if cid == "sentinel-2-c1-l2a" else set()
        )
        assert {k for k in wanted if k in theirs["properties"]} <= set(ours["properties"]), cid
        assert ours["properties"]["yamasat:synthetic"] is True


@pytest.mark.slow
def test_every_raster_is_a_valid_cog(
    small_archive: tuple[Path, SampleManifest, list[tuple]],
) -> None:
    root, _, _ = small_archive
    tifs = sorted([*root.rglob("*.tif"), *root.rglob("*.tiff")])
    assert len(tifs) > 100
    for path in tifs:
        valid, errors, warnings = cog_validate(str(path))
        assert valid and not errors and not warnings, (path, errors, warnings)
        with rasterio.open(path) as src:
            assert src.block_shapes[0] == (512, 512) or max(src.shape) <= 512
            assert src.compression is not None and src.compression.name == "deflate"


@pytest.mark.slow
def test_build_is_byte_identical_and_guards_overwrite(
    small_archive: tuple[Path, SampleManifest, list[tuple]], tmp_path: Path
) -> None:
    root, manifest, _ = small_archive
    again = tmp_path / "again"
    assert build_sample(again, bbox=SMALL_BBOX, seed=DEFAULT_SEED) == manifest
    reference = _sha256_tree(root)
    assert _sha256_tree(again) == reference
    with pytest.raises(SampleArchiveError, match="overwrite"):
        build_sample(again, bbox=SMALL_BBOX)
    build_sample(again, bbox=SMALL_BBOX, overwrite=True)
    assert _sha256_tree(again) == reference
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"], (
        "no temporary folders left behind"
    )


def test_failed_build_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = build_module.write_cog

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 5:
            raise SampleArchiveError("disk full (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(build_module, "write_cog", flaky)
    with pytest.raises(SampleArchiveError, match="simulated"):
        build_sample(tmp_path / "out", bbox=(131.99, 33.94, 132.01, 33.95))
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_folder_that_is_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SampleArchiveError, match="not empty"):
        build_sample(tmp_path, bbox=(131.99, 33.94, 132.01, 33.95), overwrite=True)
    (tmp_path / "catalog.json").write_text("{}")
    with pytest.raises(SampleArchiveError, match="not a sample archive"):
        build_sample(tmp_path, bbox=(131.99, 33.94, 132.01, 33.95), overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.json", "notes.txt"]


@pytest.mark.slow
def test_dn_of_clear_pixels_is_world_reflectance_plus_noise(
    small_archive: tuple[Path, SampleManifest, list[tuple]],
) -> None:
    root, manifest, _ = small_archive
    world = World(manifest.seed, manifest.bbox)
    catalog = pystac.Catalog.from_file(str(root / "catalog.json"))
    day = dt.date(2025, 8, 18)
    for item in catalog.get_child("sentinel-2-c1-l2a").get_items():  # type: ignore[union-attr]
        if item.datetime is None or item.datetime.date() != day:
            continue
        tile = next(t for t in s2_tiles(manifest.bbox) if item.id.split("_")[1] == f"T{t.mgrs}")
        with rasterio.open(item.assets["scl"].get_absolute_href() or "") as src:
            clear = np.isin(np.kron(src.read(1), np.ones((2, 2), dtype=np.uint8)), CLEAR)
        clear = ndimage.binary_erosion(clear, iterations=2)
        for band in ("red", "nir"):
            with rasterio.open(item.assets[band].get_absolute_href() or "") as src:
                dn = src.read(1)
            diff = (dn * 0.0001 - 0.1) - world.surface_reflectance(tile.geobox10, band, day)
            d = diff[clear]
            assert d.size > 1000
            assert abs(np.median(d)) < 3e-4
            assert np.std(d) == pytest.approx(S2_NOISE, rel=0.1)


@pytest.mark.slow
def test_odc_stac_load_on_project_grid_matches_world_without_seam(
    small_archive: tuple[Path, SampleManifest, list[tuple]],
) -> None:
    root, manifest, _ = small_archive
    world = World(manifest.seed, manifest.bbox)
    grid = world.project_geobox()
    catalog = pystac.Catalog.from_file(str(root / "catalog.json"))
    day = dt.date(2025, 8, 18)
    items = [
        i
        for i in catalog.get_child("sentinel-2-c1-l2a").get_items()  # type: ignore[union-attr]
        if i.datetime is not None and i.datetime.date() == day
    ]
    assert len(items) == 2
    ds = odc.stac.load(
        items, bands=["red", "nir", "scl"], geobox=grid, groupby="solar_day", resampling="nearest"
    )
    assert ds.sizes["time"] == 1
    scl = ds.scl.isel(time=0).values
    lon, _ = _lonlat(grid)
    for band in ("red", "nir"):
        refl = ds[band].isel(time=0).values * 0.0001 - 0.1
        diff = refl - world.surface_reflectance(grid, band, day)
        spread = []
        for side in (lon < 131.997, lon > 132.003, np.abs(lon - 132.0) < 0.002):
            d = diff[side & np.isin(scl, CLEAR)]
            assert d.size > 500
            assert abs(np.median(d)) < 5e-4
            spread.append(float(np.median(np.abs(d))))
        # the noise (MAD 0.6745 σ) plus nearest-neighbour resampling of textures; no seam at 132°E
        assert max(spread) < 1.5 * 0.6745 * S2_NOISE
        assert spread[2] < 1.15 * max(spread[:2])


@pytest.mark.slow
def test_scl_has_one_mostly_cloudy_date(
    small_archive: tuple[Path, SampleManifest, list[tuple]],
) -> None:
    root, manifest, _ = small_archive
    assert manifest.cloudy_date is not None
    cloudy: dict[dt.date, list[float]] = {}
    for path in root.glob("sentinel-2-c1-l2a/*/SCL.tif"):
        day = dt.datetime.strptime(path.parent.name.split("_")[2][:8], "%Y%m%d").date()
        with rasterio.open(path) as src:
            scl = src.read(1)
        cloudy.setdefault(day, []).append(float(np.isin(scl, (8, 9, 10)).mean()))
        assert set(np.unique(scl)) <= {3, 4, 5, 6, 8, 9, 10}
    assert np.mean(cloudy[manifest.cloudy_date]) > 0.7
    others = [np.mean(v) for d, v in cloudy.items() if d != manifest.cloudy_date]
    assert all(v < 0.5 for v in others)


@pytest.mark.slow
def test_truth_files_hold_the_planted_events(
    small_archive: tuple[Path, SampleManifest, list[tuple]],
) -> None:
    root, manifest, _ = small_archive
    assert SampleManifest.read(root) == manifest
    world = World(manifest.seed, manifest.bbox)
    grid = world.project_geobox()
    assert {e.name for e in manifest.events} == {"flood", "landslide", "change", "burn"}
    for record in manifest.events:
        with rasterio.open(root / record.raster) as src:
            assert (
                src.crs.to_epsg() == 6671 and src.res == (10.0, 10.0) and src.dtypes[0] == "uint8"
            )
            truth = src.read(1)
        assert np.array_equal(truth, world.truth(grid, record.name))
        assert truth.sum() * 100.0 == pytest.approx(record.area_m2)
        fc = json.loads((root / record.vector).read_text())
        assert fc["type"] == "FeatureCollection" and len(fc["features"]) == record.parts
        props = fc["features"][0]["properties"]
        assert props["event"] == record.name and props["date"] == record.date.isoformat()
        assert props["yamasat:synthetic"] is True
    assert set(manifest.truth) == {"flood", "landslide", "change", "burn", "land_cover"}
    assert {b for b in BANDS} == S2_KEYS - {"scl"}
