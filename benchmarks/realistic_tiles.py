"""Sentinel-2 L2A-like bands for the benchmarks: tiles that compress and decode like real ones.

Real L2A COGs are DEFLATE with the horizontal predictor (predictor=2), 1024-px blocks, and their
10 m bands compress only to about 75–90 % of raw, because a 10 m scene is parcels with texture
inside them and sensor noise on top; one core decodes them at about 180–260 MB/s here (issue 14
measured about 200 MB/s on real tiles). A smooth field with weak noise decodes about twice as
fast and makes a decode floor that is too low, so every ratio against it looks worse than it is
and nothing is learnt about where the time goes.

This module builds the landscape from those three parts:

- parcels: strips of 15–90 px (150–900 m) cut into fields of 15–180 px, each with its own
  reflectance (paddies, orchards and forest stands in Yamaguchi are of this size);
- texture inside each field at 20–60 m (two smooth random fields);
- sensor noise per pixel.

``decode_figures`` measures what the benchmark prints as ``decode: … MB/s per core,
compressed/raw …``: the CPU time of one thread decoding a band (CPU time, so other work on a
shared machine changes it little) and the file size against the raw array.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

# per-band reflectance of the parcels, in L2A digital numbers (reflectance × 10000 + 1000);
# (mean, spread between parcels, texture inside a parcel, sensor noise)
BAND_LOOKS: dict[str, tuple[float, float, float, float]] = {
    "red": (1600.0, 500.0, 60.0, 25.0),
    "nir": (3800.0, 900.0, 90.0, 25.0),
}
BLOCK = 1024


def parcel_ids(rng: np.random.Generator, n: int, lo: int = 15, hi: int = 90) -> np.ndarray:
    """An (n, n) int32 map of field parcels: strips of random height cut into random widths."""
    out = np.empty((n, n), np.int32)
    row, next_id = 0, 0
    cols = np.arange(n)
    while row < n:
        height = int(rng.integers(lo, hi))
        widths = rng.integers(lo, hi * 2, size=n // lo + 2)
        edges = np.cumsum(widths)
        ids = np.searchsorted(edges[edges < n], cols, side="right") + next_id
        out[row : row + height] = ids
        next_id = int(ids[-1]) + 1
        row += height
    return out


def smooth_field(rng: np.random.Generator, n: int, scale: int) -> np.ndarray:
    """Unit-variance-ish random texture with features of about ``scale`` pixels."""
    from scipy import ndimage

    coarse = rng.standard_normal((n // scale + 2, n // scale + 2)).astype("float32")
    return ndimage.zoom(coarse, scale, order=1)[:n, :n]


def parcel_values(rng: np.random.Generator, n_parcels: int, band: str) -> np.ndarray:
    mean, spread, _, _ = BAND_LOOKS[band]
    # at least reflectance 0.002 (DN 1020 with the −0.1 offset): land parcels, not dark water
    return np.maximum(rng.normal(mean, spread, n_parcels), 1020.0).astype("float32")


def textured_band(
    rng: np.random.Generator, parcels: np.ndarray, values: np.ndarray, band: str
) -> np.ndarray:
    """uint16 digital numbers: the parcels' values, texture inside them, sensor noise."""
    n = parcels.shape[0]
    _, _, texture, noise = BAND_LOOKS[band]
    img = values[parcels]
    img += texture * smooth_field(rng, n, 6)
    img += 0.5 * texture * smooth_field(rng, n, 2)
    img += rng.normal(0.0, noise, (n, n)).astype("float32")
    np.clip(np.round(img), 1, 65535, out=img)
    return img.astype("uint16")


def cog_profile() -> dict[str, object]:
    """How real L2A COGs are written: DEFLATE with the horizontal predictor, 1024-px blocks."""
    return {
        "driver": "COG",
        "compress": "DEFLATE",
        "predictor": 2,
        "blocksize": BLOCK,
        "overviews": "AUTO",
        "num_threads": "ALL_CPUS",
    }


def write_band(
    path: Path, data: np.ndarray, *, epsg: int, res: float, x0: float, y0: float
) -> None:
    """One band as a COG encoded like real L2A (:func:`cog_profile`; SCL, a class map, without
    a predictor as real ones), upper-left corner ``x0, y0``, written beside and moved in."""
    import rasterio
    from rasterio.transform import from_origin

    profile = cog_profile() | {
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": f"EPSG:{epsg}",
        "transform": from_origin(x0, y0, res, res),
        "nodata": 0,
    }
    if data.dtype == np.uint8:
        profile["predictor"] = 1
    tmp = path.with_suffix(".tmp.tif")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    tmp.rename(path)


def decode_figures(path: Path, repeats: int = 3) -> tuple[float, float]:
    """(MB/s of one core decoding the full-resolution band, compressed/raw) for one COG.

    The best of ``repeats`` CPU times of a single-threaded read; the raw size is the decoded
    array's, the compressed size the whole file's, overviews included, as issue 14 measured the
    real tiles (180–218 MB per 241 MB band)."""
    import rasterio

    best, raw = float("inf"), 0
    with rasterio.Env(GDAL_NUM_THREADS="1", GDAL_CACHEMAX=64):
        for _ in range(repeats):
            t0 = time.process_time()
            with rasterio.open(path) as src:
                raw = src.read(1).nbytes
            best = min(best, time.process_time() - t0)
    return raw / best / 1e6, os.path.getsize(path) / raw
