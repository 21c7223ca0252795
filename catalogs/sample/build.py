"""Write the sample archive: COGs, a self-contained static STAC catalog, truth and manifest.

Layout under ``out``::

    catalog.json
    manifest.json
    sentinel-2-c1-l2a/collection.json
    sentinel-2-c1-l2a/<item id>/<item id>.json, B02.tif … B12.tif, SCL.tif
    sentinel-1-rtc/<item id>/<item id>.json, iw-vv.rtc.tiff, iw-vh.rtc.tiff
    cop-dem-glo-30/<tile>/<tile>.json, <tile>.tif
    truth/<event>.tif (uint8 1/0, EPSG:6671 10 m), truth/<event>.geojson (EPSG:4326)
    truth/land_cover.tif
    gsmap/catalog.json, …  daily rainfall in the JAXA Earth layout (sample/rainfall.py)

The archive is built in a temporary folder beside ``out`` and renamed into place at the
end, so a failure never leaves half an archive.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import shapely
from pyproj import Transformer
from shapely.geometry import mapping

from ...errors import SampleArchiveError
from ...processing.write import WrittenFile
from .cog import write_cog
from .events import Event
from .manifest import MANIFEST_NAME, EventRecord, SampleManifest
from .params import WorldParams
from .rainfall import write_rainfall
from .scenes import (
    TEN_M_BANDS,
    dem_tiles,
    s1_geobox,
    s1_rasters,
    s2_rasters,
    s2_tiles,
)
from .schedule import S1_SCHEDULE, S2_SCHEDULE
from .stac import (
    ASSET_FILES,
    SYNTHETIC,
    dem_item,
    s1_item,
    s1_item_id,
    s2_item,
    s2_item_id,
)
from .stac_collections import collection, root_catalog
from .world import DEFAULT_BBOX, DEFAULT_SEED, World

__all__ = ["Progress", "build_sample"]

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``; stages: world, sentinel-2, sentinel-1, dem, truth, catalog."""


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def build_sample(
    out: Path | str,
    *,
    bbox: tuple[float, float, float, float] = DEFAULT_BBOX,
    seed: int = DEFAULT_SEED,
    vary: bool = False,
    params: WorldParams | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> SampleManifest:
    """Build the synthetic sample archive at ``out`` and return its manifest.

    Args:
        out: folder of the archive (``out/catalog.json`` is the STAC root).
        bbox: W, S, E, N degrees of the sample area (default: the Suō-nada coast across 132°E).
        seed: the world seed; the same seed, bbox and parameters give byte-identical files.
        vary: draw the scene parameters from their ranges by ``seed``
            (``WorldParams.draw(seed)``) instead of the demo world's constants.
        params: explicit scene parameters (overrides ``vary``).
        overwrite: replace an existing sample archive at ``out`` (CLI ``--force``).
        progress: called as ``progress(stage, done, total)`` while work proceeds.

    Raises:
        SampleArchiveError: ``out`` already holds an archive and ``overwrite`` is False,
            ``out`` holds something else, the bbox or seed is invalid, or writing failed.
    """
    target = Path(out).expanduser().absolute()
    _check_target(target, overwrite=overwrite)
    report = progress or _no_progress
    started = time.perf_counter()
    report("world", 0, 1)
    if params is None and vary:
        _validate_seed(seed)
        params = WorldParams.draw(seed)
    world = World(seed, bbox, params)
    report("world", 1, 1)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        )
        tmp.chmod(0o755)
    except OSError as e:
        raise SampleArchiveError(f"cannot create the sample archive beside {target}: {e}") from e
    try:
        manifest = _write_archive(tmp, world, report)
        _move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("sample archive written to %s in %.1f s", target, time.perf_counter() - started)
    return manifest


def _validate_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SampleArchiveError(f"seed must be a non-negative integer, got {seed!r}")


def _check_target(target: Path, *, overwrite: bool) -> None:
    if target.exists() and not target.is_dir():
        raise SampleArchiveError(
            f"{target} exists and is not a folder; choose another output folder"
        )
    if (target / "catalog.json").exists():
        if not overwrite:
            raise SampleArchiveError(
                f"{target} already holds a catalog; pass overwrite=True (CLI: --force) "
                "to replace the sample archive"
            )
        if not (target / MANIFEST_NAME).exists():
            raise SampleArchiveError(
                f"{target} holds a STAC catalog that is not a sample archive (no {MANIFEST_NAME}); "
                "refusing to replace it: choose another output folder"
            )
    elif target.is_dir() and any(target.iterdir()):
        raise SampleArchiveError(
            f"{target} is not empty and holds no sample archive; choose a new or empty folder"
        )


