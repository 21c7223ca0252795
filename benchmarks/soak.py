"""Soak benchmark (issue 17, item 6): many runs through a faulty network, some stopped.

Not a test: it runs ``yamasat`` for real, N times, for minutes.

1. Builds the sample archive (once, under ``--work``) and serves it as a STAC API from a
   loopback server (tests/support/rangeserver.py) with byte ranges, so every search and every
   COG read crosses HTTP; starts one loopback Prefect server for all runs.
2. Runs each job once without faults (the clean reference): ``yamasat run change`` on N
   windows of the sample's extent, into ``clean/``.
3. Runs the same jobs again into ``soak/``, two at a time, with every request drawing from a
   fault mix (by default 5 % 503, 1 % dropped connections, 1 % truncated bodies, 1 % 429 with
   ``Retry-After: 1``), each attached to a solution as it publishes, while solutions are
   registered concurrently; every ``--every-term``-th run is sent SIGTERM after a few seconds
   and then continued with ``yamasat runs resume``; a run that fails is run again once.
4. Prints runs completed and failed with each reason, the faults served (each one a retry the
   client had to make or an error it had to report), products registered, duplicates, pixels
   differing from the clean run, what ``yamasat catalog validate`` finds (catalog, registry
   and run records disagreeing, folders not in the catalog, staging left behind) and the peak
   RSS of a run.

    python benchmarks/soak.py --work /tmp/yamasat-soak --runs 20
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support: the loopback servers the tests use

from tests.support.prefect_server import prefect_env, running_prefect_server  # noqa: E402
from tests.support.rangeserver import RangeServer  # noqa: E402

CLI = str(Path(sys.executable).with_name("yamasat"))
PERIODS = ("2025-08-01/2025-08-31", "2025-09-15/2025-09-30")  # the demo's change periods
SOLUTION = "soak-evidence"


@dataclass
class Job:
    index: int
    bbox: str
    term_after_s: float | None = None
    codes: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    peak_rss_mb: float = 0.0


def fault_mix(rng: random.Random, n: int, shares: dict[str, float]) -> list[tuple[Any, ...]]:
    """``n`` responses drawn from the mix: a fault or a normal answer (``delay`` 0)."""
    faults: dict[str, tuple[Any, ...]] = {
        "503": ("status", 503),
        "drop": ("close",),
        "truncate": ("drop_after", 2048),
        "429": ("status", 429, {"Retry-After": "1"}),
    }
    out: list[tuple[Any, ...]] = []
    for _ in range(n):
        x, picked = rng.random(), ("delay", 0)
        for name, share in shares.items():
            if x < share:
                picked = faults[name]
                break
            x -= share
        out.append(picked)
    return out


def windows(bbox: tuple[float, float, float, float], n: int) -> list[str]:
    """``n`` different windows of 90 % of the extent (the sample's clear views of both
    periods cover most of it, not every corner), on a grid of offsets."""
    w, s, e, north = bbox
    dx, dy = (e - w) * 0.1, (north - s) * 0.1
    side = max(2, int(n**0.5 + 0.999))
    out = []
    for i in range(n):
        fx, fy = (i % side) / (side - 1), (i // side % side) / (side - 1)
        x0, y0 = w + fx * dx, s + fy * dy
        out.append(f"{x0:.4f},{y0:.4f},{x0 + (e - w) * 0.9:.4f},{y0 + (north - s) * 0.9:.4f}")
    return out


def run_cli(
    args: list[str], env: dict[str, str], term_after_s: float | None = None
) -> tuple[int, str, float]:
    """Run the CLI; SIGTERM it after ``term_after_s``; (exit status, output, peak RSS MB)."""
    proc = subprocess.Popen([CLI, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    if term_after_s is not None:
        time.sleep(term_after_s)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
    output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, output, usage.ru_maxrss / 1024


def _reason(output: str, out: Path, bbox: str) -> str:
    """Why the job's last run did not publish: its record's outcome or reason, else the
    CLI's error line."""
    record = _newest_record(out, bbox)
    if record and (record.get("outcome") or record.get("reason")):
        return str(record.get("reason") or record.get("outcome"))
    lines = [ln for ln in output.splitlines() if ln.startswith("error:")]
    if lines:
        return lines[0][:160]
    log = out.parent / "failures.log"  # the whole output of a failure nothing explains
    with log.open("a") as f:
        f.write(f"==== {bbox}\n{output}\n")
    return f"no record, no error line (output in {log})"


