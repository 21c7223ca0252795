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


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_sar_flood_grows_into_roughened_water_not_wet_fields(backend: str) -> None:
    """Region growing: wind-roughened flood water next to the calm flood (backscatter fell
    and is dark, but not past the strict thresholds) joins it; a wet field that was already
    as dark before the event does not, nor roughened water out of the growth's reach."""
    shape = (80, 120)
    pre_vv = np.full(shape, -12.0, "float32")
    pre_vh = np.full(shape, -19.0, "float32")
    post_vv, post_vh = pre_vv.copy(), pre_vh.copy()
    calm = np.zeros(shape, bool)
    calm[20:60, 10:40] = True
    post_vv[calm], post_vh[calm] = -21.0, -28.0
    rough = np.zeros(shape, bool)
    rough[20:60, 40:55] = True  # roughened water touching the calm flood: VV fell 2.5 dB
    far = np.zeros(shape, bool)
    far[20:60, 100:115] = True  # the same, 45 px from the flood
    for m in (rough, far):
        post_vv[m], post_vh[m] = -14.5, -22.5
    wet = np.zeros(shape, bool)
    wet[5:20, 10:40] = True  # a wet field touching the flood, as dark before as after
    for arr, v in ((pre_vv, -16.0), (post_vv, -16.0), (pre_vh, -22.5), (post_vh, -22.5)):
        arr[wet] = v
    args = [_da(a, backend) for a in (pre_vv, pre_vh, post_vv, post_vh)]
    t = SarThresholds(-18, -24, False, False)
    grown = sar_flood(*args, thresholds=t, params=SarFloodParams())["flood"].values
    assert grown[calm].all() and grown[rough].all()
    assert not grown[wet].any() and not grown[far].any()
    assert not grown[~(calm | rough)].any()
    strict = sar_flood(*args, thresholds=t, params=SarFloodParams(grow_px=0))["flood"].values
    assert strict[calm].all() and not strict[~calm].any()


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
