"""Land management planted in varied worlds: clear-cuts, harvested fields, construction sites.

They are what a change map should find and a landslide map should not (issue 13): each is an
:class:`~.events.Event` with its own name, so errors are attributed to it
(:data:`~.causes.CAUSE_NAMES`). Only varied worlds plant them (``WorldParams`` counts are 0 in
the demo world, which stays byte-identical).

- ``clearcut``: clear-felled forest blocks of 0.5–5 ha on hill slopes, in two batches: late
  July (between the landslide product's periods: a confounder of landslides) and early
  September (between the change product's periods: a change to find). Felling units on the
  slopes of western Japan are blocks of a few ha bounded by roads and ridges, wider along the
  contour than down the slope (Forestry Agency, 森林・林業白書; national forests cap a
  clear-cut unit at 5 ha); the ground is left covered by logging slash (non-photosynthetic
  vegetation) and a thin green understory.
- ``harvest``: paddy blocks of 0.3–2 ha harvested in early September (early rice varieties
  such as コシヒカリ are cut late August–mid September in Yamaguchi) and left as stubble and
  bare soil.
- ``construction``: sites of 0.3–3 ha graded to bare fill in early September, on paddy or
  forest within 600 m of built-up land.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import ndimage
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from .events import Event, Phase, Site
from .landscape import FOREST, PADDY, URBAN
from .noise import rng_for
from .params import WorldParams
from .schedule import EVENT_DATES, MANAGEMENT_DATES

__all__ = ["place_management"]


def _block(
    cx: float, cy: float, area_m2: float, ratio: float, angle_deg: float, rng: np.random.Generator
) -> Polygon:
    """A quadrilateral of ``area_m2``, ``ratio`` long/wide, long side at ``angle_deg``, its
    corners jittered by up to 10 % (cut blocks follow roads and ridges, not a survey grid)."""
    width = math.sqrt(area_m2 / ratio)
    length = width * ratio
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    corners = corners * (1.0 + rng.uniform(-0.1, 0.1, size=(4, 2)))
    poly = Polygon(np.column_stack([corners[:, 0] * length, corners[:, 1] * width]))
    poly = shapely.affinity.rotate(poly, angle_deg, origin=(0.0, 0.0))
    poly = shapely.affinity.translate(poly, cx, cy)
    return shapely.affinity.scale(poly, *(2 * (math.sqrt(area_m2 / poly.area),)), origin=(cx, cy))


def _place(
    site: Site,
    rng: np.random.Generator,
    candidates: NDArray[np.bool_],
    count: int,
    avoid: BaseGeometry,
    shape_of: Callable[[np.random.Generator, float, float, int], Polygon],
    cover: NDArray[np.float32],
) -> list[Polygon]:
    """Up to ``count`` blocks from ``shape_of(rng, cx, cy, flat)`` on nodes of ``candidates``,
    entirely on ``cover`` (a 0/1 lattice field), 150 m from ``avoid`` and from each other."""
    out: list[Polygon] = []
    if count <= 0:
        return out
    for flat in rng.permutation(np.flatnonzero(candidates))[:1500]:
        cx, cy = site.node_xy(int(flat))
        block = shape_of(rng, cx, cy, int(flat))
        if not isinstance(block, Polygon) or not block.is_valid:
            continue
        if block.distance(avoid) < 150.0 or any(b.distance(block) < 150.0 for b in out):
            continue
        if site.sample(cover, block, order=0).min() < 1.0:
            continue
        out.append(block)
        if len(out) == count:
            break
    return out


def _clearcuts(site: Site, seed: int, count: int, avoid: BaseGeometry) -> list[Polygon]:
    rng = rng_for(seed, "event-clearcut")
    t = site.terrain
    ok = (
        (site.land_cover == FOREST)
        & (site.slope > 12.0)
        & (site.slope < 38.0)
        & site.inside(250.0)
        & (t.river_distance > 150.0)
    )

    def shape_of(r: np.random.Generator, cx: float, cy: float, flat: int) -> Polygon:
        row, col = np.unravel_index(flat, site.lattice.shape)
        aspect = math.degrees(math.atan2(float(t.grad_y[row, col]), float(t.grad_x[row, col])))
        area = math.exp(r.uniform(math.log(0.5e4), math.log(5e4)))
        # the long side along the contour: perpendicular to the gradient, ± 25°
        return _block(cx, cy, area, r.uniform(1.0, 2.5), aspect + 90.0 + r.uniform(-25, 25), r)

    forest = (site.land_cover == FOREST).astype(np.float32)
    return _place(site, rng, ok, count, avoid, shape_of, forest)


def _harvests(site: Site, seed: int, count: int, avoid: BaseGeometry) -> list[Polygon]:
    rng = rng_for(seed, "event-harvest")
    paddy = ((site.land_cover == PADDY) & (site.slope < 3.0)).astype(np.float32)
    ok = (ndimage.uniform_filter(paddy, size=9, mode="constant") > 0.95) & site.inside(200.0)

    def shape_of(r: np.random.Generator, cx: float, cy: float, flat: int) -> Polygon:
        area = r.uniform(0.3e4, 2e4)
        return _block(cx, cy, area, r.uniform(1.0, 3.0), r.uniform(-20, 20), r)

    return _place(site, rng, ok, count, avoid, shape_of, paddy)


def _construction(site: Site, seed: int, count: int, avoid: BaseGeometry) -> list[Polygon]:
    rng = rng_for(seed, "event-construction")
    step = site.lattice.step
    urban = site.land_cover == URBAN
    near_urban = ndimage.distance_transform_edt(~urban) * step < 600.0
    open_land = np.isin(site.land_cover, (PADDY, FOREST)) & (site.slope < 12.0)
    ok = open_land & near_urban & site.inside(200.0) & (site.terrain.river_distance > 150.0)

    def shape_of(r: np.random.Generator, cx: float, cy: float, flat: int) -> Polygon:
        area = math.exp(r.uniform(math.log(0.3e4), math.log(3e4)))
        return _block(cx, cy, area, r.uniform(1.0, 2.0), r.uniform(0, 180), r)

    return _place(site, rng, ok, count, avoid, shape_of, open_land.astype(np.float32))


def _multi(polys: list[Polygon]) -> BaseGeometry:
    return MultiPolygon(polys) if polys else Polygon()


def place_management(
    site: Site, seed: int, params: WorldParams, avoid: BaseGeometry
) -> list[Event]:
    """The management events of a varied world (none when its counts are 0, as in the demo)."""
    events: list[Event] = []
    taken = avoid
    early = MANAGEMENT_DATES["early"]
    late = MANAGEMENT_DATES["late"]
    cuts = _clearcuts(site, seed, params.clearcut_count, taken)
    if cuts:
        first = cuts[::2]  # every other block (they come in random order): half in July
        phases = (Phase(early, late, _multi(first)), Phase(late, None, _multi(cuts)))
        events.append(_event("clearcut", _multi(cuts), early, phases))
        taken = shapely.union_all([taken, _multi(cuts)])
    fields = _harvests(site, seed, params.harvest_count, taken)
    if fields:
        events.append(_event("harvest", _multi(fields), late))
        taken = shapely.union_all([taken, _multi(fields)])
    sites = _construction(site, seed, params.construction_count, taken)
    if sites:
        events.append(_event("construction", _multi(sites), late))
    return events


_DESCRIPTIONS = {
    "clearcut": "Forest clear-cuts left under logging slash: late July and early September",
    "harvest": "Paddies harvested early (stubble and bare soil)",
    "construction": "New construction: sites graded to bare fill",
}


def _event(name: str, geom: BaseGeometry, date: dt.date, phases: tuple[Phase, ...] = ()) -> Event:
    d = EVENT_DATES[name]
    return Event(
        name,
        date,
        geom,
        _DESCRIPTIONS[name],
        d.before,
        d.after,
        d.sensor,
        phases or (Phase(date, None, geom),),
    )
