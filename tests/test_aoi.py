from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest

from yamasat.catalogs.extent.aoi import known_aoi_names, parse_bbox, resolve_aoi
from yamasat.catalogs.extent.boundaries import fallback_prefecture_outline, load_boundaries
from yamasat.catalogs.extent.municipalities import MUNICIPALITIES, by_code, by_slug
from yamasat.errors import AOIError, BoundariesMissingError


def test_nineteen_municipalities() -> None:
    assert len(MUNICIPALITIES) == 19
    assert sum(m.kind == "city" for m in MUNICIPALITIES) == 13
    assert MUNICIPALITIES[0].code == "35201" and MUNICIPALITIES[-1].code == "35502"
    assert by_slug("Hofu") is by_code("35206")
    assert by_slug("suo_oshima") is by_code("35305")


def test_boundaries_file_matches_table(boundaries_path: Path) -> None:
    b = load_boundaries(boundaries_path)
    assert b.codes == tuple(sorted(m.code for m in MUNICIPALITIES))
    for m in MUNICIPALITIES:
        row = b.frame[b.frame.code == m.code]
        assert row.name_ja.iloc[0] == m.name_ja


def test_prefecture_and_municipality_areas(boundaries_path: Path) -> None:
    pref = resolve_aoi("yamaguchi", boundaries_path=boundaries_path)
    assert 6000 < pref.area_km2() < 6200  # official 6,112 km², fixture simplified to 1 %
    hofu = resolve_aoi("hofu", boundaries_path=boundaries_path)
    assert hofu == resolve_aoi("35206", boundaries_path=boundaries_path)
    assert 180 < hofu.area_km2() < 200  # official 189 km²
    assert hofu.name_ja == "防府市" and hofu.name_en == "Hofu City"
    w, s, e, n = pref.bbox
    assert 130.7 < w < 130.8 and 132.45 < e < 132.55 and 33.65 < s < 33.75 and 34.75 < n < 34.85


def test_fallback_outline_without_file() -> None:
    pref = resolve_aoi("yamaguchi", boundaries_path=None)
    assert "japanmap" in pref.source
    assert 5000 < pref.area_km2() < 6500
    assert fallback_prefecture_outline().is_valid


def test_municipality_without_boundaries_says_what_to_do() -> None:
    with pytest.raises(BoundariesMissingError, match=r"boundaries\.path"):
        resolve_aoi("hofu", boundaries_path=None)
    with pytest.raises(BoundariesMissingError, match="does not exist"):
        resolve_aoi("hofu", boundaries_path=Path("/nonexistent/N03.geojson"))


def test_unknown_aoi_lists_valid_names() -> None:
    with pytest.raises(AOIError) as err:
        resolve_aoi("hfu")
    assert "hofu" in str(err.value) and "35502" in str(err.value)
    assert "yamaguchi" in known_aoi_names()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("34.0,131.9,34.1,132.0", "lat,lon"),
        ("132.0,33.9,131.9,34.0", "reversed"),
        ("131.9,34.0,132.0,34.0", "reversed"),
        ("131.9,33.9,200,34.0", "longitude"),
    ],
)
def test_bad_bbox(text: str, fragment: str) -> None:
    with pytest.raises(AOIError, match=fragment):
        parse_bbox(text)


def test_bbox_and_geojson(tmp_path: Path) -> None:
    a = resolve_aoi("131.9,33.9,132.1,34.0")
    assert a.bbox == (131.9, 33.9, 132.1, 34.0)
    gj = tmp_path / "area.geojson"
    gj.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [[131.9, 33.9], [132.0, 33.9], [132.0, 34.0], [131.9, 33.9]]
                            ],
                        },
                    }
                ],
            }
        )
    )
    a = resolve_aoi(str(gj))
    assert a.key == "file:area.geojson" and a.area_km2() > 10
    with pytest.raises(AOIError, match="does not exist"):
        resolve_aoi(str(tmp_path / "missing.geojson"))
    line = tmp_path / "line.geojson"
    line.write_text(
        json.dumps(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "LineString", "coordinates": [[131.9, 33.9], [132.0, 34.0]]},
            }
        )
    )
    with pytest.raises(AOIError, match="no polygon"):
        resolve_aoi(str(line))


def test_shapefile_zip_and_bad_files(boundaries_path: Path, tmp_path: Path) -> None:
    gdf = gpd.read_file(boundaries_path)
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    gdf.to_file(shp_dir / "N03-21_35_210101.shp", encoding="utf-8")
    assert len(load_boundaries(shp_dir / "N03-21_35_210101.shp").codes) == 19
    zpath = tmp_path / "N03-21_35_210101_GML.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f"N03-21_35_210101_GML/{f.name}")
    assert len(load_boundaries(zpath).codes) == 19
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(BoundariesMissingError, match="zip"):
        load_boundaries(bad)
    other = tmp_path / "other.geojson"
    other.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "x"},
                        "geometry": {"type": "Point", "coordinates": [131.9, 33.9]},
                    }
                ],
            }
        )
    )
    with pytest.raises(BoundariesMissingError, match="N03"):
        load_boundaries(other)
