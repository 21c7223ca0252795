"""The input grids of the sample archive and the sensor-like rasters rendered on them.

- Sentinel-2: crops of the real MGRS tiles that cover the bbox, one in UTM 52N (EPSG:32652)
  and one in UTM 53N (EPSG:32653), overlapping across 132°E (each reaches 0.025° past it),
  on the tile's own pixel grid (crop offsets are multiples of 60 m so the 10, 20 and 60 m
  grids nest). DN = round((ρ + 0.1) / 0.0001) with Gaussian sensor noise σ = 0.003.
- Sentinel-1 RTC: one UTM 52N grid at 10 m over the bbox (+500 m); γ⁰ in linear power
  times gamma-distributed speckle of ENL 4.4 (the ``sar:looks_equivalent_number`` of
  Planetary Computer RTC items; a varied world draws its own, :class:`WorldParams`).
- Copernicus DEM GLO-30: the real 1° tiles' 1″ grid (pixel centres on whole arc-seconds),
  cropped to the bbox plus 0.005°.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray
from odc.geo.geobox import GeoBox
from pyproj import Transformer

from .noise import rng_for
from .schedule import S1Acquisition, S2Acquisition
from .spectra import BANDS
from .world import World

__all__ = [
    "DN_OFFSET",
    "DN_SCALE",
    "S1_ENL",
    "S2_NOISE",
    "DemTile",
    "S2Tile",
    "dem_tiles",
    "s1_geobox",
    "s1_rasters",
    "s2_rasters",
    "s2_tiles",
]

DN_SCALE = 0.0001
"""Sentinel-2 L2A reflectance per DN (processing baseline ≥ 04.00)."""
DN_OFFSET = -0.1
"""Sentinel-2 L2A BOA_ADD_OFFSET in reflectance units (baseline ≥ 04.00)."""
S2_NOISE = 0.003
"""Standard deviation of the Sentinel-2 sensor noise, reflectance units."""
S1_ENL = 4.4
"""Equivalent number of looks of the speckle in the demo world (``World.s1_enl`` per world)."""
TEN_M_BANDS = ("blue", "green", "red", "nir")
"""Bands at 10 m; the others (and SCL) are at 20 m."""
ZONE_OVERLAP = 0.025
"""How far, in degrees, each UTM tile reaches past the 132°E zone boundary."""

_BAND_LETTERS = "CDEFGHJKLMNPQRSTUVWX"
_COL_SETS = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")
_ROW_LETTERS = "ABCDEFGHJKLMNPQRSTUV"
# upper-left easting of the Sentinel-2 tile whose 100 km column starts at k * 100 km
_TILE_X0 = {1: 99960, 2: 199980, 3: 300000, 4: 399960, 5: 499980, 6: 600000, 7: 699960, 8: 800040}
_TILE_SIZE = 109800


@dataclass(frozen=True)
class S2Tile:
    """A crop of one Sentinel-2 MGRS tile."""

    mgrs: str
    """e.g. ``52SGC``"""
    epsg: int
    geobox10: GeoBox
    """10 m grid of the crop"""
    geobox20: GeoBox
    """20 m grid of the crop (same origin)"""

    @property
    def utm_zone(self) -> int:
        return int(self.mgrs[:2])

    @property
    def latitude_band(self) -> str:
        return self.mgrs[2]

    @property
    def grid_square(self) -> str:
        return self.mgrs[3:]


@dataclass(frozen=True)
class DemTile:
    """A (cropped) Copernicus DEM 1° tile."""

    name: str
    """e.g. ``Copernicus_DSM_COG_10_N33_00_E131_00_DEM``"""
    lat: int
    lon: int
    geobox: GeoBox


def _mgrs(zone: int, lat: float, easting: float, northing: float) -> str:
    band = _BAND_LETTERS[int((lat + 80.0) // 8)]
    col = _COL_SETS[(zone - 1) % 3][int(easting // 100000) - 1]
    row_index = int(northing // 100000) % 20
    if zone % 2 == 0:
        row_index = (row_index + 5) % 20
    return f"{zone:02d}{band}{col}{_ROW_LETTERS[row_index]}"


def _utm_bounds(
    epsg: int, lonlat: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    ring = shapely.segmentize(shapely.box(*lonlat), 0.002)
    tr = Transformer.from_crs(4326, epsg, always_xy=True)
    return shapely.transform(
        ring, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
    ).bounds


def s2_tiles(bbox: tuple[float, float, float, float]) -> tuple[S2Tile, ...]:
    """The Sentinel-2 tile crops over ``bbox``: UTM 52N west of 132.025°E, 53N east of 131.975°E."""
    w, s, e, n = bbox
    parts = []
    if w < 132.0 + ZONE_OVERLAP:
        parts.append((52, (w, s, min(e, 132.0 + ZONE_OVERLAP), n)))
    if e > 132.0 - ZONE_OVERLAP:
        parts.append((53, (max(w, 132.0 - ZONE_OVERLAP), s, e, n)))
    tiles = []
    for zone, lonlat in parts:
        epsg = 32600 + zone
        xmin, ymin, xmax, ymax = _utm_bounds(epsg, lonlat)
        cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
        mgrs = _mgrs(zone, (s + n) / 2, cx, cy)
        x0 = _TILE_X0[int(cx // 100000)]
        y0 = (int(cy // 100000) + 1) * 100000 + 40
        c0 = max(0, math.floor((xmin - 200.0 - x0) / 60.0) * 60)
        c1 = min(_TILE_SIZE, math.ceil((xmax + 200.0 - x0) / 60.0) * 60)
        r0 = max(0, math.floor((y0 - ymax - 200.0) / 60.0) * 60)
        r1 = min(_TILE_SIZE, math.ceil((y0 - ymin + 200.0) / 60.0) * 60)
        if c1 <= c0 or r1 <= r0:
            continue
        g10 = GeoBox(
            ((r1 - r0) // 10, (c1 - c0) // 10),
            Affine(10, 0, x0 + c0, 0, -10, y0 - r0),
            f"EPSG:{epsg}",
        )
        g20 = GeoBox(
            ((r1 - r0) // 20, (c1 - c0) // 20),
            Affine(20, 0, x0 + c0, 0, -20, y0 - r0),
            f"EPSG:{epsg}",
        )
        tiles.append(S2Tile(mgrs=mgrs, epsg=epsg, geobox10=g10, geobox20=g20))
    return tuple(tiles)


def s1_geobox(bbox: tuple[float, float, float, float]) -> GeoBox:
    """The Sentinel-1 RTC grid: EPSG:32652, 10 m, over the bbox plus 500 m."""
    xmin, ymin, xmax, ymax = _utm_bounds(32652, bbox)
    return GeoBox.from_bbox(
        (xmin - 500, ymin - 500, xmax + 500, ymax + 500), "EPSG:32652", resolution=10
    )


def dem_tiles(
    bbox: tuple[float, float, float, float], *, margin: float = 0.005
) -> tuple[DemTile, ...]:
    """The Copernicus DEM 1° tiles over ``bbox``, each cropped to the bbox plus ``margin``°."""
    w, s, e, n = bbox
    res = 1.0 / 3600.0
    tiles = []
    for lat in range(math.floor(s), math.floor(n) + 1):
        for lon in range(math.floor(w), math.floor(e) + 1):
            x0, y0 = lon - res / 2, lat + 1 + res / 2
            c0 = max(0, math.floor((w - margin - x0) / res))
            c1 = min(3600, math.ceil((e + margin - x0) / res))
            r0 = max(0, math.floor((y0 - n - margin) / res))
            r1 = min(3600, math.ceil((y0 - s + margin) / res))
            if c1 <= c0 or r1 <= r0:
                continue
            ns, ew = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
            name = f"Copernicus_DSM_COG_10_{ns}{abs(lat):02d}_00_{ew}{abs(lon):03d}_00_DEM"
            gb = GeoBox(
                (r1 - r0, c1 - c0),
                Affine(res, 0, x0 + c0 * res, 0, -res, y0 - r0 * res),
                "EPSG:4326",
            )
            tiles.append(DemTile(name=name, lat=lat, lon=lon, geobox=gb))
    return tuple(tiles)


def s2_rasters(world: World, tile: S2Tile, acq: S2Acquisition) -> dict[str, NDArray[np.generic]]:
    """DN (uint16, 0 = nodata) of every band, and SCL (uint8), of one tile on one date."""
    out: dict[str, NDArray[np.generic]] = {}
    for band in BANDS:
        gb = tile.geobox10 if band in TEN_M_BANDS else tile.geobox20
        refl = world.observed_reflectance(gb, band, acq.date)
        rng = rng_for(world.seed, f"s2-noise/{tile.mgrs}/{band}", acq.date.toordinal())
        refl = refl + np.float32(S2_NOISE) * rng.standard_normal(refl.shape, dtype=np.float32)
        dn = np.rint((refl - np.float32(DN_OFFSET)) / np.float32(DN_SCALE))
        out[band] = np.clip(dn, 1, 65535).astype(np.uint16)
    out["scl"] = world.scl(tile.geobox20, acq.date)
    return out


def s1_rasters(world: World, geobox: GeoBox, acq: S1Acquisition) -> dict[str, NDArray[np.float32]]:
    """Speckled γ⁰ (linear power, float32) for ``vv`` and ``vh`` on one date.

    The float mantissa is truncated to 11 bits (relative precision 5e-4, far below the
    speckle) so that DEFLATE can compress the files.
    """
    out = {}
    for pol in ("vv", "vh"):
        clean = world.sar_backscatter(geobox, acq.date, pol)
        rng = rng_for(world.seed, f"s1-speckle/{pol}", acq.date.toordinal())
        enl = world.s1_enl
        speckle = rng.gamma(enl, 1.0 / enl, size=clean.shape).astype(np.float32)
        noisy = np.ascontiguousarray(clean * speckle, dtype=np.float32)
        out[pol] = (noisy.view(np.uint32) & np.uint32(0xFFFFF000)).view(np.float32)
    return out
