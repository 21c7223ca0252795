"""Benchmark: the change flow on a LocalCluster over 1×, 2× and 4× the demo area, and
Prefect's fixed cost per run against a running server.

Builds (once, cached in ``--work``, one archive per scale) the synthetic sample archive over
the demo bbox scaled around its centre (sides × √scale), starts a real ``prefect server`` on
loopback with its own PREFECT_HOME in ``--work``, then, in fresh processes and interleaved so
that load from other jobs falls on every case alike:

(a) the ``change_detection`` flow with ``dask.scheduler=local-cluster`` (``--workers`` ×
    ``--threads``), ``force=True``, ``--reps`` times per scale. A sampler thread in the
    driver reads the kernel's peak RSS (VmHWM) of every descendant process every
    ``--interval`` s; the dask workers are told apart by ``client.run(os.getpid)``;
(b) at the smallest scale, the same steps without Prefect (settings, the two searches, the
    analysis on the same LocalCluster, the result dict): the flow minus this is the
    orchestration cost measured on the real run (noisy: a difference of two noisy times);
(c) a skeleton flow of the same shape (two ``search`` tasks with the same retries, one
    ``analyse-and-write`` task, the markdown artifact) with empty bodies, ``--skeleton-runs``
    runs per fresh process: the first run is Prefect's fixed cost of a run started from a
    fresh process (a CLI run), the median of the others that of a long-lived process.
    Against the server and, for comparison, with Prefect's ephemeral (no server) mode.
    Almost all of it is spent after the body returns: Prefect 3.9 joins its flow-run
    heartbeat thread, which sleeps in 1 s steps, so every run ends on a whole second after
    its start; a skeleton's body is short, so it pays nearly the whole second, a real run
    0.5 s on average. The script prints that expected figure too.

It prints per scale the area, the grid, the median wall time and its ratio to the smallest
scale, the peak RSS of the largest worker and its ratio (flat = within ±15 %), the driver's
peak RSS (the LocalCluster scheduler and the COG writer live there), then the overhead
figures and a markdown table for the README. The server is stopped at the end, also on error.

    python benchmarks/bench_scale.py --work /tmp/yamasat-bench-scale --scales 1 2 4 --reps 2
    python benchmarks/bench_scale.py --scales 1 --reps 3 --prefect-db postgres

With ``--prefect-db postgres`` the Prefect server keeps its state in a PostgreSQL server
started on loopback for the run instead of SQLite: on SQLite the server answers some writes
with 503 ("database is locked") and the client retries about 2 s later.

Not a test: it takes 10–15 minutes at --reps 5 (building the 4× archive alone takes 1–2 minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: the demo extent (config ``sample.bbox``) and seed (``sample.seed``)
DEMO_BBOX = (131.92, 33.88, 132.08, 33.98)
DEMO_SEED = 20260401
#: the demo's change periods (flows.demo.CHANGE_PERIODS)
BEFORE, AFTER = "2025-08-01/2025-08-31", "2025-09-15/2025-09-30"
FLAT_TOLERANCE = 0.15
OVERHEAD_TARGET = 0.10
#: Prefect 3.9 joins its flow-run heartbeat thread, which sleeps in 1 s steps, at the end of
#: every run: the wait is 1 s minus the run's fractional second, 0.5 s on average
HEARTBEAT_MEAN_WAIT_S = 0.5


def scaled_bbox(bbox: tuple[float, ...], scale: float) -> tuple[float, float, float, float]:
    """``bbox`` (W, S, E, N degrees) with ``scale`` × its area, around the same centre."""
    w, s, e, n = bbox
    cx, cy = (w + e) / 2, (s + n) / 2
    k = math.sqrt(scale)
    hw, hh = (e - w) / 2 * k, (n - s) / 2 * k
    return (round(cx - hw, 5), round(cy - hh, 5), round(cx + hw, 5), round(cy + hh, 5))


def bbox_area_km2(bbox: tuple[float, ...]) -> float:
    """Geodesic area of a lon/lat box on WGS 84."""
    import shapely
    from pyproj import Geod

    area, _ = Geod(ellps="WGS84").geometry_area_perimeter(shapely.box(*bbox))
    return abs(area) / 1e6


def build_case(work: Path, scale: float) -> tuple[Path, tuple[float, float, float, float]]:
    """The sample archive over the scaled demo bbox, built when missing or of another bbox."""
    from yamasat.catalogs.sample import SampleManifest, build_sample

    bbox = scaled_bbox(DEMO_BBOX, scale)
    root = work / f"sample-{scale:g}x"
    catalog = root / "catalog.json"
    if catalog.is_file():
        m = SampleManifest.read(root)
        if tuple(round(v, 5) for v in m.bbox) == bbox and m.seed == DEMO_SEED:
            return catalog, bbox
    build_sample(root, bbox=bbox, seed=DEMO_SEED, overwrite=root.exists())
    return catalog, bbox


# --- in the child processes -------------------------------------------------------------------


def hwm_bytes(pid: int) -> int | None:
    """The kernel's peak RSS of ``pid`` (VmHWM), None when it cannot be read. Not
    ``ru_maxrss``: Linux carries it over fork and exec, so a child of a parent that had just
    built a large case would report the parent's peak. (bench_change uses this too.)"""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class RssSampler(threading.Thread):
    """Peak RSS of every descendant of this process, and which of them are dask workers."""

    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.interval = interval
        self.peak: dict[int, int] = {}
        self.cmdline: dict[int, str] = {}
        self.workers: set[int] = set()
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while True:
            for child in me.children(recursive=True):
                try:
                    hwm = hwm_bytes(child.pid) or child.memory_info().rss
                    if child.pid not in self.cmdline:
                        self.cmdline[child.pid] = " ".join(child.cmdline())[:200]
                except psutil.Error:
                    continue
                self.peak[child.pid] = max(self.peak.get(child.pid, 0), hwm)
            if not self.workers:
                self._find_workers()
            if self._stop_event.wait(self.interval):
                return

    def _find_workers(self) -> None:
        if "distributed" not in sys.modules:
            return
        try:
            from distributed import Client

            client = Client.current()
            self.workers = set(client.run(os.getpid).values())
        except Exception:  # no client yet, or it is closing: try again at the next poll
            return

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)


