"""The S1 flood does not depend on dask chunking; the Lee filter removes the speckle the ENL says.

A synthetic scene with planted water (permanent and new) and gamma speckle goes through the
S1 flood chain (Lee filter, dB, Otsu water thresholds, three-detector vote, minimum mapping
unit) on numpy and on dask with small and large chunks.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from yamasat.errors import YamasatError
from yamasat.processing.flood import SarFloodParams, SarThresholds, bimodal_threshold, sar_flood
from yamasat.processing.objects import minimum_mapping_unit
from yamasat.processing.sar import lee_filter, to_db

ENL = 4.4
SHAPE = (384, 416)  # not a multiple of the small chunk: ragged edge blocks too


def _speckled(clean: np.ndarray, rng: np.random.Generator, enl: float = ENL) -> np.ndarray:
    return (clean * rng.gamma(enl, 1.0 / enl, clean.shape)).astype("float32")


def _scene() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Linear γ⁰ for pre/post VV/VH, and the planted flood."""
    rng = np.random.default_rng(13)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    land_vv = 10 ** ((-9.0 + 1.5 * np.sin(xx / 23.0) * np.cos(yy / 31.0)) / 10)
    land_vh = land_vv * 10 ** (-0.7)
    river = np.abs(yy - 60 - 0.2 * xx) < 6  # water before and after
    flood = ((yy - 230) ** 2 / 70**2 + (xx - 200) ** 2 / 110**2) < 1  # new water
    flood |= (yy > 40) & (yy < 52) & (xx > 300) & (xx < 330)  # a small local flood
    flood &= ~river
    pre_vv, pre_vh = land_vv.copy(), land_vh.copy()
    pre_vv[river], pre_vh[river] = 10**-2.2, 10**-2.8
    post_vv, post_vh = pre_vv.copy(), pre_vh.copy()
    post_vv[flood], post_vh[flood] = 10**-2.1, 10**-2.7
    images = {
        "pre_vv": _speckled(pre_vv, rng),
        "pre_vh": _speckled(pre_vh, rng),
        "post_vv": _speckled(post_vv, rng),
        "post_vh": _speckled(post_vh, rng),
    }
    images["post_vv"][300:310, 0:40] = np.nan  # not observed
    return images, flood


def _flood_chain(images: dict[str, np.ndarray], chunk: int | None) -> dict[str, np.ndarray]:
    params = SarFloodParams()
    db = {}
    for name, arr in images.items():
        a = xr.DataArray(arr, dims=("y", "x"))
        if chunk is not None:
            a = a.chunk(chunk)
        db[name] = to_db(lee_filter(a, size=params.speckle_window, enl=params.speckle_enl))
    vv_t, vv_otsu = bimodal_threshold(db["post_vv"], fallback=params.vv_water_fallback_db)
    vh_t, vh_otsu = bimodal_threshold(db["post_vh"], fallback=params.vh_water_fallback_db)
    layers = sar_flood(
        db["pre_vv"], db["pre_vh"], db["post_vv"], db["post_vh"],
        thresholds=SarThresholds(vv_t, vh_t, vv_otsu, vh_otsu), params=params,
    )  # fmt: skip
    flood = minimum_mapping_unit(layers["flood"], params.min_mapping_unit_px)
    return {
        "flood": np.asarray(flood.values),
        "likelihood": np.asarray(layers["likelihood"].values),
        "thresholds": np.array([vv_t, vh_t, float(vv_otsu), float(vh_otsu)]),
    }


def test_s1_flood_is_independent_of_chunking() -> None:
    images, truth = _scene()
    results = {c: _flood_chain(images, c) for c in (None, 96, 2048)}
    ref = results[None]
    # the chain works on this scene: Otsu found both water thresholds, the flood is found
    assert ref["thresholds"][2:].tolist() == [1.0, 1.0]
    hit = (ref["flood"] & truth).sum()
    csi = hit / (ref["flood"] | truth).sum()
    assert csi > 0.95, csi
    for chunk in (96, 2048):
        got = results[chunk]
        np.testing.assert_array_equal(got["thresholds"], ref["thresholds"])
        np.testing.assert_array_equal(got["flood"], ref["flood"])
        step = np.abs(got["likelihood"].astype(int) - ref["likelihood"].astype(int))
        assert step.max() <= 33, (chunk, step.max())


@pytest.mark.parametrize("chunk", [17, 64, 100])
def test_lee_filter_numpy_equals_dask(chunk: int) -> None:
    rng = np.random.default_rng(chunk)
    clean = 10 ** (rng.uniform(-2.5, -0.5, (150, 130)) / 1)
    img = _speckled(clean, rng)
    img[40:60, 20:90] = np.nan
    img[0, :] = np.nan
    a = xr.DataArray(img, dims=("y", "x"))
    for size in (3, 7):
        expect = lee_filter(a, size=size).values
        got = lee_filter(a.chunk(chunk), size=size).values
        np.testing.assert_array_equal(got, expect)
        assert np.isnan(got[45, 50]) and np.isfinite(got[100, 100])


@pytest.mark.parametrize("enl", [3.0, 4.4, 10.0])
def test_lee_filter_removes_the_speckle_the_enl_predicts(enl: float) -> None:
    """On a homogeneous area a w×w boxcar raises the ENL to w²·ENL; the Lee filter keeps a
    fraction k of each pixel's deviation where the window's variation exceeds the speckle's,
    so it reaches less, but (with the true ENL) more than half of it. Without the right noise
    level (ENL far too high: no speckle expected) it does not smooth at all."""
    rng = np.random.default_rng(int(enl * 10))
    img = _speckled(np.full((300, 300), 0.05), rng, enl)
    a = xr.DataArray(img, dims=("y", "x"))
    size = 5
    inner = (slice(size, -size), slice(size, -size))

    def out_enl(filtered: np.ndarray) -> float:
        f = filtered[inner]
        return float(f.mean() ** 2 / f.var())

    assert out_enl(img) == pytest.approx(enl, rel=0.05)
    filtered = lee_filter(a, size=size, enl=enl).values
    assert out_enl(filtered) >= 0.5 * size * size * enl
    assert out_enl(filtered) <= 1.05 * size * size * enl
    assert filtered[inner].mean() == pytest.approx(img[inner].mean(), rel=0.01)  # unbiased
    unfiltered = lee_filter(a, size=size, enl=1e6).values
    assert out_enl(unfiltered) < 1.5 * enl


def test_lee_filter_keeps_edges() -> None:
    """A step between water and land stays sharp: pixels two away from it keep their side."""
    rng = np.random.default_rng(3)
    clean = np.full((200, 200), 0.1)
    clean[:, 100:] = 0.004  # water, −24 dB
    out = lee_filter(xr.DataArray(_speckled(clean, rng), dims=("y", "x"))).values
    assert np.median(out[:, 98]) > 5 * np.median(out[:, 102])


def test_lee_filter_refuses_even_window_and_bad_enl() -> None:
    a = xr.DataArray(np.ones((10, 10), "float32"), dims=("y", "x"))
    with pytest.raises(YamasatError, match="odd"):
        lee_filter(a, size=4)
    with pytest.raises(YamasatError, match="positive"):
        lee_filter(a, enl=0)
