"""Real STAC items (Earth Search, Planetary Computer) parse through our profiles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pystac
import pytest
import yaml
from odc.geo.geobox import GeoBox
from odc.stac import parse_item

from yamasat.catalogs.sources.profiles import PROFILES, get_profile, scale_offset
from yamasat.catalogs.sources.search import dedupe_items
from yamasat.errors import SourceError

ES_S2 = (
    "earth-search-v1__search__sentinel-1-grd_sentinel-2-c1-l2a_sentinel-2-l2a_sentinel-2-l1c"
    "__vcr-cassette.yaml"
)


def _cassette_items(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    feats: list[dict[str, Any]] = []
    for inter in data["interactions"]:
        body = json.loads(inter["response"]["body"]["string"])
        feats += body.get("features", [])
    return feats


@pytest.fixture(scope="module")
def es_items(stac_fixtures: Path) -> list[pystac.Item]:
    return [pystac.Item.from_dict(f) for f in _cassette_items(stac_fixtures / ES_S2)]


def test_earth_search_c1_l2a(es_items: list[pystac.Item]) -> None:
    fam = get_profile("earth-search").family("s2")
    items = [it for it in es_items if it.collection_id == fam.collection]
    assert len(items) == 6
    for it in items:
        for band, key in fam.assets.items():
            asset = it.assets[key]
            scale, offset = scale_offset(band, it.properties, asset.to_dict())
            if band == "scl":
                assert (scale, offset) == (1.0, 0.0)
            else:
                assert (scale, offset) == (0.0001, -0.1)
        # odc-stac understands the projection of every band we map
        parsed = parse_item(it)
        for key in fam.assets.values():
            assert parsed[key].geobox is not None
            assert isinstance(parsed[key].geobox, GeoBox)
        # pystac migrates proj:epsg to proj:code (projection extension v2)
        code = it.properties.get("proj:code") or f"EPSG:{it.properties['proj:epsg']}"
        epsg = int(code.split(":")[1])
        assert parsed[fam.assets["red"]].geobox.crs.epsg == epsg
        assert parsed[fam.assets["red"]].geobox.resolution.x == 10
        assert parsed[fam.assets["swir16"]].geobox.resolution.x == 20


def test_earth_search_old_l2a_with_offset_applied(es_items: list[pystac.Item]) -> None:
    items = [it for it in es_items if it.collection_id == "sentinel-2-l2a"]
    assert items and all(it.properties["earthsearch:boa_offset_applied"] for it in items)
    red = items[0].assets["red"].to_dict()
    # raster:bands still says -0.1, but the DN already carry the offset: do not apply it twice
    assert red["raster:bands"][0]["offset"] == -0.1
    assert scale_offset("red", items[0].properties, red) == (0.0001, 0.0)


def test_planetary_computer_s2(stac_fixtures: Path) -> None:
    raw = json.loads(
        (stac_fixtures / "planetary-computer__sentinel-2-l2a__4-items.json").read_text()
    )
    fam = get_profile("planetary-computer").family("s2")
    for d in raw:
        it = pystac.Item.from_dict(d)
        assert it.collection_id == fam.collection
        baseline = float(it.properties["s2:processing_baseline"])
        for band, key in fam.assets.items():
            assert key in it.assets, (it.id, key)
            scale, offset = scale_offset(band, it.properties, it.assets[key].to_dict())
            if band != "scl":
                assert scale == 0.0001
                assert offset == (-0.1 if baseline >= 4.0 else 0.0)
        parsed = parse_item(it)
        assert parsed["B04"].geobox.resolution.x == 10
        assert parsed["SCL"].geobox.resolution.x == 20
    old = pystac.Item.from_file(
        str(
            stac_fixtures / "planetary-computer__sentinel-2-l2a__item__"
            "S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json"
        )
    )
    props = dict(old.properties)
    assert scale_offset("red", props, old.assets["B04"].to_dict())[1] in (0.0, -0.1)
    props["s2:processing_baseline"] = "02.12"
    assert scale_offset("red", props, {}) == (0.0001, 0.0)


def test_planetary_computer_s1_rtc_and_dem(stac_fixtures: Path) -> None:
    prof = get_profile("planetary-computer")
    s1 = json.loads(
        (stac_fixtures / "planetary-computer__sentinel-1-rtc__4-items.json").read_text()
    )
    for d in s1:
        it = pystac.Item.from_dict(d)
        assert it.collection_id == prof.family("s1").collection
        for key in prof.family("s1").assets.values():
            assert key in it.assets
        assert parse_item(it)["vv"].geobox.crs.epsg == 32633
    dem = json.loads(
        (stac_fixtures / "planetary-computer__cop-dem-glo-30__4-items.json").read_text()
    )
    for d in dem:
        it = pystac.Item.from_dict(d)
        assert it.collection_id == prof.family("dem").collection
        assert "data" in it.assets
        assert parse_item(it)["data"].geobox.crs.epsg == 4326


def test_earth_search_dem(stac_fixtures: Path) -> None:
    feats = _cassette_items(
        stac_fixtures / "earth-search-v1__search__cop-dem-glo-30__vcr-cassette.yaml"
    )
    items = [pystac.Item.from_dict(f) for f in feats]
    fam = get_profile("earth-search").family("dem")
    assert len(items) == 10 and all(it.collection_id == fam.collection for it in items)
    assert all(fam.assets["dem"] in it.assets for it in items)


def test_dedupe_keeps_first(es_items: list[pystac.Item]) -> None:
    doubled = es_items + es_items[:3]
    assert len(dedupe_items(doubled)) == len(es_items)


def test_unknown_profile_and_band() -> None:
    with pytest.raises(SourceError, match="known profiles"):
        get_profile("nope")
    with pytest.raises(SourceError, match="known bands"):
        PROFILES["earth-search"].family("s2").asset_key("B99")
    with pytest.raises(SourceError, match="offers no"):
        PROFILES["jaxa-earth"].family("s2")
