"""``yamasat demo``: the whole pipeline, offline, on the embedded sample archive.

Builds the archive when missing, checks that Sentinel-2 loads onto the project grid across
132°E with the planted values on both sides, runs the ``change_detection`` flow over the demo
extent between two comparable periods, and scores the product against the planted truth.
The S1 flood and the landslide come from the rain chain (``rain_demo.py``): the sample's
rainfall → rain events → the products the ``rain_watch`` flow asks for → its report.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from ..catalogs.extent.periods import Period, parse_period
from ..catalogs.sources.profiles import layout_of, scale_offset
from ..catalogs.sources.search import resolve_source, search_items
from ..processing.accuracy import confusion, object_recall, rasterize_truth, read_product
from ..processing.gdal_env import configure_gdal
from ..processing.grid import project_geobox
from ..processing.load import load_s2
from ..settings import Settings
from .prepare import network_policy
from .progress import ProgressFn, report
from .rain_demo import WATCH_MADE, RainChain, run_rain_chain

__all__ = ["CHANGE_PERIODS", "DemoSummary", "LoadCheck", "run_demo"]

#: comparable late-summer periods around the planted solar farm (built early September)
CHANGE_PERIODS = ("2025-08-01/2025-08-31", "2025-09-15/2025-09-30")

#: planted events that change land cover in optical imagery
_OPTICAL_EVENTS = ("change", "landslide", "burn")


@dataclass(frozen=True)
class LoadCheck:
    """How the loaded reflectance compares with the planted world, west and east of 132°E."""

    grid: str
    dates: int
    west_median_abs_err: float
    east_median_abs_err: float


@dataclass(frozen=True)
class QARow:
    """One product of the demo scored against the planted truth."""

    product: str
    before: str
    after: str
    outcome: str
    valid_fraction: float
    csi: float
    precision: float
    recall: float
    objects: str = ""
    floor: str = ""


@dataclass(frozen=True)
class DemoSummary:
    catalog: Path
    products: Path
    load: LoadCheck
    change: dict[str, Any]
    accuracy: dict[str, float] = field(default_factory=dict)
    truth_events: tuple[str, ...] = ()
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    qa: tuple[QARow, ...] = ()
    rain: RainChain | None = None


def _lon_of_columns(geobox: Any) -> np.ndarray:
    from pyproj import Transformer

    tr = Transformer.from_crs(geobox.crs.to_wkt(), "EPSG:4326", always_xy=True)
    xs = np.asarray(geobox.coords["x"].values)
    ymid = float(np.mean(geobox.coords["y"].values))
    lon, _ = tr.transform(xs, np.full_like(xs, ymid))
    return np.asarray(lon)


def load_check(settings: Settings, catalog: Path, world: Any, bbox: tuple[float, ...]) -> LoadCheck:
    """Load every clear-enough Sentinel-2 date and compare red reflectance with the world."""
    configure_gdal()
    dates = sorted(world_dates(catalog))
    source = resolve_source(str(catalog))
    aoi = shapely.box(*bbox)
    items = search_items(
        source,
        family="s2",
        aoi=aoi,
        period=Period(dates[0], dates[-1]),
        policy=network_policy(settings),
    )
    geobox = project_geobox(aoi, crs=settings.grid.crs, resolution=settings.grid.resolution)
    ds = load_s2(
        items,
        assets=layout_of("s2", items).assets,
        geobox=geobox,
        scale_fn=scale_offset,
        bands=("red",),
        chunk=settings.grid.chunk_size,
        mask_classes=settings.masking.scl_mask_classes,
        dilation_px=settings.masking.dilation_px,
    )
    lon = _lon_of_columns(geobox)
    west: list[float] = []
    east: list[float] = []
    n = ds.sizes["time"]
    for i in range(n):
        report("load check", i, n)
        if float(ds.valid_fraction.isel(time=i)) < 0.5:
            continue
        day = dt.date.fromisoformat(str(ds.time.values[i])[:10])
        err = np.abs(ds.red.isel(time=i).values - world.surface_reflectance(geobox, "red", day))
        west.append(float(np.nanmedian(err[:, lon < 131.995])))
        east.append(float(np.nanmedian(err[:, lon > 132.005])))
    report("load check", n, n)
    grid = (
        f"{settings.grid.crs} {settings.grid.resolution:g} m, {geobox.shape.x}×{geobox.shape.y} px"
    )
    return LoadCheck(grid, len(west), float(np.mean(west)), float(np.mean(east)))


def world_dates(catalog: Path) -> list[dt.date]:
    from ..catalogs.sample import SampleManifest

    return list(SampleManifest.read(catalog.parent).s2_dates)


def truth_between(
    world: Any, geobox: Any, before: Period, after: Period
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Union of the planted optical events that happened between the two periods."""
    names = tuple(
        e.name
        for e in world.events()
        if e.name in _OPTICAL_EVENTS and before.end < e.date <= after.start
    )
    truth = np.zeros(tuple(geobox.shape), dtype=bool)
    for name in names:
        truth |= world.truth(geobox, name).astype(bool)
    return truth.astype("uint8"), names


