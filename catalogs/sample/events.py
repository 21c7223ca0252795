"""The planted events (ground truth) and the irrigation ponds, as polygons in EPSG:6671.

Each event is placed by a deterministic search over the terrain lattice (a seeded
generator picks among the places that satisfy the event's conditions), then drawn as a
shapely polygon. Rendering on any grid rasterises these polygons at pixel centres, so the
truth on the project grid and the effects in the UTM inputs agree to within a pixel.

If the bbox offers no suitable place (a tiny or all-sea bbox), the event is left out;
:meth:`World.events` lists only the events that exist.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import rasterio.features
import shapely
from affine import Affine
from numpy.typing import NDArray
from scipy import ndimage
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from .landscape import BARE, FOREST, PADDY, RIVER_HALF_WIDTH, Terrain, slope_degrees
from .noise import Lattice, rng_for
from .params import WorldParams
from .schedule import EVENT_DATES, FLOOD_END_DATE, FLOOD_RECEDED_DATE

__all__ = ["Event", "Phase", "Site", "place_events", "place_ponds"]


@dataclass(frozen=True)
class Phase:
    """The extent of an event during ``[start, end)`` (``end`` None: for ever)."""

    start: dt.date
    end: dt.date | None
    geometry: BaseGeometry
    """EPSG:6671"""


@dataclass(frozen=True)
class Event:
    """One planted event with its ground truth."""

    name: str
    """``flood``, ``landslide``, ``change`` (solar farm) or ``burn``"""
    date: dt.date
    """day the event happens"""
    geometry: BaseGeometry
    """ground-truth extent in EPSG:6671 (the flood: its peak extent, river channel excluded)"""
    description: str
    before: dt.date
    """suggested pre-event acquisition (same season as ``after``)"""
    after: dt.date
    """suggested post-event acquisition"""
    sensor: str
    """``s1`` or ``s2``: the sensor ``before`` and ``after`` refer to"""
    phases: tuple[Phase, ...]
    """extent over time (the flood recedes; the others stay)"""

    def extent_on(self, day: dt.date) -> BaseGeometry | None:
        """The geometry whose effect is visible on ``day``, or None."""
        for phase in self.phases:
            if phase.start <= day and (phase.end is None or day < phase.end):
                return phase.geometry
        return None

    def parts(self) -> list[Polygon]:
        """The separate polygons of the ground truth."""
        geom = self.geometry
        if isinstance(geom, MultiPolygon):
            return list(geom.geoms)
        return [geom] if isinstance(geom, Polygon) else []


@dataclass(frozen=True, eq=False)
class Site:
    """The terrain, land cover and slope that events are placed on (lattice fields)."""

    terrain: Terrain
    land_cover: NDArray[np.uint8]
    slope: NDArray[np.float32]

    @property
    def lattice(self) -> Lattice:
        return self.terrain.lattice

    def inside(self, shrink: float) -> NDArray[np.bool_]:
        """Lattice nodes at least ``shrink`` metres inside the bbox."""
        xx, yy = self.lattice.nodes()
        inner = self.terrain.bbox_polygon.buffer(-shrink)
        if inner.is_empty:
            return np.zeros(self.lattice.shape, dtype=bool)
        return np.asarray(shapely.contains_xy(inner, xx, yy))

    def node_xy(self, flat_index: int) -> tuple[float, float]:
        r, c = np.unravel_index(flat_index, self.lattice.shape)
        return self.lattice.x0 + c * self.lattice.step, self.lattice.y0 - r * self.lattice.step

    def sample(
        self, field: NDArray[np.floating], geom: BaseGeometry, *, order: int = 1
    ) -> NDArray[np.float32]:
        """Values of a lattice field on a 10 m grid of points inside ``geom``."""
        x0, y0, x1, y1 = geom.bounds
        xs, ys = np.meshgrid(np.arange(x0 + 5.0, x1, 10.0), np.arange(y0 + 5.0, y1, 10.0))
        keep = shapely.contains_xy(geom, xs, ys)
        return self.lattice.sample(field, xs[keep], ys[keep], order=order)


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Only the polygons of ``geom`` (an overlay can add stray lines and points)."""
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and not g.is_empty]
    return MultiPolygon(parts) if parts else Polygon()


def _vectorise(lattice: Lattice, mask: NDArray[np.bool_]) -> BaseGeometry:
    step = lattice.step
    transform = Affine(step, 0.0, lattice.x0 - step / 2, 0.0, -step, lattice.y0 + step / 2)
    polys = [
        shape(g)
        for g, v in rasterio.features.shapes(mask.astype(np.uint8), mask=mask, transform=transform)
        if v == 1
    ]
    if not polys:
        return Polygon()
    merged = shapely.union_all(polys)
    return merged.buffer(step * 1.5).buffer(-step * 1.5).simplify(step / 4)


