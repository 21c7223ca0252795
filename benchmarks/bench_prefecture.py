"""Benchmark: the change pipeline over the whole prefecture (issue 14, item 4).

``bench_change.py --prefecture`` dispatches here. It builds, once and cached under
``--work``/``prefecture-<px>px``, realistic Sentinel-2 L2A tiles (``realistic_tiles.py``:
parcels, texture, sensor noise, DEFLATE with predictor 2, like the one-tile case) on the real
MGRS tiles that cover Yamaguchi (DESIGN §4): 52SFC 52SFD 52SGC 52SGD in EPSG:32652 and 53SKT
53SKU in EPSG:32653, split at 132°E. Their UTM origins are derived here, not typed in
(``mgrs_origin``): the 100 km square's south-west corner from the MGRS letters (column
letters A–H, J–R, S–Z by zone set; 20 row letters with a 500 km offset in even zones; the
2,000 km cycle resolved by the latitude band), then the Sentinel-2 tile's upper-left corner
is the square's north-west corner snapped outward to the 60 m grid, which is how ESA's tiling
grid lies (its KML has 33XVP at 399960, 9400020). Each tile is 109800 m wide, so neighbours
overlap by 9800 m. No extra dependency (no ``mgrs`` package).

Beside the tiles it writes static STAC catalogs in the Earth Search layout, one with one date
per period and, with ``--dates 3``, one with three. Before building it checks the free disk
(about 0.42 GB per tile-date at full size); it prints the cache's size; ``--clean`` removes it.
Then, in fresh processes, it runs two decode floors (every red, nir and scl of the catalog read
with rasterio whole, and only their windows over the AOI's bounding box: the six tiles cover
about 4× the prefecture's box) and the change pipeline on the ``yamaguchi`` AOI, and prints
wall time, CPU, both floors, the pipeline's peak RSS and seconds per 1,000 km² of land (6,113
km²); beside the one-date case, the one-tile case (52SFC, bbox AOI) for its peak memory.

    .venv/bin/python benchmarks/bench_change.py --prefecture --work /tmp/yamasat-bench
    .venv/bin/python benchmarks/bench_change.py --prefecture --dates 1 3
    .venv/bin/python benchmarks/bench_change.py --prefecture --tile-px 1098   # smoke: 100 m
    .venv/bin/python benchmarks/bench_change.py --prefecture --clean

``--tile-px`` below 10980 keeps the real footprints with coarser pixels and runs the pipeline
at that resolution (``YAMASAT_GRID__RESOLUTION``): a quick check of the machinery only.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bench_change import pipeline_files
from realistic_tiles import parcel_ids, parcel_values, textured_band, write_band

TILES = ("52SFC", "52SFD", "52SGC", "52SGD", "53SKT", "53SKU")
TILE_M = 109800.0
FULL_PX = 10980
LAND_KM2 = 6113.0  # Yamaguchi's land area (DESIGN §4: about 6,112 km²)
GB_PER_TILE_DATE = 0.42  # red + nir ≈ 2 × 203 MB (compressed/raw 0.84), scl a few MB
DATES = {
    1: ((dt.date(2025, 8, 18),), (dt.date(2025, 9, 22),)),
    3: (
        (dt.date(2025, 8, 8), dt.date(2025, 8, 13), dt.date(2025, 8, 18)),
        (dt.date(2025, 9, 17), dt.date(2025, 9, 22), dt.date(2025, 9, 27)),
    ),
}
_COLS = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")
_ROWS = "ABCDEFGHJKLMNPQRSTUV"
_BANDS = "CDEFGHJKLMNPQRSTUVWX"  # latitude bands of 8° from 80°S


def mgrs_origin(tile: str) -> tuple[int, float, float]:
    """(EPSG, upper-left x, upper-left y) of a northern-hemisphere Sentinel-2 MGRS tile."""
    from pyproj import Transformer

    zone, band, col, row = int(tile[:2]), tile[2], tile[3], tile[4]
    epsg = 32600 + zone
    east = (_COLS[(zone - 1) % 3].index(col) + 1) * 100_000.0
    north = ((_ROWS.index(row) - (5 if zone % 2 == 0 else 0)) % 20) * 100_000.0
    # the 2,000 km row cycle: take the repeat nearest the latitude band's southern edge
    lat_s = -80.0 + 8.0 * _BANDS.index(band)
    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    _, band_y = to_utm.transform(zone * 6.0 - 183.0, lat_s)
    north += 2_000_000.0 * math.floor((band_y - north + 1_000_000.0) / 2_000_000.0)
    x0 = math.floor(east / 60.0) * 60.0
    y0 = math.ceil((north + 100_000.0) / 60.0) * 60.0
    return epsg, x0, y0


def _tile_date(tile_i: int, n: int, after: bool, seed: int) -> dict[str, np.ndarray]:
    """One date of one tile: the tile's parcels (2 % cleared after), a 20 m SCL with clouds."""
    from scipy import ndimage

    base = np.random.default_rng(1000 * tile_i)
    parcels = parcel_ids(base, n)
    n_parcels = int(parcels.max()) + 1
    red_v, nir_v = parcel_values(base, n_parcels, "red"), parcel_values(base, n_parcels, "nir")
    if after:  # the same parcels clear on every after date: red up, nir down
        cleared = np.random.default_rng(1000 * tile_i + 999).random(n_parcels) < 0.02
        red_v[cleared] += 900.0
        nir_v[cleared] -= 1800.0
    rng = np.random.default_rng(seed)
    bands = {
        "red": textured_band(rng, parcels, red_v, "red"),
        "nir": textured_band(rng, parcels, nir_v, "nir"),
    }
    del parcels
    half, zoom = n // 2, max(2, n // 60)
    coarse = rng.random((half // zoom + 2,) * 2).astype("float32")
    cloud = ndimage.zoom(coarse, zoom, order=1)[:half, :half] > 0.85
    bands["scl"] = np.where(cloud, 9, 4).astype("uint8")
    return bands


def _all_dates(n_dates: int) -> list[tuple[dt.date, bool]]:
    before, after = DATES[n_dates]
    return [(d, False) for d in before] + [(d, True) for d in after]


def _missing(case: Path, n_dates: int) -> list[tuple[int, str, dt.date, bool]]:
    out = []
    for t_i, tile in enumerate(TILES):
        for day, after in _all_dates(n_dates):
            folder = case / "tiles" / _item_id(tile, day)
            if not all((folder / f"{b}.tif").exists() for b in ("red", "nir", "scl")):
                out.append((t_i, tile, day, after))
    return out


def _item_id(tile: str, day: dt.date) -> str:
    return f"S2B_T{tile}_{day:%Y%m%d}T020701_L2A"


def check_disk(case: Path, n_missing: int, px: int) -> float:
    """The GB still to write; raises SystemExit naming need and free space if they don't fit
    (with 3 GB left for the pipeline's outputs)."""
    need = n_missing * GB_PER_TILE_DATE * (px / FULL_PX) ** 2
    probe = case if case.exists() else case.parent
    probe.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(probe).free / 1e9
    if need + 3.0 > free:
        raise SystemExit(
            f"the prefecture case needs about {need:.1f} GB more for {n_missing} tile-dates "
            f"(+3 GB for outputs) under {case}, and only {free:.1f} GB are free there"
        )
    return need


def cache_gb(case: Path) -> float:
    return sum(f.stat().st_size for f in case.rglob("*.tif")) / 1e9


def build_case(work: Path, px: int, n_dates: int) -> Path:
    """Write the missing tile-dates and the catalog for ``n_dates`` per period; returns it."""
    case = work / f"prefecture-{px}px"
    missing = _missing(case, n_dates)
    need = check_disk(case, len(missing), px)
    if missing:
        print(f"building {len(missing)} tile-dates (about {need:.1f} GB) in {case}", flush=True)
    res = TILE_M / px
    for k, (t_i, tile, day, after) in enumerate(missing, 1):
        t0 = time.perf_counter()
        epsg, x0, y0 = mgrs_origin(tile)
        folder = case / "tiles" / _item_id(tile, day)
        folder.mkdir(parents=True, exist_ok=True)
        seed = 1000 * t_i + int(day.strftime("%j"))
        for band, data in _tile_date(t_i, px, after, seed).items():
            band_res = res * (2 if band == "scl" else 1)
            write_band(folder / f"{band}.tif", data, epsg=epsg, res=band_res, x0=x0, y0=y0)
        print(f"  {k}/{len(missing)} {folder.name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return _write_catalog(case, px, n_dates)


def _item(tile: str, day: dt.date, folder: Path, px: int) -> object:
    import pystac
    from pyproj import Transformer

    epsg, x0, y0 = mgrs_origin(tile)
    to_ll = Transformer.from_crs(epsg, 4326, always_xy=True)
    xs = [x0, x0 + TILE_M, x0 + TILE_M, x0]
    ys = [y0, y0, y0 - TILE_M, y0 - TILE_M]
    lon, lat = to_ll.transform(xs, ys)
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    item = pystac.Item(
        _item_id(tile, day),
        {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
        [min(lon), min(lat), max(lon), max(lat)],
        dt.datetime.combine(day, dt.time(2, 7, 1), dt.UTC),
        {
            "proj:code": f"EPSG:{epsg}",
            "grid:code": f"MGRS-{tile}",
            "mgrs:utm_zone": int(tile[:2]),
            "mgrs:latitude_band": tile[2],
            "mgrs:grid_square": tile[3:],
            "s2:processing_baseline": "05.11",
            "eo:cloud_cover": 15.0,
        },
    )
    for band, scale in (("red", 1), ("nir", 1), ("scl", 2)):
        res = TILE_M / px * scale
        rb = {"nodata": 0, "data_type": "uint8" if band == "scl" else "uint16"}
        if band != "scl":
            rb |= {"scale": 0.0001, "offset": -0.1}
        item.add_asset(
            band,
            pystac.Asset(
                str(folder / f"{band}.tif"),
                media_type=pystac.MediaType.COG,
                extra_fields={
                    "raster:bands": [rb],
                    "proj:shape": [px // scale] * 2,
                    "proj:transform": [res, 0, x0, 0, -res, y0],
                },
            ),
        )
    return item


def _write_catalog(case: Path, px: int, n_dates: int, tiles: tuple[str, ...] = TILES) -> Path:
    import pystac

    name = f"catalog-{n_dates}d" + ("" if tiles == TILES else "-" + "-".join(tiles))
    catalog_path = case / name / "catalog.json"
    if catalog_path.is_file():
        return catalog_path
    catalog = pystac.Catalog("bench-prefecture", f"Yamaguchi, {n_dates} date(s) per period")
    coll = pystac.Collection(
        "sentinel-2-c1-l2a",
        "synthetic realistic L2A tiles on Yamaguchi's MGRS tiles",
        pystac.Extent(
            pystac.SpatialExtent([[-180, -90, 180, 90]]), pystac.TemporalExtent([[None, None]])
        ),
    )
    catalog.add_child(coll)
    for tile in tiles:
        for day, _after in _all_dates(n_dates):
            folder = (case / "tiles" / _item_id(tile, day)).resolve()
            coll.add_item(_item(tile, day, folder, px))  # type: ignore[arg-type]
    coll.update_extent_from_items()
    catalog.normalize_hrefs(str(catalog_path.parent))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return catalog_path


def child_aoi_floor(catalog_path: str) -> dict[str, float]:
    """The decode floor of the AOI: from every item's red, nir and scl, only the window that
    covers the ``yamaguchi`` AOI's bounding box in the tile's CRS (GDAL decodes the blocks it
    touches). The whole-tile floor decodes about 4× this: six tiles cover 72,000 km²."""
    import rasterio
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window, from_bounds

    from yamasat.catalogs.extent.aoi import resolve_aoi
    from yamasat.settings import load_settings

    bbox = resolve_aoi("yamaguchi", boundaries_path=load_settings().boundaries.path).bbox
    files = pipeline_files(catalog_path)
    t0 = time.perf_counter()
    total = 0
    with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS", GDAL_CACHEMAX=512):
        for f in files:
            with rasterio.open(f) as src:
                box = transform_bounds("EPSG:4326", src.crs, *bbox)
                win = from_bounds(*box, transform=src.transform).round_offsets().round_lengths()
                win = win.intersection(Window(0, 0, src.width, src.height))
                total += src.read(1, window=win).nbytes
    return {"seconds": time.perf_counter() - t0, "bytes": float(total), "files": float(len(files))}


def _run_child(args: list[str], px: int) -> dict[str, object]:
    env = dict(os.environ)
    if px != FULL_PX:
        env["YAMASAT_GRID__RESOLUTION"] = str(TILE_M / px)
    # the tiles are shared by the catalogs, beside them: let the href policy read them
    env["YAMASAT_NETWORK__ALLOWED_ROOTS"] = json.dumps([str(Path(args[1]).parent.parent)])
    script = Path(__file__).with_name("bench_change.py")
    proc = subprocess.run(
        [sys.executable, str(script), "--child", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _one_tile(case: Path, px: int, reps: int, pipes: list[dict]) -> None:
    """The one-tile case (bench_change's, on 52SFC of this cache) in the same run: the
    prefecture's peak memory against it."""
    catalog = _write_catalog(case, px, 1, ("52SFC",))
    out = case.parent / f"out-prefecture-{px}px-52SFC"
    ones = [_run_child(["pipeline", str(catalog), str(out)], px) for _ in range(reps)]
    one_rss = max(float(p["peak_rss_mb"]) for p in ones)
    rss = max(float(p["peak_rss_mb"]) for p in pipes)
    print(
        f"one tile (52SFC, bbox AOI) in the same run: wall "
        f"{statistics.median(float(p['seconds']) for p in ones):.1f} s, cpu "
        f"{statistics.median(float(p['cpu_s']) for p in ones):.1f} s, peak RSS "
        f"{one_rss / 1024:.2f} GB; prefecture/one tile peak RSS {rss / one_rss:.2f}x",
        flush=True,
    )


def _report(n_dates: int, floors: list[dict], aoi_floors: list[dict], pipes: list[dict]) -> None:
    a = statistics.median(float(f["seconds"]) for f in aoi_floors)
    a_cpu = statistics.median(float(f["cpu_s"]) for f in aoi_floors)
    w = statistics.median(float(f["seconds"]) for f in floors)
    w_cpu = statistics.median(float(f["cpu_s"]) for f in floors)
    b = statistics.median(float(p["seconds"]) for p in pipes)
    b_cpu = statistics.median(float(p["cpu_s"]) for p in pipes)
    rss = max(float(p["peak_rss_mb"]) for p in pipes)
    p0 = pipes[0]
    print(
        f"prefecture, {n_dates} date(s) per period ({p0['items']} items before/after): "
        f"wall {b:.1f} s, cpu {b_cpu:.1f} s, peak RSS {rss / 1024:.2f} GB; "
        f"decode floor of the AOI's bbox {a:.1f} s wall, {a_cpu:.1f} s cpu "
        f"({float(aoi_floors[0]['bytes']) / 1e9:.2f} GB decoded); ratio wall {b / a:.2f}, "
        f"cpu {b_cpu / a_cpu:.2f}; {b / LAND_KM2 * 1000:.1f} s per 1,000 km² of land; "
        f"whole tiles decode in {w:.1f} s wall, {w_cpu:.1f} s cpu "
        f"({float(floors[0]['bytes']) / 1e9:.2f} GB) "
        f"(outcome {p0['outcome']}, detected {float(p0['area_m2']) / 1e6:.2f} km²; "
        f"AOI {float(p0['aoi_km2']):.0f} km² from {p0['aoi_source']})",
        flush=True,
    )


def run(
    work: Path, px: int, date_counts: list[int], reps: int, clean: bool, no_one_tile: bool
) -> None:
    """``bench_change.py --prefecture``: build (or reuse) the case, then measure it."""
    if clean:
        for case in sorted(work.glob("prefecture-*")):
            gb = cache_gb(case)
            shutil.rmtree(case)
            print(f"removed {case} ({gb:.2f} GB of tiles)")
        return
    for tile in TILES:
        epsg, x0, y0 = mgrs_origin(tile)
        print(f"{tile}: EPSG:{epsg}, upper-left ({x0:.0f}, {y0:.0f}), {TILE_M:.0f} m wide")
    for n_dates in date_counts:
        t0 = time.perf_counter()
        catalog = build_case(work, px, n_dates)
        case = catalog.parent.parent
        print(
            f"case ready in {time.perf_counter() - t0:.0f} s: {catalog}; cache {case}: "
            f"{cache_gb(case):.2f} GB",
            flush=True,
        )
        floors = [_run_child(["floor", str(catalog)], px) for _ in range(reps)]
        out = work / f"out-prefecture-{px}px-{n_dates}d"
        pipes = [_run_child(["prefecture", str(catalog), str(out)], px) for _ in range(reps)]
        aoi_floors = [_run_child(["aoi-floor", str(catalog)], px) for _ in range(reps)]
        _report(n_dates, floors, aoi_floors, pipes)
        if n_dates == 1 and not no_one_tile:
            _one_tile(case, px, reps, pipes)
