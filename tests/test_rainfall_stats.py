"""Accumulated rainfall per municipality (issue 15, item 1): the per-zone totals against a
hand computation on a small grid, missing days as unknown (never zero), and ``yamasat
rainfall`` through a configured JAXA source on loopback giving the same numbers as table,
CSV and JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr

from tests.support.jaxa_catalog import JaxaTree, build_jaxa_tree
from tests.support.rangeserver import RangeServer
from yamasat.flows.cli import run
from yamasat.processing.rainfall_stats import municipality_table, zone_weights

D0 = dt.date(2025, 7, 1)


def _grid(values: np.ndarray, days: list[dt.date]) -> xr.DataArray:
    """(time, 2, 2) mm/day on 0.1° pixels centred at lon 131.05/131.15, lat 34.15/34.05."""
    return xr.DataArray(
        values.astype("float32"),
        dims=("time", "y", "x"),
        coords={
            "time": [pd.Timestamp(d) for d in days],
            "y": [34.15, 34.05],
            "x": [131.05, 131.15],
        },
    )


def test_zone_totals_match_a_hand_computation() -> None:
    days = [D0 + dt.timedelta(days=i) for i in range(3)]
    # day i, pixel [row, col]
    values = np.array(
        [
            [[10.0, 20.0], [0.0, 40.0]],
            [[30.0, 0.0], [5.0, 60.0]],
            [[0.0, 100.0], [1.0, 2.0]],
        ]
    )
    rain = _grid(values, days)
    # A: all of pixel (0,0) and the western half of pixel (0,1) (one row: same cos(lat))
    zone_a = shapely.box(131.0, 34.1, 131.15, 34.2)
    # B: all of pixel (1,1) and the south-east quarter of pixel (0,1) (two rows: cos(lat))
    zone_b = shapely.box(131.1, 34.0, 131.2, 34.1).union(shapely.box(131.15, 34.1, 131.2, 34.15))
    table = municipality_table(rain, [("A", zone_a), ("B", zone_b)], days=days[1:])

    a = table[table["code"] == "A"].set_index("day")
    # day 2: mean = (1*30 + 0.5*0) / 1.5 ; max over (0,0),(0,1) = 30
    assert a.loc[days[1], "mean_1d_mm"] == pytest.approx(20.0)
    assert a.loc[days[1], "max_1d_mm"] == pytest.approx(30.0)
    # 2-day totals ending day 2: (0,0) 40, (0,1) 20 -> mean (40 + 10) / 1.5
    assert a.loc[days[1], "mean_2d_mm"] == pytest.approx(50.0 / 1.5)
    assert a.loc[days[1], "max_2d_mm"] == pytest.approx(40.0)
    # 3-day totals ending day 3: (0,0) 40, (0,1) 120 -> mean (40 + 60) / 1.5, max 120
    assert a.loc[days[2], "mean_3d_mm"] == pytest.approx(100.0 / 1.5)
    assert a.loc[days[2], "max_3d_mm"] == pytest.approx(120.0)
    # no 3-day total ending day 2: its first day is before the data
    assert math.isnan(a.loc[days[1], "mean_3d_mm"]) and not a.loc[days[1], "complete"]

    b = table[table["code"] == "B"].set_index("day")
    w11 = 0.01 * math.cos(math.radians(34.05))  # all of pixel (1,1)
    w01 = 0.0025 * math.cos(math.radians(34.15))  # a quarter of pixel (0,1)
    expected = (w11 * 2.0 + w01 * 100.0) / (w11 + w01)
    assert b.loc[days[2], "mean_1d_mm"] == pytest.approx(expected, rel=1e-6)
    assert b.loc[days[2], "max_1d_mm"] == pytest.approx(100.0)
    assert b.loc[days[2], "max_3d_mm"] == pytest.approx(120.0)
    assert b.loc[days[2], "mean_3d_mm"] == pytest.approx(
        (w11 * 102.0 + w01 * 120.0) / (w11 + w01), rel=1e-6
    )
    assert (table["coverage"] == 1.0).all()


def test_weights_are_cell_area_inside_the_zone() -> None:
    w = zone_weights(
        np.array([131.05, 131.15]),
        np.array([34.15]),
        [("z", shapely.box(131.0, 34.1, 131.12, 34.2))],
    )["z"]
    c = math.cos(math.radians(34.15))
    np.testing.assert_allclose(w, [[0.01 * c, 0.002 * c]], rtol=1e-9)


def test_a_missing_day_makes_its_windows_unknown_not_zero() -> None:
    days = [D0 + dt.timedelta(days=i) for i in range(4)]
    values = np.full((3, 2, 2), 50.0)
    rain = _grid(values, [days[0], days[1], days[3]])  # day 3 missing
    table = municipality_table(rain, [("A", shapely.box(131.0, 34.0, 131.2, 34.2))], days=days)
    t = table.set_index("day")
    assert t.loc[days[1], "max_2d_mm"] == pytest.approx(100.0)
    assert math.isnan(t.loc[days[2], "max_1d_mm"]) and t.loc[days[2], "coverage"] == 0.0
    assert math.isnan(t.loc[days[3], "max_2d_mm"])  # covers the missing day
    assert t.loc[days[3], "max_1d_mm"] == pytest.approx(50.0)
    assert list(t["complete"]) == [False, False, False, False]


def test_a_partly_missing_pixel_lowers_coverage_and_is_left_out_of_the_mean() -> None:
    days = [D0]
    values = np.array([[[10.0, np.nan], [30.0, 30.0]]])
    table = municipality_table(
        _grid(values, days), [("A", shapely.box(131.0, 34.1, 131.2, 34.2))], days=days
    )
    assert table.loc[0, "mean_1d_mm"] == pytest.approx(10.0)
    assert table.loc[0, "coverage"] == pytest.approx(0.5)


# --- the command, through a configured JAXA source on loopback --------------------------

DAYS = [dt.date(2023, 7, 1) + dt.timedelta(days=i) for i in range(5)]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> JaxaTree:
    return build_jaxa_tree(tmp_path_factory.mktemp("jaxa"), days=DAYS, dem_tiles=())


@pytest.fixture
def srv(tree: JaxaTree) -> Iterator[RangeServer]:
    with RangeServer(tree.root) as server:
        yield server


@pytest.fixture
def configured(
    srv: RangeServer, workspace: Path, boundaries_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    for key in [k for k in __import__("os").environ if k.startswith("YAMASAT_")]:
        if key != "YAMASAT_STORAGE__OUTPUT_ROOT":
            monkeypatch.delenv(key)
    monkeypatch.setenv("GDAL_HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    host = srv.url.split("//", 1)[1]
    cfg = workspace / "rain.yaml"
    cfg.write_text(
        f"boundaries: {{path: {boundaries_path}}}\n"
        f"sources: {{gsmap-test: {{kind: jaxa, location: '{srv.url}/catalog.json', "
        "profile: jaxa-earth}}\n"
        f"network: {{allowed_http_hosts: ['{host}', '127.0.0.1'], timeout_s: 5, max_retries: 1}}\n"
        "rainfall: {source: gsmap-test}\n",
        encoding="utf-8",
    )
    return cfg


def _rows(fmt: str, cfg: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    argv = ["--config", str(cfg), "rainfall", "--aoi", "hofu", "--period", "2023-07-03/2023-07-05"]
    assert run([*argv, "--format", fmt, *extra]) == 0
    return capsys.readouterr().out


def test_rainfall_command_table_csv_and_json_agree(
    configured: Path, tree: JaxaTree, boundaries_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(_rows("json", configured, capsys))
    rows = [r for r in data["rows"] if r["code"] == "35206"]
    assert [r["day"] for r in rows] == ["2023-07-03", "2023-07-04", "2023-07-05"]
    assert "09:00-09:00 JST" in data["day"] and data["units"] == "mm"
    assert data["source_unit"] == "mm/hr" and data["missing_days"] == []
    assert all(r["complete"] for r in rows)

    # independent check of the largest 1-day value: 24 × the stored rate of any pixel whose
    # cell meets Hofu, on the tree's own grid
    from yamasat.catalogs.extent.boundaries import load_boundaries

    hofu = load_boundaries(boundaries_path).municipality("35206")
    west, north, res = tree.rain_grid
    w, s, e, n = hofu.bounds
    c0, c1 = int((w - west) / res), int((e - west) / res) + 1
    r0, r1 = int((north - n) / res), int((north - s) / res) + 1
    cells = [
        (r, c)
        for r in range(r0, r1)
        for c in range(c0, c1)
        if shapely.box(west + c * res, north - (r + 1) * res, west + (c + 1) * res, north - r * res)
        .intersection(hofu)
        .area
        > 0
    ]
    for r in rows:
        day = dt.date.fromisoformat(r["day"])
        rate = tree.rain_mm_per_hr[day]
        assert r["max_1d_mm"] == pytest.approx(max(24 * rate[c] for c in cells), abs=0.051)
        three = [
            sum(24 * tree.rain_mm_per_hr[day - dt.timedelta(days=k)][c] for k in range(3))
            for c in cells
        ]
        assert r["max_3d_mm"] == pytest.approx(max(three), abs=0.051)
        assert min(three) - 0.05 <= r["mean_3d_mm"] <= max(three) + 0.05

    text = _rows("csv", configured, capsys)
    csv_rows = list(csv.DictReader(io.StringIO(text)))
    assert len(csv_rows) == len(data["rows"])
    for a, b in zip(csv_rows, data["rows"], strict=True):
        assert a["code"] == b["code"] and a["day"] == b["day"]
        for col in ("mean_1d_mm", "max_1d_mm", "mean_3d_mm", "max_3d_mm"):
            assert float(a[col]) == b[col]

    table = _rows("table", configured, capsys)
    assert "09:00-09:00 JST" in table and "防府市" in table
    for r in rows:
        assert f"{r['max_3d_mm']:.1f}" in table and f"{r['mean_1d_mm']:.1f}" in table


def test_rainfall_command_writes_a_png_and_warns_of_late_days(
    configured: Path, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = workspace / "rain.png"
    argv = ["--config", str(configured), "rainfall", "--aoi", "hofu"]
    # 2023-07-06 and 07 are not in the archive: unknown, not "no rain"
    assert (
        run([*argv, "--period", "2023-07-04/2023-07-07", "--format", "json", "--png", str(png)])
        == 0
    )
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["missing_days"] == ["2023-07-06", "2023-07-07"]
    assert "warning" in captured.err and "2023-07-06" in captured.err and "not zero" in captured.err
    last = [r for r in data["rows"] if r["day"] == "2023-07-07"]
    assert last and all(r["max_1d_mm"] is None and r["max_3d_mm"] is None for r in last)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_rainfall_events_are_recorded_once_across_reruns(
    configured: Path, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tree's planted rain (0.5 mm/hr more each day, tens of mm a day) crosses a 72-hour
    threshold of 30 mm in Hofu: one event, kept once however often the command runs."""
    cfg = configured.read_text(encoding="utf-8").replace(
        "rainfall: {source: gsmap-test}",
        "rainfall: {source: gsmap-test, thresholds: {h24_mm: null, h72_mm: 30.0}}",
    )
    configured.write_text(cfg, encoding="utf-8")
    argv = ["--config", str(configured), "rainfall", "--aoi", "hofu", "--events"]
    for _ in range(2):
        assert run([*argv, "--period", "2023-07-03/2023-07-05"]) == 0
    out = capsys.readouterr().out
    assert "rain events: 1 (1 new)" in out and "rain events: 1 (0 new)" in out
    assert "35206/2023-07-03" in out and "ongoing" in out  # wet from the first day read


def test_rainfall_without_an_aoi_or_a_command_says_what_to_give(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["rainfall"]) == 2
    err = capsys.readouterr().err
    assert "--aoi and --period" in err and "yamasat rainfall report" in err
    assert run(["rainfall", "report", "--help"]) == 0
    assert "--today" in capsys.readouterr().out
