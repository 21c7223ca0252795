"""A real dask.distributed LocalCluster gives byte-identical products to the threaded run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from yamasat.catalogs.sample import SampleManifest
from yamasat.errors import DaskUnavailableError
from yamasat.flows import recipes
from yamasat.flows.compute import compute_on
from yamasat.flows.demo import CHANGE_PERIODS, DEMO_RUNS
from yamasat.flows.prepare import prepare, search_family
from yamasat.flows.product_run import analyse_product
from yamasat.processing.change_map import ChangeParams
from yamasat.settings import load_settings

pytestmark = pytest.mark.slow

BURN = next(p for name, _f, p, _fl in DEMO_RUNS if name == "burn")


def _env(scheduler: str) -> dict[str, str]:
    # the environment is the whole configuration here (load_settings(env=...) reads no other)
    return {"YAMASAT_DASK__SCHEDULER": scheduler, "YAMASAT_DASK__DASHBOARD_ADDRESS": "127.0.0.1:0"}


def _burn(prep: Any) -> Any:
    bands = ("nir", "swir22", "green", "swir16", "scl")
    b = search_family(prep, "s2", prep.before, bands)
    a = search_family(prep, "s2", prep.after, bands)
    return analyse_product(recipes.BURN, prep, b, a)


def _change(prep: Any) -> Any:
    b = search_family(prep, "s2", prep.before, ("red", "nir", "scl"))
    a = search_family(prep, "s2", prep.after, ("red", "nir", "scl"))
    return analyse_product(recipes.CHANGE, prep, b, a, params=ChangeParams(threshold="otsu"))


#: product, its periods, how to make it, the files whose bytes are compared
CASES = {
    "burn": ((BURN["before"], BURN["after"]), _burn, ("burn", "severity", "dnbr", "polygons")),
    # the change flow's per-zone staging files are read back by the workers
    "change-native-grids": (CHANGE_PERIODS, _change, ("change", "dndvi")),
}


def _checksums(sample_root: Path, out: Path, case: str, scheduler: str) -> dict[str, str]:
    (before, after), analyse, keys = CASES[case]
    settings = load_settings(env=_env(scheduler))
    assert settings.dask.scheduler == scheduler
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    prep = prepare(aoi=bbox, before=before, after=after, source=str(sample_root / "catalog.json"),
                   out=out, settings=settings, profile="sample")  # fmt: skip
    with compute_on(settings) as client:
        if scheduler == "local-cluster":
            assert client is not None and len(client.scheduler_info()["workers"]) == 2
        else:
            assert client is None
        outcome = analyse(prep)
    assert outcome.outcome == "published"
    return {k: v["sha256"] for k, v in outcome.files.items() if k in keys}


@pytest.mark.parametrize("case", sorted(CASES))
def test_local_cluster_equals_threads(sample_root: Path, tmp_path: Path, case: str) -> None:
    threaded = _checksums(sample_root, tmp_path / "threads", case, "threads")
    cluster = _checksums(sample_root, tmp_path / "cluster", case, "local-cluster")
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
