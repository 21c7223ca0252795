"""The synthetic world of the sample archive, renderable on any grid.

:class:`World` is pure and deterministic: for a seed and a lon/lat bbox it defines the
terrain, land cover, seasonal spectra, clouds, SAR backscatter and the planted events as
functions of map coordinates. Every method takes an odc-geo :class:`~odc.geo.geobox.GeoBox`
(UTM tiles, EPSG:4326 DEM tiles, the EPSG:6671 project grid, …) and evaluates the world
at the centres of its pixels, so renderings on different grids agree except within a pixel
of a class edge. The world depends on the bbox as well as the seed: to compare with an
archive, use the archive manifest's seed and bbox.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import shapely
from numpy.typing import NDArray
from odc.geo.geobox import GeoBox
from shapely.geometry.base import BaseGeometry

from ...errors import SampleArchiveError
from .causes import cause_labels
from .confounders import Confounders, place_confounders
from .events import Event, Site, place_events, place_ponds
from .landscape import (
    BARE,
    FOREST,
    PADDY,
    RIVER_HALF_WIDTH,
    URBAN,
    WATER,
    build_terrain,
    classify,
    slope_degrees,
)
from .managed import place_management
from .noise import Float32Array, rng_for
from .params import WorldParams
from .render import LruCache, Pixels, sample_pixels, transformer
from .schedule import EVENT_NAMES, S2_SCHEDULE, S2_SENSING_TIME, s2_acquisition
from .sky import CloudDeck, SkyState, cloud_deck
from .spectra import BANDS, CIRRUS, CLOUD, HAZE, SAR_DB, SPECTRA
from .surface import backscatter, fractions, illumination, reflectance, scene_classification

__all__ = ["DEFAULT_BBOX", "DEFAULT_SEED", "World"]

DEFAULT_BBOX: tuple[float, float, float, float] = (131.92, 33.88, 132.08, 33.98)
"""W, S, E, N degrees: the Suō-nada coast at Hikari, Murozumi and Tabuse, across 132°E."""
DEFAULT_SEED = 20260401
"""Seed of the default sample archive."""

_ALLOWED = (130.0, 32.5, 133.5, 35.5)  # where EPSG:6671 (Japan Plane Rect. CS III) makes sense
_BAND = {name: i for i, name in enumerate(BANDS)}


def _as_date(day: dt.date | str) -> dt.date:
    if isinstance(day, dt.datetime):
        return day.date()
    if isinstance(day, dt.date):
        return day
    try:
        return dt.date.fromisoformat(day)
    except (TypeError, ValueError) as e:
        raise SampleArchiveError(
            f"not a date: {day!r}; give a datetime.date or 'YYYY-MM-DD'"
        ) from e


def _validate(seed: int, bbox: tuple[float, float, float, float]) -> tuple[float, ...]:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SampleArchiveError(f"seed must be a non-negative integer, got {seed!r}")
    try:
        w, s, e, n = (float(v) for v in bbox)
    except (TypeError, ValueError) as err:
        raise SampleArchiveError(
            f"bbox must be four numbers W,S,E,N in degrees, got {bbox!r}"
        ) from err
    if not (w < e and s < n):
        raise SampleArchiveError(f"bbox {bbox!r} is empty or reversed: give W,S,E,N, W < E, S < N")
    if w < _ALLOWED[0] or s < _ALLOWED[1] or e > _ALLOWED[2] or n > _ALLOWED[3]:
        raise SampleArchiveError(
            f"bbox {bbox!r} is outside the area the sample world covers {_ALLOWED}"
        )
    if not (0.005 <= e - w <= 0.6 and 0.005 <= n - s <= 0.5):
        raise SampleArchiveError(
            f"bbox {bbox!r} must span 0.005-0.6° of longitude, 0.005-0.5° of latitude"
        )
    return (w, s, e, n)


class World:
    """A deterministic synthetic landscape over a real coastline; see the module docstring.

    Args:
        seed: non-negative integer; the same seed and bbox always give the same world.
        bbox: W, S, E, N in degrees (inside 130–133.5°E, 32.5–35.5°N). The world is defined
            on the bbox plus a 1.5 km margin; beyond that, fields are clamped to the edge.
        params: the scene parameters (clouds, speckle, relief, phenology, event sizes);
            default: the demo world's (``WorldParams()``); ``WorldParams.draw(seed)`` gives
            a varied world.
    """

    WATER = WATER
    FOREST = FOREST
    PADDY = PADDY
    URBAN = URBAN
    BARE = BARE

    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        bbox: tuple[float, float, float, float] = DEFAULT_BBOX,
        params: WorldParams | None = None,
    ) -> None:
        w, s, e, n = _validate(seed, bbox)
        self._bbox = (w, s, e, n)
        self._seed = int(seed)
        self._params = params or WorldParams()
        self._centre = ((w + e) / 2, (s + n) / 2)
        t = self._terrain = build_terrain(self._seed, self._bbox, hill_scale=self._params.relief)
        slope = slope_degrees(t.grad_x, t.grad_y)
        cover = classify(
            land=t.land,
            elevation=t.elevation,
            slope=slope,
            coast_distance=t.coast_distance,
            forest_noise=t.forest_noise,
            urban_noise=t.urban_noise,
            bare_noise=t.bare_noise,
            water=t.river_distance < RIVER_HALF_WIDTH,
        )
        self._events = place_events(self._seed, t, cover, slope, self._params)
        taken = (
            shapely.union_all([ev.geometry for ev in self._events])
            if self._events
            else shapely.Point()
        )
        river = t.river.buffer(RIVER_HALF_WIDTH) if t.river is not None else shapely.Polygon()
        self._water = shapely.union_all([river, place_ponds(self._seed, t, cover, slope, taken)])
        managed = place_management(
            Site(t, cover, slope), self._seed, self._params, shapely.union_all([taken, self._water])
        )
        self._events = (*self._events, *managed)
        flood = next((ev.geometry for ev in self._events if ev.name == "flood"), shapely.Point())
        self._confounders: Confounders = place_confounders(
            Site(t, cover, slope),
            self._seed,
            self._params,
            flood=flood,
            inland_water=self._water,
            avoid=shapely.union_all([taken, self._water, *(ev.geometry for ev in managed)]),
        )
        thin = self._confounders.thinning
        self._rendered = self._events if thin is None else (*self._events, thin)
        xs, ys = np.meshgrid(np.linspace(w, e, 120), np.linspace(s, n, 120))
        self._bbox_samples = transformer("EPSG:4326", "EPSG:6671").transform(xs.ravel(), ys.ravel())
        self._pixels: LruCache[GeoBox, Pixels] = LruCache(4)
        self._fractions: LruCache[tuple[GeoBox, dt.date], NDArray[np.float32]] = LruCache(2)
        self._skies: LruCache[tuple[GeoBox, dt.date], SkyState] = LruCache(2)
        self._decks: LruCache[dt.date, CloudDeck] = LruCache(16)

    # ------------------------------------------------------------------ identity and events
    @property
    def seed(self) -> int:
        """The seed."""
        return self._seed

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """W, S, E, N in degrees."""
        return self._bbox

    @property
    def params(self) -> WorldParams:
        """The scene parameters of this world."""
        return self._params

    def events(self) -> tuple[Event, ...]:
        """The planted events that exist in this world (EPSG:6671 geometries)."""
        return self._events

    def event(self, name: str) -> Event | None:
        """The planted event ``name``, or None if the bbox had no room for it."""
        if name not in EVENT_NAMES:
            raise SampleArchiveError(
                f"unknown event {name!r}; choose one of {', '.join(EVENT_NAMES)}"
            )
        return next((e for e in self._events if e.name == name), None)

    def project_geobox(self, resolution: float = 10.0) -> GeoBox:
        """The EPSG:6671 grid over the bbox, ``resolution`` metres, snapped to its multiples."""
        return GeoBox.from_bbox(
            self._terrain.bbox_polygon.bounds, "EPSG:6671", resolution=resolution
        )

    # ------------------------------------------------------------------ static fields
    def elevation(self, geobox: GeoBox) -> Float32Array:
        """Height above sea level, metres, float32 (0 at sea)."""
        return self._at(geobox).elevation

    def slope_deg(self, geobox: GeoBox) -> Float32Array:
        """Terrain slope, degrees, float32 (from the gradient of the 20 m terrain lattice)."""
        p = self._at(geobox)
        return slope_degrees(p.grad_x, p.grad_y)

    def land_cover(self, geobox: GeoBox) -> NDArray[np.uint8]:
        """Land-cover class before any event: ``World.WATER`` 1, ``FOREST`` 2, ``PADDY`` 3,
        ``URBAN`` 4, ``BARE`` 5 (uint8)."""
        return self._at(geobox).land_cover

    # ------------------------------------------------------------------ optical
    def surface_reflectance(self, geobox: GeoBox, band: str, date: dt.date | str) -> Float32Array:
        """Clear-sky, noise-free surface reflectance (0..1, float32) of ``band`` on ``date``.

        Bands: ``blue green red nir nir08 swir16 swir22``. Includes seasonal phenology,
        terrain illumination at the overpass time, and the planted events in effect.
        """
        if band not in _BAND:
            raise SampleArchiveError(f"unknown band {band!r}; choose one of {', '.join(BANDS)}")
        day = _as_date(date)
        p = self._at(geobox)
        when = dt.datetime.combine(day, S2_SENSING_TIME, tzinfo=dt.UTC)
        gain = illumination(p, when, self._centre, self._params.illumination_k)
        frac = self._mixture(geobox, day)
        refl = reflectance(frac, p, _BAND[band], gain)
        if self._confounders.is_wet(day):
            land_gain = gain * (1.0 + 0.05 * p.texture)
            soil = float(SPECTRA[1, _BAND[band]])
            refl = self._confounders.reflectance(refl, frac, p, _BAND[band], land_gain, soil, day)
        return refl

    def observed_reflectance(self, geobox: GeoBox, band: str, date: dt.date | str) -> Float32Array:
        """What the sensor sees: :meth:`surface_reflectance` under clouds, cirrus and shadows."""
        day = _as_date(date)
        refl = self.surface_reflectance(geobox, band, day)
        sky = self._sky(geobox, day)
        b = _BAND[band]
        refl = np.where(sky.shadow, refl * self._params.shadow_factor, refl)
        refl = np.where(sky.cirrus, refl + CIRRUS[b], refl)
        if self._params.haze > 0:
            refl = refl + self.haze(geobox, day) * HAZE[b]
        return (refl * (1.0 - sky.opacity) + sky.opacity * CLOUD[b]).astype(np.float32)

    def haze(self, geobox: GeoBox, date: dt.date | str) -> Float32Array:
        """Unflagged haze on ``date``: reflectance added in blue (other bands by
        :data:`~.spectra.HAZE`), 0 in the demo world; SCL does not mark it."""
        day = _as_date(date)
        if self._params.haze <= 0:
            return np.zeros(geobox.shape.yx, dtype=np.float32)
        amount = rng_for(self._seed, "haze", day.toordinal()).uniform(0.0, self._params.haze)
        p = self._at(geobox)
        weight = self._deck(day).haze_weight(p.x.astype(np.float64), p.y.astype(np.float64))
        return (np.float32(amount) * weight).astype(np.float32)

    def cloud_fraction(self, date: dt.date | str) -> float:
        """Cloudy fraction of the bbox on ``date`` (scheduled value, else a seeded 5–30 %)."""
        day = _as_date(date)
        acq = s2_acquisition(day)
        if acq is not None:
            return self._params.cloud_fractions[S2_SCHEDULE.index(acq)]
        return float(rng_for(self._seed, "cloud-fraction", day.toordinal()).uniform(0.05, 0.30))

    def scl(self, geobox: GeoBox, date: dt.date | str) -> NDArray[np.uint8]:
        """Sentinel-2 scene classification (SCL) on ``date``, uint8: 3 cloud shadow,
        4 vegetation, 5 not vegetated, 6 water, 8 cloud (medium probability, cloud edges),
        9 cloud (high probability), 10 thin cirrus."""
        day = _as_date(date)
        green, red, nir, swir16 = (
            self.surface_reflectance(geobox, b, day) for b in ("green", "red", "nir", "swir16")
        )
        return scene_classification(green, red, nir, swir16, self._sky(geobox, day))

    # ------------------------------------------------------------------ radar
    def sar_backscatter(self, geobox: GeoBox, date: dt.date | str, pol: str) -> Float32Array:
        """Noise-free Sentinel-1 RTC γ⁰ in linear power (float32) for ``pol`` ``vv`` or ``vh``.

        Water ≈ −22 dB VV, forest ≈ −8 dB, built-up ≈ 0 dB, VH 6–8 dB lower; flooded
        paddies in May–June are darker, and the flood is water on its dates.
        """
        if pol not in SAR_DB:
            raise SampleArchiveError(f"unknown polarisation {pol!r}; choose 'vv' or 'vh'")
        day = _as_date(date)
        frac, p = self._mixture(geobox, day), self._at(geobox)
        if self._params.is_demo:
            return backscatter(frac, p, pol)
        return self._confounders.backscatter(backscatter(frac, p, pol), frac, p, day, pol)

    @property
    def s1_enl(self) -> float:
        """Equivalent number of looks of this world's Sentinel-1 speckle."""
        return self._params.s1_enl

    # ------------------------------------------------------------------ truth
    def truth(self, geobox: GeoBox, event: str) -> NDArray[np.uint8]:
        """1 where the planted ``event`` is (its ground truth), else 0; uint8.

        Permanent water is never truth; the flood's truth is its extent on the S1 flood date.
        """
        ev = self.event(event)
        if ev is None:
            return np.zeros(geobox.shape.yx, dtype=np.uint8)
        p = self._at(geobox)
        return (p.mask(("truth", event), ev.geometry) & (p.land_cover != WATER)).astype(np.uint8)

    def change_truth(
        self, geobox: GeoBox, before: dt.date | str, after: dt.date | str
    ) -> NDArray[np.uint8]:
        """1 where land cover changed between the days ``before`` and ``after``, else 0.

        Land-cover change is the truth of a change map: new construction (the solar farm
        and graded sites), clear-cuts, harvest, landslide scars and burns that appeared in
        between (what an event covers on ``after`` and did not on ``before``). Floods are
        not land-cover change; phenology, irrigation, haze and illumination never are.
        """
        b, a = _as_date(before), _as_date(after)
        p = self._at(geobox)
        out = np.zeros(geobox.shape.yx, dtype=bool)
        for name, new in self.changed_outlines(b, a):
            out |= p.mask(("change-truth", name, b, a), new)
        return (out & (p.land_cover != WATER)).astype(np.uint8)

    def changed_outlines(
        self, before: dt.date | str, after: dt.date | str
    ) -> list[tuple[str, BaseGeometry]]:
        """(event name, outline) of what each event covers on ``after`` and did not on
        ``before`` (floods left out): the outlines :meth:`change_truth` burns."""
        b, a = _as_date(before), _as_date(after)
        out = []
        for ev in self._events:
            if ev.name == "flood":
                continue
            now, then = ev.extent_on(a), ev.extent_on(b)
            if now is None or now.is_empty:
                continue
            new = now if then is None else now.difference(then)
            if not new.is_empty:
                out.append((ev.name, new))
        return out

    def causes(
        self, geobox: GeoBox, dates: tuple[dt.date | str, ...] = (), *, radar: bool = False
    ) -> NDArray[np.uint8]:
        """Why a pixel might fool a detector comparing ``dates`` (see
        :data:`~.causes.CAUSE_NAMES`): the confounders of a varied world (:mod:`.confounders`;
        wind on water, layover and shadow only for a detector using Sentinel-1, ``radar``;
        wet soil when it is wet on one of the dates, or for ``radar``), the planted events
        (their peak extent), then clouds, shadows and cirrus on those of ``dates`` that are
        Sentinel-2 overpasses, then haze over 0.01 in blue, steep slopes and the land cover.
        uint8, one code per pixel."""
        p = self._at(geobox)
        events = {ev.name: p.mask(("truth", ev.name), ev.geometry) for ev in self._rendered}
        days = [d for d in map(_as_date, dates) if s2_acquisition(d) is not None]
        skies = [(s.opacity, s.shadow, s.cirrus) for s in (self._sky(geobox, d) for d in days)]
        haze = None
        if self._params.haze > 0 and days:
            haze = np.maximum.reduce([self.haze(geobox, d) for d in days]) > 0.01
        return cause_labels(
            land_cover=p.land_cover,
            slope=slope_degrees(p.grad_x, p.grad_y),
            events=events,
            skies=skies,
            haze=haze,
            confounders=self._confounders.labels(p, radar=radar, days=tuple(days)),
        )

    # ------------------------------------------------------------------ internals
    def _at(self, geobox: GeoBox) -> Pixels:
        return self._pixels.get_or(
            geobox, lambda: sample_pixels(self._terrain, self._water, geobox, self._seed)
        )

    def _mixture(self, geobox: GeoBox, day: dt.date) -> NDArray[np.float32]:
        return self._fractions.get_or(
            (geobox, day), lambda: fractions(self._at(geobox), day, self._rendered, self._params)
        )

    def _deck(self, day: dt.date) -> CloudDeck:
        return self._decks.get_or(day, lambda: self._make_deck(day))

    def _make_deck(self, day: dt.date) -> CloudDeck:
        """The clouds of ``day``, kept off the events on their reference S2 dates."""
        spots: list[tuple[float, float, float]] = []
        for ev in self._events:
            observed = {ev.before, ev.after} if ev.sensor == "s2" else set()
            if ev.name == "flood":
                observed.add(ev.date + dt.timedelta(days=3))
            if day in observed:
                for part in ev.parts():
                    c = part.centroid
                    spots.append((c.x, c.y, 500.0 + math.sqrt(part.area / math.pi)))
        return cloud_deck(
            self._seed,
            bounds=self._terrain.bbox_polygon.bounds,
            inside_bbox=self._bbox_samples,
            when=dt.datetime.combine(day, S2_SENSING_TIME, tzinfo=dt.UTC),
            fraction=self.cloud_fraction(day),
            lonlat=self._centre,
            clear_spots=tuple(spots),
            clear_depth=self._params.clear_events,
            cloud_height=self._params.cloud_height_m,
            cirrus_max=self._params.cirrus_max,
        )

    def _sky(self, geobox: GeoBox, day: dt.date) -> SkyState:
        def make() -> SkyState:
            p = self._at(geobox)
            return self._deck(day).state(p.x.astype(np.float64), p.y.astype(np.float64))

        return self._skies.get_or((geobox, day), make)