def run_job(job: Job, source: str, out: Path, env: dict[str, str], solution: str | None) -> None:
    args = ["run", "change", "--aoi", job.bbox, "--before", PERIODS[0], "--after", PERIODS[1],
            "--source", source, "--out", str(out)]  # fmt: skip
    if solution:
        args += ["--solution", solution]
    code, output, rss = run_cli(args, env, job.term_after_s)
    job.codes.append(code)
    job.peak_rss_mb = max(job.peak_rss_mb, rss)
    if code in (130, 143):  # stopped: continue it as an operator would
        run_id = _last_run_id(out, job.bbox)
        again = ["runs", "resume", run_id, "--out", str(out)] if run_id else args
        code, output, rss = run_cli(again, env)  # (no record: stopped before it began)
        job.codes.append(code)
        job.peak_rss_mb = max(job.peak_rss_mb, rss)
    if code not in (0, 130, 143):
        job.reasons.append(_reason(output, out, job.bbox))
        code, output, rss = run_cli(args, env)  # once more, as a scheduler's retry would
        job.codes.append(code)
        job.peak_rss_mb = max(job.peak_rss_mb, rss)
    if code != 0:
        job.reasons.append(_reason(output, out, job.bbox))


def _records(out: Path, bbox: str) -> list[dict[str, Any]]:
    """The runs recorded in ``out``'s registry for the job on ``bbox``, newest first."""
    from yamasat.catalogs.registry import Registry
    from yamasat.catalogs.registry.run_records import run_records

    if not (out / "registry.sqlite").exists():
        return []
    with Registry.open(f"sqlite:///{out / 'registry.sqlite'}") as reg:
        return [r.as_dict() for r in run_records(reg, limit=200) if r.as_dict().get("aoi") == bbox]


def _newest_record(out: Path, bbox: str) -> dict[str, Any] | None:
    records = _records(out, bbox)
    return records[0] if records else None


def _last_run_id(out: Path, bbox: str) -> str | None:
    """The newest stopped run of the job on ``bbox``, if any."""
    stopped = [r for r in _records(out, bbox) if r.get("reason") == "interrupted"]
    return str(stopped[0]["id"]) if stopped else None


def products_by_aoi(out: Path) -> dict[str, list[Path]]:
    """Published change items under ``out``, by their AOI."""
    found: dict[str, list[Path]] = collections.defaultdict(list)
    for item in (out / "change").glob("*/*.json"):
        doc = json.loads(item.read_text())
        found[str(doc["properties"].get("yamasat:aoi"))].append(item)
    return found


def differing_pixels(clean: Path, soak: Path) -> int:
    """Pixels that differ between the COGs of two items of the same job."""
    import numpy as np
    import rasterio

    total = 0
    for tif in sorted(clean.parent.glob("*.tif")):
        other = soak.parent / tif.name
        if not other.exists():
            with rasterio.open(tif) as a:
                total += a.width * a.height
            continue
        with rasterio.open(tif) as a, rasterio.open(other) as b:
            x, y = a.read(), b.read()
            total += (
                int(np.sum(~((x == y) | (np.isnan(x) & np.isnan(y)))))
                if x.dtype.kind == "f"
                else int(np.sum(x != y))
            )
    return total


