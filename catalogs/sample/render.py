"""Evaluate the world's lattice fields and polygons at the pixel centres of any grid.

A grid (an odc-geo :class:`~odc.geo.geobox.GeoBox`, north-up, any CRS) is turned into the
EPSG:6671 coordinates of its pixel centres; lattice fields are interpolated bilinearly at
those points and polygons are rasterised at those centres (GDAL's default rule: a pixel is
in when its centre is). Both rules give the same answer on every grid up to a pixel.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import rasterio.features
import shapely
from affine import Affine
from numpy.typing import NDArray
from odc.geo.geobox import GeoBox
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from ...errors import SampleArchiveError
from .landscape import Terrain, classify, slope_degrees
from .noise import Float32Array

__all__ = ["LruCache", "Pixels", "coverage", "rasterize", "sample_pixels", "transformer"]

_K = TypeVar("_K")
_V = TypeVar("_V")


@functools.lru_cache(maxsize=16)
def transformer(src: str, dst: str) -> Transformer:
    """A cached pyproj transformer in x/y (lon/lat) order."""
    return Transformer.from_crs(src, dst, always_xy=True)


class LruCache(OrderedDict[_K, _V]):
    """A small thread-safe LRU cache; values are computed outside the lock (they are
    deterministic, so a rare double computation is harmless)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size
        self._lock = threading.Lock()

    def get_or(self, key: _K, make: Callable[[], _V]) -> _V:
        """The cached value of ``key``, computed by ``make()`` when missing."""
        with self._lock:
            if key in self:
                self.move_to_end(key)
                return self[key]
        value = make()
        with self._lock:
            self[key] = value
            while len(self) > self._size:
                self.popitem(last=False)
        return value


def _on_grid(geom: BaseGeometry, geobox: GeoBox) -> BaseGeometry:
    """``geom`` (EPSG:6671) in the CRS of ``geobox``."""
    crs = geobox.crs
    if crs is not None and crs.epsg != 6671:
        tr = transformer("EPSG:6671", crs.to_wkt())
        geom = shapely.transform(
            shapely.segmentize(geom, 10.0),
            lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])),
        )
    return geom


def rasterize(geom: BaseGeometry, geobox: GeoBox) -> NDArray[np.bool_]:
    """``geom`` (EPSG:6671) burnt into ``geobox`` at pixel centres."""
    if geom.is_empty:
        return np.zeros(geobox.shape.yx, dtype=bool)
    burnt = rasterio.features.rasterize(
        [(_on_grid(geom, geobox), 1)],
        out_shape=geobox.shape.yx,
        transform=geobox.transform,
        fill=0,
        dtype="uint8",
    )
    return burnt.astype(bool)


#: sub-pixel centres per pixel side of :func:`coverage` (16 per pixel: shares in 1/16ths)
COVERAGE_SUBPIXELS = 4


def coverage(geom: BaseGeometry, geobox: GeoBox, k: int = COVERAGE_SUBPIXELS) -> Float32Array:
    """The share of each pixel of ``geobox`` that ``geom`` (EPSG:6671) covers, 0..1: the
    share of a k x k lattice of sub-pixel centres inside it. A sensor integrates the ground
    over its footprint, so a pixel an outline crosses is a mixture (a mixed pixel), not all
    or nothing. Only the window around ``geom`` is rasterised finely."""
    ny, nx = geobox.shape.yx
    out = np.zeros((ny, nx), dtype=np.float32)
    if geom.is_empty:
        return out
    g = _on_grid(geom, geobox)
    inv = ~geobox.transform
    xs, ys = zip(*(inv * (x, y) for x in g.bounds[0::2] for y in g.bounds[1::2]), strict=True)
    c0, c1 = max(int(np.floor(min(xs))) - 1, 0), min(int(np.ceil(max(xs))) + 1, nx)
    r0, r1 = max(int(np.floor(min(ys))) - 1, 0), min(int(np.ceil(max(ys))) + 1, ny)
    if c1 <= c0 or r1 <= r0:
        return out
    fine = geobox.transform * Affine.translation(c0, r0) * Affine.scale(1.0 / k)
    h, w = r1 - r0, c1 - c0
    burnt = rasterio.features.rasterize(
        [(g, 1)], out_shape=(h * k, w * k), transform=fine, fill=0, dtype="uint8"
    )
    counts = burnt.reshape(h, k, w, k).sum(axis=(1, 3), dtype=np.int32)
    out[r0:r1, c0:c1] = counts.astype(np.float32) / np.float32(k * k)
    return out


