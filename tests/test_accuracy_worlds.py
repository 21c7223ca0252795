"""Accuracy on fixed evaluation worlds, with the issue's floors (issue 13, item 2).

Each world is a varied sample world (:class:`yamasat.catalogs.sample.WorldParams` drawn from
its documented ranges) built by ``benchmarks/accuracy.py``'s own ``run_world``, so the test
and the benchmark score the same way; the two worlds are built once for every product.
Only the floors the methods reach are asserted: the S1 flood's minimum CSI; the landslide's
minimum CSI, its observed scars of at least 0.5 ha and its false positives from forest
management; the change's minimum CSI, the issue's 0.93 since the worlds render mixed edges
(0.940 and 0.968 on these worlds; 0.938 the least of the 17 scored evaluation worlds); the
S2 flood's
precision and recall among the truth pixels it observed, and the fused flood's minimum CSI.
Floors are added here when they are reached, never lowered to pass.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from yamasat.settings import load_settings

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy.py"
S1_FLOOD_MIN_CSI = 0.88
"""issue 13: flood S1, min CSI over the worlds ≥ 0.88"""
LANDSLIDE_MIN_CSI = 0.70
"""issue 13: landslide, min CSI over the worlds ≥ 0.70"""
MANAGEMENT_FP_MAX = 0.10
"""issue 13: landslide false positives from clear-cuts and harvest ≤ 10 % of detected pixels"""
CHANGE_MIN_CSI = 0.93
"""issue 13: change, min CSI over the worlds ≥ 0.93"""
S2_FLOOD_MIN_PRECISION = S2_FLOOD_MIN_RECALL = 0.97
"""issue 13: flood S2, among the observed truth pixels, precision and recall ≥ 0.97 in every
world whose flood it observed"""
FUSED_FLOOD_MIN_CSI = 0.90
"""issue 13: fused flood, min CSI ≥ 0.90 where S1 covers the event (it does in every world)"""
PRODUCTS = {"flood (S1)", "flood (S2)", "flood (fused)", "change", "landslide"}


def _accuracy() -> ModuleType:
    spec = importlib.util.spec_from_file_location("yamasat_bench_accuracy", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def worlds(
    tmp_path_factory: pytest.TempPathFactory, prefect_harness: None
) -> dict[int, dict[str, Any]]:
    acc = _accuracy()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("YAMASAT_ANALYTICS__MIN_VALID_FRACTION", str(acc.MIN_VALID_FRACTION))
        settings = load_settings()
        work = tmp_path_factory.mktemp("worlds")
        rows = [acc.run_world(s, work, settings, only=PRODUCTS) for s in acc.EVAL_SEEDS[:2]]
    return {r["seed"]: r["products"] for r in rows}


def _scored(worlds: dict[int, dict[str, Any]], name: str) -> dict[int, dict[str, Any]]:
    rows = {seed: products[name] for seed, products in worlds.items()}
    assert all(r["outcome"] == "published" for r in rows.values()), rows
    return {seed: r for seed, r in rows.items() if r["scored"]}


def test_s1_flood_reaches_its_floor_on_fixed_evaluation_worlds(
    worlds: dict[int, dict[str, Any]],
) -> None:
    scores = _scored(worlds, "flood (S1)")
    assert len(scores) == 2 and min(s["csi"] for s in scores.values()) >= S1_FLOOD_MIN_CSI, scores


def test_landslide_reaches_its_floors_on_fixed_evaluation_worlds(
    worlds: dict[int, dict[str, Any]],
) -> None:
    scores = _scored(worlds, "landslide")
    assert len(scores) == 2, scores
    assert min(s["csi"] for s in scores.values()) >= LANDSLIDE_MIN_CSI, scores
    for s in scores.values():
        assert s["objects"]["found_observed"] == s["objects"]["observed"], s
        managed = sum(v for k, v in s["fp_by_cause"].items() if k in ("clearcut", "harvest"))
        assert managed <= MANAGEMENT_FP_MAX * s["detected_px"], s


def test_change_reaches_its_floor_on_fixed_evaluation_worlds(
    worlds: dict[int, dict[str, Any]],
) -> None:
    scores = _scored(worlds, "change")
    assert len(scores) == 2 and min(s["csi"] for s in scores.values()) >= CHANGE_MIN_CSI, scores


def test_s2_flood_reaches_its_floors_on_fixed_evaluation_worlds(
    worlds: dict[int, dict[str, Any]],
) -> None:
    scores = _scored(worlds, "flood (S2)")  # 7001's flood is under cloud in the reference
    assert scores, worlds
    assert min(s["precision"] for s in scores.values()) >= S2_FLOOD_MIN_PRECISION, scores
    assert min(s["recall"] for s in scores.values()) >= S2_FLOOD_MIN_RECALL, scores


def test_fused_flood_reaches_its_floor_on_fixed_evaluation_worlds(
    worlds: dict[int, dict[str, Any]],
) -> None:
    scores = _scored(worlds, "flood (fused)")
    assert len(scores) == 2, scores
    assert min(s["csi"] for s in scores.values()) >= FUSED_FLOOD_MIN_CSI, scores
