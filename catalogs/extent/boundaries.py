"""Municipal boundaries of Yamaguchi Prefecture from an MLIT N03 file.

The official source is MLIT's National Land Numerical Information, administrative areas
(国土数値情報 行政区域 N03), one file per prefecture (35 = Yamaguchi), distributed as a zip
holding a shapefile and a GeoJSON. Any of the three forms is accepted. Credit as MLIT requires:
「出典：国土数値情報（行政区域データ）（国土交通省）を加工して作成」.

Without that file the prefecture outline falls back to the ``japanmap`` package (mainland only,
about 3 km vertex spacing); municipality AOIs then need the file and say so.
"""

from __future__ import annotations

import functools
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from ...errors import BoundariesMissingError
from .municipalities import MUNICIPALITIES, PREFECTURE, Municipality, by_code

__all__ = [
    "MLIT_CREDIT",
    "Boundaries",
    "fallback_prefecture_outline",
    "load_boundaries",
]

log = logging.getLogger(__name__)

MLIT_CREDIT = "出典：国土数値情報（行政区域データ）（国土交通省）を加工して作成"

_CODE_FIELD = "N03_007"
_NAME_FIELD = "N03_004"


@dataclass(frozen=True)
class Boundaries:
    """Municipal polygons of one prefecture, dissolved to one (multi)polygon per code."""

    frame: gpd.GeoDataFrame
    """columns ``code``, ``name_ja``, ``geometry`` (EPSG:4326), one row per municipality"""
    source: str
    """where the polygons came from (file path and format)"""

    def municipality(self, code: str) -> BaseGeometry:
        """The polygon of one municipality by five-digit code."""
        rows = self.frame[self.frame["code"] == code]
        if rows.empty:
            known = ", ".join(sorted(self.frame["code"]))
            raise BoundariesMissingError(
                f"municipality {code} is not in the boundaries file {self.source} "
                f"(it holds {known}); use the N03 file of prefecture {PREFECTURE.code}"
            )
        geom: BaseGeometry = rows.geometry.iloc[0]
        return geom

    def prefecture(self) -> BaseGeometry:
        """The union of all municipalities."""
        return shapely.union_all(self.frame.geometry.values)

    @property
    def codes(self) -> tuple[str, ...]:
        """Codes present, sorted."""
        return tuple(sorted(self.frame["code"]))


def _read_any(path: Path) -> gpd.GeoDataFrame:
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except zipfile.BadZipFile as e:
            raise BoundariesMissingError(
                f"boundaries file {path} is not a readable zip ({e}); download the N03 zip again"
            ) from e
        inner = [n for n in names if n.lower().endswith(".geojson")] or [
            n for n in names if n.lower().endswith(".shp")
        ]
        if not inner:
            raise BoundariesMissingError(
                f"boundaries zip {path} holds no .geojson or .shp file (found {names[:5]})"
            )
        return gpd.read_file(f"/vsizip/{path}/{inner[0]}")
    return gpd.read_file(path)


def load_boundaries(path: Path | None, *, prefecture_code: str = PREFECTURE.code) -> Boundaries:
    """Read an N03 file (GeoJSON, shapefile or the official zip) and dissolve it by code.

    Raises :class:`BoundariesMissingError` when ``path`` is None or missing, unreadable, lacks
    the N03 fields, or holds no municipality of the prefecture.
    """
    if path is None:
        raise BoundariesMissingError(
            "no boundaries file is configured; set boundaries.path in an override config "
            "(or YAMASAT_BOUNDARIES__PATH) to the MLIT N03 file of prefecture 35 "
            "(GeoJSON, shapefile or the official zip); `yamasat boundaries show` tells more"
        )
    path = Path(path)
    if not path.is_file():
        raise BoundariesMissingError(
            f"boundaries file {path} does not exist; set boundaries.path to the MLIT N03 file "
            "of prefecture 35 (GeoJSON, shapefile or zip)"
        )
    st = path.stat()
    # read and dissolved once per file version: a run (and a watch of many acquisitions)
    # asks for them at several steps
    return _load_file(str(path), st.st_mtime_ns, st.st_size, prefecture_code)


@functools.lru_cache(maxsize=4)
def _load_file(name: str, _mtime_ns: int, _size: int, prefecture_code: str) -> Boundaries:
    path = Path(name)
    try:
        gdf = _read_any(path)
    except BoundariesMissingError:
        raise
    except Exception as e:  # pyogrio raises its own DataSourceError and friends
        raise BoundariesMissingError(
            f"boundaries file {path} could not be read as vector data: {e}"
        ) from e
    missing = [f for f in (_CODE_FIELD, _NAME_FIELD) if f not in gdf.columns]
    if missing:
        raise BoundariesMissingError(
            f"boundaries file {path} lacks the N03 field(s) {missing}; "
            "is it an MLIT N03 (行政区域) file?"
        )
    if gdf.crs is None:
        log.warning("boundaries file %s has no CRS; assuming EPSG:4326 (as N03 GeoJSON)", path)
        gdf = gdf.set_crs("EPSG:4326")
    gdf = gdf.to_crs("EPSG:4326")
    gdf = gdf[gdf[_CODE_FIELD].notna()]
    gdf = gdf[gdf[_CODE_FIELD].astype(str).str.startswith(prefecture_code)]
    if gdf.empty:
        raise BoundariesMissingError(
            f"boundaries file {path} holds no municipality of prefecture {prefecture_code}"
        )
    gdf = gdf.assign(code=gdf[_CODE_FIELD].astype(str), name_ja=gdf[_NAME_FIELD].astype(str))
    gdf = gdf.assign(geometry=shapely.make_valid(gdf.geometry.values))
    dissolved = gdf[["code", "name_ja", "geometry"]].dissolve(by="code", as_index=False)
    unknown = [c for c in dissolved["code"] if by_code(c) is None]
    if unknown:
        log.warning("boundaries file %s has codes not in the municipality table: %s", path, unknown)
    return Boundaries(frame=dissolved, source=f"{path} (MLIT N03)")


def fallback_prefecture_outline() -> BaseGeometry:
    """The prefecture outline shipped by the ``japanmap`` package (mainland only, coarse)."""
    import japanmap

    points = japanmap.pref_points(japanmap.get_data())[int(PREFECTURE.code) - 1]
    poly = shapely.Polygon(points)
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
    return poly


def municipalities_table(boundaries: Boundaries | None) -> list[tuple[Municipality, bool]]:
    """Each municipality with whether its polygon is available."""
    have = set(boundaries.codes) if boundaries is not None else set()
    return [(m, m.code in have) for m in MUNICIPALITIES]
