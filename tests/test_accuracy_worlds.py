"""Accuracy on fixed evaluation worlds, with the issue's floors (issue 13, item 2).

Each world is a varied sample world (:class:`yamasat.catalogs.sample.WorldParams` drawn from
its documented ranges) built by ``benchmarks/accuracy.py``'s own ``run_world``, so the test
and the benchmark score the same way. Only the floors the methods reach today are asserted:
the S1 flood's minimum CSI. The change, landslide and S2 flood floors are not reached yet
(see the benchmark's table); they are added here when they are, never lowered to pass.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from yamasat.settings import load_settings

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy.py"
S1_FLOOD_MIN_CSI = 0.88
"""issue 13: flood S1, min CSI over the worlds ≥ 0.88"""


def _accuracy() -> ModuleType:
    spec = importlib.util.spec_from_file_location("yamasat_bench_accuracy", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_s1_flood_reaches_its_floor_on_fixed_evaluation_worlds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None
) -> None:
    acc = _accuracy()
    monkeypatch.setenv("YAMASAT_ANALYTICS__MIN_VALID_FRACTION", str(acc.MIN_VALID_FRACTION))
    settings = load_settings()
    seeds = acc.EVAL_SEEDS[:2]
    rows = [acc.run_world(s, tmp_path, settings, only={"flood (S1)"}) for s in seeds]
    scores = {r["seed"]: r["products"]["flood (S1)"] for r in rows}
    assert all(s["outcome"] == "published" for s in scores.values()), scores
    csi = [s["csi"] for s in scores.values()]
    assert min(csi) >= S1_FLOOD_MIN_CSI, scores
