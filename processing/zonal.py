"""Class counts of a product COG: over the whole raster and per zone (e.g. per municipality)."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr

from .product_codes import NODATA

__all__ = ["class_counts", "value_counts", "zonal_class_counts", "zonal_counts_from_cog"]


def class_counts(path: Path, *, block: int = 2048) -> tuple[int, int, int]:
    """Pixels equal to 0, 1 and 255 in a product COG, read block by block."""
    import rasterio
    from rasterio.windows import Window

    counts = np.zeros(3, dtype="int64")
    with rasterio.open(path) as src:
        for row in range(0, src.height, block):
            for col in range(0, src.width, block):
                win = Window(col, row, min(block, src.width - col), min(block, src.height - row))
                data = src.read(1, window=win)
                counts += [
                    np.count_nonzero(data == 0),
                    np.count_nonzero(data == 1),
                    np.count_nonzero(data == NODATA),
                ]
    return int(counts[0]), int(counts[1]), int(counts[2])


def value_counts(path: Path, *, block: int = 2048) -> dict[int, int]:
    """How many pixels of a single-band integer COG hold each value, read block by block."""
    import rasterio
    from rasterio.windows import Window

    counts: dict[int, int] = {}
    with rasterio.open(path) as src:
        for row in range(0, src.height, block):
            for col in range(0, src.width, block):
                win = Window(col, row, min(block, src.width - col), min(block, src.height - row))
                values, n = np.unique(src.read(1, window=win), return_counts=True)
                for v, k in zip(values.tolist(), n.tolist(), strict=True):
                    counts[int(v)] = counts.get(int(v), 0) + int(k)
    return counts


def zonal_class_counts(
    zones: xr.DataArray,
    product: xr.DataArray,
    *,
    n_zones: int,
    classes: tuple[int, ...] = (0, 1, 255),
) -> np.ndarray:
    """Pixel counts per (zone, class): array of shape ``(n_zones + 1, len(classes))``.

    ``zones`` holds integer zone ids 1..n_zones (0 = outside every zone); ``product`` holds
    class values (e.g. 0 not detected, 1 detected, 255 no valid observation). Works on numpy
    and dask (``dask.array.bincount``), computing in one pass.
    """
    code = np.full(256, len(classes), dtype="int64")
    for i, c in enumerate(classes):
        code[c] = i
    k = len(classes) + 1
    z = zones.data
    p = product.data
    if isinstance(z, da.Array) or isinstance(p, da.Array):
        z = da.asarray(z)
        p = da.asarray(p)
        combined = z.astype("int64") * k + da.map_blocks(lambda b: code[b], p, dtype="int64")
        counts = da.bincount(combined.ravel(), minlength=(n_zones + 1) * k).compute()
    else:
        combined = np.asarray(z, dtype="int64") * k + code[np.asarray(p)]
        counts = np.bincount(combined.ravel(), minlength=(n_zones + 1) * k)
    return np.asarray(counts[: (n_zones + 1) * k]).reshape(n_zones + 1, k)[:, : len(classes)]


def zonal_counts_from_cog(
    path: str,
    zones: list[tuple[object, int]],
    *,
    classes: tuple[int, ...] = (0, 1, 255),
    block: int = 2048,
) -> np.ndarray:
    """Counts per (zone id, class) of a written product, read and rasterised block by block.

    ``zones`` are (geometry in the raster's CRS, zone id ≥ 1) pairs; the result has shape
    ``(max id + 1, len(classes))`` and row 0 counts pixels outside every zone.
    """
    import rasterio
    from rasterio import features
    from rasterio.windows import Window

    n_zones = max((z for _, z in zones), default=0)
    total = np.zeros((n_zones + 1, len(classes)), dtype="int64")
    with rasterio.open(path) as src:
        for row in range(0, src.height, block):
            for col in range(0, src.width, block):
                win = Window(col, row, min(block, src.width - col), min(block, src.height - row))
                data = src.read(1, window=win)
                lab = (
                    features.rasterize(
                        zones,
                        out_shape=data.shape,
                        transform=src.window_transform(win),
                        fill=0,
                        dtype="int32",
                    )
                    if zones
                    else np.zeros(data.shape, "int32")
                )
                total += zonal_class_counts(
                    xr.DataArray(lab), xr.DataArray(data), n_zones=n_zones, classes=classes
                )
    return total
