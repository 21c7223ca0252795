"""Honest QA with every product (issue 13, item 4): the observed share of the AOI and of the
detections' neighbourhood, the expected accuracy from the package's versioned table (or "not
measured"), the share of the AOI where the method is weak; and the HAND thresholds as
``analytics.flood`` settings that leave the default product's identity unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.transform import from_origin

from yamasat.catalogs.sample import SampleManifest
from yamasat.flows.demo import DEMO_RUNS
from yamasat.flows.prepare import prepare, search_family
from yamasat.flows.product_qa import qa_lines
from yamasat.flows.product_run import analyse_product, params_dict
from yamasat.flows.recipes import FLOOD_FUSED, FLOOD_S1, FLOOD_S2
from yamasat.processing.expected_accuracy import (
    TABLE_PATH,
    expected_accuracy,
    expected_summary,
    load_table,
    measured_row,
    parameters_key,
    write_table,
)
from yamasat.processing.flood import SarFloodParams
from yamasat.processing.product_qa import (
    _observed_counts,
    observed_figures,
    terrain_weak_share,
)
from yamasat.settings import load_settings


def _product(path: Path, data: np.ndarray) -> Path:
    with rasterio.open(
        path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
        dtype="uint8", nodata=255, transform=from_origin(0, 0, 10, 10), crs="EPSG:6690",
        tiled=True, blockxsize=64, blockysize=64,
    ) as dst:  # fmt: skip
        dst.write(data, 1)
    return path


def test_observed_figures_count_aoi_neighbourhood_and_cloud_edges(tmp_path: Path) -> None:
    data = np.zeros((150, 170), dtype="uint8")
    data[40:50, 60:70] = 1  # a detection (100 px)
    data[40:50, 71:90] = 255  # a cloud just east of it
    data[:, 160:] = 255  # outside the AOI (also nodata in the product)
    inside = np.ones(data.shape, bool)
    inside[:, 160:] = False
    path = _product(tmp_path / "p.tif", data)
    mask = xr.DataArray(inside, dims=("y", "x"))
    small = observed_figures(path, mask, neighbourhood_px=10, edge_px=3, block=32)
    whole = observed_figures(path, mask, neighbourhood_px=10, edge_px=3, block=4096)
    assert small == whole  # block edges (with their halo) change nothing

    aoi = inside.sum()
    cloud = np.zeros(data.shape, bool)
    cloud[40:50, 71:90] = True
    ring = np.zeros(data.shape, bool)
    ring[30:60, 50:80] = True
    ring[40:50, 60:70] = False
    assert whole["aoi"] == round((aoi - cloud.sum()) / aoi, 4)
    assert whole["near_detections"] == round(1 - (ring & cloud).sum() / ring.sum(), 4)
    assert 0.5 < whole["near_detections"] < 1
    # the cloud (190 px) and the observed pixels within 3 px of it (the AOI's edge is no cloud)
    edge = np.zeros(data.shape, bool)
    edge[37:53, 68:93] = True
    edge &= ~cloud & inside
    assert whole["unobserved_share"] == round(cloud.sum() / aoi, 4)
    assert whole["beside_unobserved_share"] == round(edge.sum() / aoi, 4)
    # without the AOI mask, outside pixels would be clouds: the mask is what keeps them out
    assert observed_figures(path, None)["aoi"] < whole["aoi"]

    nothing = observed_figures(_product(tmp_path / "q.tif", np.zeros((20, 20), "uint8")), None)
    assert nothing["near_detections"] is None and nothing["aoi"] == 1.0


def _whole_array_counts(data: np.ndarray, inside: np.ndarray, px: int, edge: int) -> dict:
    """The counts of observed_figures straight from the whole array (scipy's maximum filter)."""
    from scipy import ndimage

    def near(m: np.ndarray, r: int) -> np.ndarray:
        return ndimage.maximum_filter(m.astype("uint8"), size=2 * r + 1, mode="constant") > 0

    seen, det = data != 255, data == 1
    ring = near(det, px) & ~det & inside
    unseen = ~seen & inside
    return {
        "aoi": int(inside.sum()),
        "seen": int((seen & inside).sum()),
        "ring": int(ring.sum()),
        "ring_seen": int((ring & seen).sum()),
        "unseen": int(unseen.sum()),
        "near_unseen": int((near(unseen, edge) & seen & inside).sum()),
    }


@pytest.mark.parametrize("backing", ["numpy", "dask", "none"])
def test_observed_figures_match_the_whole_array_computation(tmp_path: Path, backing: str) -> None:
    """Block by block (filters skipped where a block and its halo hold no detection or no
    unobserved pixel, the AOI mask read once per row of blocks) = the whole array at once."""
    rng = np.random.default_rng(14)
    data = np.where(rng.random((200, 230)) < 0.002, 1, 0).astype("uint8")
    data[128:, 128:] = 0  # blocks (64 px) with no detection in them ...
    data[150:160, 135:150] = 255  # ... but a cloud
    for r, c in ((63, 64), (64, 63), (0, 100), (127, 0), (199, 229), (125, 140), (40, 192)):
        data[r, c] = 1  # at block edges and corners, the image's edges, in a block's halo only
    data[60:70, 60:75] = 255  # a cloud across a block corner, beside the detections
    data[:5, :] = 255  # a cloud along the image's edge
    yy, xx = np.mgrid[:200, :230]
    inside = (yy + 0.7 * xx < 260) & (xx > 3)  # an AOI edge across blocks
    path = _product(tmp_path / "p.tif", data)
    mask = {
        "numpy": xr.DataArray(inside, dims=("y", "x")),
        "dask": xr.DataArray(inside, dims=("y", "x")).chunk(50),
        "none": None,
    }[backing]
    want_inside = np.ones(data.shape, bool) if mask is None else inside
    for px, edge in ((10, 3), (3, 10), (1, 1)):
        want = _whole_array_counts(data, want_inside, px, edge)
        assert want["ring"] and want["near_unseen"] and want["aoi"] > want["seen"]
        for block in (64, 50, 4096):
            assert _observed_counts(path, mask, px, edge, block) == want, (px, edge, block)
        aoi = want["aoi"]
        assert observed_figures(path, mask, neighbourhood_px=px, edge_px=edge, block=64) == {
            "aoi": round(want["seen"] / aoi, 4),
            "near_detections": round(want["ring_seen"] / want["ring"], 4),
            "near_detections_px": px,
            "near_detections_rule": observed_figures(path, None)["near_detections_rule"],
            "unobserved_share": round(want["unseen"] / aoi, 4),
            "beside_unobserved_share": round(want["near_unseen"] / aoi, 4),
        }


def test_terrain_weak_share_counts_steep_and_high_inside_the_aoi() -> None:
    slope = np.zeros((60, 80), "float32")
    slope[:, :20] = 12.0  # 20 columns steep
    hand = np.zeros_like(slope)
    hand[:10, :] = 30.0  # 10 rows high above the drainage
    inside = np.ones(slope.shape, bool)
    inside[:, 70:] = False
    da = {k: xr.DataArray(v, dims=("y", "x")).chunk(16) for k, v in (("s", slope), ("h", hand))}
    ins = xr.DataArray(inside, dims=("y", "x")).chunk(16)
    got = terrain_weak_share(ins, da["s"], da["h"], max_slope_deg=5, max_hand_m=15)
    n = inside.sum()
    assert got["steep"] == round(60 * 20 / n, 4)
    assert got["above_drainage"] == round(10 * 70 / n, 4)
    assert got["share"] == round((60 * 20 + 10 * 50) / n, 4)
    only = terrain_weak_share(ins, da["s"], None, max_slope_deg=5, max_hand_m=15)
    assert only["above_drainage"] is None and only["share"] == only["steep"]


def test_expected_accuracy_matches_recipe_and_parameters(tmp_path: Path) -> None:
    settings = load_settings(env={})
    s1 = FLOOD_S1.record(FLOOD_S1.params(settings))
    got = expected_accuracy("flood-s1", s1)
    assert got["status"] == "measured" and got["parameters_key"] == parameters_key(s1)
    row = next(
        r
        for r in load_table()["rows"]
        if r["product"] == "flood-s1" and r["parameters_key"] == got["parameters_key"]
    )  # the table may keep rows of earlier parameters
    assert got["csi"] == row["csi"] and got["worlds"]["scored"] >= 2
    assert got["csi"]["min"] <= got["csi"]["max"]
    assert "worlds" in expected_summary(got) and got["measured"] in expected_summary(got)
    # other parameters, or a recipe with no row: "not measured", never a borrowed figure
    other = expected_accuracy("flood-s1", {**s1, "max_hand_m": 20.0})
    assert other["status"] == "not measured" and "none with these parameters" in other["why"]
    assert "csi" not in other
    assert expected_accuracy("no-such-recipe", s1)["status"] == "not measured"
    assert expected_summary(other, short=True) == "not measured"

    # the writer: rows replace those of the same recipe and parameters, others are kept
    table = tmp_path / "t.json"
    write_table(load_table(TABLE_PATH)["rows"], table)
    fused = FLOOD_FUSED.record(FLOOD_FUSED.params(settings))
    new = measured_row(
        "flood-fused", fused,
        {1: {"csi": 0.5, "precision": 0.9, "recall": 0.6}, 2: None,
         3: {"csi": 0.7, "precision": float("nan"), "recall": 0.8}},
        measured="2026-12-07", version="9.9", how="test",
    )  # fmt: skip
    assert new["csi"] == {"min": 0.5, "median": 0.6, "max": 0.7}
    assert new["precision"] == {"min": 0.9, "median": 0.9, "max": 0.9}
    assert new["worlds"] == {"run": 3, "scored": 2, "seeds": [1, 2, 3]}
    write_table([new], table)
    rows = load_table(table)["rows"]
    assert [r["how"] for r in rows if r["product"] == "flood-fused"] == ["test"]
    assert len(rows) == len(load_table(TABLE_PATH)["rows"])
    assert expected_accuracy("flood-fused", fused, load_table(table))["package_version"] == "9.9"
    assert json.loads(table.read_text())["format"] == 1


def test_table_is_in_the_package_and_each_row_says_how_it_was_measured() -> None:
    rows = load_table()["rows"]
    assert TABLE_PATH.parent.name == "processing" and TABLE_PATH.is_file()
    assert {r["product"] for r in rows} >= {"change", "flood-s1", "flood-s2", "landslide"}
    for r in rows:
        assert r["parameters_key"] == parameters_key(r["parameters"])
        assert r["how"] and r["measured"] and r["package_version"]
        assert r["worlds"]["scored"] <= r["worlds"]["run"] == len(r["worlds"]["seeds"])


def test_hand_thresholds_are_settings_and_defaults_keep_the_identity() -> None:
    default = load_settings(env={})
    assert default.analytics.flood.max_hand_m == 15.0
    assert default.analytics.flood.hand_drain_km2 == 1.0
    record = FLOOD_S1.record(FLOOD_S1.params(default))
    assert record == {  # as before the setting
        "sensor": "s1",
        **params_dict(SarFloodParams()),
        "method_revision": FLOOD_S1.method_revision,
    }
    tuned = load_settings(
        env={
            "YAMASAT_ANALYTICS__FLOOD__MAX_HAND_M": "25",
            "YAMASAT_ANALYTICS__FLOOD__HAND_DRAIN_KM2": "2.5",
        }
    )
    params = FLOOD_S1.params(tuned)
    assert (params.max_hand_m, params.hand_drain_km2) == (25.0, 2.5)
    assert FLOOD_S1.record(params) != record  # another product
    assert FLOOD_FUSED.record(FLOOD_FUSED.params(tuned))["max_hand_m"] == 25.0
    with pytest.raises(Exception, match="max_hand_m"):
        load_settings(env={"YAMASAT_ANALYTICS__FLOOD__MAX_HAND_M": "-1"})


def test_qa_lines_say_the_figures_in_a_few_lines() -> None:
    qa: dict[str, Any] = {
        "observed": {"aoi": 0.5, "near_detections": 0.25, "near_detections_px": 10},
        "expected_accuracy": {"status": "not measured", "why": "no row of burn"},
        "weak_areas": {"share": 0.125, "what": "clouds", "rule": "the long rule"},
    }
    lines = dict(qa_lines(qa))
    assert lines["observed"] == "50.0 % of the AOI; 25.0 % within 10 px of the detections"
    assert lines["expected accuracy"] == "not measured (no row of burn)"
    assert lines["weak areas"] == "12.5 % of the AOI: the long rule"
    assert dict(qa_lines(qa, short=True))["weak areas"] == "12.5 % of the AOI: clouds"


@pytest.mark.slow
def test_flood_products_carry_the_honest_qa(sample_root: Path, tmp_path: Path) -> None:
    runs = {name: params for name, _flow, params, _floor in DEMO_RUNS}
    settings = load_settings(env={"YAMASAT_NETWORK__ALLOWED_ROOTS": f"[{sample_root}]"})
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    for name, recipe, bands in (
        ("flood (S1)", FLOOD_S1, ("vv", "vh")),
        ("flood (S2)", FLOOD_S2, ("green", "swir16", "nir", "scl")),
    ):
        p = prepare(
            aoi=bbox, before=runs[name]["before"], after=runs[name]["after"],
            source=str(sample_root / "catalog.json"), out=tmp_path / "out", settings=settings,
        )  # fmt: skip
        family = recipe.family
        items = [search_family(p, family, period, bands) for period in (p.before, p.after)]
        out = analyse_product(recipe, p, *items)
        assert out.outcome == "published"
        qa = out.qa
        assert qa["observed"]["aoi"] == pytest.approx(out.valid_fraction, abs=1e-3)
        assert 0 < qa["observed"]["near_detections"] <= 1
        assert qa["expected_accuracy"]["status"] == "measured"
        assert qa["expected_accuracy"]["recipe"] == recipe.name
        weak = qa["weak_areas"]
        assert 0 <= weak["share"] <= 1 and weak["rule"]
        if recipe is FLOOD_S1:
            assert "HAND" in weak["rule"] and weak["steep"] is not None
        else:
            assert "cloud" in weak["rule"]
            assert weak["unobserved"] == pytest.approx(1 - qa["observed"]["aoi"], abs=1e-3)
        item = json.loads(Path(out.item_href).read_text())
        stac_qa = item["properties"]["yamasat:statistics"]["qa"]
        assert stac_qa["expected_accuracy"] == json.loads(json.dumps(qa["expected_accuracy"]))


def test_radar_layover_and_shadow_follow_the_look_direction() -> None:
    from yamasat.processing.terrain import (
        LAYOVER,
        SHADOW,
        radar_layover_shadow,
        s1_look_azimuth_deg,
    )

    x = np.arange(120, dtype="float32") * 10.0
    ridge = np.where(x < 600, x * 0.8, 480 - (x - 600) * 0.8)  # 38.7° up to the east, then down
    gentle = np.where(x < 600, x * 0.3, 180 - (x - 600) * 0.3)  # 16.7°: neither
    dem = np.vstack([np.tile(ridge, (40, 1)), np.tile(gentle, (40, 1))])
    codes = {}
    for state in ("ascending", "descending"):
        az = s1_look_azimuth_deg(state)
        for chunk in (None, 32):
            da = xr.DataArray(dem, dims=("y", "x"))
            da = da if chunk is None else da.chunk(chunk)
            codes[state, chunk] = np.asarray(
                radar_layover_shadow(da, resolution=10.0, look_azimuth_deg=az).values
            )
        assert np.array_equal(codes[state, None], codes[state, 32])
    asc, desc = codes["ascending", None], codes["descending", None]
    # looking east (ascending), the west face (rising eastwards) faces the sensor: layover
    # where 38.7° > 29.1° near-range incidence; the east face is 38.7° < 44° from the far
    # range's grazing angle: no shadow
    assert (asc[5:35, 5:55] == LAYOVER).all() and (asc[5:35, 65:115] == 0).all()
    assert (desc[5:35, 65:115] == LAYOVER).all() and (desc[5:35, 5:55] == 0).all()
    assert (asc[45:75] == 0).all() and (desc[45:75] == 0).all()
    cliff = np.tile(np.where(x < 600, 0.0, (x - 600) * 2.0), (10, 1))  # 63°, rising eastwards
    looked = radar_layover_shadow(
        xr.DataArray(cliff, dims=("y", "x")), resolution=10.0, look_azimuth_deg=280.0
    ).values
    assert (looked[2:8, 65:115] == SHADOW).all()  # looking west, it faces away: shadow
    with pytest.raises(ValueError, match="orbit state"):
        s1_look_azimuth_deg("sideways")
