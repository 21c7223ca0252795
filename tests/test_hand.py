"""HAND (height above the nearest drainage) and its exclusion from the SAR flood."""

from __future__ import annotations

import numpy as np
import xarray as xr

from yamasat.processing.flood import SarFloodParams, SarThresholds, sar_flood
from yamasat.processing.terrain import hand_m


def _valley() -> np.ndarray:
    """A V valley along column 100, falling 0.2 m per row to the south, 3 m per column across."""
    yy, xx = np.mgrid[:200, :200]
    return (50 + 0.3 * np.abs(xx - 100) + 0.02 * (200 - yy)).astype("float32")


def test_hand_is_the_drop_to_the_valley_stream() -> None:
    dem = _valley()
    dem[0:5, 0:5] = np.nan  # no data stays no data
    hand = hand_m(xr.DataArray(dem, dims=("y", "x")), resolution=10.0, drain_area_km2=0.5).values
    assert hand[100, 100] == 0.0  # on the stream
    np.testing.assert_allclose(hand[100, [110, 150]], [3.2, 16.0], atol=0.5)
    assert np.isnan(hand[0:5, 0:5]).all()


def test_sar_flood_excludes_high_hand() -> None:
    shape = (20, 20)
    dark = xr.DataArray(np.full(shape, -22.0, "float32"), dims=("y", "x"))
    bright = xr.DataArray(np.full(shape, -8.0, "float32"), dims=("y", "x"))
    hand = xr.DataArray(
        np.where(np.arange(20) < 10, 2.0, 30.0)[None, :].repeat(20, 0), dims=("y", "x")
    )
    layers = sar_flood(
        bright, bright - 7, dark, dark - 7,
        thresholds=SarThresholds(-15.0, -22.0, True, True), params=SarFloodParams(), hand=hand,
    )  # fmt: skip
    flood = layers["flood"].values
    assert flood[:, :10].all() and not flood[:, 10:].any()
    assert (layers["likelihood"].values[:, 10:] == 0).all()
