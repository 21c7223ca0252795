"""``yamasat solutions ...`` and ``yamasat catalog ...`` end to end on a SQLite registry,
with the bad input the issue lists, and the ``indicator_report`` Prefect flow."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from pathlib import Path

import pytest

from tests.support.fake_products import publish_fake_product
from yamasat.flows.cli import run

TODAY = dt.date.today()


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("YAMASAT_")]:
        monkeypatch.delenv(key)
    root = tmp_path / "products"
    monkeypatch.setenv("YAMASAT_STORAGE__OUTPUT_ROOT", str(root))
    return root


def _ok(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = run(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err + captured.out
    return captured.out


def _fails(args: list[str], capsys: pytest.CaptureFixture[str], code: int = 2) -> str:
    assert run(args) == code
    captured = capsys.readouterr()
    return " ".join((captured.err + captured.out).split())  # undo rich's line wrapping


def _add(sid: str, *extra: str) -> list[str]:
    return ["solutions", "add", sid, "--org", "宇部データ株式会社", "--name-en", sid, *extra]


def test_register_attach_tally_report(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _ok(_add("ube-flood", "--name-ja", "浸水把握", "--status", "developed",
             "--developed-on", "2024-04-01", "--source", "sentinel-2", "--theme", "disaster"),
        capsys)  # fmt: skip
    _ok(_add("old-one", "--status", "developed", "--developed-on", "2021-05-01"), capsys)
    _ok(_add("idea"), capsys)
    product = publish_fake_product(out, "cli")
    text = _ok(["solutions", "attach", "ube-flood", product["item_href"], "--by", "sato"], capsys)
    assert "registered" in text and "attached to ube-flood" in text
    text = _ok(["solutions", "attach", "ube-flood", "change-test-cli"], capsys)
    assert "already attached" in text

    data = json.loads(_ok(["solutions", "tally", "--format", "json"], capsys))
    fy24 = next(r for r in data["rows"] if r["fy"] == 2024)
    assert (fy24["label"], fy24["new"], fy24["cumulative"], fy24["target"]) == (
        "令和6年度", 1, 26, 29,
    )  # fmt: skip
    [counted] = fy24["counted"]
    assert counted["id"] == "ube-flood"
    assert counted["evidence"][0]["product_id"] == "change-test-cli"
    assert counted["evidence"][0]["run_id"] == "run-1"
    assert [b["id"] for b in data["baseline_solutions"]] == ["old-one"]
    assert "configured baseline is 25" in data["warnings"][0]

    rows = list(csv.DictReader(io.StringIO(_ok(["solutions", "tally", "--format", "csv",
                                                "--fy", "2024"], capsys))))  # fmt: skip
    assert [r["fy"] for r in rows] == ["2022", "2023", "2024"]
    md = _ok(["solutions", "tally", "--format", "md"], capsys)
    assert "| FY2024 | 令和6年度 | 1 | 26 | 29 | 3 |" in md
    table = _ok(["solutions", "tally", "--verify"], capsys)
    assert "令和6年度" in table and "ube-flood" in table

    text = _ok(["solutions", "report", "--out", str(out.parent / "rep")], capsys)
    page = (out.parent / "rep" / "indicator.html").read_text(encoding="utf-8")
    assert "change-test-cli" in page and "quicklook" in page
    assert (out.parent / "rep" / "indicator.png").read_bytes()[:4] == b"\x89PNG"
    assert "indicator.html" in text

    shown = _ok(["solutions", "show", "ube-flood"], capsys)
    assert "counts in FY2024 (令和6年度)" in shown and "sentinel-2" in shown
    listed = json.loads(_ok(["solutions", "list", "--format", "json"], capsys))
    assert [s["id"] for s in listed] == ["idea", "old-one", "ube-flood"]
    assert listed[2]["evidence"] == ["change-test-cli"]


def test_status_changes_back_and_forth(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _ok(_add("bf", "--status", "developed", "--developed-on", "2024-03-31"), capsys)
    _ok(["solutions", "attach", "bf", publish_fake_product(out, "bf")["item_href"]], capsys)
    _ok(["solutions", "set-status", "bf", "prototype", "--reason", "accuracy too low",
         "--on", "2024-05-01", "--by", "suzuki"], capsys)  # fmt: skip
    data = json.loads(_ok(["solutions", "tally", "--format", "json"], capsys))
    assert data["not_counted"][0]["id"] == "bf" and "moved back" in data["not_counted"][0]["reason"]
    text = _ok(["solutions", "set-status", "bf", "developed", "--reason", "fixed",
                "--on", "2024-08-01"], capsys)  # fmt: skip
    assert "developed_on stays 2024-03-31" in text
    data = json.loads(_ok(["solutions", "tally", "--format", "json"], capsys))
    counted = [(c["id"], r["fy"]) for r in data["rows"] for c in r["counted"]]
    assert counted == [("bf", 2023)]  # once, in the FY of 31 March 2024 (FY2023)
    assert data["baseline_solutions"] == [] and data["not_counted"] == []
    shown = _ok(["solutions", "show", "bf"], capsys)
    assert "suzuki" in shown and "accuracy too low" in shown


def test_bad_input_is_named(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _ok(_add("ube-flood-alert", "--status", "prototype"), capsys)
    err = _fails(["solutions", "show", "ube-flod-alert"], capsys)
    assert "unknown solution 'ube-flod-alert'" in err and "did you mean: ube-flood-alert" in err
    err = _fails(["solutions", "set-status", "ube-flood-alert", "retired", "--reason", "x",
                  "--on", "2020-01-01"], capsys)  # fmt: skip
    assert "cannot take effect before" in err
    err = _fails(["solutions", "set-status", "ube-flood-alert", "prototype", "--reason", "x"],
                 capsys)  # fmt: skip
    assert "allowed from 'prototype': proposed, developed, deployed, retired" in err
    future = (TODAY + dt.timedelta(days=2)).isoformat()
    err = _fails(["solutions", "set-status", "ube-flood-alert", "developed", "--reason", "x",
                  "--on", future], capsys)  # fmt: skip
    assert "in the future" in err
    err = _fails(_add("other", "--name-en", "UBE flood alert"), capsys)
    assert "already has a solution with this name" in err
    _ok(["solutions", "add", "other", "--org", "防府スペース", "--name-en", "ube flood alert"],
        capsys)  # fmt: skip
    missing = publish_fake_product(out, "gone")
    Path(missing["files"]["change"]["path"]).unlink()
    err = _fails(["solutions", "attach", "other", missing["item_href"]], capsys)
    assert "refused" in err and "change.tif is missing" in err
    err = _fails(["solutions", "attach", "other", "change-test-nothere"], capsys)
    assert "unknown product 'change-test-nothere'" in err
    err = _fails(["solutions", "tally", "--fy", "2020"], capsys)
    assert "before the baseline" in err


def test_a_corrupted_registry_is_reported_never_replaced(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out.mkdir(parents=True)
    registry = out / "registry.sqlite"
    registry.write_bytes(b"garbage, not a database\n" * 100)
    before = registry.read_bytes()
    err = _fails(["solutions", "list"], capsys)
    assert "not a SQLite database" in err and "left untouched" in err
    assert registry.read_bytes() == before


def test_catalog_repair_list_validate_rebuild(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = publish_fake_product(out, "a")
    publish_fake_product(out, "b")
    text = _ok(["catalog", "repair"], capsys)
    assert "2 registered, 0 already registered" in text
    assert "0 registered, 2 already registered" in _ok(["catalog", "repair"], capsys)
    listed = json.loads(_ok(["catalog", "list", "--format", "json"], capsys))
    assert [p["id"] for p in listed] == ["change-test-a", "change-test-b"]
    assert "2 of 2 products verified" in _ok(["catalog", "validate"], capsys)
    data = bytearray(Path(a["files"]["change"]["path"]).read_bytes())
    data[-10] ^= 0xFF
    Path(a["files"]["change"]["path"]).write_bytes(bytes(data))
    text = _fails(["catalog", "validate"], capsys, code=1)
    assert "FAILED change-test-a" in text and "checksum" in text
    assert "1 of 2 products verified" in text
    (out / "catalog.json").unlink()
    text = _ok(["catalog", "rebuild"], capsys)
    assert "1 items" in text and "left out change-test-a" in " ".join(text.split())
    assert json.loads((out / "catalog.json").read_text())["id"] == "yamasat-products"


@pytest.mark.slow
def test_indicator_report_flow(prefect_harness: None, out: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from yamasat.catalogs.registry import add_solution, attach_evidence, open_registry
    from yamasat.flows.indicator import indicator_report
    from yamasat.settings import load_settings

    settings = load_settings()
    with open_registry(settings) as reg:
        add_solution(reg, "flow-sol", organization="山口", name_ja="検証", status="developed",
                     developed_on="2025-06-01", by="t")  # fmt: skip
        attach_evidence(reg, "flow-sol", publish_fake_product(out, "f")["item_href"], by="t")
    result = indicator_report(out=str(out.parent / "flowrep"))
    assert result["counted"] == ["flow-sol"]
    assert Path(result["html"]).is_file() and Path(result["png"]).is_file()
    with get_client(sync_client=True) as client:
        keys = ArtifactFilterKey(any_=["indicator-report", "indicator-tally"])
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=keys))
    assert {a.key for a in found} == {"indicator-report", "indicator-tally"}


def test_plain_tally_does_not_count_evidence_changed_after_attaching(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tally re-checks the evidence by default: a product file changed since it was
    attached no longer counts (it overcounted before, trusting the check made at attach)."""
    _ok(_add("changed", "--status", "developed", "--developed-on", "2024-06-01"), capsys)
    product = publish_fake_product(out, "changed")
    _ok(["solutions", "attach", "changed", product["item_href"]], capsys)
    counted = json.loads(_ok(["solutions", "tally", "--format", "json"], capsys))
    fy24 = next(r for r in counted["rows"] if r["fy"] == 2024)
    assert [c["id"] for c in fy24["counted"]] == ["changed"]

    item = json.loads(Path(product["item_href"]).read_text(encoding="utf-8"))
    tif = next(a["href"] for a in item["assets"].values() if a["href"].endswith(".tif"))
    path = Path(tif) if Path(tif).is_absolute() else Path(product["item_href"]).parent / tif
    path.write_bytes(path.read_bytes() + b"tampered")

    trusted = _ok(["solutions", "tally", "--no-verify"], capsys)
    assert "not re-checked (--no-verify)" in trusted
    data = json.loads(_ok(["solutions", "tally", "--format", "json"], capsys))
    fy24 = next(r for r in data["rows"] if r["fy"] == 2024)
    assert fy24["counted"] == [] and fy24["new"] == 0
    assert any(x["id"] == "changed" for x in data["not_counted"])
    table = _ok(["solutions", "tally"], capsys)
    assert "re-checked now" in table


def test_a_late_solution_gets_its_real_history_with_since(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Registered today as a prototype, a solution could not be marked developed on its real
    (earlier) date, and the error read '(None → prototype)'."""
    _ok(_add("late", "--status", "prototype"), capsys)
    err = _fails(["solutions", "set-status", "late", "developed", "--reason", "done",
                  "--on", "2023-10-01"], capsys)  # fmt: skip
    assert "None" not in err and "first recorded as 'prototype'" in err and "--since" in err
    _ok(_add("late2", "--status", "prototype", "--since", "2023-05-01"), capsys)
    _ok(["solutions", "set-status", "late2", "developed", "--reason", "done",
         "--on", "2023-10-01"], capsys)  # fmt: skip
    _ok(["solutions", "attach", "late2", publish_fake_product(out, "late2")["item_href"]], capsys)
    data = json.loads(_ok(["solutions", "tally", "--format", "json"], capsys))
    fy23 = next(r for r in data["rows"] if r["fy"] == 2023)
    assert [c["id"] for c in fy23["counted"]] == ["late2"]
