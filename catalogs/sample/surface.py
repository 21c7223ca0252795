"""What covers each pixel on a given day, and how that looks to Sentinel-2 and Sentinel-1.

Every pixel is a mixture of the end-members of :mod:`yamasat.catalogs.sample.spectra`. Land cover
and the day of year set the mixture (phenology), the planted events in effect override it,
then the mixture is turned into reflectance (times a terrain-illumination gain) or into
C-band γ⁰.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from numpy.typing import NDArray

from .events import Event
from .landscape import BARE, FOREST, PADDY, URBAN, WATER
from .noise import Float32Array
from .params import WorldParams
from .render import Pixels
from .sky import SkyState, sun_position
from .spectra import ENDMEMBERS, SAR_DB, SPECTRA, forest_vigour, paddy_fractions

__all__ = ["backscatter", "fractions", "illumination", "reflectance", "scene_classification"]

_END = {name: i for i, name in enumerate(ENDMEMBERS)}


def fractions(
    p: Pixels, day: dt.date, events: tuple[Event, ...], params: WorldParams | None = None
) -> NDArray[np.float32]:
    """End-member fractions, shape (end-member, y, x), on ``day``: phenology, then events.

    ``params`` sets the forest's seasonal swing and the paddy calendar (default: the demo's).
    """
    params = params or WorldParams()
    lc, tex = p.land_cover, p.texture
    doy = day.timetuple().tm_yday
    frac = np.zeros((len(ENDMEMBERS), *lc.shape), dtype=np.float32)
    veg, soil, water = frac[_END["veg"]], frac[_END["soil"]], frac[_END["water"]]

    m = lc == FOREST
    vigour = forest_vigour(doy, amplitude=params.forest_amplitude, peak=params.forest_peak_doy)
    v = np.clip(vigour + 0.04 * tex[m], 0.6, 0.98)
    veg[m], soil[m] = v, 1.0 - v
    m = lc == PADDY
    paddy_day = doy + p.parcel[m]
    if params.paddy_shift_days:
        paddy_day = paddy_day - np.float32(params.paddy_shift_days)
    pv, pw = paddy_fractions(paddy_day)
    pv = np.clip(pv * (1.0 + 0.05 * tex[m]), 0.0, 1.0 - pw)
    veg[m], water[m], soil[m] = pv, pw, 1.0 - pv - pw
    m = lc == URBAN
    v = np.clip(0.15 + 0.06 * tex[m], 0.02, 0.4)
    veg[m], frac[_END["urban"]][m], soil[m] = v, 0.85 * (1.0 - v), 0.15 * (1.0 - v)
    m = lc == BARE
    v = np.clip(0.08 + 0.03 * tex[m], 0.0, 0.2)
    veg[m], soil[m] = v, 1.0 - v
    water[lc == WATER] = 1.0

    for ev in events:
        geom = ev.extent_on(day)
        if geom is None:
            continue
        if ev.name == "thinning":  # part of the canopy felled and left on the ground
            m = p.mask((ev.name, id(geom)), geom) & (lc != WATER)
            cut = veg[m] * np.float32(params.thinning_canopy_removed)
            veg[m] -= cut
            frac[_END["slash"]][m] += cut
            continue
        # the event's share of each pixel: a mixture where its outline crosses (mixed edges),
        # else all or nothing by the pixel's centre (the demo's world)
        key = (ev.name, id(geom))
        share = p.cover(key, geom) if params.mixed_edges else p.mask(key, geom)
        share = share * (lc != WATER).astype(np.float32)  # a copy: the cache stays as it is
        m = share > 0
        _blend(frac, m, share[m], _event_cover(ev, day, frac.shape[0], m, tex[m]))
    if not frac[_END["slash"]].any():  # the demo's worlds: their eight end-members only
        return frac[: _END["slash"]]
    return frac


def _blend(
    frac: NDArray[np.float32], m: NDArray[np.bool_], share: Float32Array, cover: Float32Array
) -> None:
    """Mix ``cover`` (end-member, pixel) into ``frac`` at ``m`` by each pixel's ``share``
    (linear mixing of what the pixel holds, as a sensor's footprint integrates it)."""
    frac[:, m] = frac[:, m] * (np.float32(1.0) - share) + cover * share


def _event_cover(
    ev: Event, day: dt.date, n: int, m: NDArray[np.bool_], tex: Float32Array
) -> NDArray[np.float32]:
    """End-member fractions, shape (``n``, pixels of ``m``), of ground an event covers."""
    cover = np.zeros((n, int(m.sum())), dtype=np.float32)
    if ev.name == "flood":
        cover[_END["turbid"]] = 1.0
    elif ev.name == "landslide":
        cover[_END["scar"]], cover[_END["veg"]] = 0.95, 0.05
    elif ev.name == "change":
        cover[_END["solar"]], cover[_END["soil"]] = 0.85, 0.15
    elif ev.name == "burn":
        regrowth = max(0.55, 1.0 - (day - ev.date).days / 500.0)
        severity = np.clip(0.82 + 0.1 * tex, 0.55, 0.95) * regrowth
        cover[_END["char"]], cover[_END["veg"]] = severity, 1.0 - severity
    else:
        _managed(cover, tex, ev.name)
    return cover


def _managed(frac: NDArray[np.float32], tex: Float32Array, name: str) -> None:
    """Cover of a managed site after the work (see :mod:`.managed`): a clear-cut keeps a thin
    understory (2-30 % green) over logging slash and soil; a harvested paddy is stubble and
    soil; a construction site is graded fill with some paving."""
    if name == "clearcut":
        v = np.clip(0.12 + 0.07 * tex, 0.02, 0.30)
        frac[_END["veg"]], frac[_END["slash"]] = v, 0.6 * (1.0 - v)
        frac[_END["soil"]] = 0.4 * (1.0 - v)
    elif name == "harvest":
        frac[_END["veg"]], frac[_END["slash"]], frac[_END["soil"]] = 0.08, 0.35, 0.57
    elif name == "construction":
        frac[_END["soil"]], frac[_END["urban"]] = 0.75, 0.25


def illumination(
    p: Pixels, when: dt.datetime, lonlat: tuple[float, float], k: float = 0.5
) -> Float32Array:
    """Terrain illumination gain ``(cos i / cos z) ** k``, with the sun at ``when``
    (``k`` 0.5: ``sqrt``, 0.5..1.4).

    ``i`` is the angle between the sun and the surface normal, ``z`` the solar zenith: a
    damped cosine correction (Teillet et al. 1982, *Can. J. Remote Sens.* 8(2)); ``k`` is a
    Minnaert-type constant (1: Lambertian).
    """
    az, zen = (math.radians(v) for v in sun_position(when, *lonlat))
    sun = (math.sin(zen) * math.sin(az), math.sin(zen) * math.cos(az), math.cos(zen))
    norm = np.sqrt(1.0 + p.grad_x**2 + p.grad_y**2)
    cos_i = (-p.grad_x * sun[0] - p.grad_y * sun[1] + sun[2]) / norm
    return (np.clip(np.maximum(cos_i, 0.0) / sun[2], 0.25, 1.96) ** k).astype(np.float32)


def reflectance(
    frac: NDArray[np.float32], p: Pixels, band: int, gain: Float32Array
) -> Float32Array:
    """Surface reflectance in band index ``band``; land (not water) is scaled by ``gain``
    and by a ±5 % texture."""
    refl = np.tensordot(SPECTRA[: frac.shape[0], band], frac, axes=1)
    wet = frac[_END["water"]] + frac[_END["turbid"]]
    land_gain = gain * (1.0 + 0.05 * p.texture)
    return (refl * (wet + (1.0 - wet) * land_gain)).astype(np.float32)


def backscatter(frac: NDArray[np.float32], p: Pixels, pol: str) -> Float32Array:
    """γ⁰ (linear) for ``pol``: open water gets wind roughness (±2.5 dB), land ±0.5 dB."""
    lin = (10.0 ** (SAR_DB[pol] / 10.0)).astype(np.float32)
    wind = np.float32(10.0) ** (0.25 * p.sea_texture)
    total = np.tensordot(lin[: frac.shape[0]], frac, axes=1)
    total += frac[_END["water"]] * lin[_END["water"]] * (wind - 1.0)
    return (total * np.float32(10.0) ** (0.05 * p.texture)).astype(np.float32)


def scene_classification(
    green: Float32Array, red: Float32Array, nir: Float32Array, swir16: Float32Array, sky: SkyState
) -> NDArray[np.uint8]:
    """Sentinel-2 SCL codes from clear-sky reflectance and the sky state.

    Vegetation (4) where NDVI > 0.4, water (6) where MNDWI > 0.2 and NIR < 0.15, else not
    vegetated (5); then cloud shadow (3), cirrus (10), cloud (8; 9 where opacity ≥ 0.8).
    """
    ndvi = (nir - red) / np.maximum(nir + red, 1e-6)
    mndwi = (green - swir16) / np.maximum(green + swir16, 1e-6)
    out = np.full(ndvi.shape, 5, dtype=np.uint8)
    out[ndvi > 0.4] = 4
    out[(mndwi > 0.2) & (nir < 0.15)] = 6
    out[sky.shadow] = 3
    out[sky.cirrus] = 10
    out[sky.opacity > 0] = 8
    out[sky.opacity >= 0.8] = 9
    return out
