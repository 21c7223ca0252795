"""Pure analytics on synthetic rasters with planted signals; numpy and dask give the same."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from yamasat.processing.change_map import change_vector_magnitude, difference
from yamasat.processing.composite import median_composite
from yamasat.processing.indices import index, mndwi, nbr, ndvi
from yamasat.processing.objects import minimum_mapping_unit
from yamasat.processing.threshold import apply_threshold, otsu_threshold
from yamasat.processing.zonal import zonal_class_counts

BACKENDS = ["numpy", "dask"]


def _da(arr: np.ndarray, backend: str, dims: tuple[str, ...] = ("y", "x")) -> xr.DataArray:
    data = (
        da.from_array(arr, chunks=tuple(max(1, s // 3) for s in arr.shape))
        if backend == "dask"
        else arr
    )
    return xr.DataArray(data, dims=dims)


@pytest.mark.parametrize("backend", BACKENDS)
def test_ndvi_values_and_zero_sum(backend: str) -> None:
    nir = _da(np.array([[0.4, 0.0], [0.3, np.nan]], "float32"), backend)
    red = _da(np.array([[0.1, 0.0], [0.3, 0.1]], "float32"), backend)
    out = ndvi(nir, red)
    assert out.dtype == np.float32
    v = out.values
    assert v[0, 0] == pytest.approx(0.6)
    assert np.isnan(v[0, 1]) and np.isnan(v[1, 1])  # 0/0 and NaN input give NaN
    assert v[1, 0] == 0


def test_uint16_does_not_wrap() -> None:
    a = xr.DataArray(np.array([[100]], "uint16"))
    b = xr.DataArray(np.array([[300]], "uint16"))
    assert float(ndvi(a, b).values[0, 0]) == pytest.approx(-0.5)


def test_index_dispatch() -> None:
    ds = xr.Dataset(
        {
            "green": (("y", "x"), np.full((2, 2), 0.3, "float32")),
            "swir16": (("y", "x"), np.full((2, 2), 0.1, "float32")),
            "nir": (("y", "x"), np.full((2, 2), 0.5, "float32")),
            "swir22": (("y", "x"), np.full((2, 2), 0.1, "float32")),
        }
    )
    np.testing.assert_allclose(index(ds, "mndwi").values, mndwi(ds.green, ds.swir16).values)
    np.testing.assert_allclose(index(ds, "nbr").values, nbr(ds.nir, ds.swir22).values)
    with pytest.raises(Exception, match="needs band"):
        index(ds, "ndvi")


@pytest.mark.parametrize("backend", BACKENDS)
def test_median_composite_ignores_clouds(backend: str) -> None:
    rng = np.random.default_rng(1)
    stack = np.full((5, 30, 30), 0.5, "float32") + rng.normal(0, 0.001, (5, 30, 30)).astype(
        "float32"
    )
    stack[0, :10] = 0.9  # a cloud is not NaN-masked on one date: median resists it
    stack[1:3, 10:20] = np.nan  # masked on two dates
    stack[:, 25:, 25:] = np.nan  # never observed
    arr = _da(stack, backend, ("time", "y", "x"))
    comp = median_composite(arr).values
    assert np.nanmax(np.abs(comp[:25, :25] - 0.5)) < 0.01
    assert np.isnan(comp[25:, 25:]).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_difference_and_cva(backend: str) -> None:
    before = xr.Dataset(
        {b: _da(np.full((8, 8), v, "float32"), backend) for b, v in (("red", 0.1), ("nir", 0.4))}
    )
    after = xr.Dataset(
        {b: _da(np.full((8, 8), v, "float32"), backend) for b, v in (("red", 0.13), ("nir", 0.0))}
    )
    assert float(difference(before.nir, after.nir).values[0, 0]) == pytest.approx(-0.4)
    assert float(
        change_vector_magnitude(before, after, ["red", "nir"]).values[0, 0]
    ) == pytest.approx(np.hypot(0.03, 0.4), rel=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_otsu_separates_planted_change(backend: str) -> None:
    rng = np.random.default_rng(7)
    d = rng.normal(0.0, 0.05, (200, 200)).astype("float32")
    d[50:90, 60:120] = rng.normal(-0.5, 0.05, (40, 60))
    d[0:5] = np.nan
    arr = _da(d, backend)
    t = otsu_threshold(arr)
    assert -0.4 < t < -0.1
    flagged = apply_threshold(arr, t, direction="decrease").values
    truth = np.zeros_like(flagged)
    truth[50:90, 60:120] = True
    assert (flagged == truth).mean() > 0.999
    assert not flagged[0:5].any()  # NaN never flagged
    both = apply_threshold(arr, -0.3, direction="both").values
    assert both[60, 70] and not both[150, 150]
    with pytest.raises(Exception, match="too few"):
        otsu_threshold(_da(np.full((5, 5), np.nan, "float32"), backend))


@pytest.mark.parametrize("backend", BACKENDS)
def test_mmu_removes_small_regions_exactly(backend: str) -> None:
    m = np.zeros((60, 60), bool)
    m[5:7, 5:7] = True  # 4 px: removed
    m[20:24, 18:40] = True  # 88 px crossing chunk edges: kept
    m[50, 50:59] = True  # 9 px: removed with mmu 10
    m[40:42, 10:15] = True  # 10 px: kept
    out = minimum_mapping_unit(_da(m, backend), 10).values
    assert not out[5:7, 5:7].any() and not out[50].any()
    assert out[20:24, 18:40].all() and out[40:42, 10:15].all()


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=2**31 - 1), st.integers(min_value=2, max_value=12))
def test_mmu_dask_equals_numpy(seed: int, min_pixels: int) -> None:
    rng = np.random.default_rng(seed)
    m = rng.random((48, 48)) > 0.7
    a = minimum_mapping_unit(_da(m, "numpy"), min_pixels).values
    b = minimum_mapping_unit(_da(m, "dask"), min_pixels).values
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zonal_counts(backend: str) -> None:
    zones = np.zeros((10, 10), "int32")
    zones[:, :5] = 1
    zones[:, 5:] = 2
    zones[0] = 0
    prod = np.zeros((10, 10), "uint8")
    prod[1:4, 0:2] = 1  # 6 detected in zone 1
    prod[5:, 5:] = 255  # 25 no-data in zone 2
    counts = zonal_class_counts(_da(zones, backend), _da(prod, backend), n_zones=2)
    assert counts.shape == (3, 3)
    assert counts[1].tolist() == [45 - 6, 6, 0]
    assert counts[2].tolist() == [45 - 25, 0, 25]
    assert counts[0].sum() == 10
