"""Accuracy on fixed evaluation worlds, with the issue's floors (issue 13, item 2).

Each world is a varied sample world (:class:`yamasat.catalogs.sample.WorldParams` drawn from
its documented ranges) built by ``benchmarks/accuracy.py``'s own ``run_world``, so the test
and the benchmark score the same way. Only the floors the methods reach today are asserted:
the S1 flood's minimum CSI, the S2 flood's precision and recall among the truth pixels it
observed, and the fused flood's minimum CSI. The change and landslide floors are not reached
yet (see the benchmark's table); they are added here when they are, never lowered to pass.
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
S2_FLOOD_MIN_PRECISION = S2_FLOOD_MIN_RECALL = 0.97
"""issue 13: flood S2, among the observed truth pixels, precision and recall ≥ 0.97 in every
world whose flood it observed"""
FUSED_FLOOD_MIN_CSI = 0.90
"""issue 13: fused flood, min CSI ≥ 0.90 where S1 covers the event (it does in every world)"""
FLOODS = {"flood (S1)", "flood (S2)", "flood (fused)"}
OBSERVED_TRUTH_MIN_PX = 50
"""the S2 flood is scored in a world where it observed at least this much of the flood"""


def _accuracy() -> ModuleType:
    spec = importlib.util.spec_from_file_location("yamasat_bench_accuracy", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flood_floors_on_fixed_evaluation_worlds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None
) -> None:
    acc = _accuracy()
    monkeypatch.setenv("YAMASAT_ANALYTICS__MIN_VALID_FRACTION", str(acc.MIN_VALID_FRACTION))
    settings = load_settings()
    seeds = acc.EVAL_SEEDS[:2]
    rows = [acc.run_world(s, tmp_path, settings, only=FLOODS) for s in seeds]
    scores = {name: {r["seed"]: r["products"][name] for r in rows} for name in FLOODS}
    assert all(s["outcome"] == "published" for p in scores.values() for s in p.values()), scores
    assert min(s["csi"] for s in scores["flood (S1)"].values()) >= S1_FLOOD_MIN_CSI, scores
    assert min(s["csi"] for s in scores["flood (fused)"].values()) >= FUSED_FLOOD_MIN_CSI, scores
    s2 = [
        s
        for s in scores["flood (S2)"].values()
        if s["observed_truth"] * s["truth_px"] >= OBSERVED_TRUTH_MIN_PX
    ]  # 7001's flood is under cloud in the S2 reference
    assert s2, scores
    assert min(s["precision"] for s in s2) >= S2_FLOOD_MIN_PRECISION, scores
    assert min(s["recall"] for s in s2) >= S2_FLOOD_MIN_RECALL, scores
