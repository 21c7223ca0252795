"""The planted world the replayed real layouts (:mod:`tests.support.replay`) show: what each
pixel is, in lon/lat over the Yamaguchi coast across 132°E, and the COGs that encode it.

A small area (:data:`AOI`, about 3.7 × 3.3 km) is seen by two Sentinel-2 tiles: a west one in
UTM 52N (EPSG:32652) and an east one in UTM 53N (EPSG:32653) that overlap over 131.994–132.006°E.
Before the event everything is vegetation. After it (:data:`PATCHES`):

* ``change_w`` / ``change_e``: vegetation became bare soil, one patch seen only by each zone;
* ``burn_w`` / ``burn_e``: vegetation burned (char);
* ``water``: flood water on flat lowland, across 132°E (seen by both zones);
* ``slide_w`` / ``slide_e``: bare soil on the steep slope north of 34.019°N (landslide scars).

The DEM is flat (5 m) south of 34.019°N and rises at a 0.6 gradient (31°) north of it. SAR
backscatter (linear γ⁰) is land-like everywhere but on the water patch after the event, with a
seeded ±0.5 dB speckle. Reflectances (:data:`REFLECTANCE`) differ per band, so a wrong band
mapping (B08 for B8A, swir22 for swir16 ...) changes the indices the products publish; their
expected values come from :func:`expected_index`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import Affine

__all__ = [
    "AOI",
    "DEM_FLAT_M",
    "PATCHES",
    "REFLECTANCE",
    "Patch",
    "cover_after",
    "dem_elevation",
    "expected_index",
    "interior",
    "sar_gamma0",
    "write_cog",
]

AOI = (131.980, 34.000, 132.020, 34.030)
"""lon/lat bbox of the area the products are made over"""

SLOPE_START_LAT = 34.019
"""north of this latitude the ground rises steeply"""
DEM_FLAT_M = 5.0
_GRADIENT = 0.6  # metres per metre: atan(0.6) = 31°
_M_PER_DEG_LAT = 110_950.0  # at 34°N

VEG, BARE, CHAR, WATER = "vegetation", "bare", "char", "water"

REFLECTANCE: dict[str, dict[str, float]] = {
    VEG: dict(blue=0.03, green=0.06, red=0.04, nir=0.36, nir08=0.30, swir16=0.17, swir22=0.08),
    BARE: dict(blue=0.12, green=0.15, red=0.20, nir=0.24, nir08=0.27, swir16=0.30, swir22=0.22),
    CHAR: dict(blue=0.03, green=0.04, red=0.05, nir=0.10, nir08=0.12, swir16=0.15, swir22=0.22),
    WATER: dict(blue=0.06, green=0.07, red=0.04, nir=0.02, nir08=0.015, swir16=0.01, swir22=0.005),
}
"""planted BOA reflectance per cover and band (our band names)"""

SCL_CLASS = {VEG: 4, BARE: 5, CHAR: 5, WATER: 6}
"""Sentinel-2 scene classes: 4 vegetation, 5 not vegetated, 6 water (none is masked)"""

GAMMA0 = {"land": {"vv": 0.08, "vh": 0.015}, WATER: {"vv": 0.004, "vh": 0.0008}}
"""planted linear γ⁰ (about −11/−18 dB on land, −24/−31 dB on water)"""


@dataclass(frozen=True)
class Patch:
    """A lon/lat rectangle whose cover changes after the event."""

    name: str
    cover: str
    bbox: tuple[float, float, float, float]

    def contains(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        w, s, e, n = self.bbox
        return np.asarray((lon >= w) & (lon < e) & (lat >= s) & (lat < n))


PATCHES = (
    Patch("change_w", BARE, (131.984, 34.004, 131.991, 34.010)),
    Patch("change_e", BARE, (132.009, 34.004, 132.016, 34.010)),
    Patch("burn_w", CHAR, (131.984, 34.012, 131.991, 34.017)),
    Patch("burn_e", CHAR, (132.009, 34.012, 132.016, 34.017)),
    Patch("water", WATER, (131.993, 34.002, 132.007, 34.008)),
    # about 4 ha each: within the landslide product's size window (8 px - 10 ha), as shallow
    # landslide scars are (0.1-5 ha); a 25 ha bare block is not one scar
    Patch("slide_w", BARE, (131.985, 34.022, 131.987, 34.024)),
    Patch("slide_e", BARE, (132.010, 34.022, 132.012, 34.024)),
)


def patch(name: str) -> Patch:
    """The patch called ``name``."""
    return next(p for p in PATCHES if p.name == name)


def cover_after(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The cover of every point after the event (an object array of cover names)."""
    out = np.full(np.shape(lon), VEG, dtype=object)
    for p in PATCHES:
        out[p.contains(lon, lat)] = p.cover
    return out


