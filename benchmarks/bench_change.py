"""Benchmark: the change pipeline on a Sentinel-2-tile-sized case against the decode floor,
with a peer script in the same run.

Builds (once, cached in ``--work``) COGs shaped and encoded like one Sentinel-2 L2A tile in UTM
52N: 10980 × 10980 px at 10 m for ``red`` and ``nir``, 5490 × 5490 at 20 m for ``scl``, two
dates, plus a static STAC catalog in the Earth Search layout. The bands are field parcels with
texture and sensor noise, DEFLATE with predictor 2 in 1024-px blocks (``realistic_tiles.py``),
so they compress and decode like real L2A; the line ``decode: … MB/s per core,
compressed/raw …`` shows it. Then, in fresh processes, several repetitions each of

(a) the decode floor: reading exactly those inputs with rasterio, GDAL's own threads on;
(b) the whole change pipeline from items to written, validated, published products
    (search → load → composites → ΔNDVI → threshold → MMU → COGs, polygons, quicklook, STAC);
(c) the peer (``peer_change.py``): the same job as a competent odc-stac + xarray script.

It prints medians, the ratio b/a on wall and CPU time, the peak RSS of (b), and the line
``peer: wall … (yamasat/peer …x wall), cpu … (…x), peak … (…x)``; with ``--scales 1 2 4`` it
repeats for 2× and 4× the area (2 and 4 tiles side by side) to show how time and memory grow.

    python benchmarks/bench_change.py --work /tmp/yamasat-bench --reps 3 --scales 1 2 4

With ``--prefecture`` it measures the whole prefecture instead: the six real MGRS tiles over
Yamaguchi in two UTM zones (``bench_prefecture.py``; ``--dates``, ``--tile-px``, ``--clean``).

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
from realistic_tiles import (
    decode_figures,
    parcel_ids,
    parcel_values,
    textured_band,
    write_band,
)

TILE = 10980
ORIGIN_X, ORIGIN_Y = 600000.0, 3800040.0  # an MGRS-like 52N tile over western Honshu
EPSG = 32652
DATES = (dt.date(2025, 8, 18), dt.date(2025, 9, 22))


def _write_cog(path: Path, data: np.ndarray, res: float, x0: float) -> None:
    if not path.exists():
        write_band(path, data, epsg=EPSG, res=res, x0=x0, y0=ORIGIN_Y)


def _tile_bands(t: int, d_i: int, parcels: np.ndarray) -> dict[str, np.ndarray]:
    """One date of one tile: red and nir from the tile's parcels (a fifth of them change
    between dates), a 20 m SCL with clouds."""
    rng = np.random.default_rng(1000 * t + d_i + 1)
    n_parcels = int(parcels.max()) + 1
    base = np.random.default_rng(1000 * t)  # the same parcel values on both dates
    red_v, nir_v = parcel_values(base, n_parcels, "red"), parcel_values(base, n_parcels, "nir")
    if d_i == 1:  # cleared parcels: red up, nir down
        cleared = rng.random(n_parcels) < 0.02
        red_v[cleared] += 900.0
        nir_v[cleared] -= 1800.0
    bands = {
        "red": textured_band(rng, parcels, red_v, "red"),
        "nir": textured_band(rng, parcels, nir_v, "nir"),
    }
    from scipy import ndimage

    coarse = rng.random((TILE // 2 // 183 + 2,) * 2).astype("float32")
    cloud = ndimage.zoom(coarse, 183, order=1)[: TILE // 2, : TILE // 2] > 0.85
    bands["scl"] = np.where(cloud, 9, 4).astype("uint8")
    return bands


def build_case(work: Path, n_tiles: int) -> Path:
    """Write the tiles and a static catalog for ``n_tiles`` tiles side by side; returns it."""
    import pystac

    case = work / f"case-parcels-{n_tiles}"
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
        parcels = parcel_ids(np.random.default_rng(1000 * t), TILE)
        for d_i, day in enumerate(DATES):
            item_id = f"S2B_T52XX{t}_{day:%Y%m%d}T020701_L2A"
            folder = case / item_id
            folder.mkdir(exist_ok=True)
            if not all((folder / f"{b}.tif").exists() for b in ("red", "nir", "scl")):
                for band, data in _tile_bands(t, d_i, parcels).items():
                    _write_cog(folder / f"{band}.tif", data, 20 if band == "scl" else 10, x0)
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


def pipeline_files(catalog_path: str | Path) -> list[str]:
    """The files the change pipeline reads from a case's catalog: every item's red, nir, scl."""
    import pystac

    cat = pystac.Catalog.from_file(str(catalog_path))
    return sorted(
        it.assets[b].get_absolute_href() or ""
        for it in cat.get_items(recursive=True)
        for b in ("red", "nir", "scl")
    )


def _child_floor(catalog_path: str) -> dict[str, float]:
    """Read exactly the assets the pipeline reads (every item's red, nir and scl)."""
    import rasterio

    files = pipeline_files(catalog_path)
    t0 = time.perf_counter()
    total = 0
    with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS", GDAL_CACHEMAX=512):
        for f in files:
            with rasterio.open(f) as src:
                total += src.read(1).nbytes
    return {"seconds": time.perf_counter() - t0, "bytes": float(total), "files": float(len(files))}


def child_pipeline(catalog_path: str, out: str, aoi: str | None = None) -> dict[str, object]:
    """The whole change pipeline, items to published products (run in a fresh process), on
    ``aoi`` (default: the case's bounding box); wall seconds, outcome, area and stage marks."""
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
        aoi=aoi or _aoi(Path(catalog_path)),
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
        "marks": marks,
        "items": [len(b), len(a)],
        "aoi_km2": prep.aoi.area_km2(),
        "aoi_source": prep.aoi.source,
    }


