"""A product flow given ``--solution`` registers its product as that solution's evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from yamasat.catalogs.sample import SampleManifest
from yamasat.errors import UnknownSolutionError
from yamasat.flows.cli import run
from yamasat.flows.demo import DEMO_RUNS

pytestmark = pytest.mark.slow

BURN = next(p for name, _f, p, _fl in DEMO_RUNS if name == "burn")


def test_flow_registers_and_rerun_does_not_duplicate(
    prefect_harness: None, sample_root: Path, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from yamasat.flows.disaster import burn_mapping

    assert (
        run(
            [
                "solutions",
                "add",
                "hikari-burn",
                "--org",
                "光防災株式会社",
                "--name-ja",
                "林野火災把握",
                "--name-en",
                "Forest fire mapping",
                "--status",
                "developed",
                "--developed-on",
                "2025-06-01",
            ]
        )
        == 0
    )
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    kwargs = {
        "aoi": bbox,
        "source": str(sample_root / "catalog.json"),
        "profile": "sample",
        "solution": "hikari-burn",
        **BURN,
    }
    first = burn_mapping(**kwargs)
    assert first["outcome"] == "published"
    assert first["registration"]["created"] is True and first["registration"]["attached"] is True
    again = burn_mapping(**kwargs, force=True)
    assert again["item_id"] == first["item_id"]
    assert again["registration"]["created"] is False
    capsys.readouterr()
    assert run(["solutions", "show", "hikari-burn"]) == 0
    assert first["item_id"] in capsys.readouterr().out
    assert run(["solutions", "tally", "--format", "json"]) == 0
    assert "hikari-burn" in capsys.readouterr().out


def test_unknown_solution_fails_before_analysis(
    prefect_harness: None, sample_root: Path, workspace: Path
) -> None:
    from yamasat.flows.disaster import burn_mapping

    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    with pytest.raises(UnknownSolutionError):
        burn_mapping(
            aoi=bbox,
            source=str(sample_root / "catalog.json"),
            solution="no-such-solution",
            **BURN,
        )
    assert not (workspace / "products" / "burn").exists()


def test_rerun_registers_a_product_left_unregistered(
    prefect_harness: None, sample_root: Path, workspace: Path
) -> None:
    """A product published without --solution is registered all the same; a re-run with
    --solution attaches it, doing no work (a crash between publishing and registering:
    tests/test_fault_points.py)."""
    from yamasat.flows.disaster import burn_mapping

    assert (
        run(
            [
                "solutions",
                "add",
                "hikari-burn2",
                "--org",
                "光防災株式会社",
                "--name-en",
                "Burn 2",
                "--status",
                "developed",
                "--developed-on",
                "2025-06-01",
            ]
        )
        == 0
    )
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    kwargs = {"aoi": bbox, "source": str(sample_root / "catalog.json"), "profile": "sample", **BURN}
    first = burn_mapping(**kwargs)  # published and registered, attached to nothing
    assert first["outcome"] == "published"
    assert first["registration"]["created"] is True and first["registration"]["attached"] is False
    again = burn_mapping(**kwargs, solution="hikari-burn2")
    assert again["outcome"] == "exists"  # no work done
    assert again["registration"]["created"] is False and again["registration"]["attached"] is True
