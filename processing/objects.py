"""Objects from masks: minimum mapping unit and vectorisation to polygons."""

from __future__ import annotations

import numpy as np
import xarray as xr
from affine import Affine
from skimage.morphology import remove_small_objects

from .blocks import map_planes

__all__ = ["minimum_mapping_unit", "polygons_from_mask"]


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


def polygons_from_mask(
    mask: np.ndarray, transform: Affine, *, connectivity: int = 8
) -> list[tuple[dict[str, object], float]]:
    """GeoJSON-like polygons of the True regions of a 2-D ``mask`` with their area (CRS units²).

    Uses ``rasterio.features.shapes``; one polygon per connected region.
    """
    import shapely
    from rasterio import features

    arr = np.asarray(mask, dtype="uint8")
    out = []
    for geom, value in features.shapes(
        arr, mask=arr.astype(bool), transform=transform, connectivity=connectivity
    ):
        if value != 1:
            continue
        out.append((geom, float(shapely.geometry.shape(geom).area)))
    return out
