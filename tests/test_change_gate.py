"""The change product is a change of land cover, not of vigour (issue 13): a loss counts only
where the land is no longer vegetated afterwards; numpy and dask agree."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from yamasat.processing.change_map import change_product, period_index


def _da(a: np.ndarray, backend: str) -> xr.DataArray:
    da = xr.DataArray(a, dims=("y", "x"))
    return da.chunk({"y": 8, "x": 8}) if backend == "dask" else da


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_ripening_rice_is_not_change_and_a_new_site_is(backend: str) -> None:
    before = np.full((20, 20), 0.8, dtype="float32")
    after = before.copy()
    after[2:8, 2:8] = 0.15  # a solar farm on a paddy: ΔNDVI −0.65, bare afterwards
    after[10:18, 10:18] = 0.5  # rice ripening: ΔNDVI −0.3, still vegetated
    after[0, 19] = np.nan  # not observed after
    measure = _da(after - before, backend)
    ndvi_after = _da(after, backend)
    common = {"threshold": -0.2, "direction": "decrease", "min_mapping_unit_px": 4}
    plain = change_product(measure, measure.notnull(), **common).values  # type: ignore[arg-type]
    gated = change_product(
        measure,
        measure.notnull(),
        gate=ndvi_after < 0.45,
        **common,  # type: ignore[arg-type]
    ).values
    assert plain[12, 12] == 1 and gated[12, 12] == 0
    assert plain[4, 4] == 1 and gated[4, 4] == 1
    assert gated[0, 19] == 255 and int((gated == 1).sum()) == 36


def test_period_index_is_the_index_of_the_median_composite() -> None:
    red = xr.DataArray(
        np.array([[[0.05]], [[0.5]], [[0.04]]], dtype="float32"), dims=("time", "y", "x")
    )
    nir = xr.DataArray(
        np.array([[[0.4]], [[0.5]], [[np.nan]]], dtype="float32"), dims=("time", "y", "x")
    )
    got = float(period_index(xr.Dataset({"red": red, "nir": nir}), "ndvi").values[0, 0])
    assert got == pytest.approx((0.45 - 0.05) / (0.45 + 0.05))
