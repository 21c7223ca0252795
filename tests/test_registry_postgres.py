"""PostgreSQL specifics, on a real server started here (``tests/support/postgres.py``).

The generic registry suite (``tests/test_registry.py``) runs against this server too, via
its ``url`` fixture; this module checks what only a server can show. Skipped, with the
reason, only when no PostgreSQL server can be started on this machine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.fake_products import publish_fake_product
from tests.support.postgres import PostgresServer, free_port, postgres_server
from yamasat.catalogs.registry import Registry, add_solution
from yamasat.errors import RegistryUnavailableError
from yamasat.flows.cli import run


@pytest.fixture
def server() -> PostgresServer:
    return postgres_server()


def test_a_real_server_is_running(server: PostgresServer) -> None:
    assert server.version.startswith("PostgreSQL ")
    print(f"registry tests ran against {server.version.split(',')[0]} on port {server.port}")


def test_plain_postgresql_urls_use_psycopg(server: PostgresServer) -> None:
    url = server.create_database().replace("postgresql+psycopg://", "postgresql://")
    with Registry.open(url) as reg:
        assert reg.engine.dialect.driver == "psycopg"
        add_solution(reg, "pg-one", organization="山口", name_ja="テスト", by="t")
        assert [s.id for s in reg.solutions()] == ["pg-one"]


def test_an_unreachable_server_is_reported_without_the_password() -> None:
    url = f"postgresql://staff:s3cret-pw@127.0.0.1:{free_port()}/registry"
    with pytest.raises(RegistryUnavailableError) as info:
        Registry.open(url, busy_timeout_s=2)
    message = str(info.value)
    assert "s3cret-pw" not in message and "***" in message
    assert "Check that the server runs" in message


def test_the_cli_on_postgresql(
    server: PostgresServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("YAMASAT_")]:
        monkeypatch.delenv(key)
    out = tmp_path / "products"
    monkeypatch.setenv("YAMASAT_STORAGE__OUTPUT_ROOT", str(out))
    monkeypatch.setenv("YAMASAT_STORAGE__REGISTRY_URL", server.create_database())
    args = ["solutions", "add", "pg-sol", "--org", "宇部", "--name-en", "pg"]
    assert run([*args, "--status", "developed", "--developed-on", "2025-04-01"]) == 0
    item = publish_fake_product(out, "pg")["item_href"]
    assert run(["solutions", "attach", "pg-sol", item]) == 0
    capsys.readouterr()
    assert run(["solutions", "tally", "--format", "json", "--verify"]) == 0
    data = json.loads(capsys.readouterr().out)
    fy25 = next(r for r in data["rows"] if r["fy"] == 2025)
    assert [c["id"] for c in fy25["counted"]] == ["pg-sol"]
    assert not (out / "registry.sqlite").exists()  # the server, not a file, holds the registry
