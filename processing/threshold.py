"""Thresholds: fixed or Otsu on a sample of valid pixels, applied in a chosen direction."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import xarray as xr
from skimage.filters import threshold_otsu

from ..errors import YamasatError

__all__ = [
    "Direction",
    "apply_threshold",
    "change_threshold",
    "limited_threshold",
    "otsu_threshold",
    "sample_valid",
]

Direction = Literal["decrease", "increase", "both"]


def sample_valid(da: xr.DataArray, *, max_samples: int = 1_000_000) -> np.ndarray:
    """A regular (strided) sample of at most about ``max_samples`` finite values of ``da``.

    Every ``step``-th row and column is kept: the sample is deterministic and small in memory.
    A lazy array is still computed in full (each chunk, then strided); to read less, stride a
    decimated read such as :func:`yamasat.processing.read_back.read_decimated`.
    """
    n = int(np.prod(da.shape))
    step = max(1, math.ceil(math.sqrt(n / max_samples))) if n > max_samples else 1
    sl = {d: slice(None, None, step) for d in da.dims[-2:]}
    values = np.asarray(da.isel(sl).values, dtype="float64").ravel()
    return values[np.isfinite(values)]


def otsu_threshold(da: xr.DataArray, *, max_samples: int = 1_000_000, nbins: int = 256) -> float:
    """Otsu's threshold (Otsu 1979, via scikit-image) on a sample of the valid pixels.

    Raises :class:`YamasatError` when fewer than 100 valid values exist or all are equal.
    """
    values = sample_valid(da, max_samples=max_samples)
    if values.size < 100:
        raise YamasatError(
            f"too few valid pixels ({values.size}) to estimate an Otsu threshold; "
            "give a fixed threshold or a larger area/period"
        )
    if float(values.min()) == float(values.max()):
        raise YamasatError("all valid pixels have the same value: no threshold can split them")
    return float(threshold_otsu(values, nbins=nbins))


def change_threshold(
    da: xr.DataArray, *, direction: Direction, max_samples: int = 1_000_000
) -> float:
    """Two-stage Otsu for change measures where change covers a small part of the scene.

    A first Otsu split on all valid values separates the unchanged mode from its tails; when
    change is rare that split lies inside the unchanged mode. A second Otsu on the side of
    interest (values below the first split for ``decrease``, above it for ``increase``,
    ``|value|`` for ``both``) then separates the tail of the unchanged mode from the change
    mode (a hierarchical use of Otsu 1979, as in multi-level thresholding).
    """
    values = sample_valid(da, max_samples=max_samples)
    if direction == "both":
        values = np.abs(values)
    first = otsu_threshold(xr.DataArray(values), max_samples=max_samples)
    if direction == "decrease":
        side = values[values < min(first, 0.0)]
    else:
        side = values[values > max(first, 0.0)]
    if side.size < 100 or float(side.min()) == float(side.max()):
        return first
    return otsu_threshold(xr.DataArray(side), max_samples=max_samples)


def limited_threshold(threshold: float, limit: float | None, *, direction: Direction) -> float:
    """``threshold`` made at least as strict as ``limit`` (None: unchanged).

    Otsu always splits a histogram, even one with no change mode: where a scene holds no
    observed change, its split falls inside the spread of unchanged land (phenology,
    irrigation). A limit taken from the physics of the measure (for ΔNDVI, a loss of about
    0.2, the vegetation loss DESIGN §4's recipes start from) keeps it out of that spread.
    ``decrease``: ``min(threshold, limit)``; ``increase``: ``max``; ``both``: the larger
    magnitude.
    """
    if limit is None:
        return threshold
    if direction == "decrease":
        return min(threshold, limit)
    if direction == "increase":
        return max(threshold, limit)
    return max(abs(threshold), abs(limit))


def apply_threshold(
    da: xr.DataArray, threshold: float, *, direction: Direction = "decrease"
) -> xr.DataArray:
    """Flag pixels beyond ``threshold``: ``decrease`` → value < −|t| … see below.

    - ``decrease``: ``da < threshold`` (e.g. ΔNDVI below a negative threshold);
    - ``increase``: ``da > threshold``;
    - ``both``: ``|da| > |threshold|``.
    NaN is never flagged; track validity separately.
    """
    if direction == "decrease":
        out = da < threshold
    elif direction == "increase":
        out = da > threshold
    elif direction == "both":
        out = abs(da) > abs(threshold)
    else:
        raise YamasatError(f"unknown direction {direction!r}; use decrease, increase or both")
    out.name = "detected"
    return out
