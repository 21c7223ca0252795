"""Deployments from config: checked before anything is deployed, the same in ``yamasat serve``
and in ``prefect.yaml``, and served for real against a Prefect server on loopback, where two
runs of one deployment at once are serialised by its concurrency limit."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.prefect_server import prefect_env, running_prefect_server, stop_serving
from yamasat.catalogs.sample import SampleManifest
from yamasat.errors import ConfigError
from yamasat.flows.cli import run
from yamasat.flows.demo import DEMO_RUNS
from yamasat.flows.deployments import (
    ENTRYPOINTS,
    deployment_specs,
    load_flow,
    next_runs,
    prefect_yaml,
)
from yamasat.settings import FLOW_NAMES, load_settings

ROOT = Path(__file__).resolve().parents[1]
BURN = next(p for name, _f, p, _fl in DEMO_RUNS if name == "burn")


def _config(tmp_path: Path, deployments: dict[str, Any], name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(
        yaml.safe_dump({"orchestration": {"deployments": deployments}}), encoding="utf-8"
    )
    return path


def test_every_flow_a_deployment_may_name_has_an_entrypoint() -> None:
    assert tuple(ENTRYPOINTS) == FLOW_NAMES
    for name in FLOW_NAMES:
        assert load_flow(name).name == name


def test_default_deployments_are_valid_and_scheduled_in_tokyo() -> None:
    specs = {s.name: s for s in deployment_specs(load_settings(env={}))}
    assert set(specs) == {
        "change-weekly",
        "s1-flood-daily",
        "rain-watch-daily",
        "flood-on-demand",
        "landslide-on-demand",
        "indicator-monthly",
    }
    weekly = specs["change-weekly"]
    assert weekly.timezone == "Asia/Tokyo" and weekly.concurrency_limit == 1
    monday = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)  # Saturday 21:00 in Tokyo
    (first,) = next_runs(weekly, 1, after=monday)
    assert first.isoformat() == "2026-11-30T03:00:00+09:00"  # Monday 03:00 JST


def test_prefect_yaml_in_the_repo_matches_the_config() -> None:
    """prefect.yaml is generated from config; regenerate with `yamasat deployments yaml`."""
    assert (ROOT / "prefect.yaml").read_text(encoding="utf-8") == prefect_yaml(
        load_settings(env={})
    )
    doc = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    weekly = next(d for d in doc["deployments"] if d["name"] == "change-weekly")
    assert weekly["schedules"] == [{"cron": "0 3 * * 1", "timezone": "Asia/Tokyo", "active": True}]
    assert weekly["entrypoint"] == "yamasat.flows.change:change_detection"
    assert weekly["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}


def test_a_deployment_without_cron_runs_on_demand_with_its_callers_parameters(
    tmp_path: Path,
) -> None:
    """The rain watch's products: no schedule anywhere, and the flow's required parameters
    come from ``run_deployment``, so the config need not give them (a scheduled one must)."""
    from yamasat.flows.deployments import runner_deployments

    on_demand = {"flow": "flood_mapping", "description": "asked for by the rain watch"}
    settings = load_settings(_config(tmp_path, {"flood": on_demand}), env={})
    (spec,) = deployment_specs(settings, only=["flood"])
    assert spec.cron is None and next_runs(spec, 2) == []
    (dep,) = (
        d for d in yaml.safe_load(prefect_yaml(settings))["deployments"] if d["name"] == "flood"
    )
    assert dep["schedules"] == [] and dep["parameters"] == {}
    (runner,) = runner_deployments([spec])
    assert not runner.schedules
    scheduled = load_settings(
        _config(tmp_path, {"flood": {**on_demand, "cron": "0 7 * * *"}}, "s.yaml"), env={}
    )
    with pytest.raises(ConfigError, match=r"parameters\.aoi: flow flood_mapping needs it"):
        deployment_specs(scheduled, only=["flood"])


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"flow": "change_detection", "cron": "61 * * * *"}, "cron '61 * * * *' does not parse"),
        ({"flow": "indicator_report", "cron": "every monday"}, "does not parse"),
        ({"flow": "indicator_report", "cron": "0 3 * * 1", "timezone": "Asia/Tokio"},
         "unknown time zone 'Asia/Tokio'"),
        ({"flow": "indicator_report", "cron": "0 3 * * 1", "parameters": {"fy": 2026, "colour": 1}},
         "parameters.colour: flow indicator_report has no such parameter"),
        ({"flow": "change_detection", "cron": "0 3 * * 1", "parameters": {"aoi": "hofu"}},
         "parameters.before: flow change_detection needs it"),
        ({"flow": "change_detection", "cron": "0 3 * * 1",
          "parameters": {"aoi": "hofu", "before": "P30X/today", "after": "P30D/today"}},
         "parameters.before: before 'P30X/today'"),
        ({"flow": "change_detection", "cron": "0 3 * * 1",
          "parameters": {"aoi": "hofu", "before": "P30D/today-P1Y", "after": "P30D/today",
                         "source": "earth-serach"}},
         "unknown source 'earth-serach'"),
        ({"flow": "change_detection", "cron": "0 3 * * 1",
          "parameters": {"aoi": "hofu", "before": "P30D/today", "after": "P10D/today"}},
         "parameters.before/after: the 'before' period"),
    ],
)  # fmt: skip
def test_bad_deployments_are_refused_naming_the_key(
    tmp_path: Path, entry: dict[str, Any], fragment: str
) -> None:
    settings = load_settings(_config(tmp_path, {"bad-one": entry}), env={})
    with pytest.raises(ConfigError) as info:
        deployment_specs(settings)
    assert "orchestration.deployments.bad-one." in str(info.value)
    assert fragment in str(info.value)


def test_serve_refuses_a_bad_schedule_at_start_and_needs_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = _config(tmp_path, {"weekly": {"flow": "indicator_report", "cron": "0 25 * * *"}})
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # never contacted
    started = time.monotonic()
    assert run(["--config", str(bad), "serve"]) == 2
    err = capsys.readouterr().err
    assert "orchestration.deployments.weekly.cron" in err and "nothing was deployed" in err
    assert time.monotonic() - started < 10
    monkeypatch.delenv("PREFECT_API_URL")
    assert run(["serve"]) == 2
    assert "needs a running Prefect server" in capsys.readouterr().err
    assert run(["serve", "--api-url", "http://127.0.0.1:9/api", "--check"]) == 2
    assert "does not answer" in capsys.readouterr().err


# ------------------------------------------------------------------ against a real server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("prefect-server")
    with running_prefect_server(home) as api:
        yield api, home


def _answer(send: Any) -> Any:
    """The JSON answer of ``send()``, retried on 503 as Prefect's own client does: a busy
    server (its SQLite database locked by a concurrent write) answers 503 for a moment."""
    for attempt in range(6):
        answer = send()
        if answer.status_code != 503 or attempt == 5:
            break
        time.sleep(0.5 * 2**attempt)
    answer.raise_for_status()
    return answer.json()


def _post(api: str, path: str, body: dict[str, Any]) -> Any:
    return _answer(lambda: httpx.post(f"{api}{path}", json=body, timeout=30))


def _get(api: str, path: str) -> Any:
    return _answer(lambda: httpx.get(f"{api}{path}", timeout=30))


@pytest.mark.slow
def test_serve_runs_deployments_and_serialises_runs_of_one_deployment(
    server: tuple[str, Path], sample_root: Path, tmp_path: Path
) -> None:
    api, home = server
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    out = tmp_path / "products"
    cfg = _config(
        tmp_path,
        {
            "sample-burn": {
                "flow": "burn_mapping",
                "cron": "0 4 * * 1",
                "parameters": {"aoi": bbox, "source": str(sample_root / "catalog.json"),
                               "profile": "sample", **BURN},
                "concurrency_limit": 1,
            }
        },
    )  # fmt: skip
    env = prefect_env(home, api)
    env["YAMASAT_STORAGE__OUTPUT_ROOT"] = str(out)
    exe = Path(sys.executable).with_name("yamasat")
    log = (tmp_path / "serve.log").open("wb")
    serving = subprocess.Popen(
        [str(exe), "--config", str(cfg), "serve", "--only", "sample-burn"],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        found: list[dict[str, Any]] = []
        while not found:
            assert serving.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the deployment did not appear"
            found = _post(
                api, "/deployments/filter", {"deployments": {"name": {"any_": ["sample-burn"]}}}
            )
            time.sleep(1)
        (dep,) = found
        schedules = _get(api, f"/deployments/{dep['id']}/schedules")
        assert [(s["schedule"]["cron"], s["schedule"]["timezone"]) for s in schedules] == [
            ("0 4 * * 1", "Asia/Tokyo")
        ]
        assert dep["global_concurrency_limit"]["limit"] == 1
        assert dep["concurrency_options"]["collision_strategy"] == "ENQUEUE"

        # two runs of the same deployment on the same AOI at once
        runs = [_post(api, f"/deployments/{dep['id']}/create_flow_run", {}) for _ in range(2)]
        states: dict[str, list[str]] = {r["id"]: [] for r in runs}
        both_running = False
        deadline = time.monotonic() + 300
        while True:
            now = {rid: _get(api, f"/flow_runs/{rid}")["state"]["type"] for rid in states}
            for rid, st in now.items():
                if not states[rid] or states[rid][-1] != st:
                    states[rid].append(st)
            both_running |= all(st == "RUNNING" for st in now.values())
            if all(st in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for st in now.values()):
                break
            assert time.monotonic() < deadline, f"runs did not finish: {states}"
            time.sleep(0.5)
        assert all(v[-1] == "COMPLETED" for v in states.values()), (
            states, (tmp_path / "serve.log").read_text())  # fmt: skip
        assert not both_running, states
    finally:
        stop_serving(serving)
        log.close()

    # the registry saw both runs, from the deployment; the product was made once
    from yamasat.catalogs.registry import Registry
    from yamasat.catalogs.registry.run_records import run_records

    with Registry.open(f"sqlite:///{out / 'registry.sqlite'}") as reg:
        recorded = {r.id: r for r in run_records(reg)}
    assert set(recorded) == set(states)
    assert sorted(r.outcome or "" for r in recorded.values()) == ["exists", "published"]
    assert {r.deployment for r in recorded.values()} == {"sample-burn"}
    assert len(list(out.rglob("burn-*.json"))) == 1


@pytest.mark.slow
def test_prefect_yaml_deploys_to_a_process_work_pool(server: tuple[str, Path]) -> None:
    api, home = server
    env = prefect_env(home, api)
    exe = str(Path(sys.executable).with_name("prefect"))
    pool = subprocess.run(
        [exe, "work-pool", "create", "yamasat-process", "--type", "process", "--overwrite"],
        check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deploy = subprocess.run(
        [exe, "--no-prompt", "deploy", "--all"],
        check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    names = {
        d["name"]: d
        for d in _post(
            api, "/deployments/filter", {"work_pools": {"name": {"any_": ["yamasat-process"]}}}
        )
    }
    assert set(names) == {
        "change-weekly",
        "s1-flood-daily",
        "rain-watch-daily",
        "flood-on-demand",
        "landslide-on-demand",
        "indicator-monthly",
    }
    assert _get(api, f"/deployments/{names['flood-on-demand']['id']}/schedules") == []
    weekly = names["change-weekly"]
    assert weekly["entrypoint"] == "yamasat.flows.change:change_detection"
    assert weekly["parameters"]["before"] == "P30D/today-P1Y"
    (sched,) = _get(api, f"/deployments/{weekly['id']}/schedules")
    assert (sched["schedule"]["cron"], sched["schedule"]["timezone"]) == ("0 3 * * 1", "Asia/Tokyo")
    json.dumps(names)  # JSON-safe answers


@pytest.mark.slow
def test_a_process_worker_runs_a_deployment_from_the_generated_prefect_yaml(
    server: tuple[str, Path], sample_root: Path, tmp_path: Path
) -> None:
    """The whole path of a data center: config → prefect.yaml → prefect deploy → a process
    worker runs the flow in its own process → product published and the run recorded."""
    api, home = server
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "orchestration": {
                    "work_pool": "yamasat-test-pool",
                    "deployments": {
                        "sample-burn-pool": {
                            "flow": "burn_mapping",
                            "cron": "30 2 * * *",
                            "parameters": {"aoi": bbox, "source": str(sample_root / "catalog.json"),
                                           "profile": "sample", **BURN},
                        }
                    },
                }
            }
        ),
        encoding="utf-8",
    )  # fmt: skip
    project = tmp_path / "project"
    project.mkdir()
    out = tmp_path / "products"
    env = prefect_env(home, api)
    env["YAMASAT_STORAGE__OUTPUT_ROOT"] = str(out)
    bindir = Path(sys.executable).parent

    def sh(*args: str, timeout: float = 300) -> str:
        done = subprocess.run(
            list(args), check=False, env=env, cwd=project, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    sh(str(bindir / "yamasat"), "--config", str(cfg), "deployments", "yaml", "-o", "prefect.yaml")
    doc = yaml.safe_load((project / "prefect.yaml").read_text(encoding="utf-8"))
    doc["deployments"] = [d for d in doc["deployments"] if d["name"] == "sample-burn-pool"]
    (project / "prefect.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    sh(str(bindir / "prefect"), "work-pool", "create", "yamasat-test-pool", "--type", "process",
       "--overwrite")  # fmt: skip
    sh(str(bindir / "prefect"), "--no-prompt", "deploy", "--all")
    (dep,) = _post(api, "/deployments/filter",
                   {"deployments": {"name": {"any_": ["sample-burn-pool"]}}})  # fmt: skip
    flow_run = _post(api, f"/deployments/{dep['id']}/create_flow_run", {})
    sh(str(bindir / "prefect"), "worker", "start", "--pool", "yamasat-test-pool", "--run-once",
       timeout=400)  # fmt: skip
    state = _get(api, f"/flow_runs/{flow_run['id']}")["state"]
    assert state["type"] == "COMPLETED", state

    from yamasat.catalogs.registry import Registry
    from yamasat.catalogs.registry.run_records import run_record

    with Registry.open(f"sqlite:///{out / 'registry.sqlite'}") as reg:
        record = run_record(reg, flow_run["id"])
    assert record.state == "completed" and record.outcome == "published"
    assert record.deployment == "sample-burn-pool"
    assert len(list(out.rglob("burn-*.json"))) == 1


def test_cli_runs_turn_prefect_heartbeats_off_unless_configured() -> None:
    """Prefect 3.9 ends every run with heartbeats on a whole second; the CLI's runs do not
    send them unless orchestration.prefect_heartbeat_s asks for them."""
    from prefect.settings import get_current_settings

    from yamasat.flows.prefect_env import prefect_run_settings

    with prefect_run_settings(load_settings(env={})):
        assert get_current_settings().flows.heartbeat_frequency is None
    beats = load_settings(env={"YAMASAT_ORCHESTRATION__PREFECT_HEARTBEAT_S": "60"})
    with prefect_run_settings(beats):
        assert get_current_settings().flows.heartbeat_frequency == 60
    with pytest.raises(ConfigError, match="prefect_heartbeat_s"):
        load_settings(env={"YAMASAT_ORCHESTRATION__PREFECT_HEARTBEAT_S": "5"})