def registered(out: Path) -> int:
    from yamasat.catalogs.registry import Registry

    with Registry.open(f"sqlite:///{out / 'registry.sqlite'}") as reg:
        return len(reg.products())


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/yamasat-soak"))
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--every-term", type=int, default=5, help="SIGTERM every Nth run (0: none)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mix", default="503=0.05,drop=0.01,truncate=0.01,429=0.01")
    ns = ap.parse_args()
    rng = random.Random(ns.seed)
    shares = {k: float(v) for k, v in (p.split("=") for p in ns.mix.split(","))}
    work = ns.work.resolve()
    sample = work / "sample"
    if not (sample / "catalog.json").is_file():
        subprocess.run([CLI, "sample", "build", "--out", str(sample)], check=True)
    from yamasat.catalogs.sample import SampleManifest

    jobs = [Job(i, b) for i, b in enumerate(windows(SampleManifest.read(sample).bbox, ns.runs))]
    for job in jobs:
        if ns.every_term and job.index % ns.every_term == ns.every_term - 1:
            job.term_after_s = rng.uniform(4.0, 12.0)
    for folder in ("clean", "soak"):
        subprocess.run(["rm", "-rf", str(work / folder)], check=True)
    t0 = time.monotonic()
    with running_prefect_server(work / "prefect-server") as api, RangeServer(sample) as server:
        env = prefect_env(work / "prefect-home", api) | {
            "YAMASAT_NETWORK__ALLOWED_HTTP_HOSTS": '["127.0.0.1"]',
            "YAMASAT_NETWORK__BACKOFF_S": "0.2",
        }
        source = server.stac_api_url
        print(f"{len(jobs)} jobs; clean reference first ({source})", flush=True)
        clean_jobs = [Job(j.index, j.bbox) for j in jobs]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda j: run_job(j, source, work / "clean", env, None), clean_jobs))
        served_clean = len(server.requests)
        server.clear_requests()
        # solution commands read the registry of storage.output_root
        soak_env = env | {"YAMASAT_STORAGE__OUTPUT_ROOT": str(work / "soak")}
        add = [CLI, "solutions", "add", SOLUTION, "--org", "soak", "--name-en", "Soak evidence"]
        subprocess.run(add, env=soak_env, check=True, capture_output=True)
        server.script(r".", fault_mix(rng, 20000, shares), cycle=True)
        print(f"soak: {len(jobs)} runs with faults {shares}", flush=True)

        def register_more(i: int) -> int:
            add = [
                "solutions",
                "add",
                f"soak-extra-{i}",
                "--org",
                "soak",
                "--name-en",
                f"Extra {i}",
            ]
            return run_cli(add, soak_env)[0]

        with ThreadPoolExecutor(3) as pool:
            extra = pool.map(register_more, range(len(jobs)))
            list(pool.map(lambda j: run_job(j, source, work / "soak", env, SOLUTION), jobs))
            extra_codes = list(extra)
        requests = server.requests
    report(work, jobs, requests, served_clean, extra_codes, time.monotonic() - t0, env)


def report(work: Path, jobs: list[Job], requests: list[Any], served_clean: int,
           extra_codes: list[int], seconds: float, env: dict[str, str]) -> None:  # fmt: skip
    faults = collections.Counter(r.action or "ok" for r in requests)
    faults.pop("delay", None)
    newest = [_newest_record(work / "soak", j.bbox) or {} for j in jobs]
    final = collections.Counter(
        f"exit {j.codes[-1]} ({r.get('state')}, {r.get('outcome') or r.get('reason')})"
        for j, r in zip(jobs, newest, strict=True)
    )
    reasons = collections.Counter(r for j in jobs for r in j.reasons)
    print(
        f"soak took {seconds:.0f} s; requests served {len(requests)} "
        f"(clean reference: {served_clean})"
    )
    print(f"runs: {len(jobs)}; final states {dict(final)}; first attempts that failed: "
          f"{sum(1 for j in jobs if j.codes[0] != 0)}; stopped by SIGTERM and resumed: "
          f"{sum(1 for j in jobs if j.codes[0] == 143)}")  # fmt: skip
    print(
        "exit statuses per job, in order: " + "; ".join(",".join(map(str, j.codes)) for j in jobs)
    )
    for reason, n in reasons.most_common():
        print(f"  {n} x {reason}")
    print(f"faults served (each a retry or a reported error): {dict(faults)}")
    soak, clean = products_by_aoi(work / "soak"), products_by_aoi(work / "clean")
    duplicates = sum(len(v) - 1 for v in soak.values() if len(v) > 1)
    differing = sum(differing_pixels(clean[a][0], soak[a][0]) for a in soak if a in clean)
    print(f"products published {len(soak)} of {len(jobs)}; registered {registered(work / 'soak')}; "
          f"duplicates {duplicates}; pixels differing from the clean run {differing}")  # fmt: skip
    print(f"concurrent solution registrations: {extra_codes.count(0)} of {len(extra_codes)} ok")
    check = subprocess.run([CLI, "catalog", "validate", "--out", str(work / "soak")], env=env,
                           capture_output=True, text=True, check=False)  # fmt: skip
    lines = [ln for ln in check.stdout.splitlines() if ln.strip()]
    print(f"catalog validate: exit {check.returncode}; {len(lines)} lines")
    for ln in lines[-8:]:
        print(f"  {ln}")
    print(f"peak RSS of a run: {max(j.peak_rss_mb for j in jobs) / 1024:.2f} GB")


if __name__ == "__main__":
    main()
