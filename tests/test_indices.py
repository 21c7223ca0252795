"""Normalized differences stay within [−1, 1] on L2A reflectance that reads below 0."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from yamasat.processing.indices import ndvi


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_negative_reflectance_gives_bounded_index(backend: str) -> None:
    # dark water after the −0.1 L2A offset: both bands a hair below or above 0
    nir = xr.DataArray(
        np.array([[-0.0021, 0.0019, 0.30, -0.004]], dtype="float32"), dims=("y", "x")
    )
    red = xr.DataArray(
        np.array([[0.0020, -0.0020, 0.05, -0.002]], dtype="float32"), dims=("y", "x")
    )
    if backend == "dask":
        nir, red = nir.chunk({"x": 2}), red.chunk({"x": 2})
    out = ndvi(nir, red).values
    # a plain (a-b)/(a+b) gives -41 and 39 for the first two: such values dragged the
    # scene's Otsu threshold to -8e6 in the S2-tile benchmark
    assert out[0, 0] == pytest.approx(-1.0)
    assert out[0, 1] == pytest.approx(1.0)
    assert out[0, 2] == pytest.approx(0.25 / 0.35)
    assert np.isnan(out[0, 3])  # both at or below 0: no index
    assert np.nanmax(np.abs(out)) <= 1.0
