"""The loader on synthetic COGs in UTM 52N and 53N: one grid, planted values, no seam."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from yamasat.catalogs.sources.profiles import PROFILES, scale_offset
from yamasat.errors import LoadError
from yamasat.processing.grid import project_geobox
from yamasat.processing.load import load_bands, load_s2
from yamasat.processing.native_grid import native_geobox, split_by_crs
from yamasat.processing.read_back import open_warped

BBOX = (131.97, 33.94, 132.03, 33.97)  # crosses 132°E
ASSETS = PROFILES["earth-search"].family("s2").assets


def planted_red(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """A smooth reflectance field of lon/lat: the same on both sides of the zone boundary."""
    return (0.05 + 2.0 * (lon - 131.97) + 1.0 * (lat - 33.94)).astype("float32")


def _write(path: Path, data: np.ndarray, transform: object, epsg: int, nodata: int) -> None:
    profile = {
        "driver": "COG",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": f"EPSG:{epsg}",
        "transform": transform,
        "nodata": nodata,
        "compress": "DEFLATE",
        "blocksize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def _tile(
    tmp: Path,
    epsg: int,
    lon_range: tuple[float, float],
    day: dt.date,
    offset: float = -0.1,
    cloud: bool = False,
) -> pystac.Item:
    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    to_ll = Transformer.from_crs(epsg, 4326, always_xy=True)
    xs, ys = to_utm.transform(
        [lon_range[0], lon_range[1]] * 2, [BBOX[1] - 0.01] * 2 + [BBOX[3] + 0.01] * 2
    )
    x0, x1 = np.floor(min(xs) / 20) * 20, np.ceil(max(xs) / 20) * 20
    y0, y1 = np.floor(min(ys) / 20) * 20, np.ceil(max(ys) / 20) * 20
    item_id = f"S2B_T{epsg % 100}XXX_{day:%Y%m%d}T020000_L2A"
    item = pystac.Item(
        id=item_id,
        geometry=None,
        bbox=None,
        datetime=dt.datetime(day.year, day.month, day.day, 2, 0, tzinfo=dt.UTC),
        properties={"proj:code": f"EPSG:{epsg}", "s2:processing_baseline": "05.11"},
        collection="sentinel-2-c1-l2a",
    )
    lons, lats = [], []
    for band, res in (("red", 10), ("nir", 10), ("scl", 20)):
        w, h = int((x1 - x0) / res), int((y1 - y0) / res)
        transform = from_origin(x0, y1, res, res)
        cx = x0 + res * (np.arange(w) + 0.5)
        cy = y1 - res * (np.arange(h) + 0.5)
        gx, gy = np.meshgrid(cx, cy)
        lon, lat = to_ll.transform(gx, gy)
        if band == "scl":
            data = np.full((h, w), 4, dtype="uint8")
            if cloud:
                data[h // 3 : h // 2, 2 * w // 3 : 5 * w // 6] = 9  # east of the overlap
            nodata, rb = 0, {"nodata": 0, "data_type": "uint8"}
        else:
            refl = planted_red(lon, lat) if band == "red" else np.full((h, w), 0.3, "float32")
            data = np.round((refl - offset) / 1e-4).astype("uint16")
            nodata = 0
            rb = {"nodata": 0, "data_type": "uint16", "scale": 1e-4, "offset": offset}
        path = tmp / f"{item_id}_{band}.tif"
        _write(path, data, transform, epsg, nodata)
        item.add_asset(
            band,
            pystac.Asset(
                href=str(path),
                media_type=pystac.MediaType.COG,
                extra_fields={
                    "raster:bands": [rb],
                    "proj:shape": [h, w],
                    "proj:transform": list(transform)[:6],
                },
            ),
        )
        lons.append(lon)
        lats.append(lat)
    lon, lat = lons[0], lats[0]
    ring = [
        [float(lon.min()), float(lat.min())],
        [float(lon.max()), float(lat.min())],
        [float(lon.max()), float(lat.max())],
        [float(lon.min()), float(lat.max())],
    ]
    item.geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    item.bbox = [ring[0][0], ring[0][1], ring[2][0], ring[2][1]]
    return item


@pytest.fixture(scope="module")
def two_zone_items(tmp_path_factory: pytest.TempPathFactory) -> list[pystac.Item]:
    tmp = tmp_path_factory.mktemp("cogs")
    day = dt.date(2025, 5, 12)
    return [
        _tile(tmp, 32652, (131.965, 132.012), day),
        _tile(tmp, 32653, (131.988, 132.035), day, cloud=True),
    ]


def _planted_on(geobox: object) -> tuple[np.ndarray, np.ndarray]:
    tr = Transformer.from_crs("EPSG:6671", 4326, always_xy=True)
    gx, gy = np.meshgrid(geobox.coords["x"].values, geobox.coords["y"].values)  # type: ignore[attr-defined]
    lon, lat = tr.transform(gx, gy)
    return planted_red(lon, lat), lon


@pytest.mark.parametrize("chunk", [2048, 64])
def test_mosaic_across_132e_matches_planted_values(
    two_zone_items: list[pystac.Item], chunk: int
) -> None:
    import shapely

    geobox = project_geobox(shapely.box(*BBOX), crs="EPSG:6671", resolution=10)
    ds = load_s2(
        two_zone_items,
        assets=ASSETS,
        geobox=geobox,
        scale_fn=scale_offset,
        bands=("red", "nir"),
        chunk=chunk,
        dilation_px=1,
    )
    assert ds.sizes["time"] == 1  # both tiles fused into one solar day
    assert ds.odc.geobox.crs.epsg == 6671
    assert ds.red.dtype == np.float32
    expected, lon = _planted_on(geobox)
    red = ds.red.isel(time=0).values
    clear = ~ds.mask.isel(time=0).values
    err = np.abs(red - expected)
    west = clear & (lon < 131.999)
    east = clear & (lon > 132.001)
    assert west.sum() > 5000 and east.sum() > 5000
    # bilinear resampling of a linear field reproduces it up to the DN quantum
    assert np.nanmax(err[west]) < 2e-3 and np.nanmax(err[east]) < 2e-3
    # no seam: a narrow strip on both sides of 132°E agrees with the field as well
    seam = clear & (np.abs(lon - 132.0) < 0.002)
    assert np.nanmax(err[seam]) < 2e-3
    # clouded pixels of the eastern tile are flagged (the western tile covers part of them)
    assert ds.mask.isel(time=0).values.sum() > 100
    assert np.isnan(red[~clear]).all()
    vf = float(ds.valid_fraction.isel(time=0))
    assert 0.5 < vf < 1.0


def test_mixed_offsets_are_normalised(tmp_path: Path) -> None:
    import shapely

    a = _tile(tmp_path, 32652, (131.965, 132.012), dt.date(2025, 5, 12), offset=-0.1)
    b = _tile(tmp_path, 32652, (131.965, 132.012), dt.date(2025, 6, 12), offset=0.0)
    geobox = project_geobox(shapely.box(131.97, 33.94, 131.99, 33.96), resolution=10)
    ds = load_bands([a, b], assets={"red": "red"}, geobox=geobox, scale_fn=scale_offset, chunk=256)
    assert ds.sizes["time"] == 2
    expected, _ = _planted_on(geobox)
    for i in range(2):
        np.testing.assert_allclose(ds.red.isel(time=i).values, expected, atol=2e-3)


def test_missing_asset_is_named(two_zone_items: list[pystac.Item]) -> None:
    import shapely

    geobox = project_geobox(shapely.box(*BBOX), resolution=10)
    with pytest.raises(LoadError, match="no asset 'swir16'"):
        load_s2(
            two_zone_items,
            assets=ASSETS,
            geobox=geobox,
            scale_fn=scale_offset,
            bands=("red", "swir16"),
        )
    with pytest.raises(LoadError, match="empty"):
        load_bands([], assets={"red": "red"}, geobox=geobox, scale_fn=scale_offset)


def test_native_grid_of_one_zone_and_none_across_zones(
    two_zone_items: list[pystac.Item],
) -> None:
    import shapely

    geobox = project_geobox(shapely.box(131.97, 33.94, 131.99, 33.96), resolution=10)
    assets = {b: ASSETS[b] for b in ("red", "nir", "scl")}
    west = two_zone_items[:1]
    native = native_geobox(west, assets=assets, like=geobox)
    assert native is not None and native.crs.epsg == 32652
    assert native.resolution.x == 10 and native.resolution.y == -10
    # on the tiles' 20 m lattice (the coarsest band), whole 20 m pixels
    x0, y0 = native.affine.c, native.affine.f
    tile = west[0].assets["scl"].extra_fields["proj:transform"]
    assert (x0 - tile[2]) % 20 == 0 and (y0 - tile[5]) % 20 == 0
    red = west[0].assets["red"].extra_fields["proj:transform"]
    assert (x0 - red[2]) % 5120 == 0 and (y0 - red[5]) % 5120 == 0  # 512-px COG tiles
    assert native.shape.y % 2 == 0 and native.shape.x % 2 == 0
    assert native.extent.contains(geobox.extent.to_crs("EPSG:32652"))
    assert native_geobox(two_zone_items, assets=assets, like=geobox) is None
    assert native_geobox(west, assets=assets, like=geobox.zoom_out(2)) is None  # 20 m grid


def test_coarse_scl_read_equals_nearest_load(
    two_zone_items: list[pystac.Item], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shapely

    import yamasat.processing.load as load_mod

    geobox = project_geobox(shapely.box(131.99, 33.945, 132.03, 33.965), resolution=10)
    east = two_zone_items[1:]  # the clouded tile
    assets = {b: ASSETS[b] for b in ("red", "nir", "scl")}
    native = native_geobox(east, assets=assets, like=geobox)
    assert native is not None
    kw = {"assets": assets, "geobox": native, "scale_fn": scale_offset, "chunk": 128}
    assert load_mod._whole_factor(east, ASSETS["scl"], native, 128) == 2
    fast = load_s2(east, **kw, dilation_px=2)
    monkeypatch.setattr(load_mod, "_load_coarse", lambda *a, **k: None)  # days disagree
    fallback = load_s2(east, **kw, dilation_px=2)
    monkeypatch.setattr(load_mod, "_whole_factor", lambda *a, **k: None)
    slow = load_s2(east, **kw, dilation_px=2)
    assert fast.mask.values.sum() > 100
    for other in (slow, fallback):
        np.testing.assert_array_equal(fast.mask.values, other.mask.values)
        np.testing.assert_array_equal(fast.red.values, other.red.values)


def test_open_warped_reproduces_a_linear_field_and_propagates_nan(tmp_path: Path) -> None:
    import shapely
    from odc.geo.xr import wrap_xr

    from yamasat.processing.write import write_raster

    geobox = project_geobox(shapely.box(131.97, 33.94, 131.99, 33.96), resolution=10)
    native = geobox.to_crs("EPSG:32652", resolution=10)
    xs, ys = np.meshgrid(native.coords["x"].values, native.coords["y"].values)
    field = (1e-5 * (xs - xs.min()) + 2e-5 * (ys - ys.min())).astype("float32")
    hole = (slice(40, 60), slice(50, 70))
    field[hole] = np.nan
    src = write_raster(tmp_path / "m.tif", wrap_xr(field, native), geobox=native)
    warped = open_warped(str(src), geobox=geobox, chunk=64)
    assert warped.chunks is not None
    got = warped.values
    to_utm = Transformer.from_crs("EPSG:6671", "EPSG:32652", always_xy=True)
    gx, gy = np.meshgrid(geobox.coords["x"].values, geobox.coords["y"].values)
    ux, uy = to_utm.transform(gx, gy)
    expected = 1e-5 * (ux - xs.min()) + 2e-5 * (uy - ys.min())
    ok = np.isfinite(got)
    assert ok.mean() > 0.95
    np.testing.assert_allclose(got[ok], expected[ok], atol=1e-5)
    # the hole comes back NaN, grown by at most a pixel or so, never filled by neighbours
    hx0, hx1 = native.affine * (50, 40), native.affine * (70, 60)
    inner = shapely.box(hx0[0] + 15, hx1[1] + 15, hx1[0] - 15, hx0[1] - 15)
    tr = Transformer.from_crs("EPSG:32652", "EPSG:6671", always_xy=True)
    inner_6671 = shapely.ops.transform(tr.transform, inner)
    inside = shapely.contains_xy(inner_6671, gx, gy)
    assert inside.sum() > 100 and np.isnan(got[inside]).all()
    assert (~ok).sum() < 2 * 20 * 20 * 1.5


def test_split_by_crs(two_zone_items: list[pystac.Item]) -> None:
    assets = {b: ASSETS[b] for b in ("red", "nir", "scl")}
    groups = split_by_crs([*two_zone_items, two_zone_items[0]], assets=assets)
    assert groups is not None
    assert [[it.id for it in g] for g in groups] == [
        [two_zone_items[0].id, two_zone_items[0].id],
        [two_zone_items[1].id],
    ]
    bare = two_zone_items[0].clone()
    for asset in bare.assets.values():
        asset.extra_fields.pop("proj:transform")
    bare.properties.pop("proj:code")
    assert split_by_crs([bare], assets=assets) is None


PROJ_EXT = "https://stac-extensions.github.io/projection/v1.1.0/schema.json"


def _off_grid(asset: pystac.Asset) -> None:
    """Give ``asset`` the grid of another MGRS tile (far away, in the same CRS), declaring
    the projection extension so that odc-stac places the item by its assets' grids."""
    assert asset.owner is not None
    if PROJ_EXT not in asset.owner.stac_extensions:
        asset.owner.stac_extensions.append(PROJ_EXT)
    asset.extra_fields["proj:shape"] = [10980, 10980]
    asset.extra_fields["proj:transform"] = [10.0, 0.0, 300000.0, 0.0, -10.0, 9500020.0]