@dataclass(frozen=True, eq=False)
class Pixels:
    """The static world at the pixel centres of one grid."""

    geobox: GeoBox
    x: Float32Array
    """EPSG:6671 easting of the pixel centres, metres"""
    y: Float32Array
    """EPSG:6671 northing of the pixel centres, metres"""
    elevation: Float32Array
    grad_x: Float32Array
    grad_y: Float32Array
    texture: Float32Array
    sea_texture: Float32Array
    parcel: Float32Array
    """paddy-parcel phenology offset, days (-6..6), constant over 60 m x 30 m parcels"""
    land_cover: NDArray[np.uint8]
    _masks: dict[Any, NDArray[np.bool_]] = field(default_factory=dict)
    _covers: dict[Any, Float32Array] = field(default_factory=dict)

    def mask(self, key: Any, geom: BaseGeometry) -> NDArray[np.bool_]:
        """``geom`` rasterised on this grid, cached under ``key``."""
        if key not in self._masks:
            self._masks[key] = rasterize(geom, self.geobox)
        return self._masks[key]

    def cover(self, key: Any, geom: BaseGeometry) -> Float32Array:
        """The share of each pixel ``geom`` covers (:func:`coverage`), cached under ``key``."""
        if key not in self._covers:
            self._covers[key] = coverage(geom, self.geobox)
        return self._covers[key]


def _hash01(i: NDArray[np.int64], j: NDArray[np.int64], seed: int) -> NDArray[np.float32]:
    """A uniform 0..1 value per integer cell (i, j) (a splitmix64-style integer hash)."""
    h = i.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    h ^= j.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
    h ^= np.uint64((seed * 0x165667B19E3779F9) & 0xFFFFFFFFFFFFFFFF)
    h ^= h >> np.uint64(31)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(29)
    return ((h >> np.uint64(40)).astype(np.float64) / float(1 << 24)).astype(np.float32)


def _centres(geobox: GeoBox) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    a = geobox.transform
    if a.b != 0 or a.d != 0:
        raise SampleArchiveError("the sample world renders only north-up (unrotated) grids")
    crs = geobox.crs
    if crs is None:
        raise SampleArchiveError("the grid has no CRS; give the GeoBox a CRS")
    ny, nx = geobox.shape.yx
    xx, yy = np.meshgrid(a.c + a.a * (np.arange(nx) + 0.5), a.f + a.e * (np.arange(ny) + 0.5))
    if crs.epsg != 6671:
        xx, yy = transformer(crs.to_wkt(), "EPSG:6671").transform(xx, yy)
    return xx, yy


def sample_pixels(terrain: Terrain, water: BaseGeometry, geobox: GeoBox, seed: int) -> Pixels:
    """Evaluate the static world on ``geobox``; ``water`` holds the river and ponds."""
    xx, yy = _centres(geobox)
    t = terrain
    w = t.lattice.bilinear(xx, yy)
    shape = geobox.shape.yx

    def at(f: NDArray[np.floating]) -> Float32Array:
        return w(f).reshape(shape)

    grad_x, grad_y = at(t.grad_x), at(t.grad_y)
    cell_i = np.floor(xx / 60.0).astype(np.int64)
    cell_j = np.floor(yy / 30.0).astype(np.int64)
    p = Pixels(
        geobox=geobox,
        x=xx.astype(np.float32),
        y=yy.astype(np.float32),
        elevation=at(t.elevation),
        grad_x=grad_x,
        grad_y=grad_y,
        texture=at(t.texture),
        sea_texture=at(t.sea_texture),
        parcel=_hash01(cell_i, cell_j, seed) * 12.0 - 6.0,
        land_cover=np.zeros(shape, dtype=np.uint8),
    )
    p.land_cover[...] = classify(
        land=at(t.land),
        elevation=p.elevation,
        slope=slope_degrees(grad_x, grad_y),
        coast_distance=at(t.coast_distance),
        forest_noise=at(t.forest_noise),
        urban_noise=at(t.urban_noise),
        bare_noise=at(t.bare_noise),
        water=p.mask("water", water),
    )
    return p