def _burn(site: Site, seed: int) -> BaseGeometry | None:
    rng = rng_for(seed, "event-burn")
    forest = (site.land_cover == FOREST).astype(np.float32)
    for area_ha in (rng.uniform(32.0, 48.0), 15.0, 5.0):
        radius = math.sqrt(area_ha * 1e4 / math.pi)
        size = int(2.6 * radius / site.lattice.step) | 1
        dense = ndimage.uniform_filter(forest, size=size, mode="constant") > 0.985
        ok = dense & site.inside(1.4 * radius) & (site.terrain.river_distance > radius + 200.0)
        nodes = np.flatnonzero(ok)
        if nodes.size == 0:
            continue
        cx, cy = site.node_xy(int(rng.choice(nodes)))
        theta = np.linspace(0.0, 2.0 * math.pi, 97)[:-1]
        r = np.ones_like(theta)
        for k in range(2, 6):
            r += (
                rng.uniform(0.03, 0.12)
                / math.sqrt(k)
                * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
            )
        poly = Polygon(
            np.column_stack([cx + radius * r * np.cos(theta), cy + radius * r * np.sin(theta)])
        )
        scale = math.sqrt(area_ha * 1e4 / poly.area)
        return shapely.affinity.scale(poly, scale, scale, origin=(cx, cy))
    return None


def _scar(
    cx: float, cy: float, downslope: tuple[float, float], length: float, width: float
) -> BaseGeometry:
    """A landslide scar: crown upslope, widest below the middle, elongated downslope."""
    t = np.linspace(0.0, 1.0, 25)
    half = width / 2 * np.sin(np.pi * t) ** 0.6 * (0.8 + 0.4 * t)
    along = (t - 0.5) * length
    local = np.concatenate(
        [np.column_stack([along, half]), np.column_stack([along[::-1], -half[::-1]])]
    )
    ux, uy = downslope
    x = cx + local[:, 0] * ux - local[:, 1] * uy
    y = cy + local[:, 0] * uy + local[:, 1] * ux
    return Polygon(np.column_stack([x, y])).buffer(0)


def _scar_size(rng: np.random.Generator, params: WorldParams) -> tuple[float, float]:
    """(length, width) of one scar, metres: the demo's rule (0.6–2 ha), or log-uniform
    areas in ``params.landslide_area_ha`` with a length/width ratio in its elongation range."""
    if params.landslide_area_ha is None:
        length = rng.uniform(140.0, 320.0)
        return length, max(rng.uniform(45.0, 100.0), 6000.0 / (0.62 * length))
    lo, hi = params.landslide_area_ha
    area = math.exp(rng.uniform(math.log(lo), math.log(hi))) * 1e4
    ratio = rng.uniform(*params.landslide_elongation)
    length = math.sqrt(area * ratio / 0.62)  # the scar outline fills ~0.62 of L x W
    return length, length / ratio


def _landslides(
    site: Site, seed: int, avoid: BaseGeometry, params: WorldParams
) -> BaseGeometry | None:
    count = params.landslide_count
    if count <= 0:
        return None
    rng = rng_for(seed, "event-landslide")
    t = site.terrain
    ok = (
        (site.slope > 28.0)
        & (site.land_cover == FOREST)
        & site.inside(250.0)
        & (t.river_distance > 150.0)
    )
    nodes = rng.permutation(np.flatnonzero(ok))
    forest = (site.land_cover == FOREST).astype(np.float32)
    scars: list[Polygon] = []
    for flat in nodes[:3000]:
        cx, cy = site.node_xy(int(flat))
        if avoid.distance(shapely.Point(cx, cy)) < 300.0:
            continue
        if any(s.centroid.distance(shapely.Point(cx, cy)) < 300.0 for s in scars):
            continue
        r, c = np.unravel_index(int(flat), site.lattice.shape)
        gx, gy = float(t.grad_x[r, c]), float(t.grad_y[r, c])
        g = math.hypot(gx, gy)
        length, width = _scar_size(rng, params)
        scar = _scar(cx, cy, (-gx / g, -gy / g), length, width)
        if not isinstance(scar, Polygon):
            continue
        if params.landslide_area_ha is not None and any(s.distance(scar) < 60.0 for s in scars):
            continue  # varied sizes: keep long scars apart
        slopes = slope_degrees(site.sample(t.grad_x, scar), site.sample(t.grad_y, scar))
        if slopes.size == 0 or slopes.mean() < 24.0 or slopes.min() < 15.0:
            continue
        if site.sample(forest, scar, order=0).min() < 1.0:
            continue
        scars.append(scar)
        if len(scars) == count:
            break
    return MultiPolygon(scars) if scars else None


