"""The static landscape of the sample world on a 20 m lattice in EPSG:6671.

Land and sea come from the real coastline: ``global_land_mask`` (a 30″ grid from the
GLOBE dataset, read by :mod:`yamasat.catalogs.sample.coast`), smoothed with a Gaussian (σ 300 m)
and perturbed by a fractal field so the shore is neither blocky nor straight, but stays
where the real one is. Everything else
is synthetic: a river from the coast inland, a coastal plain rising 3 m/km, a flat valley
floor along the river, and fractal hills up to about 600 m that grow with the distance from
the sea. Land cover is decided per point from these fields (:func:`classify`), so the same
rule gives the same class on any grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from scipy import ndimage
from shapely.geometry import LineString, Polygon

from .coast import is_land
from .noise import Float32Array, Lattice, fbm, rng_for

__all__ = [
    "BARE",
    "CLASS_NAMES",
    "FOREST",
    "PADDY",
    "URBAN",
    "WATER",
    "Terrain",
    "build_terrain",
    "classify",
    "slope_degrees",
]

WATER = 1
"""Land-cover code: sea, river, irrigation ponds (ため池)."""
FOREST = 2
"""Land-cover code: forest (on slopes and hills)."""
PADDY = 3
"""Land-cover code: rice paddy (flat lowland)."""
URBAN = 4
"""Land-cover code: built-up (near the coast)."""
BARE = 5
"""Land-cover code: bare soil (quarries, construction sites, fallow)."""
CLASS_NAMES: dict[int, str] = {
    WATER: "water",
    FOREST: "forest",
    PADDY: "paddy",
    URBAN: "urban",
    BARE: "bare",
}

STEP = 20.0
"""Lattice spacing, metres."""
MARGIN = 1500.0
"""The lattice covers the bbox plus this margin, metres; beyond it fields are clamped."""
RIVER_HALF_WIDTH = 15.0
"""Half width of the river channel, metres."""
_TO_6671 = Transformer.from_crs(4326, 6671, always_xy=True)
_TO_4326 = Transformer.from_crs(6671, 4326, always_xy=True)


@dataclass(frozen=True, eq=False)
class Terrain:
    """Static fields of the world on :attr:`lattice` (all float32, lattice shape)."""

    lattice: Lattice
    bbox_polygon: Polygon
    """the requested bbox as a polygon in EPSG:6671"""
    land: Float32Array
    """smoothed land fraction; land where > 0.5"""
    coast_distance: Float32Array
    """distance to the sea, metres (0 at sea)"""
    river: LineString | None
    """river centre line, from 300 m out at sea to the lattice edge (None if no land)"""
    river_distance: Float32Array
    """distance to the river centre line, metres"""
    elevation: Float32Array
    """metres above sea level (0 at sea)"""
    grad_x: Float32Array
    """dz/dx (eastward), m/m"""
    grad_y: Float32Array
    """dz/dy (northward), m/m"""
    forest_noise: Float32Array
    urban_noise: Float32Array
    bare_noise: Float32Array
    texture: Float32Array
    """within-class brightness / vigour variation, unit std, 30–400 m features"""
    sea_texture: Float32Array
    """wind roughness of the sea surface, unit std"""


def bbox_polygon_6671(bbox: tuple[float, float, float, float]) -> Polygon:
    """The lon/lat bbox as a densified polygon in EPSG:6671."""
    ring = shapely.segmentize(shapely.box(*bbox), 0.002)
    return shapely.transform(
        ring, lambda xy: np.column_stack(_TO_6671.transform(xy[:, 0], xy[:, 1]))
    )


def _smoothstep(v: NDArray[np.floating], lo: float, hi: float) -> NDArray[np.floating]:
    t = np.clip((v - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def slope_degrees(grad_x: NDArray[np.floating], grad_y: NDArray[np.floating]) -> Float32Array:
    """Slope in degrees from the two components of the elevation gradient."""
    return np.degrees(np.arctan(np.hypot(grad_x, grad_y))).astype(np.float32)


def classify(
    *,
    land: NDArray[np.floating],
    elevation: NDArray[np.floating],
    slope: NDArray[np.floating],
    coast_distance: NDArray[np.floating],
    forest_noise: NDArray[np.floating],
    urban_noise: NDArray[np.floating],
    bare_noise: NDArray[np.floating],
    water: NDArray[np.bool_],
) -> NDArray[np.uint8]:
    """Land-cover class per point (see the class constants), from the terrain fields.

    Forest covers hills and slopes, built-up land lies near the coast, bare patches are
    rare, and the remaining flat lowland is paddy. ``water`` marks the river and ponds.
    """
    out = np.full(np.shape(land), PADDY, dtype=np.uint8)
    forest = (elevation > 35.0 + 12.0 * forest_noise) | (slope > 7.0 + 2.5 * forest_noise)
    urban = (
        ~forest
        & (coast_distance < 700.0 + 300.0 * np.clip(urban_noise, -1.0, 1.0))
        & (urban_noise > -0.3)
    )
    urban |= ~forest & (urban_noise > 1.7)
    bare = ~forest & ~urban & (bare_noise > 1.8)
    out[forest] = FOREST
    out[urban] = URBAN
    out[bare] = BARE
    out[(land <= 0.5) | water] = WATER
    return out


def _land_fraction(seed: int, lattice: Lattice) -> Float32Array:
    xx, yy = lattice.nodes()
    lon, lat = _TO_4326.transform(xx, yy)
    mask = is_land(lat, lon).astype(np.float32)
    smooth = ndimage.gaussian_filter(mask, sigma=300.0 / lattice.step, mode="nearest")
    wiggle = fbm(
        rng_for(seed, "coast"), lattice.shape, step=lattice.step, min_scale=80.0, max_scale=900.0
    )
    return np.clip(smooth + 0.15 * wiggle, 0.0, 1.0).astype(np.float32)


def _fill_lakes(is_land: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Water not connected to the lattice edge is a mask artefact here: make it land."""
    labels, _ = ndimage.label(~is_land)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    sea = np.isin(labels, edge[edge > 0])
    return ~sea


