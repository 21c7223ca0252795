"""Killed at a fault point, then run again (issue 17, item 5; FAULTS D).

The real ``yamasat run change ... --solution ...`` on the sample archive, in a subprocess,
kills itself with SIGKILL where ``YAMASAT_FAULT_POINT`` says (``processing/faults.py``):
while writing a COG, after moving the product into place but before the catalog knows it,
and inside the registry transaction (on a real PostgreSQL). A re-run, or ``yamasat runs
resume`` of the killed run, must end with exactly one published product, registered and
attached to the solution; no folder at a final path that the catalog does not list; no
staging left; no registration pending; ``catalog validate`` finding no disagreement.

The runs use the session's Prefect server (the killed one from its subprocess, the others
in this process) and cover a 2.3 × 2.2 km AOI around the planted solar farm, so that a run
takes seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.prefect_server import prefect_env
from yamasat.catalogs.registry import Registry, add_solution
from yamasat.catalogs.registry.consistency import final_folders
from yamasat.catalogs.registry.evidence import catalog_items
from yamasat.catalogs.registry.run_records import run_records
from yamasat.flows.demo import CHANGE_PERIODS
from yamasat.flows.registration import pending_registrations

pytestmark = pytest.mark.slow

CLI = str(Path(sys.executable).with_name("yamasat"))
#: around the planted solar farm (132.030–132.035°E, 33.945–33.949°N), well observed
AOI = "132.02,33.935,132.045,33.955"
SOLUTION = "hikari-solar"


@pytest.fixture
def prefect_api(prefect_harness: None) -> str:
    """The session's Prefect server (shared with the other flow tests), for the CLI
    subprocesses as for the runs made in this process."""
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


def _env(tmp_path: Path, api: str, registry_url: str | None) -> dict[str, str]:
    env = prefect_env(tmp_path / "prefect-home", api)
    env = {k: v for k, v in env.items() if not k.startswith("YAMASAT_")}
    env["YAMASAT_STORAGE__OUTPUT_ROOT"] = str(tmp_path / "products")
    env["YAMASAT_DASK__SCHEDULER"] = "threads"
    if registry_url:
        env["YAMASAT_STORAGE__REGISTRY_URL"] = registry_url
    return env


def _cli(args: list[str], env: dict[str, str], fault: str | None = None) -> tuple[int, str]:
    env = env | ({"YAMASAT_FAULT_POINT": fault} if fault else {})
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=300,
                          check=False, start_new_session=True)  # fmt: skip
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def here(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[[list[str], dict[str, str]], tuple[int, str]]:
    """The CLI in this process with the YAMASAT_* variables of ``env`` (no interpreter to
    start, no imports to repeat: seconds saved per call); the fault point is never armed."""
    from yamasat.flows.cli import run

    def go(args: list[str], env: dict[str, str]) -> tuple[int, str]:
        for key in [k for k in os.environ if k.startswith("YAMASAT_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            if key.startswith("YAMASAT_"):
                monkeypatch.setenv(key, value)
        code = run(args)
        captured = capsys.readouterr()
        return code, " ".join((captured.out + captured.err).split())

    return go


def _run_args(sample_root: Path, out: Path) -> list[str]:
    return ["run", "change", "--aoi", AOI, "--before", CHANGE_PERIODS[0], "--after",
            CHANGE_PERIODS[1], "--source", str(sample_root / "catalog.json"), "--out",
            str(out), "--solution", SOLUTION]  # fmt: skip


def _registry_url(out: Path, registry_url: str | None) -> str:
    return registry_url or f"sqlite:///{out / 'registry.sqlite'}"


def _add_solution(url: str) -> None:
    with Registry.open(url) as reg:
        add_solution(reg, SOLUTION, organization="光ソーラー株式会社", name_en="Solar farm watch",
                     status="developed", developed_on="2025-10-01", by="test")  # fmt: skip


def _assert_one_consistent_product(
    out: Path, url: str, env: dict[str, str], here: Callable[..., tuple[int, str]]
) -> None:
    with Registry.open(url) as reg:
        products = reg.products()
        records = run_records(reg, limit=10)
    assert [sols for _p, sols in products] == [[SOLUTION]], products
    (entry, _), = products  # fmt: skip
    catalogued = catalog_items(out)
    assert [p.stem for p in catalogued] == [entry.id]
    assert set(final_folders(out)) == {entry.id}, "a folder at a final path not in the catalog"
    staging = out / ".staging"
    assert not staging.exists() or not list(staging.iterdir()), "staging left behind"
    assert not pending_registrations(out)
    assert any(entry.id in r.products for r in records if r.state == "completed")
    code, text = here(["catalog", "validate", "--out", str(out)], env)
    assert code == 0 and "0 disagreement(s)" in text, text


def _killed(sample_root: Path, tmp_path: Path, api: str, fault: str,
            registry_url: str | None = None) -> tuple[Path, str, dict[str, str]]:  # fmt: skip
    """Run with ``fault`` armed: killed by SIGKILL there; returns (out, registry, env)."""
    out = tmp_path / "products"
    env = _env(tmp_path, api, registry_url)
    url = _registry_url(out, registry_url)
    out.mkdir(parents=True)
    _add_solution(url)
    code, text = _cli(_run_args(sample_root, out), env, fault)
    assert code == -signal.SIGKILL, f"not killed at {fault}: {code}\n{text}"
    return out, url, env


def test_killed_while_writing_a_cog_then_run_again(
    prefect_api: str, sample_root: Path, tmp_path: Path, here: Callable[..., tuple[int, str]]
) -> None:
    out, url, env = _killed(sample_root, tmp_path, prefect_api, "cog_write")
    assert not list(out.glob("change/*")), "a file at a final path after a kill mid-write"
    assert list((out / ".staging").iterdir()), "the kill left no partial staging to clean"
    code, text = here(_run_args(sample_root, out), env)
    assert code == 0 and "attached to hikari-solar" in text, text
    _assert_one_consistent_product(out, url, env, here)


def test_killed_after_the_move_then_resumed(
    prefect_api: str, sample_root: Path, tmp_path: Path, here: Callable[..., tuple[int, str]]
) -> None:
    out, url, env = _killed(sample_root, tmp_path, prefect_api, "after_move")
    (folder,) = out.glob("change/*")  # moved into place, the catalog not written
    assert not (out / "catalog.json").exists() and not list(folder.glob("*.json"))
    code, text = here(["catalog", "validate", "--out", str(out)], env)
    assert code == 1 and "orphan_folder" in text, text
    with Registry.open(url) as reg:
        (killed,) = run_records(reg, limit=5)
    assert killed.state == "running" and killed.lost
    code, text = here(["runs", "resume", killed.id, "--out", str(out)], env)
    assert code == 0 and "published" in text, text
    _assert_one_consistent_product(out, url, env, here)


def test_killed_in_the_registry_commit_on_postgresql_then_run_again(
    prefect_api: str, sample_root: Path, tmp_path: Path, here: Callable[..., tuple[int, str]]
) -> None:
    from tests.support.postgres import postgres_server

    pg = postgres_server().create_database()
    out, url, env = _killed(sample_root, tmp_path, prefect_api, "registry_commit", pg)
    with Registry.open(url) as reg:
        assert reg.products() == []  # the transaction died with the process
        (killed,) = run_records(reg, limit=5)
    assert len(killed.products) == 1, "the run published a product and must name it"
    (pending,) = pending_registrations(out)
    assert pending.product_id == killed.products[0] and pending.solution == SOLUTION
    code, text = here(["catalog", "validate", "--out", str(out)], env)
    assert code == 1 and "pending" in text and "not_registered" in text, text
    code, text = here(_run_args(sample_root, out), env)
    assert code == 0 and "already published" in text, text
    _assert_one_consistent_product(out, url, env, here)