def _flood_mask(
    site: Site, seed: int, width_factor: float, params: WorldParams
) -> BaseGeometry | None:
    t = site.terrain
    if t.river is None:
        return None
    rng = rng_for(seed, "event-flood")
    line = t.river
    pts = [line.interpolate(s) for s in np.arange(0.0, line.length, 50.0)]
    px = np.array([p.x for p in pts])
    py = np.array([p.y for p in pts])
    dc = site.lattice.sample(t.coast_distance, px, py)
    inside = shapely.contains_xy(t.bbox_polygon.buffer(-300.0), px, py)
    good = np.flatnonzero((dc >= 1500.0) & inside)
    if good.size < 10:
        return None
    s0 = float(good[0]) * 50.0
    if params.flood_start:
        room = float(good[-1]) * 50.0 - s0 - params.flood_length_m
        s0 += params.flood_start * max(0.0, room)
    s1 = min(s0 + params.flood_length_m, float(good[-1]) * 50.0)
    if s1 - s0 < 500.0:
        return None
    near = (
        (t.river_distance < 900.0)
        & (t.land > 0.5)
        & (t.elevation < 20.0)
        & (t.coast_distance > 600.0)
    )
    near &= site.inside(100.0)
    xx, yy = site.lattice.nodes()
    along = np.full(site.lattice.shape, -1.0)
    along[near] = shapely.line_locate_point(line, shapely.points(xx[near], yy[near]))
    phase = rng.uniform(0.0, 2.0 * math.pi)
    width = width_factor * params.flood_width
    half = 440.0 * (1.0 + 0.25 * np.sin(2.0 * math.pi * along / 1300.0 + phase)) * width
    taper = np.sqrt(np.clip(np.minimum(along - s0, s1 - along) / 400.0, 0.0, 1.0))
    mask = near & (t.river_distance < half * taper)
    if not mask.any():
        return None
    flood = _vectorise(site.lattice, mask)
    flood = _polygonal(flood.difference(line.buffer(RIVER_HALF_WIDTH)))
    parts = [p for p in getattr(flood, "geoms", []) if p.area >= 2000.0]
    return MultiPolygon(parts) if parts else None


def _paddy_ponding(
    site: Site, seed: int, river_flood: BaseGeometry, count: int
) -> list[BaseGeometry]:
    """Rain ponded on ``count`` low paddy blocks (0.5-5 ha, log-uniform; elongated up to
    2.5:1) away from the river and its flood: the small local floods of inland flooding."""
    if count <= 0:
        return []
    rng = rng_for(seed, "event-flood-ponds")
    t = site.terrain
    paddy = (site.land_cover == PADDY).astype(np.float32)
    ok = (site.land_cover == PADDY) & (site.slope < 2.0) & (t.elevation < 15.0)
    ok &= site.inside(300.0) & (t.river_distance > 400.0)
    ponds: list[BaseGeometry] = []
    for flat in rng.permutation(np.flatnonzero(ok))[:3000]:
        centre = shapely.Point(*site.node_xy(int(flat)))
        if river_flood.distance(centre) < 300.0 or any(p.distance(centre) < 400.0 for p in ponds):
            continue
        area = math.exp(rng.uniform(math.log(0.5e4), math.log(5.0e4)))
        ratio = rng.uniform(1.0, 2.5)
        a = math.sqrt(area * ratio / math.pi)
        pond = shapely.affinity.scale(centre.buffer(1.0, quad_segs=8), a, a / ratio)
        pond = shapely.affinity.rotate(pond, rng.uniform(0.0, 180.0))
        inside = site.sample(paddy, pond, order=0)
        if inside.size == 0 or inside.mean() < 0.95:  # on paddy only
            continue
        ponds.append(pond)
        if len(ponds) == count:
            break
    return ponds


def _solar_farm(site: Site, seed: int, avoid: BaseGeometry) -> BaseGeometry | None:
    rng = rng_for(seed, "event-change")
    t = site.terrain
    flat = ((site.land_cover == PADDY) & (site.slope < 3.0)).astype(np.float32)
    open_land = np.isin(site.land_cover, (PADDY, BARE)).astype(np.float32)
    for side_x, side_y in (
        (rng.uniform(400.0, 480.0), rng.uniform(330.0, 400.0)),
        (300.0, 250.0),
        (200.0, 150.0),
    ):
        diag = math.hypot(side_x, side_y)
        size = int(1.15 * diag / site.lattice.step) | 1
        ok = ndimage.uniform_filter(flat, size=size, mode="constant") > 0.95
        ok &= site.inside(diag) & (t.river_distance > diag / 2 + 150.0)
        nodes = np.flatnonzero(ok)
        rng_nodes = rng.permutation(nodes)
        for flat_index in rng_nodes[:200]:
            cx, cy = site.node_xy(int(flat_index))
            farm = shapely.box(cx - side_x / 2, cy - side_y / 2, cx + side_x / 2, cy + side_y / 2)
            notch = shapely.box(cx + side_x / 6, cy + side_y / 6, cx + side_x / 2, cy + side_y / 2)
            farm = shapely.affinity.rotate(
                farm.difference(notch), rng.uniform(-20.0, 20.0), origin=(cx, cy)
            )
            if (
                farm.distance(avoid) > 150.0
                and site.sample(open_land, farm, order=0).mean() > 0.995
            ):
                return farm
    return None