def _child_peer(catalog_path: str, out: str) -> dict[str, float]:
    from peer_change import run

    t0 = time.perf_counter()
    result = run(catalog_path, out, DATES[0].isoformat(), DATES[1].isoformat())
    return {"seconds": time.perf_counter() - t0, "changed_px": float(result["changed_px"])}


def _decode_line(catalog_path: Path) -> str:
    """``decode: … MB/s per core, compressed/raw …`` for the case's 10 m bands (median)."""
    import pystac

    item = next(iter(pystac.Catalog.from_file(str(catalog_path)).get_items(recursive=True)))
    figures = [
        decode_figures(Path(item.assets[b].get_absolute_href() or "")) for b in ("red", "nir")
    ]
    speed = statistics.median(f[0] for f in figures)
    ratio = statistics.median(f[1] for f in figures)
    return f"decode: {speed:.0f} MB/s per core, compressed/raw {ratio:.2f}"


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


def _peer_line(pipes: list[dict[str, float]], peers: list[dict[str, float]]) -> str:
    """``peer: wall W s (yamasat/peer …x wall), cpu C s (…x), peak P GB (…x)`` from medians."""
    y_wall = statistics.median(p["seconds"] for p in pipes)
    p_wall = statistics.median(p["seconds"] for p in peers)
    y_cpu = statistics.median(p["cpu_s"] for p in pipes)
    p_cpu = statistics.median(p["cpu_s"] for p in peers)
    y_rss = max(p["peak_rss_mb"] for p in pipes)
    p_rss = max(p["peak_rss_mb"] for p in peers)
    return (
        f"peer: wall {p_wall:.1f} s (yamasat/peer {y_wall / p_wall:.2f}x wall), "
        f"cpu {p_cpu:.1f} s ({y_cpu / p_cpu:.2f}x), peak {p_rss / 1024:.2f} GB "
        f"({y_rss / p_rss:.2f}x)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/yamasat-bench"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scales", type=int, nargs="+", default=[1])
    ap.add_argument("--no-peer", action="store_true", help="skip the peer script (peer_change.py)")
    ap.add_argument(
        "--prefecture", action="store_true", help="the six MGRS tiles over Yamaguchi instead"
    )
    ap.add_argument(
        "--dates", type=int, nargs="+", choices=(1, 3), default=[1],
        help="--prefecture: dates per period, one case each",
    )  # fmt: skip
    ap.add_argument(
        "--tile-px", type=int, default=10980,
        help="--prefecture: pixels per tile edge (below 10980: a coarse smoke run)",
    )  # fmt: skip
    ap.add_argument("--clean", action="store_true", help="--prefecture: remove its cache")
    ap.add_argument(
        "--no-one-tile", action="store_true",
        help="--prefecture: skip the one-tile run beside the one-date case",
    )  # fmt: skip
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.prefecture and not ns.child:
        from bench_prefecture import run

        run(ns.work, ns.tile_px, ns.dates, ns.reps, ns.clean, ns.no_one_tile)
        return
    if ns.child:
        kind, *rest = ns.child
        cpu0 = _cpu_seconds()  # imports and start-up are not part of either measurement
        if kind == "floor":
            result = _child_floor(rest[0])
        elif kind == "peer":
            result = _child_peer(rest[0], rest[1])
        elif kind == "prefecture":
            result = child_pipeline(rest[0], rest[1], aoi="yamaguchi")  # type: ignore[assignment]
        elif kind == "aoi-floor":
            from bench_prefecture import child_aoi_floor

            result = child_aoi_floor(rest[0])
        else:
            result = child_pipeline(rest[0], rest[1])  # type: ignore[assignment]
        result["peak_rss_mb"] = _peak_rss_mb()
        result["cpu_s"] = _cpu_seconds() - cpu0
        print(json.dumps(result))
        return
    rows = []
    for scale in ns.scales:
        t0 = time.perf_counter()
        catalog = build_case(ns.work, scale)
        print(f"case {scale}x ready in {time.perf_counter() - t0:.0f} s: {catalog}", flush=True)
        print(_decode_line(catalog), flush=True)
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
        if not ns.no_peer:
            peers = [
                _run_child(["peer", str(catalog), str(ns.work / f"peer-{scale}")])
                for _ in range(ns.reps)
            ]
            print(_peer_line(pipes, peers), flush=True)
    if len(rows) > 1:
        base = rows[0]
        for scale, _a, b, rss, _gb in rows[1:]:
            print(
                f"{scale}x vs 1x: pipeline time ×{b / base[2]:.2f}, peak RSS ×{rss / base[3]:.2f}"
            )


if __name__ == "__main__":
    main()
