"""Flood logic on planted rasters: the reference-water rule removes irrigated-paddy false alarms."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from yamasat.processing.flood import (
    SarFloodParams,
    SarThresholds,
    bimodal_threshold,
    optical_flood,
    sar_flood,
)


def _da(arr: np.ndarray, backend: str) -> xr.DataArray:
    data = da.from_array(arr, chunks=(32, 32)) if backend == "dask" else arr
    return xr.DataArray(data, dims=("y", "x"))


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_reference_water_removes_paddy_false_alarms(backend: str) -> None:
    rng = np.random.default_rng(5)
    shape = (100, 100)
    reference = rng.normal(-0.4, 0.05, shape).astype("float32")  # dry land
    after = reference.copy()
    paddies = np.zeros(shape, bool)
    paddies[10:40, 10:90] = True  # irrigated in this season: water in both images
    flood = np.zeros(shape, bool)
    flood[60:80, 20:60] = True  # new water only after the event
    reference[paddies] = 0.2
    after[paddies] = 0.25
    after[flood] = 0.3
    after[0:5] = np.nan  # clouds after the event
    out = optical_flood(_da(after, backend), _da(reference, backend), threshold=0.0)
    naive = out["water_after"].values
    result = out["flood"].values
    assert naive[paddies].mean() > 0.99  # the naive method flags every irrigated paddy
    assert result[paddies].sum() == 0  # the reference-water rule removes them all
    assert result[flood].mean() > 0.99 and result[~flood].sum() == 0
    assert not out["valid"].values[0:5].any()


def test_dry_after_is_valid_without_reference() -> None:
    after = np.array([[-0.5, 0.4]], "float32")
    ref = np.array([[np.nan, np.nan]], "float32")
    out = optical_flood(xr.DataArray(after), xr.DataArray(ref))
    assert out["valid"].values.tolist() == [[True, False]]


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_sar_vote_and_exclusions(backend: str) -> None:
    rng = np.random.default_rng(9)
    shape = (80, 80)
    pre_vv = rng.normal(-9, 0.8, shape).astype("float32")
    pre_vh = pre_vv - 7
    post_vv, post_vh = pre_vv.copy(), pre_vh.copy()
    flood = np.zeros(shape, bool)
    flood[20:50, 20:50] = True
    post_vv[flood] = -21
    post_vh[flood] = -28
    lake = np.zeros(shape, bool)
    lake[60:75, 5:20] = True
    for arr, v in ((pre_vv, -23), (post_vv, -23), (pre_vh, -29), (post_vh, -29)):
        arr[lake] = v
    slope = np.zeros(shape, "float32")
    slope[20:30, 20:50] = 20  # too steep to hold water
    layers = sar_flood(
        _da(pre_vv, backend),
        _da(pre_vh, backend),
        _da(post_vv, backend),
        _da(post_vh, backend),
        thresholds=SarThresholds(-18, -24, False, False),
        params=SarFloodParams(),
        slope=_da(slope, backend),
    )
    f = layers["flood"].values
    lik = layers["likelihood"].values
    assert f[30:50, 20:50].all() and not f[20:30, 20:50].any()
    assert not f[lake].any() and layers["reference_water"].values[lake].all()
    assert (lik[30:50, 20:50] == 100).all() and (lik[lake] == 0).all()
    assert not f[~flood].any()


def test_bimodal_threshold_and_fallback() -> None:
    rng = np.random.default_rng(2)
    bimodal = np.concatenate([rng.normal(-22, 1, 30000), rng.normal(-8, 2, 70000)]).reshape(
        100, 1000
    )
    t, used = bimodal_threshold(xr.DataArray(bimodal.astype("float32")), fallback=-18)
    assert used and -20 < t < -12
    unimodal = rng.normal(-8, 2, (100, 1000)).astype("float32")
    t, used = bimodal_threshold(xr.DataArray(unimodal), fallback=-18)
    assert not used and t == -18
