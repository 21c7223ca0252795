"""Benchmark: the accuracy of every product over many sample worlds, not the demo's one.

For each evaluation seed it builds a *varied* sample world (``build_sample(..., vary=True)``:
clouds, shadows, haze, speckle, relief, illumination, phenology, irrigation timing, flood
and landslide sizes drawn from the documented ranges of
``yamasat.catalogs.sample.RANGES``) over a small AOI, runs the demo's product runs on it
(``flows/demo.py`` ``DEMO_RUNS``: change, flood S1, flood S2, landslide, burn; and the fused
flood, :data:`FUSED_FLOOD_RUN`) and scores each product against the planted truth with the
demo's own truth and scores. It prints:

- per product: min / median / max of CSI, precision and recall over the worlds;
- landslide object recall for scars ≥ 0.5 ha, among all scars and among observed ones;
- false positives and (observed) misses by cause (``World.causes``: planted events, clouds,
  shadows, cirrus, haze, steep slopes, land cover, and the confounders wet soil, thinning,
  wind-roughened water, radar layover and shadow), summed over the worlds;
- the parameter ranges the worlds were drawn from, with their sources, and the values drawn;
- the time per world.

    python benchmarks/accuracy.py                       # the 20 evaluation worlds
    python benchmarks/accuracy.py --worlds 3            # the first 3 of them
    python benchmarks/accuracy.py --seeds 101,202 --json out.json

EVAL_SEEDS are fixed here, before any method is tuned on them: never tune a method on these
worlds (use other seeds for development). None is the demo's seed. Not a test: a world takes
tens of seconds, the full sweep tens of minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy import ndimage

HERE = Path(__file__).resolve().parent
EVAL_SEEDS: tuple[int, ...] = (
    7001, 7013, 7027, 7039, 7043, 7057, 7069, 7079, 7103, 7109,
    7121, 7127, 7129, 7151, 7159, 7177, 7187, 7193, 7207, 7211,
)  # fmt: skip
"""The evaluation worlds, fixed before tuning (2026-12-07). Never tune on them."""
AOI: tuple[float, float, float, float] = (131.98, 33.93, 132.04, 33.97)
"""The small AOI of every world (about 5.5 x 4.4 km, across 132°E, on the Suō-nada coast)."""
MIN_VALID_FRACTION = 0.05
"""Products are made down to this valid fraction of the AOI (the configured 0.5 would leave
most products of a cloudy world unmade: the sample has one Sentinel-2 date per period)."""
OBJECT_MIN_PIXELS = 50
"""Scars of at least 0.5 ha (50 pixels of 10 m) count for object recall."""
MIN_OBSERVED_TRUTH_PX = 50
"""A product is scored (enters the CSI ranges) when at least this much of its truth was
observed (0.5 ha): a CSI of a few pixels of truth seen between clouds measures cloud edges,
not the method. The worlds left out are printed with their observed share."""
FUSED_FLOOD_RUN = (
    "flood (fused)",
    "flood_mapping",
    {"before": "2025-06-20/2025-06-30", "after": "2025-07-01/2025-07-10", "sensor": "fused"},
    "",
)
"""The fused flood over the S1 flood's periods (S1 06-24 → 07-06, S2 06-29 → 07-09), scored
against the flood's peak extent (the union over the after period holds the peak)."""


def _runs() -> tuple[tuple[str, str, dict[str, str], str], ...]:
    from yamasat.flows.demo import DEMO_RUNS

    return (*DEMO_RUNS, FUSED_FLOOD_RUN)


def _product_array(result: dict[str, Any]) -> np.ndarray:
    from yamasat.processing.accuracy import read_product

    return read_product(result["files"][result["kind"]]["path"])


def _object_recall(product: np.ndarray, truth: np.ndarray) -> dict[str, int]:
    """Scars ≥ 0.5 ha: found / all, and found / observed (≥ half their pixels seen)."""
    labels, n = ndimage.label(truth.astype(bool), structure=np.ones((3, 3)))
    seen = product != 255
    detected = product == 1
    out = {"found": 0, "all": 0, "observed": 0, "found_observed": 0}
    for idx in range(1, n + 1):
        obj = labels == idx
        if obj.sum() < OBJECT_MIN_PIXELS:
            continue
        found = detected[obj].mean() >= 0.25
        out["all"] += 1
        out["found"] += int(found)
        if seen[obj].mean() >= 0.5:
            out["observed"] += 1
            out["found_observed"] += int(found)
    return out


