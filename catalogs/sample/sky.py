"""Clouds, cirrus and cloud shadows of one Sentinel-2 overpass.

A cloud deck is a fractal field on a 60 m lattice in EPSG:6671, thresholded so that the
requested fraction of the sample bbox is cloudy. Shadows are the cloud mask moved away
from the sun by ``h · tan(zenith)`` (cloud-top height ``h`` = 1.5 km), with the sun
position computed for the overpass time (NOAA General Solar Position equations, after
Spencer 1971). Around the planted events on their reference dates the deck is thinned so
the events are observable ("clear spots").
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .noise import Float32Array, Lattice, fbm, rng_for

__all__ = ["CloudDeck", "SkyState", "cloud_deck", "sun_position"]

CLOUD_HEIGHT = 1500.0
"""Height of the cloud tops above ground, metres (sets the shadow displacement)."""
_STEP = 60.0


def sun_position(when: dt.datetime, lon: float, lat: float) -> tuple[float, float]:
    """Solar (azimuth, zenith) in degrees at UTC time ``when`` (NOAA approximation).

    Azimuth is clockwise from north. Accuracy is a fraction of a degree, ample for shadows.
    """
    doy = when.timetuple().tm_yday
    hour = when.hour + when.minute / 60.0 + when.second / 3600.0
    g = 2.0 * math.pi / 365.0 * (doy - 1 + (hour - 12.0) / 24.0)
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(g)
        - 0.032077 * math.sin(g)
        - 0.014615 * math.cos(2 * g)
        - 0.040849 * math.sin(2 * g)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(g)
        + 0.070257 * math.sin(g)
        - 0.006758 * math.cos(2 * g)
        + 0.000907 * math.sin(2 * g)
        - 0.002697 * math.cos(3 * g)
        + 0.00148 * math.sin(3 * g)
    )
    true_solar_minutes = hour * 60.0 + eqtime + 4.0 * lon
    ha = math.radians(true_solar_minutes / 4.0 - 180.0)
    phi = math.radians(lat)
    cos_zen = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha)
    zenith = math.degrees(math.acos(max(-1.0, min(1.0, cos_zen))))
    azimuth = (
        math.degrees(
            math.atan2(math.sin(ha), math.cos(ha) * math.sin(phi) - math.tan(decl) * math.cos(phi))
        )
        + 180.0
    )
    return azimuth % 360.0, zenith


@dataclass(frozen=True)
class SkyState:
    """Per-pixel sky of one overpass."""

    opacity: Float32Array
    """cloud opacity 0..1 (0: no cloud)"""
    cirrus: NDArray[np.bool_]
    """thin cirrus over an otherwise clear pixel"""
    shadow: NDArray[np.bool_]
    """cloud shadow over an otherwise clear pixel"""


@dataclass(frozen=True, eq=False)
class CloudDeck:
    """The clouds of one overpass, as functions of EPSG:6671 coordinates."""

    lattice: Lattice
    field: Float32Array
    threshold: float
    cirrus_field: Float32Array
    cirrus_threshold: float
    sun_azimuth: float
    """degrees clockwise from north"""
    sun_zenith: float
    """degrees"""
    cloud_height: float = CLOUD_HEIGHT
    """cloud-top height above ground, metres"""

    @property
    def shadow_offset(self) -> tuple[float, float]:
        """Vector from a shadowed point to the cloud that casts it (towards the sun), metres."""
        d = self.cloud_height * math.tan(math.radians(self.sun_zenith))
        az = math.radians(self.sun_azimuth)
        return d * math.sin(az), d * math.cos(az)

    def opacity(self, x: NDArray[np.floating], y: NDArray[np.floating]) -> Float32Array:
        """Cloud opacity at points: 0 outside clouds, 0.35 at their edges rising to 1."""
        n = self.lattice.sample(self.field, x, y)
        return np.where(
            n > self.threshold, np.clip((n - self.threshold) / 0.5 + 0.35, 0.0, 1.0), 0.0
        ).astype(np.float32)

    def state(self, x: NDArray[np.floating], y: NDArray[np.floating]) -> SkyState:
        """Opacity, cirrus and shadow at points (arrays of EPSG:6671 coordinates)."""
        opacity = self.opacity(x, y)
        clear = opacity == 0.0
        cirrus = clear & (self.lattice.sample(self.cirrus_field, x, y) > self.cirrus_threshold)
        dx, dy = self.shadow_offset
        caster = self.lattice.sample(self.field, x + dx, y + dy) > self.threshold
        return SkyState(opacity=opacity, cirrus=cirrus, shadow=clear & ~cirrus & caster)

    def haze_weight(self, x: NDArray[np.floating], y: NDArray[np.floating]) -> Float32Array:
        """Relative thickness 0..1 of unflagged haze at points (smooth, follows the cirrus
        field at half strength so haze and cirrus come together)."""
        c = self.lattice.sample(self.cirrus_field, x, y)
        return np.clip(0.5 + 0.25 * c, 0.0, 1.0).astype(np.float32)


def cloud_deck(
    seed: int,
    *,
    bounds: tuple[float, float, float, float],
    inside_bbox: tuple[NDArray[np.floating], NDArray[np.floating]] | None,
    when: dt.datetime,
    fraction: float,
    lonlat: tuple[float, float],
    clear_spots: tuple[tuple[float, float, float], ...] = (),
    clear_depth: float = 4.0,
    cloud_height: float = CLOUD_HEIGHT,
    cirrus_max: float = 0.06,
) -> CloudDeck:
    """Build the cloud deck of one overpass.

    Args:
        seed: world seed.
        bounds: EPSG:6671 bounds the deck must cover (it gets a 3 km margin for shadows).
        inside_bbox: sample coordinates (x, y) of the bbox over which ``fraction`` holds.
        when: overpass time (UTC); sets the sun and the random stream.
        fraction: cloudy fraction of the bbox, 0..1.
        lonlat: where the sun position is computed.
        clear_spots: (x, y, radius) places kept free of cloud and shadow.
        clear_depth: how strongly the clear spots push the cloud field down (0: not at all).
        cloud_height: cloud-top height, metres (sets the shadow displacement).
        cirrus_max: the largest thin-cirrus fraction (cirrus covers 0.4 x ``fraction``).
    """
    lattice = Lattice.covering(bounds, step=_STEP, margin=3000.0)
    key = when.date().toordinal()
    field = fbm(
        rng_for(seed, "cloud", key),
        lattice.shape,
        step=_STEP,
        min_scale=250.0,
        max_scale=8000.0,
        beta=3.2,
    )
    cirrus = fbm(
        rng_for(seed, "cirrus", key),
        lattice.shape,
        step=_STEP,
        min_scale=400.0,
        max_scale=10000.0,
        beta=3.6,
    )
    azimuth, zenith = sun_position(when, *lonlat)
    deck = CloudDeck(lattice, field, 0.0, cirrus, 0.0, azimuth, zenith, cloud_height)
    if fraction < 0.5 and clear_spots and clear_depth > 0:
        xx, yy = lattice.nodes()
        dx, dy = deck.shadow_offset
        for sx, sy, radius in clear_spots:
            for cx, cy in ((sx, sy), (sx + dx, sy + dy)):
                field = field - clear_depth * np.exp(
                    -(((xx - cx) ** 2 + (yy - cy) ** 2) / radius**2)
                ).astype(np.float32)
    if inside_bbox is None:
        inside_bbox = lattice.nodes()
    samples = lattice.sample(field, *inside_bbox)
    threshold = (
        float(np.quantile(samples, 1.0 - fraction)) if fraction > 0 else float(samples.max()) + 1.0
    )
    cirrus_fraction = min(cirrus_max, 0.4 * fraction)
    c_samples = lattice.sample(cirrus, *inside_bbox)
    c_threshold = (
        float(np.quantile(c_samples, 1.0 - cirrus_fraction)) if cirrus_fraction > 0 else 1e9
    )
    return CloudDeck(
        lattice,
        field.astype(np.float32),
        threshold,
        cirrus,
        c_threshold,
        azimuth,
        zenith,
        cloud_height,
    )
