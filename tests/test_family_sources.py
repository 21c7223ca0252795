"""Sources per data family and layouts per collection (issue 12, item 1).

Catalogs are built from the real recorded items (Earth Search cassettes, Planetary Computer
item arrays), moved onto Yamaguchi, in mixes no fixed profile covers; they are searched as
a static catalog on disk and as a STAC API over loopback, with no profile given.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pystac
import pytest
import shapely
import yaml

from tests.support.rangeserver import RangeServer
from yamasat.catalogs.extent.periods import parse_period
from yamasat.catalogs.sources.family_sources import resolve_sources
from yamasat.catalogs.sources.profiles import LAYOUTS, layout_of
from yamasat.catalogs.sources.search import resolve_source, search_items
from yamasat.errors import ConfigError, NoDataError, ParameterError, SourceError
from yamasat.settings import load_settings

ES_MIX = (
    "earth-search-v1__search__sentinel-1-grd_sentinel-2-c1-l2a_sentinel-2-l2a_sentinel-2-l1c"
    "__vcr-cassette.yaml"
)
ES_DEM = "earth-search-v1__search__cop-dem-glo-30__vcr-cassette.yaml"
PC = "planetary-computer__{}__4-items.json"
# a small box on the Yamaguchi coast; every moved item covers it
AOI = shapely.box(131.9, 33.9, 132.0, 34.0)
PERIOD = parse_period("2024-04-01/2024-04-30", what="period")


def _es(fixtures: Path, name: str, collection: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((fixtures / name).read_text(encoding="utf-8"))
    feats = [
        f
        for inter in data["interactions"]
        for f in json.loads(inter["response"]["body"]["string"]).get("features", [])
    ]
    return [f for f in feats if f.get("collection") == collection]


def _pc(fixtures: Path, collection: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((fixtures / PC.format(collection)).read_text())
    return items


def _moved(item: dict[str, Any], n: int, *, dated: bool = True) -> dict[str, Any]:
    """``item`` over the AOI (footprint and bbox only), dated in PERIOD, with a distinct id."""
    out = copy.deepcopy(item)
    out["id"] = f"{item['id']}-{n}"
    out["bbox"] = [131.5, 33.5, 132.5, 34.5]
    out["geometry"] = shapely.geometry.mapping(shapely.box(*out["bbox"]))
    if dated:
        out["properties"]["datetime"] = f"2024-04-{10 + n:02d}T02:00:00Z"
    out["links"] = []
    return out


def _catalog(root: Path, collections: dict[str, list[dict[str, Any]]]) -> Path:
    """A static catalog at ``root`` with one collection per key holding those items."""
    cat = pystac.Catalog("mix", "a catalog mixing providers' layouts")
    for cid, items in collections.items():
        coll = pystac.Collection(
            cid,
            f"{cid} (moved)",
            pystac.Extent(
                pystac.SpatialExtent([[131.5, 33.5, 132.5, 34.5]]),
                pystac.TemporalExtent([[None, None]]),
            ),
        )
        for d in items:
            coll.add_item(pystac.Item.from_dict(dict(d, collection=cid), preserve_dict=False))
        cat.add_child(coll)
    cat.normalize_hrefs(str(root))
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


@pytest.fixture
def mixed(tmp_path: Path, stac_fixtures: Path) -> Path:
    """PC-layout S2 and S1 RTC with an Earth Search-layout DEM: no fixed profile has it."""
    return _catalog(
        tmp_path / "mix",
        {
            "sentinel-2-l2a": [
                _moved(d, i) for i, d in enumerate(_pc(stac_fixtures, "sentinel-2-l2a"))
            ],
            "sentinel-1-rtc": [
                _moved(d, i) for i, d in enumerate(_pc(stac_fixtures, "sentinel-1-rtc"))
            ],
            "cop-dem-glo-30": [
                _moved(d, i, dated=False)
                for i, d in enumerate(_es(stac_fixtures, ES_DEM, "cop-dem-glo-30")[:2])
            ],
        },
    )


def test_layout_is_found_per_collection_from_the_id_and_asset_keys(stac_fixtures: Path) -> None:
    pc_s2 = _pc(stac_fixtures, "sentinel-2-l2a")
    es_l2a = _es(stac_fixtures, ES_MIX, "sentinel-2-l2a")
    es_c1 = _es(stac_fixtures, ES_MIX, "sentinel-2-c1-l2a")
    # the same collection id, two providers: the asset keys decide
    assert layout_of("s2", pc_s2).assets["red"] == "B04"
    assert layout_of("s2", pc_s2).provider == "Planetary Computer"
    assert layout_of("s2", es_l2a).assets["red"] == "red"
    assert layout_of("s2", es_l2a).provider == "Earth Search"
    assert layout_of("s2", es_c1).collection == "sentinel-2-c1-l2a"
    assert layout_of("s1", _pc(stac_fixtures, "sentinel-1-rtc")).collection == "sentinel-1-rtc"
    assert layout_of("dem", _pc(stac_fixtures, "cop-dem-glo-30")).assets == {"dem": "data"}
    # an item of a known collection without the assets is named with what it lacks
    broken = copy.deepcopy(pc_s2[:1])
    del broken[0]["assets"]["B04"]
    with pytest.raises(SourceError, match=r"missing .*B04"):
        layout_of("s2", broken)
    with pytest.raises(SourceError, match="not a known 's2' layout"):
        layout_of("s2", _pc(stac_fixtures, "landsat-c2-l2"))
    assert set(LAYOUTS) == {"s2", "s1", "dem", "rainfall"}


def test_a_mixed_static_catalog_serves_every_family_without_a_profile(mixed: Path) -> None:
    src = resolve_source(str(mixed))
    assert src.profile is None
    s2 = search_items(src, family="s2", aoi=AOI, period=PERIOD)
    s1 = search_items(src, family="s1", aoi=AOI, period=PERIOD)
    dem = search_items(src, family="dem", aoi=AOI, period=None)
    assert len(s2) == 4 and layout_of("s2", s2).assets["nir"] == "B08"
    assert len(s1) == 4 and layout_of("s1", s1).assets == {"vv": "vv", "vh": "vh"}
    assert len(dem) == 2 and layout_of("dem", dem).assets == {"dem": "data"}
    with pytest.raises(NoDataError, match="no collection of data family 'rainfall'"):
        search_items(src, family="rainfall", aoi=AOI, period=PERIOD)


def test_a_mixed_stac_api_is_read_per_collection(tmp_path: Path, stac_fixtures: Path) -> None:
    """Earth Search-layout S2 (the older l2a) next to PC S1 RTC, over a loopback STAC API."""
    root = tmp_path / "api"
    _catalog(
        root,
        {
            "sentinel-2-l2a": [
                _moved(d, i) for i, d in enumerate(_es(stac_fixtures, ES_MIX, "sentinel-2-l2a")[:3])
            ],
            "sentinel-1-rtc": [
                _moved(d, i) for i, d in enumerate(_pc(stac_fixtures, "sentinel-1-rtc"))
            ],
        },
    )
    with RangeServer(root) as srv:
        src = resolve_source(srv.stac_api_url)
        assert src.kind == "stac-api" and src.profile is None
        s2 = search_items(src, family="s2", aoi=AOI, period=PERIOD)
        assert layout_of("s2", s2).provider == "Earth Search" and len(s2) == 3
        s1 = search_items(src, family="s1", aoi=AOI, period=PERIOD)
        assert len(s1) == 4
        with pytest.raises(NoDataError, match="looked for cop-dem-glo-30"):
            search_items(src, family="dem", aoi=AOI, period=None)
        searched = [json.loads(r.body or b"{}").get("collections") for r in srv.requests
                    if r.path == "/search"]  # fmt: skip
    assert ["sentinel-2-l2a"] in searched and ["sentinel-1-rtc"] in searched


def test_by_family_source_and_overrides(tmp_path: Path, mixed: Path) -> None:
    override = tmp_path / "override.yaml"
    override.write_text(
        yaml.safe_dump(
            {
                "sources": {
                    "mine": {"kind": "static", "location": str(mixed)},
                    "both": {
                        "kind": "by-family",
                        "families": {"s2": "mine", "dem": "earth-search"},
                    },
                }
            }
        )
    )
    settings = load_settings(override, env={})
    configured = dict(settings.sources)
    # the default public source: each family where it is served
    public = resolve_sources("public", configured=configured)
    assert public.of("s2").name == "earth-search"
    assert public.of("s1").name == "planetary-computer"
    assert public.of("dem").location.startswith("https://earth-search")
    assert public.of("rainfall").name == "jaxa-earth"
    assert "s1: planetary-computer" in public.label
    # a by-family source names no source for a family it does not list
    both = resolve_sources("both", configured=configured)
    assert both.of("s2").location == str(mixed.resolve())
    with pytest.raises(SourceError, match="names no source for data family 's1'"):
        both.of("s1")
    # one source for every family, with one family overridden
    one = resolve_sources("mine", configured=configured, overrides={"dem": "earth-search"})
    assert one.of("s1").name == "mine" and one.of("dem").name == "earth-search"
    assert one.label == "mine (dem: earth-search)"
    assert resolve_sources("mine", configured=configured).label == "mine"
    with pytest.raises(ParameterError, match="unknown data family 'radar'"):
        resolve_sources("mine", configured=configured, overrides={"radar": "sample"})
    with pytest.raises(SourceError, match="draws each data family from another source"):
        resolve_source("public", configured=configured)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"kind": "by-family", "families": {"s2": "nowhere"}}, "'nowhere' is not a configured"),
        ({"kind": "by-family", "families": {"s2": "public"}}, "'public' is not a configured"),
        ({"kind": "by-family", "families": {}}, "names a source per family"),
        ({"kind": "by-family", "location": "x", "families": {"s2": "sample"}}, "not location"),
        ({"kind": "static"}, "needs a 'location'"),
        ({"kind": "by-family", "families": {"sar": "sample"}}, "sources.x.families.sar"),
    ],
)
def test_by_family_config_is_checked(tmp_path: Path, source: dict[str, Any], expected: str) -> None:
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump({"sources": {"x": source}}))
    with pytest.raises(ConfigError, match=expected):
        load_settings(override, env={})
