"""Run records and the acquisitions list in the registry (SQLite and a real PostgreSQL),
and the upgrade of a registry made by the first schema revision."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.fake_products import fake_entry
from tests.support.postgres import postgres_server
from yamasat.catalogs.registry import Registry
from yamasat.catalogs.registry.engine import head_revision
from yamasat.catalogs.registry.run_records import (
    AcquisitionRecord,
    acquisitions,
    close_lost_run,
    finish_run_record,
    handled_acquisitions,
    mark_acquisitions,
    run_record,
    run_records,
    start_run_record,
)
from yamasat.errors import UnknownRunError


@pytest.fixture(params=["sqlite", "postgresql"])
def reg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    else:
        url = postgres_server().create_database()
    with Registry.open(url) as registry:
        yield registry


def _start(reg: Registry, run_id: str, flow: str = "change_detection", aoi: str = "hofu") -> None:
    start_run_record(
        reg, run_id, flow=flow, software_version="0.1.0",
        parameters={"aoi": aoi, "before": "P30D/today-P1Y", "force": False}, aoi=aoi,
    )  # fmt: skip


def test_a_run_is_recorded_from_start_to_end(reg: Registry) -> None:
    _start(reg, "run-aaaaaaaa-1")
    running = run_record(reg, "run-aaaaaaaa-1")
    assert running.state == "running" and running.finished_at is None
    assert running.parameters["before"] == "P30D/today-P1Y"
    done = finish_run_record(
        reg, "run-aaaaaaaa-1", state="completed", outcome="published", products=["change-x-1"]
    )
    assert done.state == "completed" and done.outcome == "published"
    assert done.products == ("change-x-1",)
    assert done.duration_s is not None and 0 <= done.duration_s < 60
    assert done.finished_at is not None and done.finished_at >= done.started_at
    # a product registered by this run links to the same row, which keeps its state
    reg.register_product(fake_entry("change-x-1", run_id="run-aaaaaaaa-1"))
    assert run_record(reg, "run-aaaaaaaa-1").state == "completed"


def test_a_failed_run_keeps_its_reason_and_lists_filter(reg: Registry) -> None:
    _start(reg, "run-1", aoi="hofu")
    finish_run_record(reg, "run-1", state="failed", reason="no_data", message="all cloud")
    _start(reg, "run-2", flow="flood_mapping", aoi="hikari")
    finish_run_record(reg, "run-2", state="completed", outcome="insufficient_data")
    _start(reg, "run-3", aoi="hofu")
    newest_first = [r.id for r in run_records(reg)]
    assert newest_first == ["run-3", "run-2", "run-1"]
    failed = run_records(reg, state="failed")
    assert [(r.id, r.reason, r.message) for r in failed] == [("run-1", "no_data", "all cloud")]
    assert [r.id for r in run_records(reg, flow="flood_mapping")] == ["run-2"]
    assert [r.id for r in run_records(reg, aoi="hofu", limit=1)] == ["run-3"]


def test_unknown_run_names_close_matches_and_prefixes_resolve(reg: Registry) -> None:
    _start(reg, "3f2a9c1e-0000-4000-8000-000000000001")
    assert run_record(reg, "3f2a9c1e").id == "3f2a9c1e-0000-4000-8000-000000000001"
    with pytest.raises(UnknownRunError, match="did you mean: 3f2a9c1e-0000"):
        run_record(reg, "3f2a9c1e-0000-4000-8000-000000000002")
    with pytest.raises(UnknownRunError, match="runs list"):
        finish_run_record(reg, "nope", state="failed")


def test_a_restarted_run_starts_again_on_the_same_row(reg: Registry) -> None:
    _start(reg, "run-r")
    finish_run_record(reg, "run-r", state="failed", reason="source_failed", message="503")
    _start(reg, "run-r")  # Prefect retried the flow run: same id
    again = run_record(reg, "run-r")
    assert again.state == "running" and again.reason is None and again.message is None


def test_acquisitions_are_remembered_per_watch(reg: Registry) -> None:
    when = dt.datetime(2025, 7, 6, 9, 0, tzinfo=dt.UTC)
    _start(reg, "check-1", flow="s1_flood_check")
    rec = AcquisitionRecord(
        watch="s1-flood", id="sentinel-1-rtc/S1A_X", collection="sentinel-1-rtc",
        acquired_at=when, outcome="published", municipalities=("35210", "35343"),
        run_id="check-1",
    )  # fmt: skip
    mark_acquisitions(reg, [rec])
    mark_acquisitions(reg, [rec])  # marking twice keeps one row
    ids = ["sentinel-1-rtc/S1A_X", "sentinel-1-rtc/S1A_Y"]
    assert handled_acquisitions(reg, "s1-flood", ids) == {"sentinel-1-rtc/S1A_X"}
    assert handled_acquisitions(reg, "other-watch", ids) == set()
    (got,) = acquisitions(reg, "s1-flood")
    assert got.municipalities == ("35210", "35343") and got.acquired_at == when


def test_a_first_revision_registry_is_upgraded_and_keeps_its_runs(tmp_path: Path) -> None:
    """Registries made before run records existed: their runs (which made products) are
    kept and become 'completed'."""
    from alembic import command

    from yamasat.catalogs.registry.engine import alembic_config

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(
            text(
                "INSERT INTO runs (id, flow, software_version, recorded_at) "
                "VALUES ('old-run', 'change_detection', '0.0.9', '2026-04-01 00:00:00')"
            )
        )
    engine.dispose()
    with Registry.open(url) as reg:
        with reg.engine.connect() as conn:
            rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert rev == head_revision() >= "0002"  # upgraded to the newest migration
        old = run_record(reg, "old-run")
        assert old.state == "completed" and old.flow == "change_detection"
        assert old.started_at == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def test_a_run_whose_process_died_is_told_from_a_live_one(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    from yamasat.catalogs.registry import run_records

    _start(reg, "live-run")
    live = run_record(reg, "live-run")
    assert live.pid is not None and live.state == "running" and not live.lost
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          check=True, capture_output=True, text=True)  # fmt: skip
    monkeypatch.setattr(run_records.os, "getpid", lambda: int(gone.stdout))
    _start(reg, "dead-run")
    dead = run_record(reg, "dead-run")
    assert dead.lost and dead.as_dict()["lost"] is True
    closed = close_lost_run(reg, "dead-run", why="its process ended; closed when resumed")
    assert closed.state == "failed" and closed.reason == "lost" and not closed.lost
    assert closed.finished_at is not None and "closed when resumed" in (closed.message or "")
    again = close_lost_run(reg, "dead-run", why="twice")  # already closed: left as it is
    assert again.message == closed.message
    finish_run_record(reg, "dead-run", state="failed", reason="interrupted")
    assert not run_record(reg, "dead-run").lost  # only runs still marked running are lost


def test_a_reused_process_id_does_not_pass_for_the_run(reg: Registry) -> None:
    """A live process id that belongs to a process started well after the run was recorded
    is not the run's process: the run is lost. One started before (or about when) the run
    was recorded may be the run's process."""
    import dataclasses
    import subprocess
    import sys

    import psutil

    from yamasat.catalogs.registry.run_records import REUSED_PID_SLACK_S

    _start(reg, "old-run")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        created = dt.datetime.fromtimestamp(psutil.Process(other.pid).create_time(), dt.UTC)
        recorded = run_record(reg, "old-run")
        slack = dt.timedelta(seconds=REUSED_PID_SLACK_S)

        def as_if(started: dt.datetime) -> bool:
            return dataclasses.replace(recorded, pid=other.pid, started_at=started).lost

        assert as_if(created - slack - dt.timedelta(seconds=5))  # the id was reused
        assert not as_if(created - slack + dt.timedelta(seconds=5))  # within the clock's slack
        assert not as_if(created + dt.timedelta(seconds=2))  # the process recorded the run
    finally:
        other.kill()
        other.wait()