def place_events(
    seed: int,
    terrain: Terrain,
    land_cover: NDArray[np.uint8],
    slope: NDArray[np.float32],
    params: WorldParams | None = None,
) -> tuple[Event, ...]:
    """Place the four planted events on the terrain (absent ones are left out); ``params``
    sets the flood's size and position and the landslides' count and size."""
    params = params or WorldParams()
    site = Site(terrain, land_cover, slope)
    events: list[Event] = []

    def add(
        name: str, geom: BaseGeometry | None, description: str, phases: tuple[Phase, ...] = ()
    ) -> None:
        if geom is None or geom.is_empty:
            return
        d = EVENT_DATES[name]
        events.append(
            Event(
                name,
                d.date,
                geom,
                description,
                d.before,
                d.after,
                d.sensor,
                phases or (Phase(d.date, None, geom),),
            )
        )

    flood = _flood_mask(site, seed, 1.0, params)
    receded = _flood_mask(site, seed, 0.45, params)
    if flood is not None:
        receded = _polygonal(receded.intersection(flood)) if receded is not None else Polygon()
        ponds = _paddy_ponding(site, seed, flood, params.flood_paddy_ponds)
        if ponds:  # ponded paddies drain slowly: 60 % of each is still water when it recedes
            flood = _polygonal(shapely.union_all([flood, *ponds]))
            shrunk = [shapely.affinity.scale(p, 0.6**0.5, 0.6**0.5) for p in ponds]
            receded = _polygonal(shapely.union_all([receded, *shrunk]))
        when = EVENT_DATES["flood"].date
        phases = (
            Phase(when, FLOOD_RECEDED_DATE, flood),
            Phase(FLOOD_RECEDED_DATE, FLOOD_END_DATE, receded),
        )
        add(
            "flood",
            flood,
            "River flood on the valley floor (peak on the S1 pass; receding on the next S2 pass)",
            phases,
        )
    burn = _burn(site, seed)
    add("burn", burn, "Forest fire: canopy charred (NIR down, SWIR 2.2 µm up)")
    taken = shapely.union_all([e.geometry for e in events]) if events else Polygon()
    slides = _landslides(site, seed, taken, params)
    add(
        "landslide",
        slides,
        "Shallow landslides on steep forested slopes after heavy rain: bare soil",
    )
    taken = shapely.union_all([e.geometry for e in events]) if events else Polygon()
    farm = _solar_farm(site, seed, taken)
    add("change", farm, "Land-cover change: a new solar farm on former paddy fields")
    order = {"flood": 0, "landslide": 1, "change": 2, "burn": 3}
    return tuple(sorted(events, key=lambda e: order[e.name]))


def place_ponds(
    seed: int,
    site_terrain: Terrain,
    land_cover: NDArray[np.uint8],
    slope: NDArray[np.float32],
    avoid: BaseGeometry,
    count: int = 5,
) -> BaseGeometry:
    """Irrigation ponds (ため池) at the foot of the hills, 0.8–2.5 ha each."""
    site = Site(site_terrain, land_cover, slope)
    rng = rng_for(seed, "ponds")
    t = site_terrain
    ok = (t.elevation > 12.0) & (t.elevation < 80.0) & (slope < 10.0) & (land_cover != 1)
    ok &= site.inside(150.0) & (t.river_distance > 300.0)
    ponds: list[Polygon] = []
    for flat in rng.permutation(np.flatnonzero(ok))[:2000]:
        cx, cy = site.node_xy(int(flat))
        centre = shapely.Point(cx, cy)
        if avoid.distance(centre) < 250.0 or any(p.distance(centre) < 600.0 for p in ponds):
            continue
        area = rng.uniform(0.8e4, 2.5e4)
        ratio = rng.uniform(1.2, 2.0)
        a = math.sqrt(area * ratio / math.pi)
        pond = shapely.affinity.scale(centre.buffer(1.0, quad_segs=8), a, a / ratio)
        ponds.append(shapely.affinity.rotate(pond, rng.uniform(0.0, 180.0)))
        if len(ponds) == count:
            break
    return MultiPolygon(ponds) if ponds else Polygon()
