"""A real dask.distributed LocalCluster gives byte-identical products to the threaded run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from catalogs.sample import SampleManifest
from catalogs.settings import load_settings
from flows.compute import DaskUnavailableError, compute_on
from flows.demo import DEMO_RUNS
from flows.disaster_steps import analyse_burn
from flows.prepare import prepare, search_family

pytestmark = pytest.mark.slow

BURN = next(p for name, _f, p, _fl in DEMO_RUNS if name == "burn")
BANDS = ("nir", "swir22", "green", "swir16", "scl")


def _burn(sample_root: Path, out: Path, env: dict[str, str]) -> dict[str, str]:
    settings = load_settings(env=env)
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    prep = prepare(
        aoi=bbox,
        before=BURN["before"],
        after=BURN["after"],
        source=str(sample_root / "catalog.json"),
        out=out,
        settings=settings,
        profile="sample",
    )
    b = search_family(prep, "s2", prep.before, BANDS)
    a = search_family(prep, "s2", prep.after, BANDS)
    with compute_on(settings) as client:
        if env.get("YAMASAT_DASK__SCHEDULER") == "local-cluster":
            assert client is not None and len(client.scheduler_info()["workers"]) == 2
        outcome = analyse_burn(prep, b, a)
    assert outcome.outcome == "published"
    return {
        k: v["sha256"]
        for k, v in outcome.files.items()
        if k in ("burn", "severity", "dnbr", "polygons")
    }


def test_local_cluster_equals_threads(sample_root: Path, tmp_path: Path) -> None:
    threaded = _burn(sample_root, tmp_path / "threads", {})
    cluster = _burn(
        sample_root,
        tmp_path / "cluster",
        {
            "YAMASAT_DASK__SCHEDULER": "local-cluster",
            "YAMASAT_DASK__DASHBOARD_ADDRESS": "127.0.0.1:0",
        },
    )
    assert cluster == threaded


def _change(sample_root: Path, out: Path, env: dict[str, str]) -> dict[str, str]:
    from flows.change_steps import analyse_change
    from flows.demo import CHANGE_PERIODS
    from processing.change_detection import ChangeParams

    settings = load_settings(env=env)
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    prep = prepare(
        aoi=bbox,
        before=CHANGE_PERIODS[0],
        after=CHANGE_PERIODS[1],
        source=str(sample_root / "catalog.json"),
        out=out,
        settings=settings,
        profile="sample",
    )
    b = search_family(prep, "s2", prep.before, ("red", "nir", "scl"))
    a = search_family(prep, "s2", prep.after, ("red", "nir", "scl"))
    with compute_on(settings):
        outcome = analyse_change(prep, b, a, params=ChangeParams(threshold="otsu"))
    assert outcome.outcome == "published"
    return {k: v["sha256"] for k, v in outcome.files.items() if k in ("change", "dndvi")}


def test_change_on_native_grids_local_cluster_equals_threads(
    sample_root: Path, tmp_path: Path
) -> None:
    """The change flow's per-zone staging files are read back by the workers: same bytes."""
    threaded = _change(sample_root, tmp_path / "threads", {})
    cluster = _change(
        sample_root,
        tmp_path / "cluster",
        {
            "YAMASAT_DASK__SCHEDULER": "local-cluster",
            "YAMASAT_DASK__DASHBOARD_ADDRESS": "127.0.0.1:0",
        },
    )
    assert cluster == threaded


def test_unreachable_scheduler_is_named_quickly() -> None:
    settings = load_settings(
        env={"YAMASAT_DASK__SCHEDULER": "tcp://127.0.0.1:9", "YAMASAT_DASK__CONNECT_TIMEOUT_S": "3"}
    )
    t0 = time.monotonic()
    with pytest.raises(DaskUnavailableError, match=r"tcp://127\.0\.0\.1:9"), compute_on(settings):
        pass
    assert time.monotonic() - t0 < 10
    bad = load_settings(env={"YAMASAT_DASK__SCHEDULER": "my-cluster"})
    with pytest.raises(DaskUnavailableError, match="neither"), compute_on(bad):
        pass