#: the demo's product runs: (name, flow, parameters, floor asserted by the tests)
DEMO_RUNS: tuple[tuple[str, str, dict[str, str], str], ...] = (
    (
        "change",
        "change_detection",
        {"before": CHANGE_PERIODS[0], "after": CHANGE_PERIODS[1]},
        "CSI ≥ 0.80",
    ),
    (
        "flood (S1)",
        "flood_mapping",
        {"before": "2025-06-20/2025-06-30", "after": "2025-07-01/2025-07-10", "sensor": "s1"},
        "CSI ≥ 0.85",
    ),
    (
        "flood (S2)",
        "flood_mapping",
        {"before": "2025-06-25/2025-06-30", "after": "2025-07-05/2025-07-10", "sensor": "s2"},
        "CSI ≥ 0.80",
    ),
    (
        "landslide",
        "landslide_mapping",
        {"before": "2025-06-25/2025-06-30", "after": "2025-08-10/2025-08-20"},
        "recall ≥ 0.90 (≥ 0.5 ha), precision ≥ 0.75",
    ),
    (
        "burn",
        "burn_mapping",
        {"before": "2025-04-20/2025-04-30", "after": "2025-05-15/2025-05-25"},
        "CSI ≥ 0.85",
    ),
)


def demo_truth(
    world: Any,
    geobox: Any,
    name: str,
    before: Period,
    after: Period,
    product_kind: str,
    s2_dates: tuple[dt.date, ...] = (),
) -> np.ndarray:
    """The planted truth a demo product is scored against, on ``geobox``."""
    if name == "flood (S1)":
        return np.asarray(world.truth(geobox, "flood"))
    if name == "flood (S2)":
        ev = world.event("flood")
        day = next(d for d in s2_dates if after.contains(d))
        geom = ev.extent_on(day) if ev is not None else None
        if geom is None or geom.is_empty:
            return np.zeros(tuple(geobox.shape), dtype="uint8")
        out = rasterize_truth(geom, tuple(geobox.shape), geobox.affine)
        out[world.land_cover(geobox) == 1] = 0  # permanent water is never flood
        return out.astype("uint8")
    if name in ("landslide", "burn"):
        return np.asarray(world.truth(geobox, product_kind))
    truth, _ = truth_between(world, geobox, before, after)
    return truth


def score(name: str, product: np.ndarray, truth: np.ndarray) -> tuple[dict[str, float], str]:
    """Pixel scores and, for landslides, object recall of scars of at least 0.5 ha."""
    scores = confusion(product, truth).as_dict()
    objects = ""
    if name == "landslide":
        found, total = object_recall(product, truth, min_pixels=50)
        objects = f"{found}/{total} scars ≥ 0.5 ha"
        scores["object_recall"] = found / total if total else float("nan")
    return scores, objects


def _qa_row(
    world: Any,
    geobox: Any,
    name: str,
    params: dict[str, str],
    floor: str,
    result: dict[str, Any],
    s2_dates: tuple[dt.date, ...],
) -> QARow:
    """One demo run's product scored against the planted truth (NaN when not published)."""
    before, after = parse_period(params["before"]), parse_period(params["after"])
    scores: dict[str, float] = {}
    objects = ""
    if result["outcome"] == "published":
        product = read_product(result["files"][result["kind"]]["path"])
        truth = demo_truth(world, geobox, name, before, after, result["kind"], s2_dates)
        scores, objects = score(name, product, truth)
    nan = float("nan")
    return QARow(
        name,
        params["before"],
        params["after"],
        result["outcome"],
        result["valid_fraction"],
        scores.get("csi", nan),
        scores.get("precision", nan),
        scores.get("recall", nan),
        objects,
        floor,
    )


