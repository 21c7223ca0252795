"""Areas of interest: the prefecture, its municipalities, GeoJSON files and ``W,S,E,N`` boxes."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from ...errors import AOIError, BoundariesMissingError
from .boundaries import Boundaries, fallback_prefecture_outline, load_boundaries
from .municipalities import MUNICIPALITIES, PREFECTURE, by_code, by_slug

__all__ = ["AOI", "known_aoi_names", "parse_bbox", "resolve_aoi"]

_BBOX_RE = re.compile(r"^\s*-?[\d.]+\s*(,\s*-?[\d.]+\s*){3}$")


@dataclass(frozen=True)
class AOI:
    """A resolved area of interest, geometry in EPSG:4326."""

    key: str
    """canonical identifier: ``yamaguchi``, a five-digit code, ``bbox:W,S,E,N`` or ``file:NAME``"""
    name_ja: str
    """Japanese name (or the English one when there is none)"""
    name_en: str
    """English name"""
    geometry: BaseGeometry
    """(multi)polygon in EPSG:4326"""
    source: str
    """where the geometry came from"""
    code: str | None = None
    """five-digit code of a municipality, ``35`` for the prefecture, None otherwise"""

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(W, S, E, N)`` in degrees."""
        w, s, e, n = self.geometry.bounds
        return (float(w), float(s), float(e), float(n))

    def geometry_in(self, crs: str) -> BaseGeometry:
        """The geometry reprojected to ``crs``."""
        tr = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        return shapely.transform(self.geometry, lambda xy: _apply(tr, xy))

    def area_km2(self, crs: str = "EPSG:6671") -> float:
        """Area in km² measured in ``crs`` (default the project's plane rectangular zone III)."""
        return float(self.geometry_in(crs).area) / 1e6


def _apply(tr: pyproj.Transformer, xy: object) -> object:
    import numpy as np

    arr = np.asarray(xy)
    x, y = tr.transform(arr[:, 0], arr[:, 1])
    return np.column_stack([x, y])


def known_aoi_names() -> list[str]:
    """Every configured AOI name: the prefecture, then each municipality's slug and code."""
    names = [PREFECTURE.slug]
    for m in MUNICIPALITIES:
        names += [m.slug, m.code]
    return names


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Parse ``W,S,E,N`` in degrees; refuse reversed, swapped (lat,lon) or degenerate boxes."""
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError as err:
        raise AOIError(f"bounding box {text!r} is not four numbers W,S,E,N") from err
    if not (-90 <= s <= 90 and -90 <= n <= 90):
        hint = " (did you give lat,lon? write W,S,E,N: longitude first)" if abs(w) <= 90 else ""
        raise AOIError(f"bounding box {text!r}: latitude out of range{hint}")
    if not (-180 <= w <= 180 and -180 <= e <= 180):
        raise AOIError(f"bounding box {text!r}: longitude out of range [-180, 180]")
    if w >= e or s >= n:
        raise AOIError(
            f"bounding box {text!r} is reversed or empty: need W < E and S < N (write W,S,E,N)"
        )
    return (w, s, e, n)


def _from_file(path: Path) -> AOI:
    try:
        gdf = gpd.read_file(path)
    except Exception as e:  # pyogrio's own errors
        raise AOIError(f"AOI file {path} could not be read as GeoJSON: {e}") from e
    if gdf.empty:
        raise AOIError(f"AOI file {path} holds no features")
    gdf = (gdf.set_crs("EPSG:4326") if gdf.crs is None else gdf).to_crs("EPSG:4326")
    geom = shapely.make_valid(shapely.union_all(gdf.geometry.values))
    polys = shapely.get_parts(geom)
    polys = [p for p in polys if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty]
    if not polys:
        raise AOIError(f"AOI file {path} holds no polygon (an AOI needs an area)")
    geom = shapely.union_all(polys)
    return AOI(
        key=f"file:{path.name}",
        name_ja=path.stem,
        name_en=path.stem,
        geometry=geom,
        source=f"GeoJSON file {path}",
    )


def resolve_aoi(
    spec: str,
    *,
    boundaries_path: Path | None = None,
    boundaries: Boundaries | None = None,
) -> AOI:
    """Resolve a user's AOI: a configured name or code, a GeoJSON file, or ``W,S,E,N``.

    The prefecture comes from the boundaries file when there is one, else from the ``japanmap``
    package (coarse, mainland only). Municipalities need the boundaries file.
    """
    text = spec.strip()
    if not text:
        raise AOIError(
            "the AOI is empty; give a name (e.g. hofu, 35206), a GeoJSON file or W,S,E,N"
        )
    if _BBOX_RE.match(text):
        w, s, e, n = parse_bbox(text)
        return AOI(
            key=f"bbox:{w:g},{s:g},{e:g},{n:g}",
            name_ja=f"{w:g},{s:g},{e:g},{n:g}",
            name_en=f"bbox {w:g},{s:g},{e:g},{n:g}",
            geometry=shapely.box(w, s, e, n),
            source="bounding box",
        )
    path = Path(text).expanduser()
    if text.lower().endswith((".geojson", ".json")) or path.is_file():
        if not path.is_file():
            raise AOIError(f"AOI file {path} does not exist")
        return _from_file(path)

    def _boundaries() -> Boundaries:
        return boundaries if boundaries is not None else load_boundaries(boundaries_path)

    if text.lower() in (PREFECTURE.slug, PREFECTURE.code, PREFECTURE.name_ja):
        try:
            b = _boundaries()
            return AOI(
                key=PREFECTURE.slug,
                name_ja=PREFECTURE.name_ja,
                name_en=PREFECTURE.name_en,
                geometry=b.prefecture(),
                source=b.source,
                code=PREFECTURE.code,
            )
        except BoundariesMissingError:
            return AOI(
                key=PREFECTURE.slug,
                name_ja=PREFECTURE.name_ja,
                name_en=PREFECTURE.name_en,
                geometry=fallback_prefecture_outline(),
                source="japanmap package (coarse outline, mainland only; configure "
                "boundaries.path for the official N03 polygons)",
                code=PREFECTURE.code,
            )
    muni = by_code(text) or by_slug(text)
    if muni is None:
        muni = next((m for m in MUNICIPALITIES if text in (m.name_ja, m.name_en)), None)
    if muni is None:
        close = difflib.get_close_matches(text.lower(), known_aoi_names(), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise AOIError(
            f"unknown AOI {text!r}.{hint} Valid names: {', '.join(known_aoi_names())}; "
            "or give a GeoJSON file or W,S,E,N in degrees"
        )
    try:
        b = _boundaries()
    except BoundariesMissingError as e:
        raise BoundariesMissingError(
            f"AOI {text!r} ({muni.name_en}, {muni.code}) needs municipal boundaries: {e}"
        ) from e
    return AOI(
        key=muni.code,
        name_ja=muni.name_ja,
        name_en=muni.name_en,
        geometry=b.municipality(muni.code),
        source=b.source,
        code=muni.code,
    )
