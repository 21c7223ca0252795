"""The command line: clear errors and exit codes for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from yamasat.flows.cli import run


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in __import__("os").environ if k.startswith("YAMASAT_")]:
        monkeypatch.delenv(key)


def test_unknown_aoi_lists_valid_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["aoi", "hfu"]) == 2
    err = capsys.readouterr().err
    assert "unknown AOI" in err and "hofu" in err


def test_municipality_without_boundaries(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["aoi", "hofu"]) == 2
    assert "boundaries" in capsys.readouterr().err


def test_municipality_with_boundaries(
    boundaries_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("YAMASAT_BOUNDARIES__PATH", str(boundaries_path))
    assert run(["aoi", "35206"]) == 0
    out = capsys.readouterr().out
    assert "防府市" in out and "Hofu" in out
    assert run(["boundaries", "show"]) == 0
    out = capsys.readouterr().out
    assert "N03" in out and "suo-oshima" in out


def test_reversed_dates_and_unknown_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["search", "--aoi", "131.9,33.9,132,34", "--period", "2025-06-01/2025-05-01"]) == 2
    assert "reversed" in capsys.readouterr().err
    assert (
        run(
            [
                "search",
                "--aoi",
                "131.9,33.9,132,34",
                "--period",
                "2025-05-01/2025-06-01",
                "--source",
                "nowhere",
            ]
        )
        == 2
    )
    assert "unknown source" in capsys.readouterr().err


def test_bad_config_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid:\n  resolutoin: 10\n", encoding="utf-8")
    assert run(["--config", str(bad), "config", "show"]) == 2
    err = capsys.readouterr().err
    assert "resolutoin" in err and "bad.yaml" in err


def test_run_change_rejects_overlap_before_search(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        [
            "run",
            "change",
            "--aoi",
            "131.9,33.9,132,34",
            "--before",
            "2025-05-01/2025-06-10",
            "--after",
            "2025-06-01/2025-06-30",
            "--source",
            "http://127.0.0.1:9/none",
        ]
    )
    assert code == 2
    assert "overlap" in capsys.readouterr().err


def test_search_outside_archive_is_no_data(
    sample_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        [
            "search",
            "--aoi",
            "130.9,34.3,131.0,34.4",
            "--period",
            "2025-04-01/2025-10-31",
            "--source",
            str(sample_root / "catalog.json"),
            "--profile",
            "sample",
        ]
    )
    assert code == 3
    assert "no sentinel-2-c1-l2a items" in capsys.readouterr().err
    code = run(
        [
            "search",
            "--aoi",
            "131.95,33.9,132.05,33.95",
            "--period",
            "2025-04-01/2025-10-31",
            "--source",
            str(sample_root / "catalog.json"),
            "--profile",
            "sample",
        ]
    )
    assert code == 0
    assert "S2B_T52SGC" in capsys.readouterr().out


def test_sample_build_refuses_existing(
    sample_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sample", "build", "--out", str(sample_root)]) == 2
    assert "--force" in capsys.readouterr().err


def test_runs_prune_removes_only_old_checkpoints_of_runs_not_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import time

    from yamasat.catalogs.registry import open_registry
    from yamasat.catalogs.registry.run_records import start_run_record
    from yamasat.settings import load_settings

    out = tmp_path / "products"
    monkeypatch.setenv("YAMASAT_STORAGE__OUTPUT_ROOT", str(out))
    root = out / ".yamasat" / "checkpoints"
    month_ago = time.time() - 30 * 86400
    for lineage, old in (("old-run", True), ("new-run", False), ("live-run", True)):
        kept = root / lineage / "rasters" / f"change-{lineage}"
        kept.mkdir(parents=True)
        for name, size in (("change.tif", 1000), ("draft.json", 10)):
            (kept / name).write_bytes(b"x" * size)
            if old:
                os.utime(kept / name, (month_ago, month_ago))
    with open_registry(load_settings()) as reg:  # recorded by this live process: running
        start_run_record(reg, "live-run", flow="change_detection", software_version="0",
                         parameters={}, aoi=None)  # fmt: skip
    assert run(["runs", "prune", "--older-than-days", "7", "--dry-run"]) == 0
    said = capsys.readouterr().out
    assert "would remove old-run" in said and "1 lineage(s), would free" in said
    assert (root / "old-run").exists()
    assert run(["runs", "prune", "--older-than-days", "7"]) == 0
    said = capsys.readouterr().out
    assert "removed old-run" in said and "new-run" not in said and "live-run" not in said
    assert sorted(p.name for p in root.iterdir()) == ["live-run", "new-run"]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"yamasat {version('yamasat')}"


def test_help_imports_neither_prefect_dask_nor_rasterio() -> None:
    """`--help` (of the root and of commands) stays quick: the heavy libraries are imported
    where a command uses them, not when the CLI starts (a fresh interpreter checks)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from yamasat.flows.cli import run\n"
        "for args in (['--help'], ['run', 'change', '--help'], ['solutions', '--help'],\n"
        "             ['runs', 'list', '--help'], ['catalog', '--help'], ['--version']):\n"
        "    assert run(args) == 0, args\n"
        "print(sorted(m for m in ('prefect', 'dask', 'rasterio') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_piped_tables_keep_whole_ids(sample_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Output that is not a terminal is not cut to 80 columns: ids come out whole."""
    from yamasat.catalogs.sample import SampleManifest

    m = SampleManifest.read(sample_root)
    bbox = ",".join(f"{v:g}" for v in m.bbox)
    catalog = str(sample_root / "catalog.json")
    args = ["search", "--aoi", bbox, "--period", "2025-06-01/2025-06-30", "--family", "s1"]
    assert run([*args, "--source", catalog]) == 0
    out = capsys.readouterr().out
    ids = [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")]
    assert ids and all(i.startswith("S1") and i.endswith("_rtc") and "…" not in i for i in ids)
