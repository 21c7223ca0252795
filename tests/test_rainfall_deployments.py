"""With a Prefect server, the rain watch's products run as deployments (issue 15, item 3): a
deployment of ``flood_mapping`` served by ``yamasat serve`` against a real Prefect server (the
session's) runs the S1 flood the watch asks for, in the server's worker process; the watch
reads its outcome and product from the registry, and the run is recorded as that
deployment's. Offline (no deployment), the products run inline: tests/test_rainfall_watch.py
and the demo."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.support.prefect_server import prefect_env, stop_serving
from yamasat.catalogs.sample.manifest import SampleManifest

pytestmark = pytest.mark.slow


def _config(path: Path, sample_root: Path, bbox: str) -> Path:
    catalog = str(sample_root / "catalog.json")
    doc = {
        "sources": {
            "sample-rainfall": {
                "kind": "static",
                "profile": "jaxa-earth",
                "location": str(sample_root / "gsmap" / "catalog.json"),
            }
        },
        "orchestration": {
            "deployments": {
                "rain-flood": {  # on demand: no cron, the watch gives the parameters
                    "flow": "flood_mapping",
                },
                "flood-weekly": {  # scheduled: never used for the watch's products
                    "flow": "flood_mapping",
                    "cron": "0 0 1 1 *",
                    "parameters": {"aoi": bbox, "before": "2025-06-01/2025-06-30",
                                   "after": "2025-07-01/2025-07-10", "source": catalog,
                                   "profile": "sample", "terrain": False},
                },
            }
        },
    }  # fmt: skip
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_rain_watch_runs_its_flood_through_a_served_deployment(
    prefect_harness: None, sample_root: Path, workspace: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    from yamasat.catalogs.registry import open_registry
    from yamasat.catalogs.registry.run_records import run_record
    from yamasat.flows.rain_dispatch import product_deployment
    from yamasat.flows.rain_watch import rain_watch
    from yamasat.settings import load_settings

    api = str(PREFECT_API_URL.value())
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    cfg = _config(workspace / "rain.yaml", sample_root, bbox)
    env = prefect_env(workspace / "prefect-home", api)
    env.update(
        YAMASAT_STORAGE__OUTPUT_ROOT=os.environ["YAMASAT_STORAGE__OUTPUT_ROOT"],
        PREFECT_RUNNER_POLL_FREQUENCY="1",
    )
    log = (workspace / "serve.log").open("wb")
    serving = subprocess.Popen(
        [str(Path(sys.executable).with_name("yamasat")), "--config", str(cfg), "serve",
         "--only", "rain-flood", "--only", "flood-weekly"],
        env=env, cwd=workspace, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while product_deployment("flood_mapping") != "flood_mapping/rain-flood":
            assert serving.poll() is None, (workspace / "serve.log").read_text()
            assert time.monotonic() < deadline, "the deployment did not appear"
            time.sleep(0.5)
        result = rain_watch(
            aoi=bbox, today="2025-07-08", rain_source="sample-rainfall",
            run_products="deployments", source=str(sample_root / "catalog.json"),
            profile="sample", config=str(cfg),
        )  # fmt: skip
    finally:
        stop_serving(serving)
        log.close()
        _delete_deployments("flood_mapping")

    rows = {r["kind"]: r for r in result["rows"]}
    assert rows["flood-s1"]["status"] == "made", (rows, (workspace / "serve.log").read_text())
    flood = result["results"]["flood-s1"]
    assert flood["deployment"] == "flood_mapping/rain-flood" and flood["state"] == "COMPLETED"
    with open_registry(load_settings(cfg)) as reg:
        record = run_record(reg, flood["run_id"])
    assert record.deployment == "rain-flood" and record.outcome == "published"
    assert record.pid != os.getpid()  # made in the served process, not inline
    assert record.products == (rows["flood-s1"]["product"],)


def _delete_deployments(flow_name: str) -> None:
    """Leave the session's server as it was for the tests after this one."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        for d in client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name]))
        ):
            client.delete_deployment(d.id)


def test_a_deployment_nobody_serves_is_cancelled_and_reported_not_started(
    prefect_harness: None, workspace: Path
) -> None:
    """A registered on-demand deployment that no process serves: the product run is not left
    waiting for hours; it is cancelled after the start timeout and reported ``not_started``
    (the watch records the product as pending and asks again later)."""
    from prefect.client.orchestration import get_client

    from yamasat.flows.rain_dispatch import dispatch, product_deployment
    from yamasat.settings import load_settings

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("flood_mapping")
        client.create_deployment(flow_id=flow_id, name="unserved")
    try:
        assert product_deployment("flood_mapping") == "flood_mapping/unserved"
        started = time.monotonic()
        result = dispatch(
            load_settings(env={}), "deployments", "flood_mapping", _never_inline, {"aoi": "x"},
            start_timeout_s=2,
        )  # fmt: skip
        assert time.monotonic() - started < 30
        assert result["outcome"] == "not_started" and result["item_id"] is None
        assert "no process started" in result["message"]
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(result["run_id"]).state
        assert state is not None and state.is_cancelled()
    finally:
        _delete_deployments("flood_mapping")


def _never_inline(**_: object) -> dict[str, object]:
    raise AssertionError("a deployment was there: the product must not run inline")
