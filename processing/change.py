"""Change measures between a before and an after composite."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

__all__ = ["change_vector_magnitude", "difference"]


def difference(before: xr.DataArray, after: xr.DataArray, *, name: str = "delta") -> xr.DataArray:
    """``after − before`` in float32 (for NDVI this is ΔNDVI; a loss of vegetation is < 0)."""
    out = (after.astype("float32") - before.astype("float32")).astype("float32")
    out.name = name
    out.attrs = {"units": "1", "nodata": np.nan}
    return out


def change_vector_magnitude(
    before: xr.Dataset, after: xr.Dataset, bands: Sequence[str]
) -> xr.DataArray:
    """Change-vector magnitude ``sqrt(Σ_b (after_b − before_b)²)`` over ``bands``.

    Change vector analysis (Malila 1980). NaN where any band is NaN.
    """
    total: xr.DataArray | None = None
    for b in bands:
        d = after[b].astype("float32") - before[b].astype("float32")
        total = d * d if total is None else total + d * d
    if total is None:
        raise ValueError("change_vector_magnitude needs at least one band")
    out: xr.DataArray = np.sqrt(total).astype("float32")  # type: ignore[assignment]
    out.name = "cva"
    return out
