"""The confounders of varied sample worlds (issue 13, item 1): wet soil after the flood's
rain, wind-roughened water in SAR, radar layover and shadow, forest thinning. Each is
planted where it says, changes the signal it should by its drawn magnitude, is no truth of
another product, and carries its own cause label; the demo world has none of them.

Everything is synthesised here (worlds of a few km at 20 m, a few s each).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pytest
import xarray as xr
from scipy import ndimage

from yamasat.catalogs.sample import CAUSE_CODES, RANGES, World, WorldParams
from yamasat.catalogs.sample.confounders import (
    LAYOVER,
    S1_LOOK_AZIMUTH_DEG,
    SHADOW,
    WIND_VH_SHARE,
    radar_geometry,
)
from yamasat.processing import terrain

AOI = (131.98, 33.93, 132.04, 33.97)
"""The accuracy benchmark's AOI."""
SEED = 7001
NEW = (
    "wet_soil_count",
    "wet_soil_db",
    "wet_soil_darkening",
    "water_wind_fraction",
    "water_wind_db",
    "s1_incidence_deg",
    "layover_db",
    "s1_noise_floor_db",
    "thinning_count",
    "thinning_canopy_removed",
)
CONFOUNDER_CAUSES = ("wet soil", "wind-roughened water", "radar shadow", "layover", "thinning")