def _river(seed: int, lattice: Lattice, is_land: NDArray[np.bool_]) -> LineString | None:
    """A meandering river from the coast point nearest the centre of the land, inland."""
    if not is_land.any():
        return None
    xx, yy = lattice.nodes()
    centre = np.array([xx[is_land].mean(), yy[is_land].mean()])
    coast = is_land & ~ndimage.binary_erosion(is_land, border_value=1)
    if coast.any() and (~is_land).any():
        cx, cy = xx[coast], yy[coast]
        k = int(np.argmin(np.hypot(cx - centre[0], cy - centre[1])))
        mouth = np.array([cx[k], cy[k]])
    else:
        xmin, ymin, _, _ = lattice.bounds
        mouth = np.array([centre[0], ymin])
    direction = centre - mouth
    norm = float(np.hypot(*direction))
    u = direction / norm if norm > 2 * lattice.step else np.array([0.0, 1.0])
    xmin, ymin, xmax, ymax = lattice.bounds
    # distance from the mouth along u to the lattice edge
    limits = []
    for lo, hi, p, d in ((xmin, xmax, mouth[0], u[0]), (ymin, ymax, mouth[1], u[1])):
        if abs(d) > 1e-9:
            limits.append(((hi if d > 0 else lo) - p) / d)
    length = min(limits)
    rng = rng_for(seed, "river")
    amplitude = rng.uniform(110.0, 170.0)
    wavelength = rng.uniform(1500.0, 2100.0)
    phase = rng.uniform(0.0, 2.0 * math.pi)
    s = np.arange(-300.0, length, lattice.step / 2)
    wobble = np.cumsum(rng.standard_normal(s.size)) * 2.0
    wobble -= np.linspace(wobble[0], wobble[-1], s.size)
    taper = np.clip((s + 300.0) / 600.0, 0.0, 1.0)
    offset = taper * (amplitude * np.sin(2.0 * math.pi * s / wavelength + phase) + wobble)
    perp = np.array([-u[1], u[0]])
    pts = mouth[None, :] + s[:, None] * u[None, :] + offset[:, None] * perp[None, :]
    return LineString(pts)