def _demo_truth(
    world: Any, geobox: Any, name: str, before: Any, after: Any, result: Any, manifest: Any
) -> np.ndarray:
    from yamasat.flows.demo import demo_truth

    return np.asarray(
        demo_truth(
            world,
            geobox,
            "flood (S1)" if name == FUSED_FLOOD_RUN[0] else name,  # the peak extent
            before,
            after,
            result["kind"],
            manifest.s2_dates,
        )
    ).astype(bool)


def _score_run(
    world: Any,
    geobox: Any,
    name: str,
    params: dict[str, str],
    result: dict[str, Any],
    manifest: Any,
    sample_root: Path | None = None,
) -> dict[str, Any]:
    """Scores of one product in one world, with its errors by cause (and, for a flood with
    ``sample_root``, the grid's ceiling: :mod:`accuracy_ceiling`)."""
    from yamasat.catalogs.extent.periods import parse_period
    from yamasat.catalogs.sample import CAUSE_NAMES
    from yamasat.processing.accuracy import confusion

    before, after = parse_period(params["before"]), parse_period(params["after"])
    product = _product_array(result)
    if name == "change":  # land-cover change: the solar farm, and clear-cuts, harvest, ...
        truth = world.change_truth(geobox, before.end, after.start).astype(bool)
    else:
        truth = _demo_truth(world, geobox, name, before, after, result, manifest)
    c = confusion(product, truth)
    seen = product != 255
    pred = (product == 1) & seen
    optical = params.get("sensor") != "s1"
    dates = tuple(
        d for d in manifest.s2_dates if optical and (before.contains(d) or after.contains(d))
    )
    causes = world.causes(geobox, dates, radar=params.get("sensor") in ("s1", "fused"))
    fp = Counter(CAUSE_NAMES[int(k)] for k in causes[pred & ~truth])
    fn = Counter(CAUSE_NAMES[int(k)] for k in causes[~pred & truth & seen])
    row: dict[str, Any] = {
        "csi": c.csi,
        "precision": c.precision,
        "recall": c.recall,
        "observed_truth": float(seen[truth].mean()) if truth.any() else float("nan"),
        "truth_px": int(truth.sum()),
        "scored": int((seen & truth).sum()) >= MIN_OBSERVED_TRUTH_PX,
        "detected_px": int(pred.sum()),
        "fp_by_cause": dict(fp),
        "fn_by_cause": dict(fn),
    }
    if name == "landslide":
        row["objects"] = _object_recall(product, truth)
    if name == "change" and sample_root is not None:
        row["ceiling"] = _change_ceiling(
            world, geobox, before, after, manifest, sample_root, product, truth
        )
    if name.startswith("flood") and sample_root is not None:
        row["ceiling"] = _flood_ceiling(
            world, geobox, params, manifest, sample_root, product, truth
        )
    return row


def _ceiling_module() -> Any:
    """``accuracy_ceiling`` beside this file, which is loaded from its path by the tests as
    well as run as a script."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import accuracy_ceiling

    return accuracy_ceiling


def _change_ceiling(
    world: Any,
    geobox: Any,
    before: Any,
    after: Any,
    manifest: Any,
    sample_root: Path,
    product: Any,
    truth: Any,
) -> dict[str, float]:
    """The grid oracle's scores for the change map (``accuracy_ceiling``), on its after date."""
    change_ceiling = _ceiling_module().change_ceiling

    day = next((d for d in manifest.s2_dates if after.contains(d)), None)
    if day is None:
        return {}
    return change_ceiling(world, geobox, sample_root, before.end, after.start, day, product, truth)


def _flood_ceiling(
    world: Any,
    geobox: Any,
    params: dict[str, str],
    manifest: Any,
    sample_root: Path,
    product: Any,
    truth: Any,
) -> dict[str, float]:
    """The grid oracle's scores for a flood product (``accuracy_ceiling``): the S2 flood's on
    its after date's tiles, the S1 and fused floods' (scored on the peak) on the S1 pass."""
    flood_ceiling = _ceiling_module().flood_ceiling

    from yamasat.catalogs.extent.periods import parse_period

    after = parse_period(params["after"])
    s2 = params.get("sensor") == "s2"
    dates = manifest.s2_dates if s2 else manifest.s1_dates
    day = next((d for d in dates if after.contains(d)), None)
    if day is None:
        return {}
    return flood_ceiling(world, geobox, sample_root, "s2" if s2 else "s1", day, product, truth)