def _db(a: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(a)


@pytest.fixture(scope="module")
def varied() -> tuple[World, World]:
    """A varied world and the same world without its confounders."""
    params = WorldParams.draw(SEED)
    off = dataclasses.replace(
        params,
        wet_soil_count=0,
        water_wind_fraction=0.0,
        s1_incidence_deg=None,
        thinning_count=0,
    )
    return World(SEED, AOI, params), World(SEED, AOI, off)


def test_new_knobs_are_drawn_from_documented_ranges_after_the_old_ones() -> None:
    demo = WorldParams()
    assert (demo.wet_soil_count, demo.thinning_count, demo.water_wind_fraction) == (0, 0, 0.0)
    assert demo.s1_incidence_deg is None
    for seed in (1, 7001, 7013):
        p = WorldParams.draw(seed)
        for name in NEW:
            r = RANGES[name]
            assert r.source and r.unit, name
            assert r.lo <= getattr(p, name) <= r.hi, name
    # the older draws keep their values: recorded at 01dba04, before the confounders
    a, b = WorldParams.draw(7001), WorldParams.draw(7013)
    assert (a.relief, a.flood_width, a.construction_count) == (0.8627, 1.1935, 3)
    assert a.cloud_fractions == (0.4575, 0.1563, 0.0691, 0.5543, 0.0006, 0.0843, 0.2401, 0.332)
    assert (b.relief, b.flood_width, b.construction_count) == (0.9243, 0.7884, 3)


def test_the_demo_world_has_no_confounders() -> None:
    world = World(seed=20260401, bbox=(131.98, 33.93, 132.02, 33.96))
    grid = world.project_geobox(20.0)
    causes = world.causes(grid, ("2025-07-09",), radar=True)
    assert not np.isin(causes, [CAUSE_CODES[n] for n in CONFOUNDER_CAUSES]).any()


def test_wet_soil_is_labelled_raises_backscatter_and_darkens_swir(
    varied: tuple[World, World],
) -> None:
    world, dry = varied
    p = world.params
    grid = world.project_geobox(20.0)
    causes = world.causes(grid, radar=True)
    wet = causes == CAUSE_CODES["wet soil"]
    assert wet.sum() > 20
    conf = world._confounders
    pix = world._at(grid)
    rough, smooth = conf.wet_masks(pix)
    assert rough.any() and (wet == (rough | smooth)).all()
    flood = world.truth(grid, "flood").astype(bool)
    assert not (wet & flood).any()  # wet soil is not flood
    ys, xs = np.nonzero(wet)
    assert flood.any()
    # near the flood: field centres within 1.5 km of it (the fields reach a little farther)
    d = ndimage.distance_transform_edt(~flood)[ys, xs] * 20.0
    assert d.max() < 1500.0 + 250.0

    # Sentinel-1 on the flood's pass: up on rough wet fields, down on waterlogged smooth ones
    vv, vv_dry = (w.sar_backscatter(grid, "2025-07-06", "vv") for w in (world, dry))
    rise = _db(vv[rough]) - _db(vv_dry[rough])
    assert 0.3 < np.median(rise) <= p.wet_soil_db + 1e-3
    if smooth.any():
        assert (_db(vv[smooth]) < _db(vv_dry[smooth]) - 0.1).all()
    outside = ~(rough | smooth) & ~(causes == CAUSE_CODES["wind-roughened water"])
    outside &= ~np.isin(causes, [CAUSE_CODES["layover"], CAUSE_CODES["radar shadow"]])
    assert np.array_equal(vv[outside], vv_dry[outside])
    # dry again on the next pass
    assert np.array_equal(
        world.sar_backscatter(grid, "2025-07-18", "vv")[wet],
        dry.sar_backscatter(grid, "2025-07-18", "vv")[wet],
    )

    # Sentinel-2 three days later: darker, most in SWIR; MNDWI up
    s2 = {b: world.surface_reflectance(grid, b, "2025-07-09") for b in ("green", "swir16")}
    s2_dry = {b: dry.surface_reflectance(grid, b, "2025-07-09") for b in ("green", "swir16")}
    loss = 1.0 - s2["swir16"][wet] / s2_dry["swir16"][wet]
    assert 0.0 < np.median(loss) <= p.wet_soil_darkening + 1e-6
    assert (s2["green"][wet] <= s2_dry["green"][wet]).all()

    def mndwi(d: dict[str, np.ndarray]) -> np.ndarray:
        return (d["green"] - d["swir16"]) / (d["green"] + d["swir16"])

    assert (mndwi(s2)[wet] > mndwi(s2_dry)[wet]).mean() > 0.95
    # not wet on the landslide product's dates; labelled only when a date is wet
    assert np.array_equal(
        world.surface_reflectance(grid, "swir16", "2025-06-29"),
        dry.surface_reflectance(grid, "swir16", "2025-06-29"),
    )
    assert not (world.causes(grid, ("2025-06-29", "2025-08-18")) == CAUSE_CODES["wet soil"]).any()
    assert (world.causes(grid, ("2025-07-09",)) == CAUSE_CODES["wet soil"]).sum() > 0


def test_wind_roughens_part_of_the_flood_which_stays_flood_truth(
    varied: tuple[World, World],
) -> None:
    world, calm = varied
    grid = world.project_geobox(20.0)
    causes = world.causes(grid, radar=True)
    wind = causes == CAUSE_CODES["wind-roughened water"]
    flood = world.truth(grid, "flood").astype(bool)
    share = (wind & flood).sum() / flood.sum()
    f = world.params.water_wind_fraction
    assert f - 0.25 < share < f + 0.25  # patches of a few hundred metres on a small flood
    assert (causes[flood & ~wind] == CAUSE_CODES["flood"]).all()
    # the full rise where the pixel is all water (an edge pixel is partly land: mixed edges)
    inner = wind & ndimage.binary_erosion(flood, structure=np.ones((3, 3)))
    vv, vv_calm = (w.sar_backscatter(grid, "2025-07-06", "vv") for w in (world, calm))
    rise = _db(vv[inner]) - _db(vv_calm[inner])
    assert rise == pytest.approx(world.params.water_wind_db, abs=0.01)
    vh, vh_calm = (w.sar_backscatter(grid, "2025-07-06", "vh") for w in (world, calm))
    rise_vh = _db(vh[inner]) - _db(vh_calm[inner])
    assert rise_vh == pytest.approx(WIND_VH_SHARE * world.params.water_wind_db, abs=0.01)
    # the other passes are calm, and the label is for Sentinel-1 products only
    for day in ("2025-06-24", "2025-07-18"):
        assert np.array_equal(
            world.sar_backscatter(grid, day, "vv")[wind],
            calm.sar_backscatter(grid, day, "vv")[wind],
        )
    assert not (world.causes(grid, ("2025-07-09",)) == CAUSE_CODES["wind-roughened water"]).any()


@pytest.mark.parametrize("incidence", [30.0, 38.0, 45.0])
def test_layover_and_shadow_follow_the_look_geometry_on_a_synthetic_slope(
    incidence: float,
) -> None:
    """A plane tilted along the look direction, at slopes from -80° to 80°, and across it."""
    az = math.radians(S1_LOOK_AZIMUTH_DEG)
    angles = np.arange(-80.0, 80.5, 0.5)
    t = np.tan(np.radians(angles))
    geo = radar_geometry(t * math.sin(az), t * math.cos(az), incidence)
    # rising away from the sensor (facing it) steeper than the incidence: layover
    assert (geo[angles > incidence + 0.01] == LAYOVER).all()
    assert (geo[(angles < incidence - 0.01) & (angles > -(90 - incidence) + 0.01)] == 0).all()
    assert (geo[angles < -(90 - incidence) - 0.01] == SHADOW).all()
    # a slope facing along the flight track (across the look) is neither
    across = radar_geometry(t * math.cos(az), -t * math.sin(az), incidence)
    assert not across.any()
    # the ascending pass looks east: a steep west face (rising east) faces the sensor,
    # a steep east face is in its shadow
    assert radar_geometry(np.array([2.0]), np.array([0.0]), incidence)[0] == LAYOVER
    assert radar_geometry(np.array([-3.0]), np.array([0.0]), incidence)[0] == SHADOW


@pytest.mark.parametrize("chunked", [False, True])
def test_the_planted_geometry_agrees_with_the_pipeline_rule(chunked: bool) -> None:
    """A synthetic ridge: the sample's layover and shadow are what the processing's
    ``radar_layover_shadow`` marks for the same incidence (numpy and dask)."""
    res = 10.0
    x = np.arange(200) * res
    y = np.arange(120) * res
    # a ridge running north-south with slopes from gentle to 70°, bumps along it
    xx, yy = np.meshgrid(x, y)
    z = 800.0 - np.abs(xx - 1000.0) * np.tan(np.radians(25 + 45 * yy / y.max()))
    z += 30.0 * np.sin(yy / 150.0)
    dem = xr.DataArray(z, dims=("y", "x"), coords={"y": 5000.0 - y, "x": x})
    if chunked:
        dem = dem.chunk({"y": 50, "x": 64})
    incidence = 38.0
    ref = terrain.radar_layover_shadow(
        dem, resolution=res, look_azimuth_deg=S1_LOOK_AZIMUTH_DEG, incidence_deg=(incidence,) * 2
    )
    gy, gx = np.gradient(z, res)
    ours = radar_geometry(gx, -gy, incidence)  # rows run south: north gradient is -d/drow
    inner = (slice(2, -2), slice(2, -2))
    ref_np = np.asarray(ref)[inner]
    assert (ours[inner] == LAYOVER).any() and (ours[inner] == SHADOW).any()
    assert ((ours[inner] == LAYOVER) == (ref_np == terrain.LAYOVER)).mean() > 0.999
    assert ((ours[inner] == SHADOW) == (ref_np == terrain.SHADOW)).mean() > 0.999


def test_layover_is_bright_and_shadow_at_the_noise_floor_in_the_world(
    varied: tuple[World, World],
) -> None:
    world = varied[0]
    p = dataclasses.replace(world.params, s1_incidence_deg=30.0, relief=1.4)
    steep = World(SEED, AOI, p)
    grid = steep.project_geobox(20.0)
    causes = steep.causes(grid, radar=True)
    pix = steep._at(grid)
    geo = radar_geometry(pix.grad_x, pix.grad_y, 30.0)
    assert (geo == LAYOVER).sum() > 50
    assert ((causes == CAUSE_CODES["layover"]) == (geo == LAYOVER)).all()
    assert ((causes == CAUSE_CODES["radar shadow"]) == (geo == SHADOW)).all()
    off = World(SEED, AOI, dataclasses.replace(p, s1_incidence_deg=None))
    for pol in ("vv", "vh"):
        a, b = (w.sar_backscatter(grid, "2025-06-24", pol) for w in (steep, off))
        lay = geo == LAYOVER
        assert _db(a[lay]) - _db(b[lay]) == pytest.approx(p.layover_db, abs=0.01)
        if (geo == SHADOW).any():
            assert _db(a[geo == SHADOW]) == pytest.approx(p.s1_noise_floor_db, abs=0.01)
    # for optical products the steep slopes keep their old label
    assert not np.isin(
        steep.causes(grid, ("2025-06-29",)), [CAUSE_CODES["layover"], CAUSE_CODES["radar shadow"]]
    ).any()


def test_thinning_lowers_ndvi_but_is_no_change_and_no_landslide(
    varied: tuple[World, World],
) -> None:
    world, untouched = varied
    grid = world.project_geobox(20.0)
    thin = world._confounders.thinning
    assert thin is not None
    causes = world.causes(grid)
    blocks = causes == CAUSE_CODES["thinning"]
    assert blocks.sum() > 20
    forest = world.land_cover(grid) == World.FOREST

    def ndvi(w: World, day: str) -> np.ndarray:
        red, nir = (w.surface_reflectance(grid, b, day) for b in ("red", "nir"))
        return (nir - red) / (nir + red)

    m = blocks & forest
    drop = ndvi(untouched, "2025-09-22")[m] - ndvi(world, "2025-09-22")[m]
    assert 0.04 < np.median(drop) < 0.2
    assert np.array_equal(ndvi(world, "2025-06-29"), ndvi(untouched, "2025-06-29"))
    for before, after in (("2025-06-29", "2025-08-18"), ("2025-08-18", "2025-09-22")):
        assert not world.change_truth(grid, before, after)[blocks].any()
    assert not world.truth(grid, "landslide")[blocks].any()
    assert "thinning" not in {e.name for e in world.events()}


def test_paddy_ponds_are_small_floods_on_paddy_away_from_the_river(
    varied: tuple[World, World],
) -> None:
    """Issue 13's small local floods: rain ponded on low paddies, part of the flood's truth."""
    world, _ = varied
    p = world.params
    assert p.flood_paddy_ponds > 0 and WorldParams().flood_paddy_ponds == 0
    river = World(SEED, AOI, dataclasses.replace(p, flood_paddy_ponds=0)).event("flood")
    flood = world.event("flood")
    assert river is not None and flood is not None
    ponds = [g for g in getattr(flood.geometry, "geoms", []) if g.distance(river.geometry) > 0]
    assert len(ponds) == p.flood_paddy_ponds
    for g in ponds:
        assert 0.45e4 <= g.area <= 5.5e4  # 0.5-5 ha, within the outline's polygonisation
        assert g.distance(river.geometry) >= 300.0
    grid = world.project_geobox(10.0)
    truth = world.truth(grid, "flood").astype(bool)
    only_ponds = truth & ~World(SEED, AOI, dataclasses.replace(p, flood_paddy_ponds=0)).truth(
        grid, "flood"
    ).astype(bool)
    assert only_ponds.sum() > 0.8 * sum(g.area for g in ponds) / 100.0
    assert (world.land_cover(grid)[only_ponds] == 3).mean() > 0.95  # paddy
    vv = _db(world.sar_backscatter(grid, "2025-07-06", "vv"))[only_ponds]
    assert np.median(vv) < -15.0  # open water on the flood's S1 pass (wind may raise some)
    receded = world.event("flood").extent_on(dt.date(2025, 7, 9))  # the S2 pass after
    kept = sum(receded.intersection(g).area for g in ponds) / sum(g.area for g in ponds)
    assert 0.5 < kept < 0.7  # slow drainage: 60 % of each pond is still water
