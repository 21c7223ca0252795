"""Normalized-difference spectral indices behind one kernel.

All take reflectance DataArrays (float, NaN where masked) and return float32, lazy in and out.
Dividing by a zero sum gives NaN, never inf.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import YamasatError

__all__ = [
    "INDEX_BANDS",
    "bsi",
    "index",
    "index_bands",
    "mndwi",
    "nbr",
    "ndmi",
    "ndti",
    "ndvi",
    "ndwi",
    "normalized_difference",
]

#: index name -> (first band, second band) of (a - b) / (a + b)
INDEX_BANDS: dict[str, tuple[str, str]] = {
    "ndvi": ("nir", "red"),
    "ndwi": ("green", "nir"),
    "mndwi": ("green", "swir16"),
    "nbr": ("nir", "swir22"),
    "ndmi": ("nir", "swir16"),
    "ndti": ("swir16", "swir22"),
}


def normalized_difference(a: xr.DataArray, b: xr.DataArray, *, name: str = "nd") -> xr.DataArray:
    """``(a - b) / (a + b)`` in float32; NaN where either is NaN or the sum is 0.

    Inputs are cast to float32 first, so unsigned integer inputs cannot wrap around, and
    negative values are taken as 0: L2A reflectance since processing baseline 04.00 carries a
    −0.1 offset, so dark pixels (water, shadow) read slightly below 0, and a sum of two such
    values near 0 made indices of ±millions that dragged a scene's threshold with them. With
    both inputs ≥ 0 the index stays within [−1, 1].
    """
    a32 = a.astype("float32").clip(min=0)
    b32 = b.astype("float32").clip(min=0)
    total = a32 + b32
    out = ((a32 - b32) / total.where(total != 0)).astype("float32")
    out.name = name
    out.attrs = {"long_name": name.upper(), "units": "1", "nodata": np.nan}
    return out


def ndvi(nir: xr.DataArray, red: xr.DataArray, *, name: str = "ndvi") -> xr.DataArray:
    """NDVI = (NIR − red)/(NIR + red) (Rouse et al. 1974; Tucker 1979)."""
    return normalized_difference(nir, red, name=name)


def ndwi(green: xr.DataArray, nir: xr.DataArray, *, name: str = "ndwi") -> xr.DataArray:
    """NDWI = (green − NIR)/(green + NIR), open water > 0 (McFeeters 1996)."""
    return normalized_difference(green, nir, name=name)


def mndwi(green: xr.DataArray, swir16: xr.DataArray, *, name: str = "mndwi") -> xr.DataArray:
    """MNDWI = (green − SWIR1)/(green + SWIR1), suppresses built-up noise (Xu 2006)."""
    return normalized_difference(green, swir16, name=name)


def nbr(nir: xr.DataArray, swir22: xr.DataArray, *, name: str = "nbr") -> xr.DataArray:
    """NBR = (NIR − SWIR2)/(NIR + SWIR2) (Key & Benson 2006, FIREMON)."""
    return normalized_difference(nir, swir22, name=name)


def ndmi(nir: xr.DataArray, swir16: xr.DataArray, *, name: str = "ndmi") -> xr.DataArray:
    """NDMI = (NIR − SWIR1)/(NIR + SWIR1), vegetation water content (Gao 1996)."""
    return normalized_difference(nir, swir16, name=name)


def ndti(swir16: xr.DataArray, swir22: xr.DataArray, *, name: str = "ndti") -> xr.DataArray:
    """NDTI = (SWIR1 − SWIR2)/(SWIR1 + SWIR2), high over dry plant residue, low over bare
    mineral soil (van Deventer et al. 1997, *PE&RS* 63(1); Daughtry et al. 2005)."""
    return normalized_difference(swir16, swir22, name=name)


def bsi(
    blue: xr.DataArray,
    red: xr.DataArray,
    nir: xr.DataArray,
    swir16: xr.DataArray,
    *,
    name: str = "bsi",
) -> xr.DataArray:
    """Bare Soil Index = ((SWIR1 + red) − (NIR + blue)) / ((SWIR1 + red) + (NIR + blue)),
    positive over exposed soil, negative over vegetation (Rikimaru, Roy & Miyatake 2002,
    *Tropical Ecology* 43(1))."""
    soil = swir16.astype("float32") + red.astype("float32")
    veg = nir.astype("float32") + blue.astype("float32")
    return normalized_difference(soil, veg, name=name)


def index_bands(name: str) -> tuple[str, str]:
    """The two bands (a, b) of the index ``name``: (a - b) / (a + b); clear error if unknown."""
    try:
        return INDEX_BANDS[name]
    except KeyError:
        raise YamasatError(f"unknown index {name!r}; known: {', '.join(INDEX_BANDS)}") from None


def index(ds: xr.Dataset, name: str) -> xr.DataArray:
    """The index ``name`` computed from the bands of ``ds``; clear error if a band is missing."""
    first, second = index_bands(name)
    missing = [b for b in (first, second) if b not in ds]
    if missing:
        raise YamasatError(f"index {name} needs band(s) {missing}, which were not loaded")
    return normalized_difference(ds[first], ds[second], name=name)