def _generator_fingerprint() -> str:
    """A hash of the sample generator's source: a world built by other code is not reused
    even where its drawn parameters are the same (a rendering may have changed)."""
    import hashlib

    from yamasat.catalogs import sample

    h = hashlib.sha256()
    for f in sorted(Path(sample.__file__).parent.glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


GENERATOR_MARK = "generator.sha"
"""Beside a benchmark world's ``sample`` folder: the fingerprint of the code that built it."""


def _built(root: Path, seed: int) -> bool:
    """True when ``root`` holds world ``seed`` as this generator draws and renders it."""
    from yamasat.catalogs.sample import SampleManifest, WorldParams
    from yamasat.errors import YamasatError

    try:
        m = SampleManifest.read(root)
        mark = (root.parent / GENERATOR_MARK).read_text(encoding="utf-8").strip()
    except (OSError, ValueError, YamasatError):
        return False
    return (
        m.seed == seed
        and m.world_params == WorldParams.draw(seed)
        and mark == _generator_fingerprint()
    )


def run_world(
    seed: int,
    work: Path,
    settings: Any,
    only: set[str] | None = None,
    *,
    reuse: bool = False,
) -> dict[str, Any]:
    """Build world ``seed`` under ``work`` (or, with ``reuse``, keep the one built there
    before), run every demo product (or those named in ``only``) on it and score them."""
    from yamasat.catalogs.sample import SampleManifest, World, build_sample
    from yamasat.flows.deployments import load_flow
    from yamasat.processing.grid import project_geobox

    started = time.perf_counter()
    root = work / f"world-{seed}"
    if not (reuse and _built(root / "sample", seed)):
        build_sample(root / "sample", bbox=AOI, seed=seed, vary=True, overwrite=True)
        (root / GENERATOR_MARK).write_text(_generator_fingerprint() + "\n", encoding="utf-8")
    built = time.perf_counter() - started
    manifest = SampleManifest.read(root / "sample")
    world = World(manifest.seed, manifest.bbox, manifest.world_params)
    geobox = project_geobox(
        shapely.box(*manifest.bbox), crs=settings.grid.crs, resolution=settings.grid.resolution
    )
    bbox_text = ",".join(f"{v:g}" for v in manifest.bbox)
    products: dict[str, Any] = {}
    for name, flow_name, params, _floor in _runs():
        if only is not None and name not in only:
            continue
        try:
            result = load_flow(flow_name)(
                aoi=bbox_text,
                source=str(root / "sample" / "catalog.json"),
                out=str(root / "products"),
                force=True,
                **params,
            )
        except Exception as e:  # a failed run is a result of the benchmark, not its end
            products[name] = {"outcome": f"error: {type(e).__name__}: {e}"}
            continue
        row: dict[str, Any] = {
            "outcome": result["outcome"],
            "valid_fraction": result.get("valid_fraction"),
            "parameters_key": result.get("qa", {})
            .get("expected_accuracy", {})
            .get("parameters_key"),  # what --write-table checks its row against
        }
        if result["outcome"] == "published":
            row |= _score_run(world, geobox, name, params, result, manifest, root / "sample")
        products[name] = row
    return {
        "seed": seed,
        "events": {e.name: round(e.area_m2 / 1e4, 2) for e in manifest.events},
        "params": manifest.world_params.to_dict(),
        "build_s": round(built, 1),
        "total_s": round(time.perf_counter() - started, 1),
        "products": products,
    }


def _stats(values: list[float]) -> str:
    v = [x for x in values if not np.isnan(x)]
    if not v:
        return "     -      -      -"
    return f"{min(v):6.3f} {statistics.median(v):6.3f} {max(v):6.3f}"


def _median(rows: list[dict[str, float]], key: str) -> str:
    v = [r[key] for r in rows if key in r and not np.isnan(r[key])]
    return f"{statistics.median(v):.0%} (median)" if v else "-"


def _summary_lines(worlds: list[dict[str, Any]]) -> list[str]:
    seeds = ", ".join(str(w["seed"]) for w in worlds)
    lines = [
        f"accuracy over {len(worlds)} varied worlds (seeds {seeds}), scored on observed pixels;",
        f"products made down to a valid fraction of {MIN_VALID_FRACTION} (cov: median coverage)",
        "",
        f"{'product':<11} {'ok':>5} {'cov':>5}  {'CSI min   med    max':<21}  "
        f"{'precision min med max':<21}  {'recall min  med    max':<21}  truth observed",
    ]
    for name, *_ in _runs():
        rows = [w["products"][name] for w in worlds if name in w["products"]]
        if not rows:
            continue
        made = [r for r in rows if r.get("outcome") == "published"]
        ok = [r for r in made if r.get("scored", True)]
        cov = statistics.median([r["valid_fraction"] for r in made]) if made else float("nan")
        lines.append(
            f"{name:<11} {len(ok):>2}/{len(rows):<2} {cov:5.2f}  {_stats([r['csi'] for r in ok])}  "
            f"{_stats([r['precision'] for r in ok])}  {_stats([r['recall'] for r in ok])}  "
            f"{_stats([r['observed_truth'] for r in ok])}"
        )
        ceil = [r["ceiling"] for r in ok if r.get("ceiling")]
        if ceil:  # what the grids allow (accuracy_ceiling): the floors read against it
            lines.append(
                f"{'  ceiling':<11} {len(ceil):>2}/{len(ok):<2} {'':5}  "
                f"{_stats([c['oracle_csi'] for c in ceil])}  "
                f"{_stats([c['oracle_precision'] for c in ceil])}  "
                f"{_stats([c['oracle_recall'] for c in ceil])}  "
                f"(grid oracle; the product's errors on the truth's edge: "
                f"FP {_median(ceil, 'fp_on_edge')}, FN {_median(ceil, 'fn_on_edge')})"
            )
        # a world whose truth was (almost) never observed has no CSI of it: said, not hidden
        blind = [
            f"{w['seed']} ({r['observed_truth']:.1%} of {r['truth_px']} px seen, "
            f"CSI {r['csi']:.3f})"
            for w in worlds
            if (r := w["products"].get(name, {})).get("scored") is False
        ]
        if blind:
            lines.append(
                f"{'':<11} {len(made)} made, {len(ok)} scored; under {MIN_OBSERVED_TRUTH_PX} px "
                f"of truth observed, not scored: {'; '.join(blind)}"
            )
    return lines


def _object_lines(worlds: list[dict[str, Any]]) -> list[str]:
    objs = [
        w["products"]["landslide"]["objects"]
        for w in worlds
        if "objects" in w["products"].get("landslide", {})
    ]
    if not objs:
        return []
    tot = {k: sum(o[k] for o in objs) for k in objs[0]}
    worst = min(
        (o["found_observed"] / o["observed"] for o in objs if o["observed"]), default=float("nan")
    )
    return [
        "",
        f"landslide scars ≥ 0.5 ha: found {tot['found']}/{tot['all']} of all, "
        f"{tot['found_observed']}/{tot['observed']} of the observed "
        f"(worst world, observed: {worst:.2f})",
    ]


def _cause_lines(worlds: list[dict[str, Any]]) -> list[str]:
    lines = ["", "errors by cause, pixels summed over the worlds (share of the product's FP / FN)"]
    for name, *_ in _runs():
        if not any(name in w["products"] for w in worlds):
            continue
        fp: Counter[str] = Counter()
        fn: Counter[str] = Counter()
        for w in worlds:
            row = w["products"].get(name, {})
            fp.update(row.get("fp_by_cause", {}))
            fn.update(row.get("fn_by_cause", {}))
        for label, counts in (("FP", fp), ("FN", fn)):
            total = sum(counts.values())
            parts = ", ".join(f"{k} {v} ({v / total:.0%})" for k, v in counts.most_common(5))
            lines.append(f"  {name:<11} {label} {total:>6}: {parts or '-'}")
    return lines


def _range_lines(worlds: list[dict[str, Any]]) -> list[str]:
    from yamasat.catalogs.sample import RANGES

    lines = ["", "world parameter ranges (drawn per seed; demo world: WorldParams())"]
    key_of = {"cloud_fraction": "cloud_fractions"}
    for name, r in RANGES.items():
        key = key_of.get(name, name)
        drawn: list[float] = []
        for w in worlds:
            v = w["params"].get(key)
            if isinstance(v, list) and name in ("cloud_fraction",):
                drawn.extend(v)
            elif isinstance(v, int | float):
                drawn.append(float(v))
        seen = f"drawn {min(drawn):.3g}-{max(drawn):.3g}" if drawn else "per scar"
        lines.append(f"  {name:<21} {r.lo:g}-{r.hi:g} {r.unit}; {seen}")
        lines.append(f"  {'':<21} source: {r.source}")
    return lines


def _per_world_lines(worlds: list[dict[str, Any]]) -> list[str]:
    lines = ["", "per world: CSI by product (outcome if not published), events (ha), time"]
    for w in worlds:
        cells = []
        for name, row in w["products"].items():
            cell = f"{row['csi']:.3f}" if "csi" in row else str(row.get("outcome"))[:30]
            cells.append(f"{name} {cell}")
        lines.append(
            f"  {w['seed']}: {'; '.join(cells)} | {w['events']} | build {w['build_s']} s, "
            f"total {w['total_s']} s"
        )
    times = [w["total_s"] for w in worlds]
    lines.append(f"time per world: median {statistics.median(times):.0f} s, max {max(times):.0f} s")
    return lines


def report(worlds: list[dict[str, Any]]) -> str:
    """The printed report of a sweep."""
    return "\n".join(
        _summary_lines(worlds)
        + _object_lines(worlds)
        + _cause_lines(worlds)
        + _per_world_lines(worlds)
        + _range_lines(worlds)
    )


def _seeds(args: argparse.Namespace) -> tuple[int, ...]:
    from yamasat.catalogs.sample import DEFAULT_SEED

    seeds = (
        tuple(int(s) for s in args.seeds.split(",") if s.strip())
        if args.seeds
        else EVAL_SEEDS[: args.worlds]
    )
    if DEFAULT_SEED in seeds:
        sys.exit(f"seed {DEFAULT_SEED} is the demo's world; the benchmark measures other worlds")
    return seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=len(EVAL_SEEDS), help="first N seeds")
    parser.add_argument("--seeds", help="comma-separated seeds instead of the evaluation set")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the per-world results here")
    parser.add_argument(
        "--products", help="comma-separated product names to run (default: all the demo's)"
    )
    parser.add_argument(
        "--reuse-worlds",
        action="store_true",
        help="keep worlds already built in --work (same seed, parameters and generator "
        "code) instead of building them again",
    )
    parser.add_argument(
        "--write-table",
        nargs="?",
        const="package",
        metavar="PATH",
        help="write each product's figures into the expected-accuracy table (default: the "
        "package's, yamasat/processing/expected_accuracy.json), which products' QA quote",
    )
    args = parser.parse_args(argv)
    seeds = _seeds(args)

    from yamasat.flows.prefect_env import prefect_defaults, prefect_run_settings
    from yamasat.settings import load_settings

    only = {p.strip() for p in args.products.split(",")} if args.products else None
    work = args.work or Path(tempfile.mkdtemp(prefix="yamasat-accuracy-"))
    work.mkdir(parents=True, exist_ok=True)
    # the runs are recorded in the work folder, whatever storage.output_root says
    os.environ["YAMASAT_STORAGE__OUTPUT_ROOT"] = str(work / "runs")
    os.environ["YAMASAT_ANALYTICS__MIN_VALID_FRACTION"] = str(MIN_VALID_FRACTION)
    prefect_defaults(work / "prefect")
    settings = load_settings(None)
    worlds = []
    with prefect_run_settings(settings):
        for k, seed in enumerate(seeds):
            print(f"[{k + 1}/{len(seeds)}] world {seed} …", file=sys.stderr, flush=True)
            worlds.append(run_world(seed, work, settings, only=only, reuse=args.reuse_worlds))
            print(f"  done in {worlds[-1]['total_s']} s", file=sys.stderr, flush=True)
    print(report(worlds))
    if args.write_table:
        from accuracy_table import write_from_sweep

        target = None if args.write_table == "package" else Path(args.write_table)
        command = " ".join(argv if argv is not None else sys.argv[1:])
        written = write_from_sweep(worlds, settings, target, command=command)
        print(f"expected-accuracy table: {written}")
    if args.json:
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        args.json.write_text(json.dumps({"when": stamp, "worlds": worlds}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
