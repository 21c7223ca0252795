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

from catalogs.errors import LoadError
from catalogs.profiles import PROFILES, scale_offset
from processing.grid import project_geobox
from processing.load import load_bands, load_s2

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