def _move_into_place(tmp: Path, target: Path) -> None:
    try:
        if target.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.replace(target, old)
            try:
                os.replace(tmp, target)
            except OSError:
                os.replace(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except OSError as e:
        raise SampleArchiveError(f"cannot move the finished sample archive to {target}: {e}") from e


def _write_archive(root: Path, world: World, report: Progress) -> SampleManifest:
    s2 = _write_s2(root, world, report)
    s1 = _write_s1(root, world, report)
    dem = _write_dem(root, world, report)
    records, truth = _write_truth(root, world, report)
    write_rainfall(root, world.bbox)  # gsmap/: its own catalog, beside the others

    report("catalog", 0, 1)
    catalog = root_catalog(world.seed, world.bbox)
    counts = {}
    for cid, items in (("sentinel-2-c1-l2a", s2), ("sentinel-1-rtc", s1), ("cop-dem-glo-30", dem)):
        if items:
            catalog.add_child(collection(cid, items))
            counts[cid] = len(items)
    # pass the file, not the folder: pystac takes a folder whose name has a dot for a file
    catalog.normalize_hrefs(str(root / "catalog.json"))
    try:
        catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    except OSError as e:
        raise SampleArchiveError(f"cannot write the STAC catalog under {root}: {e}") from e
    clouds = {a.date: world.cloud_fraction(a.date) for a in S2_SCHEDULE}
    cloudy = max(S2_SCHEDULE, key=lambda a: clouds[a.date])
    manifest = SampleManifest(
        bbox=world.bbox,
        seed=world.seed,
        s2_dates=tuple(a.date for a in S2_SCHEDULE),
        s1_dates=tuple(a.date for a in S1_SCHEDULE),
        events=records,
        truth=truth,
        items=counts,
        cloudy_date=cloudy.date if clouds[cloudy.date] > 0.7 else None,
        params=None if world.params.is_demo else world.params,
    )
    (root / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    report("catalog", 1, 1)
    return manifest


def _write_s2(root: Path, world: World, report: Progress) -> list[pystac.Item]:
    jobs = [(tile, acq) for tile in s2_tiles(world.bbox) for acq in S2_SCHEDULE]
    items = []
    report("sentinel-2", 0, len(jobs))
    for k, (tile, acq) in enumerate(jobs):
        folder = root / "sentinel-2-c1-l2a" / s2_item_id(tile, acq)
        rasters = s2_rasters(world, tile, acq)
        files: dict[str, WrittenFile] = {}
        for key, array in rasters.items():
            geobox = tile.geobox10 if key in TEN_M_BANDS else tile.geobox20
            resampling = "NEAREST" if key == "scl" else "AVERAGE"
            files[key] = write_cog(
                folder / ASSET_FILES[key], array, geobox=geobox, nodata=0, resampling=resampling
            )
        items.append(s2_item(tile, acq, files, rasters["scl"]))  # type: ignore[arg-type]
        report("sentinel-2", k + 1, len(jobs))
    return items


def _write_s1(root: Path, world: World, report: Progress) -> list[pystac.Item]:
    geobox = s1_geobox(world.bbox)
    items = []
    report("sentinel-1", 0, len(S1_SCHEDULE))
    for k, acq in enumerate(S1_SCHEDULE):
        folder = root / "sentinel-1-rtc" / s1_item_id(acq)
        files = {
            pol: write_cog(folder / ASSET_FILES[pol], array, geobox=geobox, nodata=-32768)
            for pol, array in s1_rasters(world, geobox, acq).items()
        }
        items.append(s1_item(acq, geobox, files, enl=world.s1_enl))
        report("sentinel-1", k + 1, len(S1_SCHEDULE))
    return items


def _write_dem(root: Path, world: World, report: Progress) -> list[pystac.Item]:
    tiles = dem_tiles(world.bbox, margin=world.params.dem_margin_deg)
    items = []
    report("dem", 0, len(tiles))
    for k, tile in enumerate(tiles):
        path = root / "cop-dem-glo-30" / tile.name / f"{tile.name}.tif"
        written = write_cog(path, world.elevation(tile.geobox), geobox=tile.geobox, nodata=None)
        items.append(dem_item(tile, written))
        report("dem", k + 1, len(tiles))
    return items


def _write_truth(
    root: Path, world: World, report: Progress
) -> tuple[tuple[EventRecord, ...], dict[str, str]]:
    grid = world.project_geobox()
    events = world.events()
    total = len(events) + 1
    report("truth", 0, total)
    records = []
    truth: dict[str, str] = {}
    for k, event in enumerate(events):
        raster = world.truth(grid, event.name)
        write_cog(
            root / "truth" / f"{event.name}.tif",
            raster,
            geobox=grid,
            nodata=None,
            resampling="NEAREST",
        )
        vector = f"truth/{event.name}.geojson"
        (root / vector).write_text(_geojson(event), encoding="utf-8")
        truth[event.name] = f"truth/{event.name}.tif"
        records.append(
            EventRecord(
                name=event.name,
                date=event.date,
                description=event.description,
                before=event.before,
                after=event.after,
                sensor=event.sensor,
                parts=len(event.parts()),
                area_m2=float(raster.sum()) * abs(grid.resolution.x * grid.resolution.y),
                raster=truth[event.name],
                vector=vector,
            )
        )
        report("truth", k + 1, total)
    cover = world.land_cover(grid)
    write_cog(root / "truth" / "land_cover.tif", cover, geobox=grid, nodata=0, resampling="NEAREST")
    truth["land_cover"] = "truth/land_cover.tif"
    report("truth", total, total)
    return tuple(records), truth


_TO_4326 = Transformer.from_crs(6671, 4326, always_xy=True)


def _geojson(event: Event) -> str:
    """The event's polygons as a GeoJSON FeatureCollection in EPSG:4326 (7 decimals)."""
    features: list[dict[str, Any]] = []
    for k, part in enumerate(event.parts()):
        ll = shapely.transform(
            shapely.segmentize(part, 100.0),
            lambda xy: np.column_stack(_TO_4326.transform(xy[:, 0], xy[:, 1])),
        )
        features.append(
            {
                "type": "Feature",
                "id": f"{event.name}-{k + 1}",
                "geometry": mapping(shapely.set_precision(ll, 1e-7)),
                "properties": {
                    "event": event.name,
                    "part": k + 1,
                    "date": event.date.isoformat(),
                    "before": event.before.isoformat(),
                    "after": event.after.isoformat(),
                    "sensor": event.sensor,
                    "area_m2": round(part.area, 1),
                    "description": event.description,
                    SYNTHETIC: True,
                },
            }
        )
    fc = {"type": "FeatureCollection", "name": event.name, "features": features}
    return json.dumps(fc, ensure_ascii=False) + "\n"
