"""Benchmark: the threaded dask scheduler against a LocalCluster on demo-sized products.

Each repetition runs in a fresh process, as a flow run does: load the settings with
``dask.scheduler`` forced to the scheduler under test, prepare the demo's burn or change
product over the sample archive, then time ``with compute_on(settings): analyse(...)``, which
includes starting and closing the cluster (every flow run starts its own). It prints, per
product and scheduler, the median and range of the wall time and the peak memory: the
process's own VmHWM plus, for a LocalCluster, the sum of its workers' VmHWM (an upper bound of
what was resident at once).

    python benchmarks/bench_scheduler.py --sample /tmp/yamasat-bench/sample --reps 5

The sample archive is built there first when missing (``yamasat sample build``). The
products are written under ``--work`` and replaced at each repetition. Not a test: it takes
minutes. On a machine shared with other work, say so next to the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCHEDULERS = ("threads", "local-cluster")
PRODUCTS = ("change", "burn")


def _hwm_mb() -> float:
    """This process's peak resident memory in MB (VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _analyse(product: str, sample: Path, out: Path, scheduler: str) -> dict[str, Any]:
    """One product on one scheduler, in this process; returns its timing and memory."""
    from yamasat.catalogs.sample import SampleManifest
    from yamasat.flows import recipes
    from yamasat.flows.compute import compute_on
    from yamasat.flows.demo import CHANGE_PERIODS, DEMO_RUNS
    from yamasat.flows.prepare import prepare, search_family
    from yamasat.flows.product_run import analyse_product
    from yamasat.processing.change_map import ChangeParams
    from yamasat.settings import load_settings

    env = dict(os.environ)
    env |= {"YAMASAT_DASK__SCHEDULER": scheduler, "YAMASAT_DASK__DASHBOARD_ADDRESS": ":0"}
    settings = load_settings(env=env)
    if product == "burn":
        p = next(p for name, _f, p, _fl in DEMO_RUNS if name == "burn")
        periods, bands = (p["before"], p["after"]), ("nir", "swir22", "green", "swir16", "scl")
    else:
        periods, bands = CHANGE_PERIODS, ("red", "nir", "scl")
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample).bbox)
    prep = prepare(aoi=bbox, before=periods[0], after=periods[1],
                   source=str(sample / "catalog.json"), out=out, settings=settings,
                   profile="sample")  # fmt: skip
    before = search_family(prep, "s2", prep.before, bands)
    after = search_family(prep, "s2", prep.after, bands)
    workers_mb = 0.0
    t0 = time.perf_counter()
    with compute_on(settings) as client:
        if product == "burn":
            outcome = analyse_product(recipes.BURN, prep, before, after, force=True)
        else:
            params = ChangeParams(threshold="otsu")
            outcome = analyse_product(
                recipes.CHANGE, prep, before, after, params=params, force=True
            )
        if client is not None:
            workers_mb = sum(client.run(_hwm_mb).values())
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "outcome": outcome.outcome,
        "sha256": {k: v["sha256"] for k, v in sorted(outcome.files.items())},
        "peak_mb": _hwm_mb() + workers_mb,
    }


def _run_child(product: str, sample: Path, out: Path, scheduler: str) -> dict[str, Any]:
    args = [sys.executable, __file__, "--child", product, str(sample), str(out), scheduler]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _ensure_sample(sample: Path) -> None:
    if (sample / "catalog.json").is_file():
        return
    from yamasat.catalogs.sample import build_sample

    print(f"building the sample archive in {sample} ...", flush=True)
    build_sample(sample)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sample", type=Path, default=Path("/tmp/yamasat-bench/sample"))
    ap.add_argument("--work", type=Path, default=None, help="products go here (default: temp)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--products", nargs="+", choices=PRODUCTS, default=list(PRODUCTS))
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.child:
        product, sample, out, scheduler = ns.child
        print(json.dumps(_analyse(product, Path(sample), Path(out), scheduler)))
        return
    _ensure_sample(ns.sample)
    work = ns.work or Path(tempfile.mkdtemp(prefix="bench-scheduler-"))
    print(f"{os.cpu_count()} logical CPUs; {ns.reps} repetitions each, alternating schedulers")
    for product in ns.products:
        runs: dict[str, list[dict[str, Any]]] = {s: [] for s in SCHEDULERS}
        for _ in range(ns.reps):  # alternate, so that load from other work hits both alike
            for s in SCHEDULERS:
                runs[s].append(_run_child(product, ns.sample, work / product / s, s))
        digests = {json.dumps(r["sha256"]) for rs in runs.values() for r in rs}
        same = "identical" if len(digests) == 1 else f"DIFFER ({len(digests)} variants)"
        print(f"{product}: products {same} across schedulers and repetitions")
        for s, rs in runs.items():
            secs = [r["seconds"] for r in rs]
            print(
                f"  {s:13s} wall median {statistics.median(secs):5.1f} s "
                f"(min {min(secs):.1f}, max {max(secs):.1f}); "
                f"peak memory median {statistics.median(r['peak_mb'] for r in rs):6.0f} MB",
                flush=True,
            )


if __name__ == "__main__":
    main()
