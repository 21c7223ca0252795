"""Objects in masks: the minimum mapping unit (polygons: :mod:`yamasat.processing.vectors`)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from skimage.morphology import remove_small_objects

from .blocks import map_planes

__all__ = ["minimum_mapping_unit"]


def _remove_small(plane: np.ndarray, min_pixels: int) -> np.ndarray:
    # max_size removes objects of at most that many pixels (scikit-image >= 0.26)
    return remove_small_objects(plane.astype(bool), max_size=min_pixels - 1, connectivity=2)


def minimum_mapping_unit(mask: xr.DataArray, min_pixels: int) -> xr.DataArray:
    """Drop 8-connected flagged regions smaller than ``min_pixels`` (scikit-image).

    On dask, blocks overlap by ``min_pixels`` pixels, which makes the result exact: a region
    of at least ``min_pixels`` pixels always shows at least that many pixels within that
    distance of any of its pixels, and a smaller region fits entirely in the halo.
    """
    if min_pixels <= 1:
        return mask
    kept = map_planes(
        mask.data, _remove_small, halo=min_pixels, dtype=bool, boundary=False, min_pixels=min_pixels
    )
    return mask.copy(data=kept)
