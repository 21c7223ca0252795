"""The S2 flood's water edges at 10 m, its reference water that a flood rises above, its
minimum mapping unit that clouds do not cut, and their independence from dask chunks.

A scene of mixed pixels: MNDWI from a SWIR band blurred as a 20 m band resampled to 10 m is,
NIR and NDWI at 10 m are sharp; a river (water before and after), a flood over dry land and
over a paddy with a little standing water before, and a cloud over part of the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import ndimage

from yamasat.processing.flood import (
    minimum_mapping_unit_observed,
    optical_flood,
    rise_threshold,
    water_edges_at_10m,
)

SHAPE = (150, 170)
VEG = {"green": 0.07, "nir": 0.42, "swir16": 0.20}
PADDY = {"green": 0.065, "nir": 0.12, "swir16": 0.04}  # rice in standing water: MNDWI 0.24
WATER = {"green": 0.06, "nir": 0.015, "swir16": 0.005}
TURBID = {"green": 0.09, "nir": 0.04, "swir16": 0.012}


def _scene() -> tuple[dict[str, dict[str, np.ndarray]], np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    river = np.abs(yy - 20 - 0.1 * xx) < 2.0
    flood = ((yy - 90) ** 2 / 35**2 + (xx - 80) ** 2 / 60**2) < 1
    paddy = (xx > 100) & (yy > 60)
    flood &= ~river
    scenes = {}
    for when in ("ref", "after"):
        bands = {}
        for band in ("green", "nir", "swir16"):
            img = np.where(paddy, PADDY[band], VEG[band]).astype("float64")
            img[river] = WATER[band]
            if when == "after":
                img[flood] = TURBID[band]
            if band == "swir16":  # a 20 m band on the 10 m grid: 2 × 2 means, then smoothed
                coarse = img.reshape(SHAPE[0] // 2, 2, SHAPE[1] // 2, 2).mean(axis=(1, 3))
                img = ndimage.zoom(coarse, 2, order=1, mode="nearest")
            bands[band] = img.astype("float32")
        scenes[when] = bands
    scenes["ref"]["swir16"][100:130, 20:50] = np.nan  # a cloud over part of the reference
    for band in ("green", "nir"):
        scenes["ref"][band][100:130, 20:50] = np.nan
    return scenes, flood, river


def _index(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a - b) / (a + b)).astype("float32")


def _layers(chunk: int | None, ndwi_t: float = 0.0) -> dict[str, np.ndarray]:
    scenes, _, _ = _scene()

    def da(a: np.ndarray) -> xr.DataArray:
        x = xr.DataArray(a, dims=("y", "x"))
        return x.chunk(chunk) if chunk else x

    m = {w: da(_index(s["green"], s["swir16"])) for w, s in scenes.items()}
    n = {w: da(s["nir"]) for w, s in scenes.items()}
    w = {w: da(_index(s["green"], s["nir"])) for w, s in scenes.items()}
    edges = (n["after"], n["ref"], w["after"], w["ref"], ndwi_t)
    first = optical_flood(m["after"], m["ref"], threshold=0.2, nir=edges)
    rise = rise_threshold(m["after"], m["ref"], first["water_after"] & first["reference_water"])
    layers = optical_flood(m["after"], m["ref"], threshold=0.2, nir=edges, rise=rise)
    out = {k: np.asarray(v.values) for k, v in layers.items()}
    out["mmu"] = np.asarray(
        minimum_mapping_unit_observed(layers["flood"], layers["valid"], 10).values
    )
    out["rise"] = np.array(rise if rise is not None else np.nan)
    return out


def test_edges_rise_and_mmu_map_the_flood() -> None:
    _, flood, river = _scene()
    out = _layers(None)
    valid, found = out["valid"], out["mmu"]
    cloud = np.zeros(SHAPE, bool)
    cloud[100:130, 20:50] = True
    assert not valid[cloud & flood].any()  # water after without a reference: not observed
    tp = (found & flood & valid).sum()
    assert tp / (flood & valid).sum() >= 0.97  # edges at 10 m, flooded paddy kept
    assert tp / (found & valid).sum() >= 0.97
    assert not (found & river).any()  # the river is reference water, however blurred
    assert np.isfinite(out["rise"])  # the paddy under flood water rose above its reference


def test_a_low_ndwi_split_does_not_make_wet_paddy_open_water() -> None:
    """An NDWI split below 0 (Otsu on an image with little water falls among wet fields)
    does not turn the paddy's standing water into open water, which would keep its flood
    out (the rise rule, and a fused flood's exclusion of radar detections): the paddy's
    flood is found as with the split at 0; the river stays open water."""
    _, flood, river = _scene()
    low, at0 = _layers(None, ndwi_t=-0.35), _layers(None)  # the paddy's NDWI is -0.30
    paddy = np.zeros(SHAPE, bool)
    paddy[61:, 101:] = True
    assert not low["open_water"][paddy & ~river].any()
    assert low["open_water"][river].mean() > 0.5
    np.testing.assert_array_equal(low["mmu"], at0["mmu"])
    assert (low["mmu"] & flood & paddy).sum() >= 0.97 * (flood & paddy & low["valid"]).sum()


def test_water_edges_follow_the_10m_band() -> None:
    coarse = np.zeros((20, 20), bool)
    coarse[5:15, 5:13] = True  # the blurred map's water stops 2 px short on the right
    nir = np.full((20, 20), 0.3, "float32")
    nir[5:15, 5:15] = 0.02
    out = water_edges_at_10m(
        xr.DataArray(coarse, dims=("y", "x")),
        xr.DataArray(nir, dims=("y", "x")),
        xr.DataArray(np.zeros((20, 20), bool), dims=("y", "x")),
        edge_px=2,
    ).values
    expected = np.zeros((20, 20), bool)
    expected[5:15, 5:15] = True
    np.testing.assert_array_equal(out, expected)


def test_minimum_mapping_unit_keeps_what_a_cloud_cut() -> None:
    flag = np.zeros((12, 12), bool)
    flag[2:4, 2:4] = True  # 4 px in clear sky: noise
    flag[8:10, 5:7] = True  # 4 px against a cloud: the rest of it may lie beneath
    valid = np.ones((12, 12), bool)
    valid[8:12, 7:12] = False
    out = minimum_mapping_unit_observed(
        xr.DataArray(flag, dims=("y", "x")), xr.DataArray(valid, dims=("y", "x")), 10
    ).values
    assert not out[2:4, 2:4].any() and out[8:10, 5:7].all()


@pytest.mark.parametrize("chunk", [32, 64])
def test_optical_flood_is_independent_of_chunking(chunk: int) -> None:
    whole = _layers(None)
    parts = _layers(chunk)
    for key in ("flood", "valid", "reference_water", "water_after", "mmu"):
        np.testing.assert_array_equal(whole[key], parts[key], err_msg=key)
