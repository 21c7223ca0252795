"""Spectral and backscatter end-members, and the phenology of the land-cover classes.

A pixel is a linear mixture of end-members (vegetation, soil, water, …). Its Sentinel-2
surface reflectance is the fraction-weighted sum of the end-member spectra and its
Sentinel-1 γ⁰ the fraction-weighted sum of the end-member backscatter in linear power.
End-member values are typical of published libraries (vegetation, soil, water: the USGS
spectral library v7, Kokaly et al. 2017, resampled to the MSI bands by eye; C-band
backscatter of water, forest, rice and built-up land: e.g. Nguyen et al. 2016,
*Remote Sensing* 8(1):66 for rice), rounded; they are plausible, not measured.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BANDS",
    "CIRRUS",
    "CLOUD",
    "ENDMEMBERS",
    "HAZE",
    "SAR_DB",
    "SHADOW_FACTOR",
    "SPECTRA",
    "forest_vigour",
    "paddy_fractions",
]

BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "nir08", "swir16", "swir22")
"""Sentinel-2 bands of the sample archive, by Earth Search asset key."""

ENDMEMBERS: tuple[str, ...] = (
    "veg",
    "soil",
    "water",
    "urban",
    "turbid",
    "scar",
    "char",
    "solar",
    "slash",
)
"""End-member names; the order of the rows of :data:`_SPECTRA` and :data:`SAR_DB`. ``slash``
is last: a world without it renders with the first eight rows only (the demo, byte for byte)."""

# surface reflectance (0..1) in BANDS order
_SPECTRA: dict[str, tuple[float, ...]] = {
    "veg": (0.030, 0.070, 0.035, 0.420, 0.440, 0.200, 0.090),
    "soil": (0.080, 0.110, 0.140, 0.220, 0.230, 0.300, 0.250),
    "water": (0.050, 0.060, 0.035, 0.015, 0.012, 0.005, 0.003),
    "urban": (0.100, 0.120, 0.130, 0.180, 0.190, 0.220, 0.190),
    "turbid": (0.070, 0.090, 0.080, 0.040, 0.035, 0.012, 0.008),  # muddy flood water
    "scar": (0.090, 0.120, 0.160, 0.190, 0.200, 0.300, 0.270),  # fresh landslide soil, NDVI ~0.09
    "char": (0.030, 0.035, 0.040, 0.080, 0.085, 0.140, 0.150),  # burnt canopy, NBR ~ -0.3
    "solar": (0.040, 0.045, 0.045, 0.055, 0.055, 0.060, 0.050),  # photovoltaic panels
    # logging slash and crop residue: dry non-photosynthetic vegetation, darker than mineral
    # soil, NDVI ~0.19; cellulose absorbs near 2.1 µm, so SWIR 2.2 µm falls well below SWIR
    # 1.6 µm (NDTI ~0.23; Daughtry et al. 2005, Agron. J. 97; van Deventer et al. 1997)
    "slash": (0.060, 0.080, 0.110, 0.160, 0.170, 0.240, 0.150),
}

SPECTRA: NDArray[np.float32] = np.array([_SPECTRA[e] for e in ENDMEMBERS], dtype=np.float32)
"""(end-member, band) reflectance matrix."""

# Sentinel-1 RTC γ⁰ in dB: (VV, VH)
_SAR: dict[str, tuple[float, float]] = {
    "veg": (-7.5, -13.5),
    "soil": (-12.0, -19.5),
    "water": (-22.0, -29.0),
    "urban": (0.0, -7.0),
    "turbid": (-21.0, -28.0),
    "scar": (-11.0, -18.5),
    "char": (-10.0, -17.5),
    "solar": (-13.0, -21.0),
    "slash": (-9.0, -15.5),
}
SAR_DB: dict[str, NDArray[np.float32]] = {
    pol: np.array([_SAR[e][i] for e in ENDMEMBERS], dtype=np.float32)
    for i, pol in enumerate(("vv", "vh"))
}
"""Per polarisation, the end-member γ⁰ in dB (ENDMEMBERS order)."""

CLOUD: NDArray[np.float32] = np.array([0.45, 0.46, 0.47, 0.50, 0.50, 0.38, 0.26], dtype=np.float32)
"""Reflectance of an opaque cloud top (BANDS order)."""
CIRRUS: NDArray[np.float32] = np.array(
    [0.045, 0.045, 0.045, 0.040, 0.040, 0.020, 0.015], dtype=np.float32
)
"""Reflectance added by thin cirrus (BANDS order)."""
HAZE: NDArray[np.float32] = np.array([1.0, 0.75, 0.6, 0.42, 0.4, 0.15, 0.07], dtype=np.float32)
"""Haze reflectance relative to blue (BANDS order): aerosol scattering falls with wavelength
about as λ^-1.3 (Ångström exponent of continental haze)."""
SHADOW_FACTOR = 0.35
"""Fraction of the surface signal left in a cloud shadow (diffuse light only)."""

# paddy keyframes: day of year -> (vegetation, standing water); soil is the rest.
# Dry ploughed fields in April, flooded for transplanting in May-June (irrigation, not a
# disaster), green from July, ripening in September, harvested in October.
_PADDY_DOY = np.array([90, 125, 135, 170, 185, 200, 215, 225, 255, 270, 285, 300], dtype=np.float32)
_PADDY_VEG = np.array(
    [0.10, 0.08, 0.05, 0.12, 0.30, 0.55, 0.85, 0.95, 0.92, 0.70, 0.30, 0.20], dtype=np.float32
)
_PADDY_WATER = np.array(
    [0.0, 0.0, 0.85, 0.80, 0.55, 0.30, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=np.float32
)


def paddy_fractions(doy: NDArray[np.floating]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(vegetation, standing water) fractions of a paddy on day of year ``doy``."""
    veg = np.interp(doy, _PADDY_DOY, _PADDY_VEG).astype(np.float32)
    water = np.interp(doy, _PADDY_DOY, _PADDY_WATER).astype(np.float32)
    return veg, water


def forest_vigour(doy: int, *, amplitude: float = 0.06, peak: float = 205) -> float:
    """Vegetation fraction of a closed forest canopy on day of year ``doy``: 0.86 plus a
    seasonal swing of ``amplitude`` peaking on day ``peak`` (the demo: 0.86–0.92 in late July)."""
    return 0.86 + amplitude * float(np.exp(-(((doy - peak) / 45.0) ** 2)))