def _not_made(name: str) -> dict[str, Any]:
    """The QA row's stand-in for a product the rain watch did not make."""
    why = f"the rain watch made no {name} product (its report says why)"
    return {"outcome": "not made by the rain watch", "valid_fraction": 0.0, "before": "-",
            "after": "-", "message": why}  # fmt: skip


def _geobox_of(settings: Settings, aoi: str | None, default: Any) -> Any:
    """The grid of a product made over the GeoJSON AOI the rain watch wrote (its own extent)."""
    if aoi is None:
        return default
    doc = json.loads(Path(aoi).read_text(encoding="utf-8"))
    geom = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in doc["features"]])
    return project_geobox(geom, crs=settings.grid.crs, resolution=settings.grid.resolution)


def _registry_url(settings: Settings, products: Path) -> str:
    """The registry the demo's runs write to (``storage.registry_url``, else beside them)."""
    if settings.storage.registry_url is not None:
        return settings.storage.registry_url
    return f"sqlite:///{(products / 'registry.sqlite').as_posix()}"


def run_demo(
    settings: Settings,
    root: Path,
    products: Path,
    *,
    progress: ProgressFn | None = None,
) -> DemoSummary:
    """Run the demo with the sample archive at ``root`` and products under ``products``."""
    from ..catalogs.sample import SampleManifest, World, build_sample
    from .deployments import load_flow
    from .progress import set_reporter

    set_reporter(progress)
    # the demo's runs are recorded beside its products, whatever storage.output_root says
    saved_root = os.environ.get("YAMASAT_STORAGE__OUTPUT_ROOT")
    os.environ["YAMASAT_STORAGE__OUTPUT_ROOT"] = str(products)
    try:
        catalog = root / "catalog.json"
        if not catalog.is_file():
            build_sample(
                root, bbox=settings.sample.bbox, seed=settings.sample.seed, progress=progress
            )
        manifest = SampleManifest.read(root)
        world = World(manifest.seed, manifest.bbox)
        check = load_check(settings, catalog, world, manifest.bbox)
        bbox_text = ",".join(f"{v:g}" for v in manifest.bbox)
        geobox = project_geobox(
            shapely.box(*manifest.bbox), crs=settings.grid.crs, resolution=settings.grid.resolution
        )
        made: dict[str, dict[str, Any]] = {}
        direct = [run for run in DEMO_RUNS if run[0] not in WATCH_MADE]
        for i, (name, flow_name, params, _floor) in enumerate(direct):
            report("products", i, len(direct) + 1)
            made[name] = load_flow(flow_name)(
                aoi=bbox_text, source=str(catalog), out=str(products), force=True, **params
            )
        report("products", len(direct), len(direct) + 1)
        rain = run_rain_chain(root, products, bbox_text, _registry_url(settings, products))
        report("products", len(direct) + 1, len(direct) + 1)
        results: dict[str, dict[str, Any]] = {}
        rows: list[QARow] = []
        for name, _flow, asked, floor in DEMO_RUNS:
            box, params = geobox, asked
            if name in WATCH_MADE:
                result = rain.results.get(WATCH_MADE[name]) or _not_made(name)
                params = {"before": result["before"], "after": result["after"]}
                box = _geobox_of(settings, result.get("aoi"), geobox)
            else:
                result = made[name]
            results[name] = result
            rows.append(_qa_row(world, box, name, params, floor, result, manifest.s2_dates))
        change = results["change"]
        _, names = truth_between(
            world, geobox, parse_period(CHANGE_PERIODS[0]), parse_period(CHANGE_PERIODS[1])
        )
        first = rows[0]
        accuracy = {"csi": first.csi, "precision": first.precision, "recall": first.recall}
        return DemoSummary(
            catalog, products, check, change, accuracy, names, results, tuple(rows), rain
        )
    finally:
        set_reporter(None)
        if saved_root is None:
            os.environ.pop("YAMASAT_STORAGE__OUTPUT_ROOT", None)
        else:
            os.environ["YAMASAT_STORAGE__OUTPUT_ROOT"] = saved_root
