"""Change detection between two periods: lazy measures, then a thresholded, sieved product.

Recipe (generic change, DESIGN §4): per-period median composites of cloud-masked
observations; ΔNDVI (or another normalized-difference index, or the change-vector magnitude
over several bands); a fixed or Otsu threshold in a chosen direction; a minimum mapping unit.
The product is uint8: 1 detected, 0 not detected, 255 no valid observation in either period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import xarray as xr

from ..errors import YamasatError
from .change import change_vector_magnitude, difference
from .composite import median_composite, valid_count
from .delta_index import delta_index_from_raw
from .indices import INDEX_BANDS, index
from .load import SCALE_ATTR
from .objects import minimum_mapping_unit
from .product_codes import NODATA
from .threshold import Direction, apply_threshold

__all__ = ["NODATA", "ChangeMeasures", "ChangeParams", "change_measures", "change_product"]



@dataclass(frozen=True)
class ChangeParams:
    """Parameters of change detection (recorded in the product's STAC item)."""

    index: str = "ndvi"
    """normalized-difference index whose difference is the change measure"""
    threshold: float | Literal["otsu"] = -0.25
    """fixed threshold on the measure, or ``"otsu"`` (estimated on a sample of valid pixels)"""
    direction: Direction = "decrease"
    """``decrease`` (measure < t), ``increase`` (> t) or ``both`` (|measure| > |t|)"""
    min_mapping_unit_px: int = 10
    """smallest region kept, in pixels (10 px = 0.1 ha at 10 m)"""
    cva_bands: tuple[str, ...] = field(default_factory=tuple)
    """when set, the measure is the change-vector magnitude over these bands instead"""

    def bands(self) -> tuple[str, ...]:
        """The reflectance bands the measure needs."""
        if self.cva_bands:
            return tuple(self.cva_bands)
        return INDEX_BANDS[self.index]


@dataclass(frozen=True)
class ChangeMeasures:
    """Lazy per-pixel results of stage 1."""

    measure: xr.DataArray
    """float32 ΔINDEX (after − before) or CVA magnitude; NaN where not observed in both"""
    count_before: xr.DataArray
    """valid observations per pixel in the before period (uint16)"""
    count_after: xr.DataArray
    """valid observations per pixel in the after period (uint16)"""

    @property
    def valid(self) -> xr.DataArray:
        """True where both periods have at least one valid observation (the measure is then
        defined; cheaper than summing the counts)."""
        return self.measure.notnull()


def _composite(ds: xr.Dataset, bands: tuple[str, ...]) -> xr.Dataset:
    return xr.Dataset({b: median_composite(ds[b]) for b in bands})


def _raw_count(ds: xr.Dataset, band: str) -> xr.DataArray:
    """Valid observations per pixel of a band loaded unscaled (not flagged, not nodata)."""
    raw = ds[band]
    nodata = raw.attrs.get("nodata")
    valid = ~ds["mask"]
    if nodata is not None and not np.isnan(nodata):
        valid = valid & (raw != nodata)
    if raw.dtype.kind == "f":  # NaN is never valid, whatever the declared nodata
        valid = valid & raw.notnull()
    out = valid.sum(dim="time").astype("uint16")
    out.name = "count"
    return out


def change_measures(before: xr.Dataset, after: xr.Dataset, params: ChangeParams) -> ChangeMeasures:
    """Stage 1: composites of each period and the change measure (lazy).

    ``before`` and ``after`` hold cloud-masked reflectance (NaN where flagged) with dims
    ``time, y, x`` on the same grid; or, for a normalized-difference measure, the bands as
    loaded by ``load_s2(..., scaled=False)``, which one kernel per chunk scales, masks,
    composites and differences (:mod:`yamasat.processing.delta_index`, the same values bit for bit).
    """
    bands = params.bands()
    raw = [SCALE_ATTR in ds[b].attrs for ds in (before, after) for b in bands if b in ds]
    if any(raw):
        if params.cva_bands:
            raise YamasatError("the change-vector magnitude needs scaled bands (scaled=True)")
        return ChangeMeasures(
            measure=delta_index_from_raw(before, after, params.index),
            count_before=_raw_count(before, bands[0]),
            count_after=_raw_count(after, bands[0]),
        )
    b = _composite(before, bands)
    a = _composite(after, bands)
    if params.cva_bands:
        measure = change_vector_magnitude(b, a, bands)
    else:
        measure = difference(index(b, params.index), index(a, params.index), name="delta")
    count_b = valid_count(before[bands[0]])
    count_a = valid_count(after[bands[0]])
    return ChangeMeasures(measure=measure, count_before=count_b, count_after=count_a)


def change_product(
    measure: xr.DataArray,
    valid: xr.DataArray,
    *,
    threshold: float,
    direction: Direction,
    min_mapping_unit_px: int,
) -> xr.DataArray:
    """Stage 2: threshold the measure, apply the MMU, encode 1/0/255 as uint8 (lazy)."""
    detected = apply_threshold(measure, threshold, direction=direction) & valid
    detected = minimum_mapping_unit(detected, min_mapping_unit_px)
    out = xr.where(valid, detected.astype("uint8"), np.uint8(NODATA)).astype("uint8")
    out.name = "change"
    out.attrs = {"nodata": NODATA, "flag_values": [0, 1, NODATA]}
    return out
