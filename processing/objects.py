"""Objects from masks: minimum mapping unit and vectorisation to polygons."""

from __future__ import annotations

import numpy as np
import xarray as xr
from affine import Affine
from skimage.morphology import remove_small_objects

__all__ = ["minimum_mapping_unit", "polygons_from_mask"]


def _mmu_block(block: np.ndarray, min_pixels: int) -> np.ndarray:
    out = np.empty_like(block, dtype=bool)
    for idx in np.ndindex(block.shape[:-2]):
        # max_size removes objects of at most that many pixels (scikit-image >= 0.26)
        out[idx] = remove_small_objects(
            block[idx].astype(bool), max_size=min_pixels - 1, connectivity=2
        )
    return out


def minimum_mapping_unit(mask: xr.DataArray, min_pixels: int) -> xr.DataArray:
    """Drop 8-connected flagged regions smaller than ``min_pixels`` (scikit-image).

    On dask, blocks overlap by ``min_pixels`` pixels, which makes the result exact: a region
    of at least ``min_pixels`` pixels always shows at least that many pixels within that
    distance of any of its pixels, and a smaller region fits entirely in the halo.
    """
    if min_pixels <= 1:
        return mask
    data = mask.data
    if hasattr(data, "map_overlap"):
        depth = {i: 0 for i in range(data.ndim - 2)} | {
            data.ndim - 2: min_pixels,
            data.ndim - 1: min_pixels,
        }
        kept = data.map_overlap(
            _mmu_block, depth=depth, boundary=False, dtype=bool, min_pixels=min_pixels
        )
    else:
        kept = _mmu_block(np.asarray(data, dtype=bool), min_pixels)
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
