"""How long a refused run takes: `yamasat run change` with a reversed period, from process
start to exit status 2 (issue 17, item 3: pre-flight before Prefect; aim under 2 s here),
and how long `yamasat --help` takes (issue 16, item 2: aim under 1.5 s here).

    .venv/bin/python benchmarks/bench_preflight.py [--runs 5]

Prints each wall time and the median; a peer line times `python -c pass` (the interpreter's
own start) in the same run, since these machines' timings drift.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

CLI = Path(sys.executable).with_name("yamasat")
REFUSED = [
    str(CLI), "run", "change", "--aoi", "131.95,33.9,132.05,33.95",
    "--before", "2025-04-30/2025-04-01", "--after", "2025-05-01/2025-05-31",
]  # fmt: skip


def _time(cmd: list[str], expect: int) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != expect:
        raise SystemExit(f"{cmd[0]} exited {done.returncode}, not {expect}: {done.stderr}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    refused = [_time(REFUSED, 2) for _ in range(runs)]
    helped = [_time([str(CLI), "--help"], 0) for _ in range(runs)]
    bare = [_time([sys.executable, "-c", "pass"], 0) for _ in range(runs)]
    print(f"refused run (reversed period), {runs} runs: "
          + ", ".join(f"{t:.2f}" for t in refused) + " s")  # fmt: skip
    print(f"  median {statistics.median(refused):.2f} s (target < 2 s)")
    print(f"yamasat --help median {statistics.median(helped):.2f} s (target < 1.5 s); "
          f"python -c pass median {statistics.median(bare):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