def _plain_change(catalog: str, aoi: str, out: str) -> dict[str, Any]:
    """The body of ``change_detection`` without Prefect (no tasks, no artifact)."""
    from yamasat.flows.compute import compute_on
    from yamasat.flows.prepare import prepare, search_family
    from yamasat.flows.product_run import analyse_product
    from yamasat.flows.progress import report
    from yamasat.flows.recipes import CHANGE
    from yamasat.processing.change_map import ChangeParams
    from yamasat.settings import load_settings

    settings = load_settings()
    prep = prepare(
        aoi=aoi,
        before=BEFORE,
        after=AFTER,
        source=catalog,
        out=Path(out),
        settings=settings,
        profile="sample",
    )
    ch = settings.analytics.change
    params = ChangeParams(
        index=ch.index,
        threshold=ch.threshold,
        direction=ch.direction,
        min_mapping_unit_px=ch.min_mapping_unit_px,
    )
    bands = (*params.bands(), "scl")
    before_items = search_family(prep, "s2", prep.before, bands)
    after_items = search_family(prep, "s2", prep.after, bands)
    report("search after", 1, 1)  # the stage mark the flow's search task makes
    with compute_on(settings):
        outcome = analyse_product(
            CHANGE, prep, before_items, after_items, params=params, force=True
        )
    return outcome.as_dict()


