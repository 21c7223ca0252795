"""Runs as an operator sees them: every run recorded with outcome or one machine-readable
failure reason, a failed run resumed without repeating finished stages, runs of the same
product serialised by its lock, and the daily Sentinel-1 check mapping only new acquisitions.
All on the sample archive through real Prefect flows (temporary server)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from yamasat.catalogs.extent.aoi import resolve_aoi
from yamasat.catalogs.extent.periods import parse_period
from yamasat.catalogs.sample import SampleManifest
from yamasat.errors import LoadError, NoDataError, RunBusyError
from yamasat.flows.cli import run
from yamasat.flows.demo import DEMO_RUNS

pytestmark = pytest.mark.slow

BURN = next(p for name, _f, p, _fl in DEMO_RUNS if name == "burn")


def _burn_kwargs(sample_root: Path, **extra: Any) -> dict[str, Any]:
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    return {
        "aoi": bbox,
        "source": str(sample_root / "catalog.json"),
        "profile": "sample",
        **BURN,
        **extra,
    }


def _runs(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert run(["runs", "list", "--format", "json", *args]) == 0
    rows: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return rows


def test_a_failed_run_carries_one_machine_readable_reason(
    prefect_harness: None, sample_root: Path, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from yamasat.flows.disaster import burn_mapping

    # a relative period is recorded as the days it meant, so a resume names the same days
    kwargs = _burn_kwargs(sample_root, before="P10D/2024-01-10", after="2024-02-01/2024-02-10")
    state = burn_mapping(**kwargs, return_state=True)
    assert state.is_failed()
    assert state.message is not None and state.message.startswith("no_data: ")
    with pytest.raises(NoDataError):  # a direct caller gets the original error
        burn_mapping(**kwargs)
    failed = _runs(capsys, "--state", "failed")
    assert len(failed) == 2
    assert {r["reason"] for r in failed} == {"no_data"}
    assert all(r["flow"] == "burn_mapping" and r["duration_s"] is not None for r in failed)
    assert failed[0]["message"] in state.message
    assert failed[0]["parameters"]["before"] == "2024-01-01/2024-01-10"


def test_a_failed_run_resumes_without_repeating_its_searches(
    prefect_harness: None,
    sample_root: Path,
    workspace: Path,
    boundaries_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import yamasat.flows.product_run
    from yamasat.flows.disaster import burn_mapping

    monkeypatch.setenv("YAMASAT_BOUNDARIES__PATH", str(boundaries_path))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise LoadError("simulated: the asset server dropped the connection")

    with monkeypatch.context() as m:
        m.setattr(yamasat.flows.product_run, "analyse_product", broken)
        with pytest.raises(LoadError):
            burn_mapping(**_burn_kwargs(sample_root))
    (failed,) = _runs(capsys, "--state", "failed")
    assert failed["reason"] == "load_failed"
    checkpoints = workspace / "products" / ".yamasat" / "checkpoints" / failed["id"]
    assert sorted(p.name for p in checkpoints.iterdir()) == [
        "search-after-s2.json",
        "search-before-s2.json",
    ]

    def no_search(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a resumed run must not search again")

    monkeypatch.setattr(yamasat.flows.product_run, "search_family", no_search)
    capsys.readouterr()
    assert run(["runs", "resume", failed["id"][:8]]) == 0
    assert "published" in capsys.readouterr().out
    latest = _runs(capsys, "--limit", "1")[0]
    assert latest["state"] == "completed" and latest["outcome"] == "published"
    assert latest["resumed_from"] == failed["id"] and len(latest["products"]) == 1
    assert not checkpoints.exists()  # the lineage completed: its checkpoints are gone
    # the run's artifacts in Prefect: a progress bar that reached 100 % and the summary
    arts = _artifacts(latest["id"])
    assert arts.get("progress") == [100.0]
    assert "markdown" in arts and "table" in arts  # summary, and area per municipality
    # a completed run is not resumed again, nor a failed run that a resume completed
    assert run(["runs", "resume", latest["id"]]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert run(["runs", "resume", failed["id"]]) == 2
    assert f"already resumed by run {latest['id']}" in capsys.readouterr().err
    capsys.readouterr()
    from yamasat.flows.cli import console

    width = console.width
    console.width = 250  # one line per run
    try:
        assert run(["runs", "list"]) == 0
    finally:
        console.width = width
    assert f"resumed by {latest['id'][:8]} (completed)" in capsys.readouterr().out


def test_a_run_that_failed_after_writing_its_rasters_resumes_at_publishing(
    prefect_harness: None,
    sample_root: Path,
    workspace: Path,
    boundaries_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A failure after every raster was written (here the quicklook) keeps the verified
    rasters with the run's checkpoints; the resume publishes them without computing again."""
    import yamasat.flows.publish
    import yamasat.flows.recipes.burn_mapping
    from yamasat.flows.disaster import burn_mapping

    monkeypatch.setenv("YAMASAT_BOUNDARIES__PATH", str(boundaries_path))

    def no_disk(*args: Any, **kwargs: Any) -> Any:
        raise OSError("simulated: no space left on device")

    with monkeypatch.context() as m:
        m.setattr(yamasat.flows.publish, "quicklook", no_disk)
        with pytest.raises(OSError):
            burn_mapping(**_burn_kwargs(sample_root))
    (failed,) = _runs(capsys, "--state", "failed")
    kept = workspace / "products" / ".yamasat" / "checkpoints" / failed["id"] / "rasters"
    (product_dir,) = kept.iterdir()
    assert sorted(p.name for p in product_dir.iterdir()) == [
        "burn.tif", "dnbr.tif", "draft.json", "severity.tif",
    ]  # fmt: skip

    def no_compute(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a resumed run must not compute its rasters again")

    with monkeypatch.context() as m:
        m.setattr(yamasat.flows.recipes.burn_mapping, "write_cogs", no_compute)
        assert run(["runs", "resume", failed["id"]]) == 0
    latest = _runs(capsys, "--limit", "1")[0]
    assert latest["outcome"] == "published" and latest["resumed_from"] == failed["id"]
    (item_id,) = latest["products"]
    assert item_id == product_dir.name
    import pystac

    item = pystac.Item.from_file(workspace / "products" / "burn" / item_id / f"{item_id}.json")
    assert set(item.assets) >= {"burn", "dnbr", "quicklook", "polygons"}
    assert not kept.parent.exists()  # the lineage completed: its checkpoints are gone
    # a kept raster that no longer matches its checksum is computed again, not published
    with monkeypatch.context() as m:
        m.setattr(yamasat.flows.publish, "quicklook", no_disk)
        with pytest.raises(OSError):
            burn_mapping(**_burn_kwargs(sample_root), force=True)
    (failed2,) = [r for r in _runs(capsys, "--state", "failed") if r["id"] != failed["id"]]
    kept2 = workspace / "products" / ".yamasat" / "checkpoints" / failed2["id"] / "rasters"
    (product_dir2,) = kept2.iterdir()
    with open(product_dir2 / "dnbr.tif", "r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 0xFF]))
    with monkeypatch.context() as m, pytest.raises(AssertionError, match="must not compute"):
        m.setattr(yamasat.flows.recipes.burn_mapping, "write_cogs", no_compute)
        burn_mapping(**_burn_kwargs(sample_root), force=True, resume_of=failed2["id"])
    assert not product_dir2.exists()  # the tampered rasters were dropped


def test_a_lost_run_is_closed_when_it_is_resumed(
    prefect_harness: None,
    sample_root: Path,
    workspace: Path,
    boundaries_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A run whose process died without recording its end shows as lost; resuming it runs
    the flow again and records the lost run as failed (reason ``lost``)."""
    import subprocess
    import sys

    from yamasat.catalogs.registry import open_registry, run_records
    from yamasat.catalogs.registry.run_records import start_run_record
    from yamasat.settings import load_settings

    monkeypatch.setenv("YAMASAT_BOUNDARIES__PATH", str(boundaries_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          check=True, capture_output=True, text=True)  # fmt: skip
    params = _burn_kwargs(sample_root)
    with monkeypatch.context() as m, open_registry(load_settings()) as reg:
        m.setattr(run_records.os, "getpid", lambda: int(gone.stdout))
        start_run_record(reg, "lost-run-1", flow="burn_mapping", software_version="0.1.0",
                         parameters=params, aoi=params["aoi"])  # fmt: skip
    (listed,) = [r for r in _runs(capsys) if r["id"] == "lost-run-1"]
    assert listed["state"] == "running" and listed["lost"] is True
    assert run(["runs", "resume", "lost-run-1"]) == 0
    rows = _runs(capsys, "--limit", "5")
    (old,) = [r for r in rows if r["id"] == "lost-run-1"]
    assert old["state"] == "failed" and old["reason"] == "lost" and not old["lost"]
    assert "closed when it was resumed" in old["message"]
    latest = rows[0]
    assert latest["resumed_from"] == "lost-run-1" and latest["outcome"] == "published"


def _artifacts(run_id: str) -> dict[str, list[Any]]:
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(run_id)]))
        )
    out: dict[str, list[Any]] = {}
    for a in found:
        out.setdefault(str(a.type), []).append(a.data)
    return out


def _burn_lock_key(sample_root: Path) -> dict[str, str]:
    aoi = resolve_aoi(_burn_kwargs(sample_root)["aoi"])
    return {
        "flow": "burn_mapping",
        "variant": "s2",
        "aoi": aoi.key,
        "before": str(parse_period(BURN["before"])),
        "after": str(parse_period(BURN["after"])),
    }


def test_a_run_of_a_product_being_made_waits_then_finds_it_or_is_refused(
    prefect_harness: None,
    sample_root: Path,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from yamasat.flows.disaster import burn_mapping
    from yamasat.flows.tracking import product_lock
    from yamasat.settings import load_settings

    out = workspace / "products"
    key = _burn_lock_key(sample_root)
    held, release = threading.Event(), threading.Event()

    def other_run() -> None:
        with product_lock(load_settings(), out.resolve(), key):
            held.set()
            release.wait(30)

    # 1. the other run holds the product longer than the wait: refused, nothing made
    monkeypatch.setenv("YAMASAT_ORCHESTRATION__SAME_PRODUCT_WAIT_S", "0.5")
    holder = threading.Thread(target=other_run)
    holder.start()
    assert held.wait(10)
    try:
        state = burn_mapping(**_burn_kwargs(sample_root), return_state=True)
        assert state.is_failed() and state.message.startswith("busy: ")
        with pytest.raises(RunBusyError, match="same product"):
            burn_mapping(**_burn_kwargs(sample_root))
    finally:
        release.set()
        holder.join()
    assert not list(out.rglob("*.tif"))

    # 2. the other run finishes within the wait: this one goes on and makes the product
    monkeypatch.setenv("YAMASAT_ORCHESTRATION__SAME_PRODUCT_WAIT_S", "60")
    held.clear()
    release.clear()
    holder = threading.Thread(target=other_run)
    holder.start()
    assert held.wait(10)
    threading.Timer(1.5, release.set).start()
    started = time.monotonic()
    result = burn_mapping(**_burn_kwargs(sample_root))
    holder.join()
    assert result["outcome"] == "published"
    assert time.monotonic() - started >= 1.4


def test_daily_s1_check_maps_new_acquisitions_once(
    prefect_harness: None,
    sample_root: Path,
    workspace: Path,
    boundaries_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from yamasat.flows.s1_watch import s1_flood_check

    monkeypatch.setenv("YAMASAT_BOUNDARIES__PATH", str(boundaries_path))
    kwargs = {
        "aoi": _burn_kwargs(sample_root)["aoi"],
        "today": "2025-07-08",  # the sample's flood pass is on 2025-07-06
        "lookback_days": 3,
        "source": str(sample_root / "catalog.json"),
        "profile": "sample",
    }
    first = s1_flood_check(**kwargs)
    assert first["outcome"] == "mapped" and first["window"] == "2025-07-05/2025-07-08"
    (acq,) = first["acquisitions"]
    # the demo extent covers parts of Hikari, Yanai, Tabuse and Hirao
    assert acq["municipalities"] == "35210 35212 35343 35344"
    assert acq["outcome"] == "published" and acq["flooded_ha"] > 50
    assert first["products"] == [acq["product"]]

    again = s1_flood_check(**kwargs)
    assert again["outcome"] == "nothing_new" and again["products"] == []

    runs = _runs(capsys)
    assert [r["flow"] for r in runs] == ["s1_flood_check", "flood_mapping", "s1_flood_check"]
    assert runs[2]["products"] == first["products"] and runs[1]["outcome"] == "published"


def test_items_read_back_from_a_checkpoint_are_vetted_again(
    sample_root: Path, tmp_path: Path
) -> None:
    """A checkpoint lives in the output folder: an href planted there is refused on resume."""
    from yamasat.errors import HrefPolicyError
    from yamasat.flows.prepare import layout, prepare, search_family
    from yamasat.flows.product_run import revetted
    from yamasat.settings import load_settings

    kw = _burn_kwargs(sample_root)
    prep = prepare(
        aoi=kw["aoi"], before=kw["before"], after=kw["after"], source=kw["source"],
        out=tmp_path, settings=load_settings(env={}),
    )  # fmt: skip
    items = search_family(prep, "s2", prep.before, ("nir",))
    assert revetted(prep, "s2", ("nir",), items) == items
    key = layout(prep, "s2", items).asset_key("nir")
    items[0]["assets"][key]["href"] = "/etc/passwd"
    with pytest.raises(HrefPolicyError):
        revetted(prep, "s2", ("nir",), items)
