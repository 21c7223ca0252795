"""Benchmark: the change pipeline on a Sentinel-2-tile-sized case against the decode floor.

Builds (once, cached in ``--work``) synthetic DEFLATE COGs shaped like one Sentinel-2 L2A tile
in UTM 52N: 10980 × 10980 px at 10 m for ``red`` and ``nir``, 5490 × 5490 at 20 m for ``scl``,
two dates, plus a static STAC catalog in the Earth Search layout. Then, in fresh processes,
several repetitions each of

(a) the decode floor: reading exactly those inputs with rasterio, GDAL's own threads on;
(b) the whole change pipeline from items to written, validated, published products
    (search → load → composites → ΔNDVI → threshold → MMU → COGs, polygons, quicklook, STAC).

It prints medians, the ratio b/a and the peak RSS of (b); with ``--scales 1 2 4`` it repeats
for 2× and 4× the area (2 and 4 tiles side by side) to show how time and memory grow.

    python benchmarks/bench_change.py --work /tmp/yamasat-bench --reps 3 --scales 1 2 4

Not a test: it takes minutes and many GB of disk at 4×.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TILE = 10980
ORIGIN_X, ORIGIN_Y = 600000.0, 3800040.0  # an MGRS-like 52N tile over western Honshu
EPSG = 32652
DATES = (dt.date(2025, 8, 18), dt.date(2025, 9, 22))


def _write_cog(path: Path, data: np.ndarray, res: float, x0: float) -> None:
    import rasterio
    from rasterio.transform import from_origin

    if path.exists():
        return
    profile = {
        "driver": "COG",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": f"EPSG:{EPSG}",
        "transform": from_origin(x0, ORIGIN_Y, res, res),
        "nodata": 0,
        "compress": "DEFLATE",
        "blocksize": 512,
        "overviews": "AUTO",
        "num_threads": "ALL_CPUS",
    }
    tmp = path.with_suffix(".tmp.tif")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    tmp.rename(path)


def _field(rng: np.random.Generator, n: int, scale: int) -> np.ndarray:
    """A smooth random field upsampled from a coarse lattice (cheap, compressible like land)."""
    from scipy import ndimage

    coarse = rng.random((n // scale + 2, n // scale + 2)).astype("float32")
    return ndimage.zoom(coarse, scale, order=1)[:n, :n]


def build_case(work: Path, n_tiles: int) -> Path:
    """Write the tiles and a static catalog for ``n_tiles`` tiles side by side; returns it."""
    import pystac

    case = work / f"case-{n_tiles}"
    catalog_path = case / "catalog.json"
    if catalog_path.is_file():
        return catalog_path
    case.mkdir(parents=True, exist_ok=True)
    catalog = pystac.Catalog("bench", "synthetic S2-tile-sized benchmark case")
    coll = pystac.Collection(
        "sentinel-2-c1-l2a",
        "synthetic",
        pystac.Extent(
            pystac.SpatialExtent([[-180, -90, 180, 90]]), pystac.TemporalExtent([[None, None]])
        ),
    )
    catalog.add_child(coll)
    from pyproj import Transformer

    to_ll = Transformer.from_crs(EPSG, 4326, always_xy=True)
    for t in range(n_tiles):
        x0 = ORIGIN_X + t * TILE * 10.0
        veg = _field(np.random.default_rng(1000 * t), TILE, 366)  # one landscape per tile
        for d_i, day in enumerate(DATES):
            rng = np.random.default_rng(1000 * t + d_i + 1)
            noise = rng.normal(0, 0.004, (TILE, TILE)).astype("float32")
            red = np.clip(0.03 + 0.12 * (1 - veg) + noise, 0, 1)
            nir = np.clip(0.15 + 0.35 * veg + noise, 0, 1)
            if d_i == 1:  # plant a few changed squares
                for _ in range(40):
                    r, c = rng.integers(0, TILE - 200, 2)
                    nir[r : r + 60, c : c + 80] = 0.12
            item_id = f"S2B_T52XX{t}_{day:%Y%m%d}T020701_L2A"
            folder = case / item_id
            folder.mkdir(exist_ok=True)
            _write_cog(folder / "red.tif", np.round((red + 0.1) / 1e-4).astype("uint16"), 10, x0)
            _write_cog(folder / "nir.tif", np.round((nir + 0.1) / 1e-4).astype("uint16"), 10, x0)
            cloud = _field(rng, TILE // 2, 183) > 0.85
            scl = np.where(cloud, 9, 4).astype("uint8")
            _write_cog(folder / "scl.tif", scl, 20, x0)
            xs = [x0, x0 + TILE * 10, x0 + TILE * 10, x0]
            ys = [ORIGIN_Y, ORIGIN_Y, ORIGIN_Y - TILE * 10, ORIGIN_Y - TILE * 10]
            lon, lat = to_ll.transform(xs, ys)
            ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
            item = pystac.Item(
                item_id,
                {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                [min(lon), min(lat), max(lon), max(lat)],
                dt.datetime.combine(day, dt.time(2, 7, 1), dt.UTC),
                {
                    "proj:code": f"EPSG:{EPSG}",
                    "s2:processing_baseline": "05.11",
                    "eo:cloud_cover": 15.0,
                },
            )
            for band, res in (("red", 10), ("nir", 10), ("scl", 20)):
                rb = {"nodata": 0, "data_type": "uint8" if band == "scl" else "uint16"}
                if band != "scl":
                    rb |= {"scale": 0.0001, "offset": -0.1}
                shape = [TILE * 10 // res] * 2
                item.add_asset(
                    band,
                    pystac.Asset(
                        str(folder / f"{band}.tif"),
                        media_type=pystac.MediaType.COG,
                        extra_fields={
                            "raster:bands": [rb],
                            "proj:shape": shape,
                            "proj:transform": [res, 0, x0, 0, -res, ORIGIN_Y],
                        },
                    ),
                )
            coll.add_item(item)
    coll.update_extent_from_items()
    catalog.normalize_hrefs(str(catalog_path))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return catalog_path


def _aoi(catalog_path: Path) -> str:
    import pystac

    cat = pystac.Catalog.from_file(str(catalog_path))
    boxes = [it.bbox for it in cat.get_items(recursive=True) if it.bbox]
    # the union of the tiles' footprints, shrunk a little so every pixel has data
    w, s = min(b[0] for b in boxes) + 0.01, min(b[1] for b in boxes) + 0.01
    e, n = max(b[2] for b in boxes) - 0.01, max(b[3] for b in boxes) - 0.01
    return f"{w:.5f},{s:.5f},{e:.5f},{n:.5f}"


def _child_floor(catalog_path: str) -> dict[str, float]:
    """Read exactly the assets the pipeline reads (every item's red, nir and scl)."""
    import pystac
    import rasterio

    cat = pystac.Catalog.from_file(catalog_path)
    files = sorted(
        it.assets[b].get_absolute_href() or ""
        for it in cat.get_items(recursive=True)
        for b in ("red", "nir", "scl")
    )
    t0 = time.perf_counter()
    total = 0
    with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS", GDAL_CACHEMAX=512):
        for f in files:
            with rasterio.open(f) as src:
                total += src.read(1).nbytes
    return {"seconds": time.perf_counter() - t0, "bytes": float(total), "files": float(len(files))}


def _child_pipeline(catalog_path: str, out: str) -> dict[str, float]:
    from yamasat.flows.prepare import prepare, search_family
    from yamasat.flows.product_run import analyse_product
    from yamasat.flows.progress import set_reporter
    from yamasat.flows.recipes import CHANGE
    from yamasat.processing.change_map import ChangeParams
    from yamasat.settings import load_settings

    t0 = time.perf_counter()
    marks: dict[str, float] = {}

    def mark(stage: str, done: int, total: int) -> None:
        marks[f"{stage} {done}/{total}"] = round(time.perf_counter() - t0, 2)

    set_reporter(mark)
    settings = load_settings()
    prep = prepare(
        aoi=_aoi(Path(catalog_path)),
        before="2025-08-01/2025-08-31",
        after="2025-09-15/2025-09-30",
        source=catalog_path,
        out=Path(out),
        settings=settings,
        profile="earth-search",
    )
    params = ChangeParams(threshold="otsu")
    b = search_family(prep, "s2", prep.before, ("red", "nir", "scl"))
    a = search_family(prep, "s2", prep.after, ("red", "nir", "scl"))
    outcome = analyse_product(CHANGE, prep, b, a, params=params, force=True)
    return {
        "seconds": time.perf_counter() - t0,
        "outcome": outcome.outcome,
        "area_m2": outcome.changed_area_m2,
        "marks": marks,  # type: ignore[dict-item]
    }


def _peak_rss_mb() -> float:
    """This process's own peak RSS in MB (VmHWM; ``ru_maxrss`` where /proc is missing)."""
    from bench_scale import hwm_bytes

    hwm = hwm_bytes(os.getpid())
    if hwm is not None:
        return hwm / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """User + system CPU time of this process (all threads): less sensitive than wall time
    to other work on a shared machine."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _run_child(args: list[str]) -> dict[str, float]:
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/yamasat-bench"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scales", type=int, nargs="+", default=[1])
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.child:
        kind, *rest = ns.child
        cpu0 = _cpu_seconds()  # imports and start-up are not part of either measurement
        result = _child_floor(rest[0]) if kind == "floor" else _child_pipeline(rest[0], rest[1])
        result["peak_rss_mb"] = _peak_rss_mb()
        result["cpu_s"] = _cpu_seconds() - cpu0
        print(json.dumps(result))
        return
    rows = []
    for scale in ns.scales:
        t0 = time.perf_counter()
        catalog = build_case(ns.work, scale)
        print(f"case {scale}x ready in {time.perf_counter() - t0:.0f} s: {catalog}", flush=True)
        floors = [_run_child(["floor", str(catalog)]) for _ in range(ns.reps)]
        pipes = [
            _run_child(["pipeline", str(catalog), str(ns.work / f"out-{scale}")])
            for _ in range(ns.reps)
        ]
        a = statistics.median(f["seconds"] for f in floors)
        b = statistics.median(p["seconds"] for p in pipes)
        rss = max(p["peak_rss_mb"] for p in pipes)
        a_cpu = statistics.median(f["cpu_s"] for f in floors)
        b_cpu = statistics.median(p["cpu_s"] for p in pipes)
        rows.append((scale, a, b, rss, floors[0]["bytes"] / 1e9))
        print(
            f"{scale}x area: decode floor {a:.1f} s ({floors[0]['bytes'] / 1e9:.2f} GB decoded), "
            f"pipeline {b:.1f} s, ratio b/a {b / a:.2f}, pipeline peak RSS {rss / 1024:.2f} GB "
            f"(outcome {pipes[0]['outcome']}, detected {pipes[0]['area_m2'] / 1e6:.2f} km²)",
            flush=True,
        )
        print(
            f"  CPU time: decode floor {a_cpu:.1f} s, pipeline {b_cpu:.1f} s, "
            f"ratio {b_cpu / a_cpu:.2f}",
            flush=True,
        )
        print(f"  stage marks (s since start) of the last run: {pipes[-1]['marks']}", flush=True)
    if len(rows) > 1:
        base = rows[0]
        for scale, _a, b, rss, _gb in rows[1:]:
            print(
                f"{scale}x vs 1x: pipeline time ×{b / base[2]:.2f}, peak RSS ×{rss / base[3]:.2f}"
            )


if __name__ == "__main__":
    main()