def test_relative_periods_are_resolved_once_for_the_record() -> None:
    from yamasat.flows.tracking import resolve_params

    day = dt.date(2026, 11, 30)
    got = resolve_params(
        {"before": "P30D/today-P1Y", "after": "P30D/today", "today": None, "aoi": "hofu"}, day
    )
    assert got == {
        "before": "2025-11-01/2025-11-30",
        "after": "2026-11-01/2026-11-30",
        "today": "2026-11-30",
        "aoi": "hofu",
    }
    # absolute periods stay as given; a malformed one is left for the flow to refuse
    same = {"before": "2025-01-01/2025-01-31", "after": "P3X/today", "today": "2025-07-08"}
    assert resolve_params(same, day) == same


def test_checkpoint_names_cannot_leave_their_folder(tmp_path: Path) -> None:
    from yamasat.flows.checkpoints import Checkpoints

    for bad in ("..", ".", "a/b", ""):
        with pytest.raises(ValueError):
            Checkpoints(tmp_path, bad)
    cp = Checkpoints(tmp_path, "run-1")
    with pytest.raises(ValueError):
        cp.save("..", [1])
    cp.save("search-before-s2", [{"id": "x"}])
    assert cp.load("search-before-s2") == [{"id": "x"}] and cp.stages() == ["search-before-s2"]
    cp.clear()
    assert cp.load("search-before-s2") is None and (tmp_path / ".yamasat" / "checkpoints").is_dir()
