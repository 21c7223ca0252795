"""Run records, the output catalog and the registry never disagree silently (issue 17,
item 2): where the registry lives and which one a command reads, every disagreement
``catalog validate`` reports, pending registrations, ``catalog rebuild``; and the README's
exit-status table against the code's exit statuses."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest

from tests.support.fake_products import publish_fake_product
from yamasat.catalogs.registry import Registry, add_solution
from yamasat.catalogs.registry.run_records import note_run_products, start_run_record
from yamasat.flows.cli import run
from yamasat.flows.registration import note_pending, pending_registrations

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in __import__("os").environ if k.startswith("YAMASAT_")]:
        monkeypatch.delenv(key)
    root = tmp_path / "products"
    monkeypatch.setenv("YAMASAT_STORAGE__OUTPUT_ROOT", str(root))
    return root


def _cli(args: list[str], capsys: pytest.CaptureFixture[str], code: int = 0) -> tuple[str, str]:
    got = run(args)
    captured = capsys.readouterr()
    assert got == code, captured.err + captured.out
    return captured.out, " ".join(captured.err.split())


def test_the_registry_follows_the_output_root_and_commands_name_it(
    out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from yamasat.settings import load_settings

    settings = load_settings(None)
    other = tmp_path / "elsewhere"
    assert settings.registry_url_resolved == f"sqlite:///{out / 'registry.sqlite'}"
    assert settings.for_output(other).registry_url_resolved == (
        f"sqlite:///{other / 'registry.sqlite'}"
    )
    stdout, err = _cli(["config", "show"], capsys)
    assert json.loads(stdout)["storage"]["registry_url"] == f"sqlite:///{out}/registry.sqlite"
    assert f"registry: {out / 'registry.sqlite'}" in err
    for args in (["runs", "list"], ["solutions", "tally"], ["catalog", "list"]):
        assert f"registry: {out / 'registry.sqlite'}" in _cli(args, capsys)[1], args
    _, err = _cli(["runs", "list", "--out", str(other)], capsys)
    assert f"registry: {other / 'registry.sqlite'}" in err
    _, err = _cli(["catalog", "validate", "--out", str(other)], capsys)
    assert f"registry: {other / 'registry.sqlite'}" in err


def test_validate_reports_every_disagreement_and_repair_settles_them(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = publish_fake_product(out, "a")
    publish_fake_product(out, "b", run_id=None)
    url = f"sqlite:///{out / 'registry.sqlite'}"
    with Registry.open(url) as reg:
        add_solution(reg, "sol", organization="宇部", name_en="x", by="t")
        start_run_record(reg, "run-live", flow="change_detection", software_version="t",
                         parameters={"out": str(out)})  # fmt: skip
        note_run_products(reg, "run-live", [a["item_id"], "change-test-gone"])
    orphan = out / "change" / "change-test-orphan"
    orphan.mkdir()
    (orphan / "change.tif").write_bytes(b"half")
    note_pending(out, a["item_id"], a["item_href"], "sol", "run-live")
    stdout, _ = _cli(["catalog", "validate"], capsys, code=1)
    text = " ".join(stdout.split())
    assert "not_registered change-test-a" in text and "not_registered change-test-b" in text
    assert f"orphan_folder {orphan}" in text
    assert "run_product change-test-gone: run run-live recorded publishing it" in text
    assert "pending change-test-a: registration asked by run run-live" in text
    stdout, _ = _cli(["catalog", "repair"], capsys)
    assert "pending registration done" in stdout and "attached to sol" in stdout
    assert not pending_registrations(out)
    text = " ".join(_cli(["catalog", "validate"], capsys, code=1)[0].split())
    assert "not_registered" not in text and "pending" not in text
    assert "orphan_folder" in text and "run_product change-test-gone" in text
    with Registry.open(url) as reg:
        assert {p.id: sols for p, sols in reg.products()} == {
            "change-test-a": ["sol"], "change-test-b": [],
        }  # fmt: skip


def test_a_run_sweeps_the_staging_of_killed_runs(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    from yamasat.flows.staging import claim_staging, release_staging

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    root = tmp_path / ".staging"
    for name, owner in (("killed", gone.stdout.strip()), ("alive", str(os.getpid()))):
        (root / name).mkdir(parents=True)
        (root / f"{name}.owner").write_text(f"{socket.gethostname()} {owner}")
    (root / "unknown").mkdir()  # no owner noted: left alone
    staging = claim_staging(tmp_path, "mine")
    assert sorted(p.name for p in root.iterdir()) == [
        "alive", "alive.owner", "mine", "mine.owner", "unknown",
    ]  # fmt: skip
    release_staging(staging)
    assert not (root / "mine").exists() and not (root / "mine.owner").exists()


def test_rebuild_sees_what_is_registered(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for tag in ("a", "b"):
        publish_fake_product(out, tag)
    _cli(["catalog", "repair"], capsys)
    (out / "catalog.json").unlink()
    stdout, err = _cli(["catalog", "rebuild"], capsys)
    assert "2 items" in stdout and "catalog rebuild" not in stdout + err
    assert "0 disagreement(s)" in _cli(["catalog", "validate"], capsys)[0]
    # one registry for several roots: another root's products are named, not silently dropped
    monkeypatch.setenv("YAMASAT_STORAGE__REGISTRY_URL", f"sqlite:///{out / 'registry.sqlite'}")
    stdout, _ = _cli(["catalog", "rebuild", "--out", str(tmp_path / "other")], capsys)
    assert "0 items" in stdout and "2 registered product(s) under other output roots" in stdout


def test_a_refused_file_operation_exits_6_without_a_traceback(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("YAMASAT_STORAGE__REGISTRY_URL", f"sqlite:///{tmp_path / 'r.sqlite'}")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    _, err = _cli(["catalog", "rebuild", "--out", str(blocker / "sub")], capsys, code=6)
    assert err.startswith("registry:") and "error:" in err and "Traceback" not in err


def _table() -> dict[int, str]:
    """The README's exit-status table: status → its row."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("| status | when | reasons |") :].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        m = re.match(r"\| (\d+) \|", line)
        assert m, line
        rows[int(m.group(1))] = line
    return rows


def test_the_readme_exit_status_table_is_the_codes() -> None:
    from yamasat import errors
    from yamasat.flows.cli.toolkit import EXIT_CHECK_FAILED, EXIT_INSUFFICIENT, EXIT_SYSTEM

    classes = [
        c for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.YamasatError)
    ]  # fmt: skip
    by_code: dict[int, set[str]] = {}
    for c in classes:
        by_code.setdefault(c.exit_code, set()).add(c.reason)
    signals = {128 + signal.SIGINT, 128 + signal.SIGTERM}
    codes = {0, EXIT_CHECK_FAILED, EXIT_INSUFFICIENT, EXIT_SYSTEM, *by_code, *signals}
    rows = _table()
    assert set(rows) == codes
    for code, reasons in by_code.items():
        if code != 2:  # 2 is every other reason; the others are listed by name
            assert all(f"`{r}`" in rows[code] for r in reasons), (code, reasons)
    for documented in ("source_failed", "source_unreachable", "load_failed"):
        assert f"`{documented}`" in rows[2]
    assert all("`interrupted`" in rows[s] for s in signals)
