"""The lowland's land use and the landslides' place on the slope vary across worlds (issue 13):
a drawn share of the farmland is paddy (the rest upland fields in farm blocks), and scars
sit at a drawn relative height between valley and ridge. The demo world keeps neither.

Everything is synthesised here, on a development seed's small AOI (a few s per world).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from yamasat.catalogs.sample import CAUSE_CODES, FIELD, PADDY, RANGES, World, WorldParams
from yamasat.catalogs.sample.events import Site
from yamasat.catalogs.sample.landscape import (
    FARM_BLOCK,
    classify,
    farm_draw,
    relative_height,
    slope_degrees,
)
from yamasat.catalogs.sample.spectra import ENDMEMBERS

SEED = 9001
"""A development seed (never an evaluation one)."""
AOI = (131.98, 33.93, 132.04, 33.97)
NEW = ("paddy_fraction", "landslide_position")


def _world(**changes: Any) -> World:
    return World(SEED, AOI, dataclasses.replace(WorldParams.draw(SEED), **changes))


@pytest.fixture(scope="module")
def all_paddy() -> World:
    return _world(paddy_fraction=1.0)


@pytest.fixture(scope="module")
def low_paddy() -> World:
    return _world(paddy_fraction=0.6)


def test_new_parameters_are_drawn_after_the_old_ones_and_off_in_the_demo() -> None:
    demo = WorldParams()
    assert (demo.paddy_fraction, demo.landslide_position) == (1.0, None)
    for seed in (1, 12, SEED, 123456789):
        p = WorldParams.draw(seed)
        for name in NEW:
            r = RANGES[name]
            assert r.source and r.unit, name
            assert r.lo <= getattr(p, name) <= r.hi, name
        assert WorldParams.from_dict(p.to_dict()) == p
    # the older draws keep their values (recorded at 69049af, before these two existed)
    p = WorldParams.draw(12)
    assert (p.relief, p.flood_width, p.flood_paddy_ponds, p.thinning_canopy_removed) == (
        1.0647,
        0.586,
        3,
        0.3876,
    )
    assert p.cloud_fractions == (0.4206, 0.4456, 0.333, 0.0484, 0.345, 0.3654, 0.2808, 0.4335)
    many = [WorldParams.draw(s) for s in range(40)]
    assert min(q.paddy_fraction for q in many) < 0.7 and max(q.paddy_fraction for q in many) > 0.85
    assert min(q.landslide_position or 1 for q in many) < 0.5
    assert max(q.landslide_position or 0 for q in many) > 0.75


def test_farm_draw_is_uniform_constant_per_block_and_the_same_on_any_grid() -> None:
    bx, by = FARM_BLOCK
    x0, y0 = -60_000.0, -130_000.0
    xs, ys = np.meshgrid(x0 + np.arange(0, 4000, 10.0) + 5, y0 + np.arange(0, 4000, 10.0) + 5)
    u = farm_draw(xs, ys, SEED)
    assert u.min() > 0.0 and u.max() < 1.0
    # one value per block: a block's pixels agree
    ids = np.floor(xs / bx) * 1e6 + np.floor(ys / by)
    _, inverse = np.unique(ids, return_inverse=True)
    per_block = np.zeros(inverse.max() + 1)
    per_block[inverse.ravel()] = u.ravel()
    assert np.array_equal(per_block[inverse.ravel()], u.ravel())
    # uniform over blocks, so a threshold f keeps about f of them
    assert abs(float((per_block < 0.8).mean()) - 0.8) < 0.08
    # a function of the coordinates only, and of the seed
    assert np.array_equal(farm_draw(xs[::3, ::7], ys[::3, ::7], SEED), u[::3, ::7])
    assert not np.array_equal(farm_draw(xs, ys, SEED + 1), u)


def test_classify_turns_only_farmland_into_fields_and_not_at_all_when_all_paddy() -> None:
    rng = np.random.default_rng(3)
    shape = (60, 60)
    kw = {
        "land": np.ones(shape),
        "elevation": rng.uniform(0, 60, shape),
        "slope": rng.uniform(0, 12, shape),
        "coast_distance": rng.uniform(0, 3000, shape),
        "forest_noise": rng.standard_normal(shape),
        "urban_noise": rng.standard_normal(shape),
        "bare_noise": rng.standard_normal(shape),
        "water": rng.uniform(size=shape) < 0.05,
    }
    farm = rng.uniform(size=shape)
    base = classify(**kw)  # type: ignore[arg-type]
    assert np.array_equal(classify(**kw, farm=farm, paddy_fraction=1.0), base)  # type: ignore[arg-type]
    mixed = classify(**kw, farm=farm, paddy_fraction=0.5)  # type: ignore[arg-type]
    changed = mixed != base
    assert changed.any()
    assert (base[changed] == PADDY).all() and (mixed[changed] == FIELD).all()
    assert (farm[changed] > 0.5).all()
    with pytest.raises(ValueError, match="farm-block draw"):
        classify(**kw, paddy_fraction=0.5)  # type: ignore[arg-type]


def test_a_low_paddy_world_has_less_paddy_and_dry_fields_in_blocks(
    all_paddy: World, low_paddy: World
) -> None:
    grid = all_paddy.project_geobox(10.0)
    before, after = all_paddy.land_cover(grid), low_paddy.land_cover(grid)
    assert not (before == FIELD).any()
    farmland = before == PADDY
    assert np.array_equal(np.isin(after, (PADDY, FIELD)), farmland)  # nothing else moves
    share = float((after[farmland] == PADDY).mean())
    assert 0.45 < share < 0.75  # about 0.6 of the farmland stays paddy
    # the fields come in farm blocks (100 m x 50 m), not as scattered pixels
    fields = after == FIELD
    labels, n = ndimage.label(fields)
    sizes = np.bincount(labels.ravel())[1:]
    assert n > 10 and np.median(sizes) >= 20  # 50 px whole, fewer where cut by other classes


def test_upland_fields_hold_no_irrigation_water_and_are_their_own_cause(
    all_paddy: World, low_paddy: World
) -> None:
    grid = low_paddy.project_geobox(20.0)
    cover = low_paddy.land_cover(grid)
    water = ENDMEMBERS.index("water")
    june = low_paddy._mixture(grid, dt.date(2025, 6, 10))
    assert june[water][cover == FIELD].max() == 0.0  # dry fields: never flooded for rice
    assert june[water][cover == PADDY].mean() > 0.5  # the paddies are, in June
    veg = june[ENDMEMBERS.index("veg")][cover == FIELD]
    assert veg.min() >= 0.05 and veg.max() <= 0.9 and veg.std() > 0.02  # blocks differ
    causes = low_paddy.causes(grid)
    on_fields = causes[cover == FIELD]
    assert (on_fields == CAUSE_CODES["upland field"]).mean() > 0.5  # the rest: events, sky
    assert not (all_paddy.causes(grid) == CAUSE_CODES["upland field"]).any()


def _scar_heights(world: World) -> tuple[np.ndarray, list[np.ndarray]]:
    t = world._terrain
    rel = relative_height(t.elevation, t.lattice.step)
    slides = world.event("landslide")
    assert slides is not None
    parts = slides.parts()
    xy = np.array([[p.centroid.x, p.centroid.y] for p in parts])
    heights = t.lattice.sample(rel, xy[:, 0], xy[:, 1])
    site = Site(
        t, np.zeros(t.lattice.shape, dtype=np.uint8), np.zeros(t.lattice.shape, dtype=np.float32)
    )
    slopes = [slope_degrees(site.sample(t.grad_x, p), site.sample(t.grad_y, p)) for p in parts]
    return heights, slopes


def test_scars_sit_higher_on_the_slope_in_a_near_ridge_world() -> None:
    high, high_slopes = _scar_heights(_world(landslide_position=0.85))
    low, low_slopes = _scar_heights(_world(landslide_position=0.4))
    assert len(high) >= 3 and len(low) >= 3
    assert float(np.mean(high)) > float(np.mean(low)) + 0.25
    assert float(np.median(np.abs(high - 0.85))) < 0.2
    assert float(np.median(np.abs(low - 0.4))) < 0.2
    for slopes in (*high_slopes, *low_slopes):  # the slope rules hold as before
        assert slopes.min() >= 15.0 and slopes.mean() >= 24.0


def test_relative_height_is_zero_in_the_valley_and_one_on_the_ridge() -> None:
    x = np.arange(200) * 20.0
    ridge = np.tile(300.0 * np.abs(np.sin(np.pi * x / 2000.0)), (50, 1)).astype(np.float32)
    rel = relative_height(ridge, 20.0)
    top, bottom = 150, 100  # a ridge at 3 km, a valley at 2 km
    assert rel[25, top] == pytest.approx(1.0)
    assert rel[25, bottom] == pytest.approx(0.0)
    assert (relative_height(np.zeros((40, 40), dtype=np.float32), 20.0) == 0.5).all()
