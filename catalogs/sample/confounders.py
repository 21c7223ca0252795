"""Confounders planted in varied worlds that are no event's truth (issue 13, item 1).

Each has its own cause label (:data:`~.causes.CAUSE_NAMES`), so the accuracy benchmark names
the errors it causes. The demo world plants none (``WorldParams()`` switches them off, so the
default archive stays byte-identical). Magnitudes and their sources: :data:`~.params.RANGES`.

- ``wet soil``: fields (paddy, bare) near the flood left wet by its rain, from the flood's S1
  date until the water is gone (2025-07-06 … 07-11: the S1 pass of 07-06, the S2 overpass
  of 07-09). Wet soil is darker in Sentinel-2 (the soil's reflectance drops by
  ``wet_soil_darkening`` in SWIR, 0.8 of it in NIR, 0.6 in the visible: water absorbs most
  at the longer wavelengths, so MNDWI rises towards water's) and brighter in Sentinel-1
  (the dielectric constant rises with moisture: γ⁰ of the field's land share up by
  ``wet_soil_db``); about one field in four is waterlogged and smooth, and its γ⁰ drops by
  as much instead (specular reflection). Not flood truth.
- ``wind-roughened water``: on the flood's S1 pass, patches covering ``water_wind_fraction``
  of the flood water and the inland water (river, ponds; the sea has its own roughness)
  return ``water_wind_db`` more (Bragg scattering off wind ripples). Flood truth still.
- ``radar shadow`` and ``layover``: Sentinel-1 looks right, east-north-east on its ascending
  pass (:data:`S1_LOOK_AZIMUTH_DEG`), at ``s1_incidence_deg``. Terrain rising along the look
  more steeply than the incidence angle is in layover (γ⁰ up by ``layover_db``), terrain
  falling away more steeply than the grazing angle (90° − incidence) in shadow (γ⁰ at the
  noise floor, ``s1_noise_floor_db``, both polarisations). The local rule only: shadow cast
  beyond the slope itself is not traced.
- ``thinning``: forest blocks of 1–10 ha where ``thinning_canopy_removed`` of the canopy is
  felled and left on the ground (切り捨て間伐): green cover becomes slash, NDVI drops by
  0.05–0.2. Half in late July (between the landslide product's periods), half in early
  September (between the change product's). Neither land-cover change nor landslide truth.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import ndimage, stats
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from .events import Event, Phase, Site
from .landscape import BARE, FOREST, PADDY, WATER
from .managed import _block, _place
from .noise import Float32Array, rng_for
from .params import WorldParams
from .render import Pixels
from .schedule import EVENT_DATES, FLOOD_END_DATE, MANAGEMENT_DATES

__all__ = [
    "S1_LOOK_AZIMUTH_DEG",
    "WIND_VH_SHARE",
    "Confounders",
    "place_confounders",
    "radar_geometry",
]

S1_LOOK_AZIMUTH_DEG = 80.0
"""Where Sentinel-1 looks on its ascending pass (the sample's orbit): heading about 350°,
right-looking, so 80° from north (ESA Sentinel-1 User Guide: right-looking SAR)."""
LAYOVER, SHADOW = 1, 2
"""Codes of :func:`radar_geometry`."""
_WET_BAND_WEIGHT = np.array([0.6, 0.6, 0.6, 0.8, 0.8, 1.0, 1.0], dtype=np.float32)
"""Share of ``wet_soil_darkening`` per band (BANDS order)."""
_WIND_WAVES = 6
WIND_VH_SHARE = 0.3
"""The share of wind's VV rise (in dB) that VH shows on roughened water. Over water, C-band
co-polarised σ⁰ climbs about 1.5-2 dB per m/s at light winds (CMOD5, Hersbach et al. 2007),
cross-polarised σ⁰ about 0.6 dB per m/s (the C-2PO model, Zhang, Perrie and He 2011, J.
Geophys. Res. 116, C08008) and from levels near -33 to -30 dB, under Sentinel-1's noise
floor, so the VH a flood map reads rises far less than VV; wind-roughened water is the case
in which cross-polarised detection is preferred (e.g. Manjusree et al. 2012, Int. J. Disaster
Risk Sci. 3(2))."""


def _multi(polys: list[Polygon]) -> BaseGeometry:
    return MultiPolygon(polys) if polys else Polygon()


@dataclass(frozen=True, eq=False)
class Confounders:
    """The confounders of one world (all empty in the demo world)."""

    params: WorldParams
    seed: int
    wet_rough: BaseGeometry
    """wet fields whose γ⁰ rises"""
    wet_smooth: BaseGeometry
    """waterlogged smooth fields whose γ⁰ drops"""
    thinning: Event | None
    flood: BaseGeometry
    """the flood's peak extent (where wind may roughen the water)"""
    inland_water: BaseGeometry

    @property
    def wet_days(self) -> tuple[dt.date, dt.date]:
        """[first, end) days the fields are wet."""
        return EVENT_DATES["flood"].date, FLOOD_END_DATE

    def is_wet(self, day: dt.date) -> bool:
        start, end = self.wet_days
        return start <= day < end and not (self.wet_rough.is_empty and self.wet_smooth.is_empty)

    @property
    def wind_day(self) -> dt.date:
        """The S1 pass with wind on the water: the flood's."""
        return EVENT_DATES["flood"].after

    # ------------------------------------------------------------------ masks on a grid
    def wet_masks(self, p: Pixels) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """(rough, smooth) wet fields on the grid, water excluded."""
        land = p.land_cover != WATER
        return (
            p.mask(("wet-rough",), self.wet_rough) & land,
            p.mask(("wet-smooth",), self.wet_smooth) & land,
        )

    def wind_mask(self, p: Pixels) -> NDArray[np.bool_]:
        """Water (flood or inland) in the wind's patches on :attr:`wind_day`."""
        f = self.params.water_wind_fraction
        if f <= 0 or self.params.water_wind_db <= 0:
            return np.zeros(p.land_cover.shape, dtype=bool)
        water = p.mask(("wind-flood",), self.flood) & (p.land_cover != WATER)
        water |= p.mask(("wind-inland",), self.inland_water) & (p.land_cover == WATER)
        return water & (wind_field(p.x, p.y, self.seed) > stats.norm.ppf(1.0 - f))

    def geometry(self, p: Pixels) -> NDArray[np.uint8]:
        """:data:`LAYOVER` / :data:`SHADOW` / 0 on the grid (0 everywhere without geometry)."""
        inc = self.params.s1_incidence_deg
        if inc is None:
            return np.zeros(p.land_cover.shape, dtype=np.uint8)
        return radar_geometry(p.grad_x, p.grad_y, inc)

    # ------------------------------------------------------------------ effects
    def reflectance(
        self,
        refl: Float32Array,
        frac: NDArray[np.float32],
        p: Pixels,
        band: int,
        land_gain: Float32Array,
        soil: float,
        day: dt.date,
    ) -> Float32Array:
        """``refl`` with the wet fields' soil darkened on wet days."""
        if not self.is_wet(day) or self.params.wet_soil_darkening <= 0:
            return refl
        rough, smooth = self.wet_masks(p)
        wet = rough | smooth
        drop = np.float32(self.params.wet_soil_darkening) * _WET_BAND_WEIGHT[band] * soil
        out = refl.copy()
        out[wet] -= (drop * frac[1][wet] * land_gain[wet]).astype(np.float32)
        return out

    def backscatter(
        self,
        total: Float32Array,
        frac: NDArray[np.float32],
        p: Pixels,
        day: dt.date,
        pol: str = "vv",
    ) -> Float32Array:
        """γ⁰ of ``pol`` with wet fields, wind-roughened water, layover and shadow. Wind
        raises VH by :data:`WIND_VH_SHARE` of its VV rise (cross-polarised Bragg scattering
        off wind ripples is weak)."""
        out = total
        water_share = frac[2] + frac[4]
        if self.is_wet(day) and self.params.wet_soil_db > 0:
            rough, smooth = self.wet_masks(p)
            out = out.copy()
            for mask, sign in ((rough, 1.0), (smooth, -1.0)):
                g = np.float32(10.0 ** (sign * self.params.wet_soil_db / 10.0) - 1.0)
                out[mask] *= 1.0 + g * (1.0 - water_share[mask])
        if day == self.wind_day:
            wind = self.wind_mask(p)
            if wind.any():
                out = out.copy()
                rise = self.params.water_wind_db * (WIND_VH_SHARE if pol == "vh" else 1.0)
                g = np.float32(10.0 ** (rise / 10.0) - 1.0)
                out[wind] *= 1.0 + g * water_share[wind]
        geo = self.geometry(p)
        if geo.any():
            out = out.copy()
            out[geo == LAYOVER] *= np.float32(10.0 ** (self.params.layover_db / 10.0))
            out[geo == SHADOW] = np.float32(10.0 ** (self.params.s1_noise_floor_db / 10.0))
        return out.astype(np.float32)

    # ------------------------------------------------------------------ labels
    def labels(
        self, p: Pixels, *, radar: bool, days: tuple[dt.date, ...]
    ) -> dict[str, NDArray[np.bool_]]:
        """Cause name -> mask of the confounders a product over ``days`` (Sentinel-2 dates)
        or of Sentinel-1 (``radar``) may see, in precedence order (later wins). Thinning is
        not among them: it is labelled like a planted event (:meth:`World.causes`)."""
        out: dict[str, NDArray[np.bool_]] = {}
        if radar or any(self.is_wet(d) for d in days):
            rough, smooth = self.wet_masks(p)
            if (rough | smooth).any():
                out["wet soil"] = rough | smooth
        if radar:
            wind = self.wind_mask(p)
            if wind.any():
                out["wind-roughened water"] = wind
            geo = self.geometry(p)
            if geo.any():
                out["layover"] = geo == LAYOVER
                out["radar shadow"] = geo == SHADOW
        return out


def wind_field(x: NDArray[np.floating], y: NDArray[np.floating], seed: int) -> Float32Array:
    """A smooth, about standard-normal field of map coordinates (metres): gusts and the
    shelter of banks and trees, in patches of a few hundred metres."""
    rng = rng_for(seed, "wind-water")
    xx, yy = x.astype(np.float64), y.astype(np.float64)
    out = np.zeros(x.shape, dtype=np.float64)
    for _ in range(_WIND_WAVES):
        k = 2.0 * math.pi / rng.uniform(300.0, 1200.0)
        a = rng.uniform(0.0, 2.0 * math.pi)
        out += np.cos(k * (xx * math.cos(a) + yy * math.sin(a)) + rng.uniform(0, 2 * math.pi))
    return (out / math.sqrt(_WIND_WAVES / 2.0)).astype(np.float32)


def radar_geometry(
    grad_x: NDArray[np.floating],
    grad_y: NDArray[np.floating],
    incidence_deg: float,
    look_azimuth_deg: float = S1_LOOK_AZIMUTH_DEG,
) -> NDArray[np.uint8]:
    """:data:`LAYOVER` where the terrain (gradient east ``grad_x``, north ``grad_y``) rises
    along the look more steeply than the incidence angle (it faces the sensor), :data:`SHADOW`
    where it falls away more steeply than the grazing angle, 0 elsewhere (uint8)."""
    az = math.radians(look_azimuth_deg)
    along = grad_x * math.sin(az) + grad_y * math.cos(az)
    out = np.zeros(np.shape(grad_x), dtype=np.uint8)
    out[along > math.tan(math.radians(incidence_deg))] = LAYOVER
    out[-along > math.tan(math.radians(90.0 - incidence_deg))] = SHADOW
    return out


# ---------------------------------------------------------------------- placement
def _wet_fields(
    site: Site, seed: int, params: WorldParams, flood: BaseGeometry, avoid: BaseGeometry
) -> tuple[BaseGeometry, BaseGeometry]:
    if params.wet_soil_count <= 0 or flood.is_empty:
        return Polygon(), Polygon()
    rng = rng_for(seed, "confounder-wet-soil")
    xx, yy = site.lattice.nodes()
    near = np.asarray(shapely.contains_xy(flood.buffer(1500.0), xx, yy))
    fields = (np.isin(site.land_cover, (PADDY, BARE)) & (site.slope < 3.0)).astype(np.float32)
    ok = (ndimage.uniform_filter(fields, size=5, mode="constant") > 0.95) & near
    ok &= site.inside(150.0)

    def shape_of(r: np.random.Generator, cx: float, cy: float, flat: int) -> Polygon:
        area = math.exp(r.uniform(math.log(0.3e4), math.log(3e4)))
        return _block(cx, cy, area, r.uniform(1.0, 3.0), r.uniform(-20, 20), r)

    blocks = _place(site, rng, ok, params.wet_soil_count, avoid, shape_of, fields)
    smooth = rng_for(seed, "confounder-wet-smooth").uniform(size=len(blocks)) < 0.25
    rough = [b for b, s in zip(blocks, smooth, strict=True) if not s]
    logged = [b for b, s in zip(blocks, smooth, strict=True) if s]
    return _multi(rough), _multi(logged)


def _thinning(site: Site, seed: int, params: WorldParams, avoid: BaseGeometry) -> Event | None:
    if params.thinning_count <= 0:
        return None
    rng = rng_for(seed, "confounder-thinning")
    t = site.terrain
    ok = (site.land_cover == FOREST) & (site.slope > 5.0) & (site.slope < 38.0)
    ok &= site.inside(250.0) & (t.river_distance > 150.0)

    def shape_of(r: np.random.Generator, cx: float, cy: float, flat: int) -> Polygon:
        row, col = np.unravel_index(flat, site.lattice.shape)
        aspect = math.degrees(math.atan2(float(t.grad_y[row, col]), float(t.grad_x[row, col])))
        area = math.exp(r.uniform(math.log(1e4), math.log(10e4)))
        return _block(cx, cy, area, r.uniform(1.0, 2.5), aspect + 90.0 + r.uniform(-25, 25), r)

    forest = (site.land_cover == FOREST).astype(np.float32)
    blocks = _place(site, rng, ok, params.thinning_count, avoid, shape_of, forest)
    if not blocks:
        return None
    early, late = MANAGEMENT_DATES["early"], MANAGEMENT_DATES["late"]
    first, every = _multi(blocks[::2]), _multi(blocks)
    d = EVENT_DATES["clearcut"]
    return Event(
        "thinning",
        early,
        every,
        "Forest thinning: part of the canopy felled and left on the ground",
        d.before,
        d.after,
        "s2",
        (Phase(early, late, first), Phase(late, None, every)),
    )


def place_confounders(
    site: Site,
    seed: int,
    params: WorldParams,
    *,
    flood: BaseGeometry,
    inland_water: BaseGeometry,
    avoid: BaseGeometry,
) -> Confounders:
    """The confounders of a world (own random streams: the rest of the world is unchanged)."""
    rough, smooth = _wet_fields(site, seed, params, flood, avoid)
    taken = shapely.union_all([avoid, rough, smooth])
    return Confounders(
        params=params,
        seed=seed,
        wet_rough=rough,
        wet_smooth=smooth,
        thinning=_thinning(site, seed, params, taken),
        flood=flood,
        inland_water=inland_water,
    )
