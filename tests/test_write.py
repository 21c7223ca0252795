"""COG writing: streamed, validated, checksummed, atomic, never overwriting by accident."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import rasterio
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import wrap_xr

from yamasat.errors import OutputExistsError
from yamasat.processing.write import CogSpec, float_spec, scaled_spec, sha256_file, write_cogs

GEOBOX = GeoBox.from_bbox((400000, 3750000, 412000, 3760000), crs="EPSG:6671", resolution=10)
SHAPE = tuple(GEOBOX.shape)


def _arr(data: np.ndarray | da.Array) -> xr.DataArray:
    return wrap_xr(data, GEOBOX)


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_write_two_cogs_in_one_pass(tmp_path: Path, backend: str) -> None:
    ny, nx = SHAPE
    rng = np.random.default_rng(3)
    values = rng.normal(0, 0.2, (ny, nx)).astype("float32")
    values[:50, :50] = np.nan
    src = da.from_array(values, chunks=(256, 256)) if backend == "dask" else values
    cont = _arr(src)
    cls = xr.where(cont < -0.2, 1, 0).astype("uint8")
    out = write_cogs(
        {
            tmp_path / "a" / "d.tif": (
                cont,
                CogSpec(nodata=float("nan"), dtype="float32", resampling="average"),
            ),
            tmp_path / "a" / "c.tif": (cls, CogSpec(nodata=255, dtype="uint8")),
        },
        geobox=GEOBOX,
    )
    assert set(out) == {tmp_path / "a" / "d.tif", tmp_path / "a" / "c.tif"}
    for path, wf in out.items():
        assert wf.sha256 == sha256_file(path) and wf.size == path.stat().st_size
        assert wf.multihash.startswith("1220")
        with rasterio.open(path) as r:
            assert r.crs.to_epsg() == 6671
            assert r.block_shapes[0] == (512, 512)
            assert r.compression.name == "DEFLATE" or r.compression.value == "DEFLATE"
            assert r.overviews(1)
            back = r.read(1)
        if path.name == "d.tif":
            np.testing.assert_array_equal(np.isnan(back), np.isnan(values))
            np.testing.assert_allclose(back[~np.isnan(back)], values[~np.isnan(values)])
    assert not list((tmp_path / "a").glob(".*"))  # no temporaries left


def test_rewrite_is_byte_identical_and_guarded(tmp_path: Path) -> None:
    arr = _arr(
        da.from_array(
            np.arange(SHAPE[0] * SHAPE[1], dtype="float32").reshape(SHAPE) % 7,
            chunks=300,
        )
    )
    spec = CogSpec(nodata=None, dtype="float32")
    first = write_cogs({tmp_path / "x.tif": (arr, spec)}, geobox=GEOBOX)[tmp_path / "x.tif"]
    with pytest.raises(OutputExistsError, match="--force"):
        write_cogs({tmp_path / "x.tif": (arr, spec)}, geobox=GEOBOX)
    second = write_cogs({tmp_path / "x.tif": (arr, spec)}, geobox=GEOBOX, overwrite=True)[
        tmp_path / "x.tif"
    ]
    assert first.sha256 == second.sha256


def test_failure_leaves_nothing(tmp_path: Path) -> None:
    def boom(block: np.ndarray) -> np.ndarray:
        if block.shape and block.sum() >= 0:
            raise OSError("simulated read failure")
        return block

    bad = _arr(da.map_blocks(boom, da.zeros(SHAPE, chunks=256, dtype="float32"), dtype="float32"))
    with pytest.raises(OSError, match="simulated"):
        write_cogs(
            {tmp_path / "y.tif": (bad, CogSpec(nodata=None, dtype="float32"))}, geobox=GEOBOX
        )
    assert list(tmp_path.iterdir()) == []


def test_kept_stream_has_the_cog_pixels(tmp_path: Path) -> None:
    values = np.random.default_rng(5).normal(0, 0.2, SHAPE).astype("float32")
    values[:30, :40] = np.nan
    spec = CogSpec(nodata=float("nan"), dtype="float32", resampling="average")
    arr = _arr(da.from_array(values, chunks=(256, 256)))
    kept = write_cogs({tmp_path / "k.tif": (arr, spec)}, geobox=GEOBOX, keep_streams=True)
    stream = kept[tmp_path / "k.tif"].stream
    assert stream is not None and stream.parent == tmp_path
    with rasterio.open(stream) as s, rasterio.open(tmp_path / "k.tif") as c:
        assert s.compression is None and c.transform == s.transform
        np.testing.assert_array_equal(s.read(1), c.read(1))
    plain = write_cogs({tmp_path / "p.tif": (arr, spec)}, geobox=GEOBOX)
    assert plain[tmp_path / "p.tif"].stream is None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["k.tif", "p.tif", stream.name])


def test_read_back_honours_strides(tmp_path: Path) -> None:
    """A strided slice of a read-back raster (the threshold's sample) is the strided pixels:
    dask fuses the slice into the window read, whose step was once dropped, so a "sample"
    of a Sentinel-2 tile came back as every pixel of it."""
    from yamasat.processing.read_back import open_raster
    from yamasat.processing.threshold import sample_valid

    values = np.arange(SHAPE[0] * SHAPE[1], dtype="float32").reshape(SHAPE)
    spec = CogSpec(nodata=float("nan"), dtype="float32", resampling="average")
    kept = write_cogs({tmp_path / "s.tif": (_arr(values), spec)}, geobox=GEOBOX, keep_streams=True)
    stream = kept[tmp_path / "s.tif"].stream
    assert stream is not None
    back = open_raster(str(stream), geobox=GEOBOX, chunk=256)
    for ys, xs in ((slice(None, None, 7), slice(None, None, 7)), (slice(5, 900, 3), slice(None)),
                   (slice(None, None, -2), slice(300, 10, -5))):  # fmt: skip
        np.testing.assert_array_equal(back[ys, xs].values, values[ys, xs])
    assert sample_valid(back, max_samples=10_000).size <= 11_000


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_float_cog_with_an_error_bound_is_lerc_within_it(tmp_path: Path, backend: str) -> None:
    rng = np.random.default_rng(11)
    values = rng.normal(0, 0.2, SHAPE).astype("float32")  # noise: DEFLATE cannot shrink it
    values[:40, :70] = np.nan
    src = da.from_array(values, chunks=(256, 256)) if backend == "dask" else values
    bound = 1e-4
    out = write_cogs(
        {
            tmp_path / "lerc.tif": (_arr(src), float_spec(bound)),
            tmp_path / "exact.tif": (_arr(src), float_spec(None)),
        },
        geobox=GEOBOX,
    )
    with rasterio.open(tmp_path / "lerc.tif") as r:
        assert r.compression is not None and r.compression.name.upper() == "LERC"
        assert r.overviews(1) and np.isnan(r.nodata)
        back = r.read(1)
    np.testing.assert_array_equal(np.isnan(back), np.isnan(values))
    err = np.abs(back - values)[~np.isnan(values)]
    assert err.max() <= bound + 1e-7  # the bound, up to float32 rounding of values near 1
    assert err.max() > bound / 10  # and really lossy: values were quantised
    with rasterio.open(tmp_path / "exact.tif") as r:
        assert r.compression.name.upper() == "DEFLATE"
        np.testing.assert_array_equal(r.read(1), values)
    sizes = {p.name: w.size for p, w in out.items()}
    assert sizes["lerc.tif"] < 0.6 * sizes["exact.tif"]
    again = write_cogs(
        {tmp_path / "again.tif": (_arr(src), float_spec(bound))}, geobox=GEOBOX
    )  # reproducible: the same checksum for the same pixels
    assert again[tmp_path / "again.tif"].sha256 == out[tmp_path / "lerc.tif"].sha256


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_scaled_int16_cog_within_half_a_step_and_an_exact_stream(
    tmp_path: Path, backend: str
) -> None:
    rng = np.random.default_rng(12)
    values = rng.uniform(-2, 2, SHAPE).astype("float32")  # ΔNDVI's whole range
    values[:40, :70] = np.nan
    values[50, 50], values[51, 51] = 5.0, -5.0  # out of range: clipped, not wrapped
    src = da.from_array(values, chunks=(256, 256)) if backend == "dask" else values
    path = tmp_path / "dndvi.tif"
    out = write_cogs({path: (_arr(src), scaled_spec(1e-4))}, geobox=GEOBOX, keep_streams=True)
    with rasterio.open(path) as r:
        assert r.dtypes[0] == "int16" and r.nodata == -32768 and r.overviews(1)
        assert r.compression is not None and r.compression.name.upper() == "ZSTD"
        assert r.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "2"
        assert r.scales == (1e-4,) and r.offsets == (0.0,)  # GDAL readers apply them
        stored = r.read(1)
        ovr = r.read(1, out_shape=(SHAPE[0] // 2, SHAPE[1] // 2))
    assert (stored[:40, :70] == -32768).all() and (ovr[:20, :35] == -32768).all()
    assert stored[50, 50] == 32767 and stored[51, 51] == -32767
    back = np.where(stored == -32768, np.nan, stored * 1e-4)
    np.testing.assert_array_equal(np.isnan(back), np.isnan(values))
    inside = np.isfinite(values) & (np.abs(values) <= 2)
    assert np.abs(back - values)[inside].max() <= 5e-5 + 2e-7  # half a step, float32 rounding
    # the kept stream holds the exact float32 values, for a read-back that needs them
    stream = out[path].stream
    assert stream is not None and stream.name.startswith(".dndvi.tif.exact")
    with rasterio.open(stream) as r:
        np.testing.assert_array_equal(r.read(1), values)
    stream.unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dndvi.tif"]  # no int16 stream left


def test_class_counts_of_a_product_read_by_blocks(tmp_path: Path) -> None:
    from yamasat.processing.zonal import class_counts

    ny, nx = SHAPE
    product = np.zeros((ny, nx), dtype="uint8")
    product[:10, :] = 1
    product[-3:, :7] = 255
    path = tmp_path / "p.tif"
    write_cogs({path: (_arr(product), CogSpec(nodata=255, dtype="uint8"))}, geobox=GEOBOX)
    expected = (int((product == 0).sum()), 10 * nx, 21)
    assert class_counts(path) == expected
    assert class_counts(path, block=300) == expected  # blocks that do not divide the grid


def test_csv_has_a_bom_and_only_the_given_columns(tmp_path: Path) -> None:
    from yamasat.processing.write import write_csv

    path = tmp_path / "t.csv"
    wf = write_csv([{"code": "35201", "name_ja": "下関市", "extra": 1}], path, ("code", "name_ja"))
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert path.read_text(encoding="utf-8-sig").splitlines() == ["code,name_ja", "35201,下関市"]
    assert wf.sha256 == sha256_file(path) and wf.size == path.stat().st_size


def test_geoparquet_keeps_its_crs_or_is_refused(tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    from yamasat.errors import WriteError
    from yamasat.processing.write import write_parquet

    frame = gpd.GeoDataFrame({"id": [1]}, geometry=[shapely.box(0, 0, 10, 10)], crs="EPSG:6671")
    wf = write_parquet(frame, tmp_path / "p.parquet")
    assert gpd.read_parquet(wf.path).crs.to_epsg() == 6671
    with pytest.raises(WriteError, match="lost its CRS"):
        write_parquet(frame.set_crs(None, allow_override=True), tmp_path / "q.parquet")
    assert not (tmp_path / "q.parquet").exists()


@pytest.mark.parametrize("tile_px", [256, 700, 5000])
def test_tiles_of_chunks_write_the_same_pixels_and_share_inputs(
    tmp_path: Path, tile_px: int
) -> None:
    """Whatever the tile of chunks computed at once (``tile_px``), each chunk lands in its own
    window (ragged last chunks, a halo across tiles), and an input two outputs share is
    computed once per chunk."""
    calls: list[int] = []

    def shared(block: np.ndarray) -> np.ndarray:
        if block.size:  # not dask's call on an empty block for the output's type
            calls.append(1)
        return block * 2

    values = np.random.default_rng(9).normal(0, 1, SHAPE).astype("float32")
    base = da.from_array(values, chunks=(300, 250)).map_blocks(shared, dtype="float32")
    smooth = base.map_overlap(lambda b: (b + np.roll(b, 1, axis=0)) / 2, depth=1, boundary=0)
    out = write_cogs(
        {
            tmp_path / "b.tif": (_arr(base), CogSpec(nodata=None, dtype="float32")),
            tmp_path / "c.tif": (
                _arr(base > 0).astype("uint8"),
                CogSpec(nodata=255, dtype="uint8"),
            ),
        },
        geobox=GEOBOX,
        tile_px=tile_px,
    )
    assert len(calls) == base.npartitions
    with rasterio.open(tmp_path / "b.tif") as b, rasterio.open(tmp_path / "c.tif") as c:
        np.testing.assert_array_equal(b.read(1), values * 2)
        np.testing.assert_array_equal(c.read(1), (values * 2 > 0).astype("uint8"))
    assert set(out) == {tmp_path / "b.tif", tmp_path / "c.tif"}
    halo = write_cogs(
        {tmp_path / "h.tif": (_arr(smooth), CogSpec(nodata=None, dtype="float32"))},
        geobox=GEOBOX,
        tile_px=tile_px,
    )
    with rasterio.open(halo[tmp_path / "h.tif"].path) as h:
        np.testing.assert_allclose(h.read(1), smooth.compute(), rtol=0, atol=0)
