"""The sample's rainfall (issue 15, item 5): a GSMaP series in the JAXA Earth layout over the
whole prefecture with a planted storm where and before the planted landslides and flood; on
it, exactly one event per municipality the storm covers and none elsewhere."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import shapely
from pyproj import Transformer

from yamasat.catalogs.extent.boundaries import load_boundaries
from yamasat.catalogs.sample.build import build_sample
from yamasat.catalogs.sample.rainfall import STORM_MM, storm_cells, write_rainfall
from yamasat.catalogs.sample.schedule import EVENT_DATES
from yamasat.catalogs.sample.world import DEFAULT_BBOX, DEFAULT_SEED, World
from yamasat.flows.cli import run

PEAK = max(STORM_MM, key=lambda d: STORM_MM[d])


@pytest.fixture(scope="module")
def rain_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    write_rainfall(root, DEFAULT_BBOX)
    return root


def _storm_boxes() -> list[shapely.Polygon]:
    rows, cols = storm_cells(DEFAULT_BBOX)
    return [
        shapely.box(90 + c * 0.1, 90 - (r + 1) * 0.1, 90 + (c + 1) * 0.1, 90 - r * 0.1)
        for r in range(rows.start, rows.stop)
        for c in range(cols.start, cols.stop)
    ]


def _planted_codes(boundaries_path: Path) -> set[str]:
    """Municipalities holding the demo world's planted flood and landslide scars."""
    to_ll = Transformer.from_crs(6671, 4326, always_xy=True)
    frame = load_boundaries(boundaries_path).frame
    codes = set()
    for event in World(DEFAULT_SEED, DEFAULT_BBOX).events():
        if event.name not in ("flood", "landslide"):
            continue
        for part in event.parts():
            c = part.centroid
            point = shapely.Point(*to_ll.transform(c.x, c.y))
            codes |= set(frame[frame.intersects(point)]["code"])
    return codes


def test_the_storm_gives_one_event_per_covered_municipality_and_none_elsewhere(
    rain_root: Path, workspace: Path, boundaries_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = workspace / "c.yaml"
    cfg.write_text(
        f"boundaries: {{path: {boundaries_path}}}\n"
        f"sources: {{sample-rainfall: {{kind: static, location: "
        f"'{rain_root / 'gsmap' / 'catalog.json'}', profile: jaxa-earth}}}}\n"
        f"network: {{allowed_roots: ['{rain_root}']}}\n"
        "rainfall: {source: sample-rainfall}\n",
        encoding="utf-8",
    )
    argv = ["--config", str(cfg), "rainfall", "--aoi", "yamaguchi", "--format", "json"]
    assert run([*argv, "--period", "2025-06-22/2025-07-20", "--events"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["missing_days"] == [] and data["source_unit"] == "mm/hr"
    assert len({r["code"] for r in data["rows"]}) == 19  # the whole prefecture has rain

    frame = load_boundaries(boundaries_path).frame
    storm = shapely.union_all(_storm_boxes())
    covered = {
        c
        for c, g in zip(frame["code"], frame.geometry, strict=True)
        if g.intersection(storm).area > 0
    }
    planted = _planted_codes(boundaries_path)
    assert planted and planted <= covered  # the rain falls where the damage is
    assert covered != set(frame["code"])

    events = [line for line in captured.err.splitlines() if "/2025-" in line]
    codes = [line.split("/2025-")[0].split()[-1].strip("│ ") for line in events]
    assert sorted(codes) == sorted(covered)  # exactly one per covered municipality
    first, last = min(STORM_MM), max(STORM_MM)
    for line in events:  # id code/start, then start, peak, end: the storm's own days
        assert f"/{first}" in line and str(PEAK) in line and str(last) in line
    assert PEAK < EVENT_DATES["landslide"].date < EVENT_DATES["flood"].date

    # the rain rows agree: every covered municipality crosses 72 h ≥ 150 mm, none other does
    wettest = {}
    for r in data["rows"]:
        wettest[r["code"]] = max(wettest.get(r["code"], 0.0), r["max_3d_mm"] or 0.0)
    assert {c for c, v in wettest.items() if v >= 150.0} == covered


@pytest.mark.slow
def test_the_sample_build_adds_the_series_beside_the_catalog(tmp_path: Path) -> None:
    out = tmp_path / "archive"
    build_sample(out, bbox=(131.98, 33.93, 132.02, 33.96), seed=DEFAULT_SEED)
    root = json.loads((out / "catalog.json").read_text(encoding="utf-8"))
    assert all("gsmap" not in link["href"] for link in root["links"])  # the main catalog unchanged
    days = sorted((out / "gsmap").rglob("*-PRECIP.tiff"))
    assert len(days) == 31
    assert (out / "gsmap" / "catalog.json").is_file()
    first = dt.date(2025, 6, 20)
    assert f"{first:%Y-%m}/{first:%d}" in days[0].as_posix()
