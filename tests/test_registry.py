"""The registry on disk and on a real server: migrations, idempotent registration under
threads and processes, crash repair, evidence checks, bad input, a damaged registry file.

Tests taking ``url`` run against SQLite and against a real PostgreSQL server (started by
``tests/support/postgres.py``; skipped with the reason only when none can start here).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tests.support.fake_products import fake_entry, publish_fake_product
from tests.support.postgres import postgres_server
from yamasat.catalogs.registry import (
    Registry,
    add_solution,
    attach_evidence,
    rebuild_catalog,
    repair_catalog,
    set_status,
    validate_products,
)
from yamasat.catalogs.registry.engine import check_sqlite_file, filesystem_type, head_revision
from yamasat.catalogs.registry.tables import Base, ProductRow
from yamasat.errors import (
    EvidenceError,
    InputDateError,
    RegistryBusyError,
    RegistryUnavailableError,
    SolutionExistsError,
    StatusTransitionError,
    UnknownProductError,
    UnknownSolutionError,
)

ROOT = Path(__file__).resolve().parents[1]
TODAY = dt.date.today()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    return postgres_server().create_database()


@pytest.fixture
def reg(url: str) -> Iterator[Registry]:
    with Registry.open(url) as registry:
        yield registry


def _count(registry: Registry) -> int:
    return registry.read(lambda s: s.scalar(select(func.count()).select_from(ProductRow)), what="")


def _flip(path: str | Path) -> None:
    """Change one byte in the middle of a file (same size, different checksum)."""
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(path).write_bytes(bytes(data))


def _add(registry: Registry, sid: str, **kw: object) -> None:
    args: dict[str, object] = {"organization": "宇部データ株式会社", "name_en": sid, "by": "t"}
    args.update(kw)
    add_solution(registry, sid, **args)  # type: ignore[arg-type]


# ---------------------------------------------------------------- schema


def test_migrations_create_the_schema_of_the_tables(reg: Registry, url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with reg.engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_revision() == head_revision()
        assert compare_metadata(ctx, Base.metadata) == []
    with Registry.open(url) as again:  # re-opening is a no-op
        assert again.solutions() == []


# ---------------------------------------------------------------- registration


def test_same_product_twice_gives_one_row(reg: Registry) -> None:
    first = reg.register_product(fake_entry("p-1", run_id="run-1"))
    second = reg.register_product(fake_entry("p-1", run_id="run-1"))
    assert first.created and not second.created
    assert "already registered" in second.message
    assert _count(reg) == 1


def test_two_threads_register_the_same_product(reg: Registry) -> None:
    barrier = threading.Barrier(8)
    results: list[bool] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(reg.register_product(fake_entry("p-same", run_id="r")).created)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [False] * 7 + [True]
    assert _count(reg) == 1


def _processes(url: str, gate: Path, batches: list[list[str]]) -> list[dict[str, int]]:
    """Run one worker process per batch; all start registering at the same moment."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = "from tests.support.fake_products import main; main()"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, url, str(gate), *ids],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ids in batches
    ]
    deadline = time.monotonic() + 120
    while len(list(gate.parent.glob(f"{gate.name}.ready-*"))) < len(procs):
        assert time.monotonic() < deadline, "workers did not get ready"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    gate.touch()
    opened = time.perf_counter()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        assert "locked" not in stderr.lower()
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    print(f"{len(procs)} processes registered in {time.perf_counter() - opened:.1f} s")
    return out


@pytest.mark.timeout(180)
def test_20_processes_x_50_products(reg: Registry, url: str, tmp_path: Path) -> None:
    batches = [[f"p-{i:02d}-{j:02d}" for j in range(50)] for i in range(20)]
    t0 = time.perf_counter()
    results = _processes(url, tmp_path / "go", batches)
    elapsed = time.perf_counter() - t0
    assert sum(r["created"] for r in results) == 1000
    ids = reg.read(lambda s: s.scalars(select(ProductRow.id)).all(), what="")
    assert len(ids) == len(set(ids)) == 1000
    print(f"20 processes x 50 products on {url.split(':', maxsplit=1)[0]}: {elapsed:.1f} s")


