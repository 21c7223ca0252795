from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from yamasat.processing.masks import dilate_mask, scl_mask


def _scl(backend: str) -> xr.DataArray:
    data = np.full((2, 40, 50), 4, dtype="uint8")
    data[0, 10:14, 10:14] = 9  # cloud
    data[0, 30, 40] = 3  # shadow pixel
    data[1, :, :5] = 0  # no data at the swath edge
    data[1, 20, 20] = 11  # snow: not flagged by default
    arr = da.from_array(data, chunks=(1, 16, 16)) if backend == "dask" else data
    return xr.DataArray(arr, dims=("time", "y", "x"))


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_scl_mask_flags_and_dilates(backend: str) -> None:
    m = scl_mask(_scl(backend), dilation_px=2)
    out = m.values
    assert out.dtype == bool
    assert out[0, 10:14, 10:14].all()
    assert out[0, 8, 12] and out[0, 12, 8]  # grown by 2 px
    assert not out[0, 7, 12]  # ...and no further
    assert out[0, 30, 38] and not out[0, 30, 37]
    assert out[1, :, :5].all() and not out[1, :, 6].any()  # nodata flagged, not dilated
    assert not out[1, 20, 20]
    assert out[0].sum() > 16


def test_dask_equals_numpy() -> None:
    a = scl_mask(_scl("numpy"), dilation_px=3).values
    b = scl_mask(_scl("dask"), dilation_px=3).values
    np.testing.assert_array_equal(a, b)


def test_configurable_classes_and_no_dilation() -> None:
    m = scl_mask(_scl("numpy"), classes=(0, 11), dilation_px=0).values
    assert m[1, 20, 20] and not m[0, 11, 11]


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_dilate_zero_is_identity(backend: str) -> None:
    base = _scl(backend) == 9
    assert dilate_mask(base, 0) is base


@pytest.mark.parametrize("backend", ["numpy", "dask"])
@pytest.mark.parametrize(("k", "pixels"), [(2, 0), (2, 1), (2, 3), (3, 2), (4, 5)])
@pytest.mark.parametrize("dtype", ["uint8", "int16"])
def test_upsampled_mask_dilated_on_the_coarse_grid_equals_the_fine_one(
    backend: str, k: int, pixels: int, dtype: str
) -> None:
    # the dilation runs on the SCL's own grid but counts fine pixels: the same pixels as
    # repeating the flags k × k and dilating on the fine grid (a cloud buffer never shrinks)
    rng = np.random.default_rng(k * 10 + pixels)
    classes = np.array([0, 4, 4, 4, 4, 4, 4, 4, 9, 3, 11], dtype=dtype)
    raw = rng.choice(classes, size=(2, 37, 29))
    scl = xr.DataArray(
        da.from_array(raw, chunks=(1, 10, 7)) if backend == "dask" else raw, dims=("time", "y", "x")
    )
    fine = xr.DataArray(raw.repeat(k, axis=1).repeat(k, axis=2), dims=("time", "y", "x"))
    expected = scl_mask(fine, dilation_px=pixels).values
    got = scl_mask(scl, dilation_px=pixels, upsample=k)
    np.testing.assert_array_equal(got.values, expected)


def test_lut_take_equals_numpy_take() -> None:
    from yamasat.processing.masks import _lut_take

    rng = np.random.default_rng(2)
    lut = np.zeros(256, dtype=np.uint8)
    lut[[3, 8, 9, 10]] = 1
    lut[0] = 2
    a = rng.integers(0, 256, (2, 33, 47)).astype(np.uint8)
    np.testing.assert_array_equal(_lut_take(a, lut), lut.take(a))
    strided = a[:, ::2, ::3]  # not contiguous: numpy's take
    np.testing.assert_array_equal(_lut_take(strided, lut), lut.take(strided))