def covers(lon: np.ndarray, lat: np.ndarray, period: str) -> np.ndarray:
    """The cover of every point ``before`` or ``after`` the event."""
    if period == "before":
        return np.full(np.shape(lon), VEG, dtype=object)
    return cover_after(lon, lat)


def expected_index(index: str, cover: str) -> float:
    """The value of ``ndvi``, ``nbr`` or ``mndwi`` over ``cover`` with reflectance applied once."""
    r = REFLECTANCE[cover]
    a, b = {"ndvi": ("nir", "red"), "nbr": ("nir", "swir22"), "mndwi": ("green", "swir16")}[index]
    return (r[a] - r[b]) / (r[a] + r[b])


def interior(p: Patch, lon: np.ndarray, lat: np.ndarray, margin_deg: float = 0.0006) -> np.ndarray:
    """Points of ``p`` at least ``margin_deg`` inside its edges (away from resampling blur)."""
    w, s, e, n = p.bbox
    m = margin_deg
    return np.asarray((lon >= w + m) & (lon < e - m) & (lat >= s + m) & (lat < n - m))


def dem_elevation(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Planted elevation (m): flat in the south, a 31° slope rising north of 34.019°N."""
    rise = np.clip(np.asarray(lat) - SLOPE_START_LAT, 0, None) * _M_PER_DEG_LAT * _GRADIENT
    return (DEM_FLAT_M + rise + 0.0 * np.asarray(lon)).astype("float32")


def sar_gamma0(lon: np.ndarray, lat: np.ndarray, period: str, pol: str, seed: int) -> np.ndarray:
    """Planted linear γ⁰ with a seeded ±0.5 dB speckle."""
    is_water = (covers(lon, lat, period) == WATER).astype(bool)
    value = np.where(is_water, GAMMA0[WATER][pol], GAMMA0["land"][pol])
    rng = np.random.default_rng(seed)
    speckle_db = rng.uniform(-0.5, 0.5, size=np.shape(lon))
    return (value * 10 ** (speckle_db / 10)).astype("float32")


def lonlat_centres(crs: str, transform: Affine, shape: tuple[int, int]) -> tuple[Any, Any]:
    """lon/lat of the pixel centres of a raster."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    x, y = transform * (cols + 0.5, rows + 0.5)
    if crs == "EPSG:4326":
        return np.asarray(x), np.asarray(y)
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(x, y)
    return np.asarray(lon), np.asarray(lat)


def reflectance(band: str, cover: np.ndarray) -> np.ndarray:
    """Planted reflectance of ``band`` over an array of covers."""
    out = np.zeros(cover.shape, dtype="float64")
    for name, values in REFLECTANCE.items():
        out[cover == name] = values[band]
    return out


def scl(cover: np.ndarray) -> np.ndarray:
    """Scene classes of an array of covers."""
    out = np.zeros(cover.shape, dtype="uint8")
    for name, value in SCL_CLASS.items():
        out[cover == name] = value
    return out


@dataclass(frozen=True)
class FileLayout:
    """How a provider stores one kind of asset (what the COG copies)."""

    dtype: str
    nodata: float | None
    compress: str
    blocksize: int
    predictor: int = 1
    note: str = ""
    """where each value comes from: the recorded metadata, or the assumption made"""

    def profile(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "driver": "COG",
            "dtype": self.dtype,
            "compress": self.compress,
            "blocksize": self.blocksize,
            "overview_resampling": "nearest",
        }
        if self.predictor != 1:
            out["predictor"] = self.predictor
        if self.nodata is not None:
            out["nodata"] = self.nodata
        return out


def write_cog(
    path: Path,
    data: np.ndarray,
    *,
    crs: str,
    transform: Affine,
    layout: FileLayout,
    tags: Mapping[str, str] | None = None,
) -> Path:
    """Write one band as a COG laid out as ``layout`` says."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = data.shape
    with rasterio.open(
        path,
        "w",
        width=width,
        height=height,
        count=1,
        crs=crs,
        transform=transform,
        **layout.profile(),
    ) as dst:
        dst.write(data.astype(layout.dtype), 1)
        if tags:
            dst.update_tags(**tags)
    return path
