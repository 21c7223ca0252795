"""The bilinear warp of processing/warp.py gives GDAL's values (rasterio.warp.reproject)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import shapely
from odc.geo.geobox import GeoBox
from odc.geo.xr import wrap_xr

from yamasat.processing import read_back
from yamasat.processing.grid import project_geobox
from yamasat.processing.warp import row_coordinates
from yamasat.processing.write import write_raster


def _info(y0: int, y1: int, x0: int, x1: int) -> dict[Any, Any]:
    return {None: {"array-location": [(y0, y1), (x0, x1)]}}


def _fast(path: str, box: GeoBox) -> bool:
    """Whether the block takes the fast path (else GDAL warps it)."""
    assert box.crs is not None
    with rasterio.open(path) as src:
        coords = row_coordinates(
            box.affine,
            (box.shape[0], box.shape[1]),
            box.crs.to_wkt(),
            src.transform,
            src.crs.to_wkt(),
            (src.height, src.width),
        )
    return coords is not None


@pytest.fixture(scope="module")
def native_raster(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, GeoBox]:
    """A textured float32 raster in UTM 52N with NaN holes, and a project grid (EPSG:6671,
    rotated about 1.8 degrees against it) that reaches past the raster's edges."""
    tmp: Path = tmp_path_factory.mktemp("warp")
    geobox = project_geobox(shapely.box(130.50, 33.90, 130.56, 33.95), resolution=10)
    native = project_geobox(
        shapely.box(130.504, 33.904, 130.556, 33.946), crs="EPSG:32652", resolution=10
    )
    rng = np.random.default_rng(7)
    field = rng.normal(0.0, 0.3, native.shape).astype("float32")
    field += np.linspace(-1, 1, native.shape[1], dtype="float32")
    field[rng.random(native.shape) < 0.02] = np.nan
    field[100:140, 200:260] = np.nan
    field[:, :3] = np.nan  # NaN along an edge
    src = write_raster(tmp / "m.tif", wrap_xr(field, native), geobox=native)
    return str(src), geobox


@pytest.mark.parametrize("chunk", [256, 300, 1000])
def test_fast_bilinear_equals_gdal(
    native_raster: tuple[str, GeoBox], chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, geobox = native_raster
    ny, nx = geobox.shape
    blocks = [
        (y0, min(y0 + chunk, ny), x0, min(x0 + chunk, nx))
        for y0 in range(0, ny, chunk)
        for x0 in range(0, nx, chunk)
    ]
    got = [read_back._warp_block(path, geobox, "bilinear", _info(*b)) for b in blocks]
    fast = sum(_fast(path, geobox[b[0] : b[1], b[2] : b[3]]) for b in blocks)
    monkeypatch.setattr(read_back, "row_coordinates", lambda *a, **k: None)  # GDAL only
    for b, mine in zip(blocks, got, strict=True):
        want = read_back._warp_block(path, geobox, "bilinear", _info(*b))
        np.testing.assert_array_equal(np.isnan(mine), np.isnan(want))
        np.testing.assert_allclose(mine, want, rtol=0, atol=1e-6)
    assert fast > 0  # the fast path ran (on blocks across the raster's edges too)


def test_thin_blocks_are_left_to_gdal(native_raster: tuple[str, GeoBox]) -> None:
    """GDAL widens its bilinear kernel when a block is much thinner than its source window
    (a strip of a rotated grid): such a block is not the fast path's."""
    path, geobox = native_raster
    assert not _fast(path, geobox[0:20, 0:400])
    assert _fast(path, geobox[0:400, 0:400])


@pytest.mark.parametrize("shift_m", [(0.0, 0.0), (-250.0, 120.0), (3.0, -4.0), (5.0, 5.0)])
def test_same_crs_equals_gdal(tmp_path: Path, shift_m: tuple[float, float]) -> None:
    """On the raster's own CRS: GDAL copies a shift by whole pixels by nearest neighbour (the
    fast path leaves it to GDAL) and interpolates any other shift as the fast path does."""
    from affine import Affine

    native = project_geobox(shapely.box(130.50, 33.90, 130.52, 33.92), resolution=10)
    rng = np.random.default_rng(3)
    field = rng.normal(0, 1, native.shape).astype("float32")
    field[rng.random(native.shape) < 0.05] = np.nan
    path = str(write_raster(tmp_path / "s.tif", wrap_xr(field, native), geobox=native))
    grid = GeoBox(native.shape, Affine.translation(*shift_m) * native.affine, native.crs)
    ny, nx = grid.shape
    got = read_back._warp_block(path, grid, "bilinear", _info(0, ny, 0, nx))
    saved = read_back.row_coordinates
    try:
        read_back.row_coordinates = lambda *a, **k: None
        want = read_back._warp_block(path, grid, "bilinear", _info(0, ny, 0, nx))
    finally:
        read_back.row_coordinates = saved
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    whole = shift_m[0] % 10 == 0 and shift_m[1] % 10 == 0
    assert _fast(path, grid) is not whole