def test_a_stale_grid_on_an_unread_asset_does_not_blank_the_scene(tmp_path: Path) -> None:
    """odc-stac places an item by the first finest grid among all its assets; an unread
    asset with another tile's grid used to move the item off the grid, so that nothing was
    read and the scene came back as nodata without an error, depending on the hash seed."""
    import shapely

    item = _tile(tmp_path, 32652, (131.965, 132.012), dt.date(2025, 5, 12))
    for key in ("visual", "aot", "wvp"):  # unread assets, same resolution, stale grids
        item.add_asset(key, pystac.Asset(item.assets["red"].href, extra_fields={}))
        _off_grid(item.assets[key])
    geobox = project_geobox(shapely.box(131.97, 33.94, 131.99, 33.96), resolution=10)
    ds = load_bands([item], assets={"red": "red"}, geobox=geobox, scale_fn=scale_offset)
    expected, _ = _planted_on(geobox)
    np.testing.assert_allclose(ds.red.isel(time=0).values, expected, atol=2e-3)


def test_a_read_asset_placed_off_its_footprint_is_an_error(tmp_path: Path) -> None:
    import shapely

    item = _tile(tmp_path, 32652, (131.965, 132.012), dt.date(2025, 5, 12))
    _off_grid(item.assets["red"])
    geobox = project_geobox(shapely.box(131.97, 33.94, 131.99, 33.96), resolution=10)
    with pytest.raises(LoadError, match=f"item {item.id}: its footprint covers .* lie elsewhere"):
        load_bands([item], assets={"red": "red"}, geobox=geobox, scale_fn=scale_offset)