def _child_run(mode: str, catalog: str, aoi: str, out: str, interval: float) -> dict[str, Any]:
    """One change run, as the Prefect flow or without Prefect, with its memory figures."""
    t0 = time.perf_counter()
    from yamasat.flows.change import change_detection
    from yamasat.flows.progress import set_reporter

    import_s = time.perf_counter() - t0
    marks: dict[str, float] = {}

    def mark(stage: str, done: int, total: int) -> None:
        marks.setdefault(f"{stage} {done}/{total}", time.perf_counter() - t0)

    set_reporter(mark)
    sampler = RssSampler(interval)
    sampler.start()
    t0 = time.perf_counter()
    if mode == "flow":
        from yamasat.flows.prefect_env import prefect_run_settings
        from yamasat.settings import load_settings

        with prefect_run_settings(load_settings()):  # as `yamasat run` makes its runs
            result = change_detection(
                aoi=aoi,
                before=BEFORE,
                after=AFTER,
                source=catalog,
                out=out,
                force=True,
                profile="sample",
            )
    else:
        result = _plain_change(catalog, aoi, out)
    seconds = time.perf_counter() - t0
    sampler.stop()
    workers = sampler.workers
    how = "client.run(os.getpid)"
    if not workers:  # fall back on the command line of multiprocessing's spawned children
        workers = {p for p, c in sampler.cmdline.items() if "spawn_main" in c}
        how = "command line"
    # where the time went: up to the searches' end, LocalCluster start, analysis, and the rest
    # (cluster close; for the flow also the artifact and Prefect's end of run)
    searched = marks.get("search after 1/1", math.nan)
    started = marks.get("analyse 0/4", math.nan)
    analysed = marks.get("analyse 4/4", math.nan)
    return {
        "seconds": seconds,
        "stages": {
            "searches": searched,
            "cluster_start": started - searched,
            "analysis": analysed - started,
            "after": seconds - analysed,
        },
        "import_s": import_s,
        "outcome": result["outcome"],
        "valid_fraction": result.get("valid_fraction"),
        "worker_peak_mb": sorted(sampler.peak[p] / 2**20 for p in workers if p in sampler.peak),
        "workers_found_by": how,
        "other_children": {
            c: sampler.peak[p] / 2**20 for p, c in sampler.cmdline.items() if p not in workers
        },
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child of a
        # driver that has just built a large archive would report the driver's peak
        "driver_peak_mb": (
            hwm_bytes(os.getpid()) or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
        / 2**20,
    }


def _child_skeleton(runs: int) -> dict[str, Any]:
    """Prefect alone: a flow shaped like ``change_detection`` whose tasks do nothing."""
    t0 = time.perf_counter()
    from prefect import flow, get_run_logger, task
    from prefect.artifacts import create_markdown_artifact
    from prefect.cache_policies import NO_CACHE

    import_s = time.perf_counter() - t0
    inside: list[float] = []  # perf_counter at the start and the end of the flow's body

    @task(name="search", retries=2, retry_delay_seconds=[2, 8], cache_policy=NO_CACHE)
    def search(which: str) -> list[dict[str, Any]]:
        get_run_logger().info("%s: 0 items", which)
        return [{"id": which, "assets": {}}]

    @task(name="analyse-and-write", cache_policy=NO_CACHE)
    def analyse(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, Any]:
        return {"outcome": "published", "inputs": len(before) + len(after)}

    @flow(name="change_detection_skeleton", log_prints=False)
    def skeleton(
        aoi: str, before: str, after: str, source: str = "sample", force: bool = False
    ) -> dict[str, Any]:
        inside.append(time.perf_counter())
        b = search("before")
        a = search("after")
        outcome = analyse(b, a)
        create_markdown_artifact(key="change-summary", markdown="# skeleton", description="run")
        inside.append(time.perf_counter())
        return outcome

    from yamasat.flows.prefect_env import prefect_run_settings
    from yamasat.settings import load_settings

    times, setup, body, teardown = [], [], [], []
    run_settings = prefect_run_settings(load_settings())  # as `yamasat run` makes its runs
    run_settings.__enter__()
    for _ in range(runs):
        inside.clear()
        t = time.perf_counter()
        skeleton(aoi="131.92,33.88,132.08,33.98", before=BEFORE, after=AFTER, force=True)
        end = time.perf_counter()
        times.append(end - t)
        setup.append(inside[0] - t)
        body.append(inside[1] - inside[0])
        teardown.append(end - inside[1])
    return {
        "import_s": import_s,
        "runs_s": times,
        "setup_s": setup,
        "body_s": body,
        "teardown_s": teardown,
    }


# the servers the tests start (tests/support), imported by the driver only: the children and
# their dask workers, which import this module, stay free of pytest
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# --- in the driver ----------------------------------------------------------------------------


def _prefect_base_env(home: Path) -> dict[str, str]:
    """A child's Prefect environment (its own home); the temporary server may take long."""
    from tests.support.prefect_server import prefect_env

    return prefect_env(home) | {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}


@contextlib.contextmanager
def prefect_server(work: Path, db_url: str | None = None) -> Iterator[str]:
    """A real ``prefect server start`` on loopback (tests/support/prefect_server.py); its
    database is SQLite in its home, or ``db_url`` (``postgresql+asyncpg://...``)."""
    from tests.support.prefect_server import running_prefect_server

    t0 = time.perf_counter()
    extra = {"PREFECT_SERVER_DATABASE_CONNECTION_URL": db_url} if db_url else None
    with running_prefect_server(work / "prefect-server", extra_env=extra) as url:
        print(f"prefect server {url} healthy after {time.perf_counter() - t0:.1f} s", flush=True)
        yield url


@contextlib.contextmanager
def _prefect_database(kind: str) -> Iterator[str | None]:
    """None for Prefect's SQLite, or the URL of a fresh PostgreSQL database on loopback."""
    if kind == "sqlite":
        yield None
        return
    from tests.support import postgres

    server = postgres.start_server()  # stopped below; the module reaps it if this process dies
    try:
        yield server.create_database().replace("postgresql+psycopg", "postgresql+asyncpg")
    finally:
        server.stop()


def _run_child(args: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    with open(log, "a") as err:
        err.write(f"\n=== {' '.join(args)}\n")
        err.flush()
        proc = subprocess.run(
            [sys.executable, __file__, "--child", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
            check=False,
            timeout=3600,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed ({proc.returncode}); see {log}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _med(xs: list[float]) -> float:
    return statistics.median(xs)


def _spread(xs: list[float], digits: int = 1) -> str:
    return f"{min(xs):.{digits}f}–{max(xs):.{digits}f}" if len(xs) > 1 else f"{xs[0]:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/yamasat-bench-scale"))
    ap.add_argument("--scales", type=float, nargs="+", default=[1, 2, 4])
    ap.add_argument("--reps", type=int, default=2, help="runs per scale and overhead case")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    ap.add_argument("--threads", type=int, default=1, help="threads per worker")
    ap.add_argument("--chunk", type=int, default=None, help="grid.chunk_size (default: config)")
    ap.add_argument("--skeleton-runs", type=int, default=5, help="skeleton runs per process")
    ap.add_argument("--no-ephemeral", action="store_true", help="skip the no-server comparison")
    ap.add_argument("--interval", type=float, default=0.1, help="RSS sampling period, seconds")
    ap.add_argument(
        "--heartbeat-s",
        type=int,
        default=None,
        help="Prefect flow-run heartbeats every N s (≥ 30), as with "
        "orchestration.prefect_heartbeat_s; default: the config (off)",
    )
    ap.add_argument(
        "--prefect-db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="the Prefect server's database: SQLite (its default) or a PostgreSQL server "
        "started on loopback for the run (Debian's postgresql, as the tests use)",
    )
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.child:
        kind, *rest = ns.child
        if kind == "skeleton":
            result = _child_skeleton(int(rest[0]))
        else:
            result = _child_run(kind, rest[0], rest[1], rest[2], float(rest[3]))
        print(json.dumps(result))
        return

    work: Path = ns.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    scales = sorted(set(ns.scales))
    log = work / "children.log"
    cases: dict[float, tuple[Path, tuple[float, float, float, float]]] = {}
    for scale in scales:
        t0 = time.perf_counter()
        cases[scale] = build_case(work, scale)
        print(
            f"{scale:g}x archive ready in {time.perf_counter() - t0:.0f} s: bbox {cases[scale][1]}",
            flush=True,
        )

    import shapely

    from yamasat.processing.grid import project_geobox
    from yamasat.settings import load_settings

    grid = load_settings().grid
    chunk = ns.chunk or grid.chunk_size
    compute_env = {
        "YAMASAT_DASK__SCHEDULER": "local-cluster",
        "YAMASAT_DASK__N_WORKERS": str(ns.workers),
        "YAMASAT_DASK__THREADS_PER_WORKER": str(ns.threads),
        "YAMASAT_DASK__DASHBOARD_ADDRESS": "127.0.0.1:0",
        "YAMASAT_GRID__CHUNK_SIZE": str(chunk),
        "YAMASAT_STORAGE__OUTPUT_ROOT": str(work / "products"),
    }
    if ns.heartbeat_s is not None:
        compute_env["YAMASAT_ORCHESTRATION__PREFECT_HEARTBEAT_S"] = str(ns.heartbeat_s)
    runs: dict[float, list[dict[str, Any]]] = {s: [] for s in scales}
    plain: list[dict[str, Any]] = []
    skel_server: list[dict[str, Any]] = []
    skel_ephemeral: list[dict[str, Any]] = []
    base = scales[0]

    def change_args(mode: str, scale: float) -> list[str]:
        catalog, bbox = cases[scale]
        aoi = ",".join(f"{v:g}" for v in bbox)
        out = work / f"products-{scale:g}x"
        return [mode, str(catalog), aoi, str(out), str(ns.interval)]

    print(f"logs of the runs: {log}", flush=True)
    with contextlib.ExitStack() as stack:
        db_url = stack.enter_context(_prefect_database(ns.prefect_db))
        api_url = stack.enter_context(prefect_server(work, db_url=db_url))
        print(f"prefect server database: {ns.prefect_db}", flush=True)
        env = _prefect_base_env(work / "prefect-client") | compute_env
        env["PREFECT_API_URL"] = api_url
        # one unrecorded run first: the first process after a pause pays for cold file caches
        _run_child(change_args("flow", base), env, log)
        for rep in range(ns.reps):
            # the smallest scale as a flow and without Prefect back to back (paired
            # differences), which of the two goes first alternating between repetitions
            pair = [(base, "flow"), (base, "plain")][:: 1 if rep % 2 == 0 else -1]
            for scale, mode in [*pair, *((sc, "flow") for sc in scales[1:])]:
                r = _run_child(change_args(mode, scale), env, log)
                (runs[scale] if mode == "flow" else plain).append(r)
                print(
                    f"rep {rep + 1} {scale:g}x {mode}: {r['seconds']:.1f} s "
                    f"({_stages_text(r['stages'])}), workers peak "
                    f"{[round(m) for m in r['worker_peak_mb']]} MB ({r['workers_found_by']}), "
                    f"driver {r['driver_peak_mb']:.0f} MB, {r['outcome']}",
                    flush=True,
                )
            sk_run = _run_child(["skeleton", str(ns.skeleton_runs)], env, log)
            skel_server.append(sk_run)
            print(f"rep {rep + 1} skeleton (server): {[round(t, 3) for t in sk_run['runs_s']]} s")
    if not ns.no_ephemeral:
        env = _prefect_base_env(work / "prefect-ephemeral") | compute_env
        for rep in range(ns.reps):
            sk_run = _run_child(["skeleton", str(ns.skeleton_runs)], env, log)
            skel_ephemeral.append(sk_run)
            print(
                f"rep {rep + 1} skeleton (ephemeral): {[round(t, 3) for t in sk_run['runs_s']]} s"
            )

    # --- report
    print(
        f"\nchange flow on a LocalCluster of {ns.workers} workers × {ns.threads} thread(s), "
        f"chunks {chunk} px, {ns.reps} run(s) per scale, against a running Prefect server"
    )
    rows = []
    for scale in scales:
        bbox = cases[scale][1]
        gb = project_geobox(shapely.box(*bbox), crs=grid.crs, resolution=grid.resolution)
        ny, nx = gb.shape
        walls = [r["seconds"] for r in runs[scale]]
        rows.append(
            {
                "scale": scale,
                "km2": bbox_area_km2(bbox),
                "px": f"{nx}×{ny}",
                "chunks": math.ceil(nx / chunk) * math.ceil(ny / chunk),
                "wall": _med(walls),
                "wall_spread": _spread(walls),
                "stages": {
                    k: _med([r["stages"][k] for r in runs[scale]]) for k in runs[scale][0]["stages"]
                },
                "worker": _med([max(r["worker_peak_mb"]) for r in runs[scale]]),
                "worker_spread": _spread([max(r["worker_peak_mb"]) for r in runs[scale]], 0),
                "driver": _med([r["driver_peak_mb"] for r in runs[scale]]),
                "outcome": runs[scale][0]["outcome"],
            }
        )
    b = rows[0]
    lines = [
        "| area | km² | grid (px) | chunks | wall, median (range) s | × | peak RSS, largest "
        "worker, median (range) MB | × | driver peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        tr, mr = row["wall"] / b["wall"], row["worker"] / b["worker"]
        flat = "flat" if abs(mr - 1) <= FLAT_TOLERANCE else "NOT flat"
        print(
            f"{row['scale']:g}x: {row['km2']:.0f} km², {row['px']} px ({row['chunks']} chunks), "
            f"wall {row['wall']:.1f} s ({row['wall_spread']}), ×{tr:.2f} "
            f"[medians: {_stages_text(row['stages'])}]; peak RSS largest worker "
            f"{row['worker']:.0f} MB ({row['worker_spread']}), ×{mr:.2f} ({flat} within ±15 %); "
            f"driver {row['driver']:.0f} MB; outcome {row['outcome']}"
        )
        lines.append(
            f"| {row['scale']:g}× | {row['km2']:.0f} | {row['px']} | {row['chunks']} | "
            f"{row['wall']:.1f} ({row['wall_spread']}) | {tr:.2f} | {row['worker']:.0f} "
            f"({row['worker_spread']}) | {mr:.2f} | {row['driver']:.0f} |"
        )
    other = runs[base][-1]["other_children"]
    if other:
        print(f"other child processes (peak MB) in the last {base:g}x run: {other}")

    flow_s = b["wall"]
    diffs = [f["seconds"] - p["seconds"] for f, p in zip(runs[base], plain, strict=True)]
    diff = _med(diffs)
    plain_s = _med([r["seconds"] for r in plain])
    sk = _skeleton_figures(skel_server)
    beats = ns.heartbeat_s is not None
    wait = HEARTBEAT_MEAN_WAIT_S if beats else 0.0
    expected = sk["cold_work"] + wait
    print(
        f"\nPrefect per run at {base:g}x (flow run {flow_s:.1f} s, median):\n"
        f"  flow − the same steps without Prefect (median {plain_s:.1f} s), back-to-back pairs: "
        f"median {diff:+.1f} s ({100 * diff / flow_s:+.0f} %), pairs {_spread(diffs)} s; "
        "a difference of two noisy times\n"
        f"  skeleton flow, server: first run in a fresh process {sk['cold']:.2f} s "
        f"({100 * sk['cold'] / flow_s:.1f} % of the run; target ≤ {100 * OVERHEAD_TARGET:.0f} %: "
        f"{'met' if sk['cold'] / flow_s <= OVERHEAD_TARGET else 'NOT met'}), later runs "
        f"{sk['warm']:.2f} s (call → body {sk['setup']:.2f} s, body {sk['body']:.2f} s, "
        f"body → return {sk['teardown']:.2f} s); `import prefect` {sk['import']:.2f} s "
        "(paid by the product's imports with or without a flow)\n"
        + (
            f"  heartbeats on (every {ns.heartbeat_s} s): body → return is mostly Prefect's "
            "heartbeat thread, which sleeps in 1 s steps and is joined at the end of a run: a "
            "run ends on the next whole second after its start; in a run of random length that "
            f"wait averages {HEARTBEAT_MEAN_WAIT_S:g} s."
            if beats
            else "  heartbeats off (orchestration.prefect_heartbeat_s: null, as the CLI runs)."
        )
        + f" Expected per-run cost {sk['cold_work']:.2f} + {wait:g} = {expected:.2f} s "
        f"({100 * expected / flow_s:.1f} %: "
        f"{'met' if expected / flow_s <= OVERHEAD_TARGET else 'NOT met'})"
    )
    lines_o = [
        "| Prefect, per run | seconds | % of the 1× flow run |",
        "|---|---:|---:|",
        f"| flow run − same steps without Prefect (median of pairs) | {diff:+.1f} | "
        f"{100 * diff / flow_s:+.0f} |",
        f"| skeleton flow, server, first run in a process | {sk['cold']:.2f} | "
        f"{100 * sk['cold'] / flow_s:.1f} |",
        f"| skeleton flow, server, later runs | {sk['warm']:.2f} | "
        f"{100 * sk['warm'] / flow_s:.1f} |",
        f"| expected per real run: first run's call → body end + mean heartbeat wait "
        f"{wait:g} s | {expected:.2f} | {100 * expected / flow_s:.1f} |",
    ]
    if skel_ephemeral:
        ek = _skeleton_figures(skel_ephemeral)
        print(
            f"  skeleton flow, ephemeral (no server): first run {ek['cold']:.2f} s "
            f"({100 * ek['cold'] / flow_s:.0f} %; it starts a temporary server), later runs "
            f"{ek['warm']:.2f} s"
        )
        lines_o += [
            f"| skeleton flow, ephemeral, first run in a process | {ek['cold']:.2f} | "
            f"{100 * ek['cold'] / flow_s:.0f} |",
            f"| skeleton flow, ephemeral, later runs | {ek['warm']:.2f} | "
            f"{100 * ek['warm'] / flow_s:.1f} |",
        ]
    print("\n" + "\n".join(lines) + "\n\n" + "\n".join(lines_o))


def _stages_text(stages: dict[str, float]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v:.1f}" for k, v in stages.items())


def _skeleton_figures(results: list[dict[str, Any]]) -> dict[str, float]:
    """Medians over processes of the first run, and over the later runs of every process."""

    def later(key: str) -> float:
        return _med([t for s in results for t in s[key][1:]] or [math.nan])

    return {
        "cold": _med([s["runs_s"][0] for s in results]),
        "cold_work": _med([s["setup_s"][0] + s["body_s"][0] for s in results]),
        "warm": later("runs_s"),
        "setup": later("setup_s"),
        "body": later("body_s"),
        "teardown": later("teardown_s"),
        "import": _med([s["import_s"] for s in results]),
    }


if __name__ == "__main__":
    main()