@pytest.mark.timeout(180)
def test_same_product_from_many_processes(reg: Registry, url: str, tmp_path: Path) -> None:
    results = _processes(url, tmp_path / "go", [["p-shared"]] * 10)
    assert sum(r["created"] for r in results) == 1
    assert _count(reg) == 1


# ---------------------------------------------------------------- crash repair, evidence


def test_crash_between_publish_and_register_is_repaired_once(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    a = publish_fake_product(out, "a")
    publish_fake_product(out, "b")
    first = repair_catalog(reg, out)
    assert sorted(first.registered) == ["change-test-a", "change-test-b"]
    again = repair_catalog(reg, out)
    assert again.registered == [] and sorted(again.already) == sorted(first.registered)
    assert _count(reg) == 2
    entry = reg.product("change-test-a")
    assert entry.run_id == "run-1" and entry.checksum.startswith("1220")
    assert entry.item_href == a["item_href"]


def test_repair_refuses_a_damaged_product(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bad = publish_fake_product(out, "bad")
    _flip(bad["files"]["change"]["path"])
    truncated = publish_fake_product(out, "short")
    Path(truncated["files"]["quicklook"]["path"]).write_bytes(b"\x89PNG")
    rep = repair_catalog(reg, out)
    assert rep.registered == []
    reasons = dict(rep.refused)
    assert "asset 'change'" in reasons[bad["item_href"]]
    assert "checksum" in reasons[bad["item_href"]] and "differs" in reasons[bad["item_href"]]
    assert "has 4 bytes, the record says" in reasons[truncated["item_href"]]
    assert _count(reg) == 0


def test_register_outcome_verifies_registers_and_attaches(reg: Registry, tmp_path: Path) -> None:
    from yamasat.flows.registration import register_outcome

    _add(reg, "ube-flood")
    outcome = publish_fake_product(tmp_path / "out", "x")
    settings = _settings_for(reg)
    first = register_outcome(settings, outcome, kind="change", solution_id="ube-flood", run_id="r9")
    again = register_outcome(settings, outcome["item_href"], solution_id="ube-flood")
    assert (first.created, first.attached) == (True, True)
    assert (again.created, again.attached) == (False, False)
    assert "already registered" in again.message
    rec = reg.solution("ube-flood")
    assert [e.product_id for e in rec.evidence] == ["change-test-x"]
    assert rec.evidence[0].run_id == "r9" and rec.evidence[0].usable
    with pytest.raises(UnknownSolutionError, match="ube-flood"):
        register_outcome(settings, outcome, solution_id="ube-flod")
    with pytest.raises(EvidenceError, match="not published"):
        register_outcome(settings, {"outcome": "insufficient_data", "item_id": "x"})


def _settings_for(registry: Registry) -> object:
    from yamasat.settings import load_settings

    url = registry.engine.url.render_as_string(hide_password=False)
    return load_settings(env={"YAMASAT_STORAGE__REGISTRY_URL": url})


def test_evidence_with_missing_or_changed_files_is_refused(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _add(reg, "sol-a")
    gone = publish_fake_product(out, "gone")
    changed = publish_fake_product(out, "changed")
    Path(gone["files"]["quicklook"]["path"]).unlink()
    _flip(changed["files"]["change"]["path"])
    with pytest.raises(EvidenceError, match="missing"):
        attach_evidence(reg, "sol-a", gone["item_href"], by="t")
    with pytest.raises(EvidenceError, match=r"checksum .* differs"):
        attach_evidence(reg, "sol-a", changed["item_href"], by="t")
    # a product registered while intact, then damaged: refused when attached later
    ok = publish_fake_product(out, "later")
    attach_evidence(reg, "sol-a", ok["item_href"], by="t")
    _add(reg, "sol-b")
    _flip(ok["files"]["change"]["path"])
    with pytest.raises(EvidenceError, match=r"refused as evidence for sol-b.*differs"):
        attach_evidence(reg, "sol-b", "change-test-later", by="t")
    assert not reg.solution("sol-a").evidence[0].usable  # its record shows the failure
    with pytest.raises(UnknownProductError, match="change-test-later"):
        attach_evidence(reg, "sol-b", "change-test-latr", by="t")


def test_validate_and_rebuild_the_catalog(reg: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for tag in ("a", "b", "c"):
        publish_fake_product(out, tag)
    repair_catalog(reg, out)
    Path(reg.product("change-test-c").item_href).parent.joinpath("quicklook.png").unlink()
    results = {e.id: c for e, c in validate_products(reg)}
    assert results["change-test-a"].ok and not results["change-test-c"].ok
    assert reg.product("change-test-c").qa_status == "failed"
    (out / "catalog.json").unlink()
    Path(reg.product("change-test-b").item_href).unlink()  # an item JSON lost too
    rep = rebuild_catalog(reg, out)
    assert sorted(rep.items) == ["change-test-a", "change-test-b"]
    assert [pid for pid, _ in rep.skipped] == ["change-test-c"]
    import pystac

    root = pystac.Catalog.from_file(str(out / "catalog.json"))
    ids = sorted(i.id for i in root.get_items(recursive=True))
    assert ids == ["change-test-a", "change-test-b"]
    assert repair_catalog(reg, out).registered == []
    assert all(c.ok for e, c in validate_products(reg) if e.id != "change-test-c")


# ---------------------------------------------------------------- solutions: bad input


def test_unknown_solution_lists_close_matches(reg: Registry) -> None:
    _add(reg, "ube-flood-alert")
    _add(reg, "hofu-crop-watch", name_en="crops")
    with pytest.raises(UnknownSolutionError, match="did you mean: ube-flood-alert"):
        reg.solution("ube-flod-alert")


def test_invalid_transition_names_the_allowed_ones(reg: Registry) -> None:
    _add(reg, "s1", status="deployed", developed_on="2024-01-10")
    with pytest.raises(StatusTransitionError, match="allowed from 'deployed': developed, retired"):
        set_status(reg, "s1", "proposed", by="t", reason="oops")
    with pytest.raises(StatusTransitionError, match="unknown status"):
        set_status(reg, "s1", "done", by="t", reason="oops")


def test_dates_in_the_future_or_before_the_last_change_are_refused(reg: Registry) -> None:
    tomorrow = TODAY + dt.timedelta(days=1)
    with pytest.raises(InputDateError, match="in the future"):
        _add(reg, "s2", status="developed", developed_on=tomorrow.isoformat())
    with pytest.raises(InputDateError, match="YYYY-MM-DD"):
        _add(reg, "s2", status="developed", developed_on="2024-02-30")
    with pytest.raises(InputDateError, match="needs its developed_on"):
        _add(reg, "s2", status="developed")
    _add(reg, "s2", status="prototype")
    with pytest.raises(InputDateError, match="in the future"):
        set_status(reg, "s2", "developed", by="t", reason="r", on=tomorrow)
    set_status(reg, "s2", "developed", by="t", reason="r", on=TODAY)
    with pytest.raises(InputDateError, match="cannot take effect before"):
        set_status(reg, "s2", "deployed", by="t", reason="r", on=TODAY - dt.timedelta(days=3))
    assert reg.solution("s2").status == "developed"


def test_same_name_same_org_is_refused_other_org_is_fine(reg: Registry) -> None:
    _add(reg, "a1", organization="株式会社 宇部データ", name_ja="浸水マップ", name_en="Flood Map")
    with pytest.raises(SolutionExistsError, match="already has a solution with this name: 'a1'"):
        _add(reg, "a2", organization="宇部データ(株)", name_en="ＦＬＯＯＤ　ｍａｐ")
    with pytest.raises(SolutionExistsError, match="already used"):
        _add(reg, "a1", organization="Other", name_en="x")
    _add(reg, "a3", organization="防府スペース合同会社", name_en="flood map")
    assert [s.id for s in reg.solutions()] == ["a1", "a3"]


def test_back_and_forth_keeps_the_first_developed_date(reg: Registry) -> None:
    _add(reg, "bf", status="prototype", since="2023-10-01")
    set_status(reg, "bf", "developed", by="alice", reason="pilot done", on="2024-03-31")
    set_status(reg, "bf", "prototype", by="bob", reason="accuracy too low", on="2024-05-01")
    rec = set_status(reg, "bf", "developed", by="alice", reason="fixed", on="2024-07-01")
    assert rec.developed_on == dt.date(2024, 3, 31)
    assert [(e.from_status, e.to_status, e.by) for e in rec.history] == [
        (None, "prototype", "t"),  # since 2023-10-01
        ("prototype", "developed", "alice"),
        ("developed", "prototype", "bob"),
        ("prototype", "developed", "alice"),
    ]
    assert rec.history[0].on == dt.date(2023, 10, 1)
    assert rec.history[2].reason == "accuracy too low"


# ---------------------------------------------------------------- SQLite file safety


def test_sqlite_pragmas(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    with Registry.open(url, busy_timeout_s=7) as registry, registry.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 7000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_held_write_lock_is_waited_for_then_reported(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    Registry.open(f"sqlite:///{path}").close()
    import sqlite3

    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.5, holder.rollback).start()
    with Registry.open(f"sqlite:///{path}", busy_timeout_s=5) as patient:
        assert patient.register_product(fake_entry("waited")).created
    holder.execute("BEGIN IMMEDIATE")
    try:
        with (
            Registry.open(f"sqlite:///{path}", busy_timeout_s=0.05) as hasty,
            pytest.raises(RegistryBusyError, match="locked by other writers"),
        ):
            hasty.register_product(fake_entry("never"))
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"PK\x03\x04 this is a zip, not a database" * 40, "not a SQLite database"),
    ],
)
def test_a_foreign_or_empty_file_is_reported_and_untouched(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    path = tmp_path / "registry.sqlite"
    path.write_bytes(content)
    with pytest.raises(RegistryUnavailableError, match=fragment):
        Registry.open(f"sqlite:///{path}")
    assert path.read_bytes() == content


def test_a_corrupted_registry_is_reported_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite"
    with Registry.open(f"sqlite:///{path}") as registry:
        for i in range(300):
            registry.register_product(fake_entry(f"p-{i:03d}"))
    with open(path, "r+b") as f:  # keep the header, wreck the pages after it
        f.seek(4096)
        f.write(b"\xde\xad\xbe\xef" * 4096)
    damaged = path.read_bytes()
    with pytest.raises(RegistryUnavailableError, match="restore it from a backup"):
        Registry.open(f"sqlite:///{path}")
    assert path.read_bytes() == damaged


def test_a_folder_or_network_filesystem_path_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RegistryUnavailableError, match="is a folder"):
        Registry.open(f"sqlite:///{tmp_path}")
    mounts = f"server:/export {tmp_path} nfs4 rw,relatime 0 0\n/dev/vda / ext4 rw 0 0\n"
    assert filesystem_type(tmp_path / "x" / "r.sqlite", mounts) == "nfs4"
    assert filesystem_type(Path("/usr/lib"), mounts) == "ext4"
    with pytest.raises(RegistryUnavailableError, match=r"network filesystem .*PostgreSQL"):
        check_sqlite_file(tmp_path / "r.sqlite", mounts=mounts)
    monkeypatch.setattr(
        "yamasat.catalogs.registry.engine.filesystem_type", lambda p, m=None: "cifs"
    )
    with pytest.raises(RegistryUnavailableError, match="network filesystem"):
        Registry.open(f"sqlite:///{tmp_path / 'r.sqlite'}")
    assert not (tmp_path / "r.sqlite").exists()


# ---------------------------------------------------------------- concurrent first use


def _together(n: int, fn: Callable[[int], object]) -> tuple[list[object], list[BaseException]]:
    barrier = threading.Barrier(n)
    results: list[object] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            results.append(fn(i))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_concurrent_first_opens_migrate_once(url: str) -> None:
    def open_and_close(_: int) -> None:
        Registry.open(url).close()

    _, errors = _together(6, open_and_close)
    assert errors == []
    with Registry.open(url) as registry, registry.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_concurrent_adds_of_one_solution(reg: Registry) -> None:
    def add(i: int) -> str:
        _add(reg, "same-id", name_en=f"name {i}")
        return "ok"

    results, errors = _together(6, add)
    assert results == ["ok"]
    assert len(errors) == 5 and all(isinstance(e, SolutionExistsError) for e in errors)
    assert [s.id for s in reg.solutions()] == ["same-id"]
