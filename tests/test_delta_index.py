"""The fused ΔINDEX kernel equals the reference chain bit for bit (numpy and dask)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest
import shapely
import xarray as xr

from yamasat.catalogs.extent.periods import Period
from yamasat.catalogs.sample import SampleManifest
from yamasat.catalogs.sources.profiles import scale_offset
from yamasat.catalogs.sources.search import resolve_source, search_items
from yamasat.errors import YamasatError
from yamasat.processing.change_map import ChangeParams, change_measure
from yamasat.processing.delta_index import delta_index_from_raw
from yamasat.processing.grid import project_geobox
from yamasat.processing.load import SCALE_ATTR, blank_block, load_s2, scale_block

SCALE, OFFSET, NODATA = 1e-4, -0.1, 0


def _raw_period(rng: np.random.Generator, n_time: int, shape: tuple[int, int]) -> xr.Dataset:
    """Stored numbers as load_s2(scaled=False) gives them, with every special case planted:
    nodata, flagged pixels, never-observed pixels and a zero sum (DN 1000 is reflectance 0)."""
    ny, nx = shape
    red = rng.integers(1001, 3000, (n_time, ny, nx), dtype=np.uint16)
    nir = rng.integers(1001, 6000, (n_time, ny, nx), dtype=np.uint16)
    red[:, :3, :5] = 1000
    nir[:, :3, :5] = 1000  # red + nir = 0 in reflectance: the index is NaN, not inf
    red[:, 10:14, 7] = NODATA
    nir[:, 20, 3:9] = NODATA
    mask = rng.random((n_time, ny, nx)) < 0.3
    mask[:, 30:33, 30:40] = True  # never observed
    dims = ("time", "y", "x")
    attrs = {"nodata": NODATA, SCALE_ATTR: (SCALE, OFFSET)}
    return xr.Dataset(
        {
            "red": xr.DataArray(red, dims=dims, attrs=dict(attrs)),
            "nir": xr.DataArray(nir, dims=dims, attrs=dict(attrs)),
            "mask": xr.DataArray(mask, dims=dims),
        }
    )


def _chunked(ds: xr.Dataset, chunk: int) -> xr.Dataset:
    return ds.map(
        lambda v: v.copy(data=da.from_array(v.values, chunks=(1, chunk, chunk))), keep_attrs=True
    )


@pytest.mark.parametrize("backend", ["numpy", "dask"])
@pytest.mark.parametrize(("t_before", "t_after"), [(1, 1), (3, 2), (4, 1)])
def test_fused_equals_reference_bit_for_bit(backend: str, t_before: int, t_after: int) -> None:
    rng = np.random.default_rng(t_before * 10 + t_after)
    shape = (150, 90)  # more rows than one strip, and not a multiple of it
    before, after = _raw_period(rng, t_before, shape), _raw_period(rng, t_after, shape)
    params = ChangeParams(index="ndvi")
    expected = change_measure(_reference_of(before), _reference_of(after), params)
    if backend == "dask":
        before, after = _chunked(before, 40), _chunked(after, 40)
    got = change_measure(before, after, params)
    if backend == "dask":
        assert isinstance(got.data, da.Array)
    want = expected.values
    have = got.values
    assert have.dtype == np.float32 and have.shape == shape
    # bit for bit, NaN in the same places
    np.testing.assert_array_equal(have.view(np.uint32), want.view(np.uint32))
    assert np.isnan(have[30:33, 30:40]).all() and not np.isinf(have).any()
    assert np.isfinite(have).mean() > 0.3


def _period(
    rng: np.random.Generator,
    n_time: int,
    dtype: str,
    nodata: tuple[float | int | None, float | int | None],
    scale: tuple[float, float],
) -> xr.Dataset:
    """Stored values of another kind: floats with NaN, integers with other nodata."""
    shape = (70, 50)
    ds = _raw_period(rng, n_time, shape)
    out = {}
    for band, nd in zip(("red", "nir"), nodata, strict=True):
        values = ds[band].values.astype(dtype)
        if np.dtype(dtype).kind == "f":
            values[rng.random(values.shape) < 0.05] = np.nan  # NaN besides any nodata
        if nd is not None and not np.isnan(nd):
            values[:, 5:9, 11] = nd
        out[band] = xr.DataArray(values, dims=ds[band].dims,
                                 attrs={"nodata": nd, SCALE_ATTR: scale})  # fmt: skip
    return xr.Dataset({**out, "mask": ds["mask"]})


def _reference_of(raw: xr.Dataset) -> xr.Dataset:
    out = {}
    for band in ("red", "nir"):
        scale, offset = raw[band].attrs[SCALE_ATTR]
        nodata = raw[band].attrs["nodata"]
        value = scale_block(raw[band].values, scale=scale, offset=offset, nodata=nodata)
        out[band] = xr.DataArray(blank_block(value, raw["mask"].values), dims=raw[band].dims)
    return xr.Dataset(out)


@pytest.mark.parametrize("backend", ["numpy", "dask"])
@pytest.mark.parametrize(
    ("dtype", "nodata", "scale"),
    [
        ("float32", (float("nan"), float("nan")), (1.0, 0.0)),  # mixed scalings: loaded scaled
        ("float32", (None, None), (1e-4, -0.1)),
        ("float32", (-9999.0, -9999.0), (1e-4, -0.1)),  # numeric nodata and NaN values
        ("float64", (float("nan"), float("nan")), (1e-4, 0.0)),
        ("int16", (-32768, -32768), (1e-4, -0.1)),
        ("uint16", (0, 65535), (2e-5, 0.0)),  # each band its own nodata
    ],
)
def test_fused_equals_reference_for_other_stored_types(
    backend: str, dtype: str, nodata: tuple[Any, Any], scale: tuple[float, float]
) -> None:
    rng = np.random.default_rng(7)
    before, after = _period(rng, 3, dtype, nodata, scale), _period(rng, 2, dtype, nodata, scale)
    params = ChangeParams(index="ndvi")
    expected = change_measure(_reference_of(before), _reference_of(after), params)
    if backend == "dask":
        before, after = _chunked(before, 32), _chunked(after, 32)
    got = change_measure(before, after, params)
    want, have = expected.values, got.values
    np.testing.assert_array_equal(have.view(np.uint32), want.view(np.uint32))
    assert np.isfinite(have).mean() > 0.2


def test_fused_kernel_names_what_is_missing() -> None:
    rng = np.random.default_rng(0)
    ds = _raw_period(rng, 1, (40, 45))
    with pytest.raises(YamasatError, match="unknown index 'ndxx'"):
        delta_index_from_raw(ds, ds, "ndxx")
    with pytest.raises(YamasatError, match="no cloud mask"):
        delta_index_from_raw(ds.drop_vars("mask"), ds, "ndvi")
    with pytest.raises(YamasatError, match="no band 'swir22'"):
        delta_index_from_raw(ds, ds, "nbr")
    with pytest.raises(YamasatError, match="change-vector magnitude needs scaled bands"):
        change_measure(ds, ds, ChangeParams(cva_bands=("red", "nir")))


@pytest.mark.slow
@pytest.mark.parametrize("chunk", [2048, 96])
def test_sample_loaded_unscaled_gives_the_same_measure(sample_root: Path, chunk: int) -> None:
    """Real sample COGs through odc-stac: the unscaled load and the fused kernel give the
    reference chain's ΔNDVI exactly, on the tiles' own grid and across 132°E."""
    manifest = SampleManifest.read(sample_root)
    source = resolve_source(str(sample_root / "catalog.json"), profile="sample")
    window = shapely.box(131.975, 33.90, 132.025, 33.93)
    days = [d for d in manifest.s2_dates if d != manifest.cloudy_date][:3]
    periods = [Period(days[0], days[0]), Period(days[1], days[2])]  # 1 and 2 observations
    items = [search_items(source, family="s2", aoi=window, period=p) for p in periods]
    geobox = project_geobox(window, crs="EPSG:6671", resolution=10)
    kw = {
        "assets": {b: b for b in ("red", "nir", "scl")},
        "geobox": geobox,
        "scale_fn": scale_offset,
        "bands": ("red", "nir"),
        "chunk": chunk,
    }
    params = ChangeParams(index="ndvi")
    ref = change_measure(*(load_s2(it, **kw) for it in items), params).values
    raw_sets = [load_s2(it, **kw, scaled=False) for it in items]
    assert raw_sets[0]["red"].dtype == np.uint16 and SCALE_ATTR in raw_sets[0]["red"].attrs
    fused = change_measure(*raw_sets, params).values
    np.testing.assert_array_equal(fused.view(np.uint32), ref.view(np.uint32))
    assert np.isfinite(fused).mean() > 0.5


@pytest.mark.parametrize(
    "scales",
    [
        ((1e-4, -0.1),) * 4,
        ((2e-5, 0.0), (1e-4, -0.1), (3.3e-4, -0.05), (1e-4, 0.0)),
        ((1.0, 0.0), (-1e-4, 0.0), (1e-4, -0.1), (-2e-4, -0.0)),  # negative zeros too
    ],
)
def test_one_observation_kernel_equals_the_strips(
    scales: tuple[tuple[float, float], ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled one-observation loop is what a tile pair takes; it gives the numpy
    strips' bits (nodata, flags, zero sums, NaN in the same places)."""
    from yamasat.processing import delta_index

    rng = np.random.default_rng(11)
    shape = (130, 70, 1)
    planes: list[np.ndarray] = []
    for _ in range(2):
        first = rng.integers(0, 12000, shape).astype(np.uint16)
        second = rng.integers(0, 12000, shape).astype(np.uint16)
        first[:4], second[:4] = 1000, 1000  # a zero sum at offset -0.1
        first[4:6], second[6:8] = 0, 65535
        planes += [first, second, rng.random(shape) < 0.2]
    nodata = (0, 65535, 0.0, None)
    kw = {"scales": scales, "nodata": nodata}
    one = delta_index._delta_one(tuple(planes), scales, nodata)
    assert one is not None  # the compiled loop applies
    monkeypatch.setattr(delta_index, "_delta_one", lambda *_: None)
    strips = delta_index._delta_kernel(*planes, **kw)
    np.testing.assert_array_equal(one.view(np.uint32), strips.view(np.uint32))
    assert 0.2 < np.isnan(strips).mean() < 0.9
