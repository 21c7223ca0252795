"""Real land/sea from the ``global-land-mask`` package, without loading the whole globe.

``global_land_mask.globe.is_land`` answers from a 30″ global grid (GLOBE, 21600 x 43200
booleans) that the package decompresses into memory at import: about 0.93 GB for as long
as the process lives. Here the same file is streamed and only the rows and columns around
the requested area are kept (a few hundred kB), with exactly the package's indexing rule.
If the file is not laid out as expected, this falls back to ``globe.is_land``.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import zipfile
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import NDArray

__all__ = ["is_land"]

log = logging.getLogger(__name__)

_FILE = "globe_combined_mask_compressed.npz"
_ROWS, _COLS = 21600, 43200
_STEP = 1.0 / 120.0  # 30 arc-seconds
_CHUNK_ROWS = 256


def _read_header(f: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(f)
    if version != (1, 0):
        raise ValueError(f"unexpected .npy version {version}")
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    return shape, fortran, dtype


@functools.lru_cache(maxsize=8)
def _window(rows: tuple[int, int], cols: tuple[int, int]) -> NDArray[np.bool_]:
    """Rows ``[r0, r1)`` and columns ``[c0, c1)`` of the global mask (True = ocean); cached,
    read-only."""
    # find the data file without importing the package (its __init__ loads the globe)
    spec = importlib.util.find_spec("global_land_mask")
    if spec is None or not spec.submodule_search_locations:
        raise OSError("the global-land-mask package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / _FILE
    with zipfile.ZipFile(path) as z, z.open("mask.npy") as f:
        shape, fortran, dtype = _read_header(f)
        if shape != (_ROWS, _COLS) or fortran or dtype != np.dtype(bool):
            raise ValueError(f"unexpected mask layout {shape}, {dtype}, fortran={fortran}")
        r0, r1 = rows
        row = 0
        while row < r0:  # skip (decompress and drop) the rows before the window
            n = min(_CHUNK_ROWS, r0 - row)
            if len(f.read(n * _COLS)) != n * _COLS:
                raise ValueError("mask file ends early")
            row += n
        data = f.read((r1 - r0) * _COLS)
    block = np.frombuffer(data, dtype=np.bool_).reshape(r1 - r0, _COLS)
    window = block[:, cols[0] : cols[1]].copy()
    window.flags.writeable = False
    return window


def _indices(lat: NDArray[np.floating], lon: NDArray[np.floating]) -> tuple[NDArray[np.intp], ...]:
    """The package's rule: lat from 90° down, lon from -180°, truncated, clamped to the grid."""
    lat_c = np.clip(lat, 90.0 - (_ROWS - 1) * _STEP, 90.0)
    lon_c = np.clip(lon, -180.0, -180.0 + (_COLS - 1) * _STEP)
    return ((lat_c - 90.0) / -_STEP).astype(np.intp), ((lon_c + 180.0) / _STEP).astype(np.intp)


def is_land(lat: NDArray[np.floating], lon: NDArray[np.floating]) -> NDArray[np.bool_]:
    """Same answer as ``global_land_mask.globe.is_land(lat, lon)``, degrees in, bool out."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    if np.any(np.abs(lat) > 90) or np.any(np.abs(lon) > 180):
        raise ValueError("latitude must be within ±90° and longitude within ±180°")
    ri, ci = _indices(lat, lon)
    r0, r1 = int(ri.min()), int(ri.max()) + 1
    c0, c1 = int(ci.min()), int(ci.max()) + 1
    try:
        ocean = _window((r0, r1), (c0, c1))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        log.warning("reading the land mask window failed (%s); loading the whole globe", e)
        from global_land_mask import globe

        return np.asarray(globe.is_land(lat, lon), dtype=bool)
    return ~ocean[ri - r0, ci - c0]