def _line_distance(lattice: Lattice, line: LineString | None) -> Float32Array:
    if line is None:
        return np.full(lattice.shape, 1e6, dtype=np.float32)
    pts = np.asarray(shapely.get_coordinates(shapely.segmentize(line, lattice.step / 4)))
    rows, cols = lattice.index(pts[:, 0], pts[:, 1])
    r = np.clip(np.rint(rows).astype(int), 0, lattice.shape[0] - 1)
    c = np.clip(np.rint(cols).astype(int), 0, lattice.shape[1] - 1)
    free = np.ones(lattice.shape, dtype=bool)
    free[r, c] = False
    return (ndimage.distance_transform_edt(free) * lattice.step).astype(np.float32)


def build_terrain(
    seed: int, bbox: tuple[float, float, float, float], *, hill_scale: float = 1.0
) -> Terrain:
    """Build the static fields of the world for ``seed`` over the lon/lat ``bbox``;
    ``hill_scale`` scales the height of the hills (1: up to about 600 m)."""
    poly = bbox_polygon_6671(bbox)
    lattice = Lattice.covering(poly.bounds, step=STEP, margin=MARGIN)
    shape, step = lattice.shape, lattice.step

    def field(purpose: str, lo: float, hi: float, beta: float = 3.0) -> Float32Array:
        return fbm(rng_for(seed, purpose), shape, step=step, min_scale=lo, max_scale=hi, beta=beta)

    land = _land_fraction(seed, lattice)
    is_land = _fill_lakes(land > 0.5)
    land = np.where(is_land, np.maximum(land, 0.51), np.minimum(land, 0.5)).astype(np.float32)
    coast_distance = (
        ndimage.distance_transform_edt(is_land) * step if (~is_land).any() else np.full(shape, 2e4)
    ).astype(np.float32)
    river = _river(seed, lattice, is_land)
    river_distance = _line_distance(lattice, river)

    relief = field("relief", 250.0, 5000.0, beta=3.4)
    detail = field("relief-detail", 60.0, 600.0, beta=2.6)
    texture = field("texture", 30.0, 400.0, beta=2.5)
    ridges = np.clip(0.35 + 0.3 * relief + 0.04 * detail, 0.0, None)
    height = 150.0 + 400.0 * _smoothstep(coast_distance, 1500.0, 6000.0)
    if hill_scale != 1.0:
        height = height * hill_scale
    hills = _smoothstep(coast_distance, 300.0, 2500.0) * _smoothstep(river_distance, 450.0, 1100.0)
    plain = 1.0 + 0.003 * coast_distance + 0.6 * texture
    elevation = np.where(is_land, np.maximum(plain + hills * height * ridges, 0.5), 0.0).astype(
        np.float32
    )
    d_row, d_col = (np.asarray(g, dtype=np.float32) for g in np.gradient(elevation, step))

    return Terrain(
        lattice=lattice,
        bbox_polygon=poly,
        land=land,
        coast_distance=coast_distance,
        river=river,
        river_distance=river_distance,
        elevation=elevation,
        grad_x=d_col,
        grad_y=-d_row,
        forest_noise=field("forest-edge", 60.0, 600.0),
        urban_noise=field("urban", 200.0, 2500.0),
        bare_noise=field("bare", 80.0, 700.0),
        texture=texture,
        sea_texture=field("sea", 300.0, 5000.0),
    )
