"""The rain watch on the sample (issue 15, item 3): the planted storm makes one event per
municipality of the sample area; the S1 flood is made on the first pass after the peak, the
fused flood once a Sentinel-2 scene after the peak is in too, the S2 landslide waits (no
scene yet, then clouds) until the clear scene six weeks later; reruns on the same day add no
event and no product; `yamasat rainfall report` writes the report alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from yamasat.catalogs.registry import open_registry
from yamasat.catalogs.registry.events import event_links, rain_events
from yamasat.catalogs.sample.manifest import SampleManifest
from yamasat.flows.cli import run
from yamasat.settings import load_settings

pytestmark = pytest.mark.slow


def _by_kind(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["kind"]: r for r in result["rows"]}


def test_rain_watch_follows_the_planted_storm_to_its_products(
    prefect_harness: None,
    sample_root: Path,
    workspace: Path,
    boundaries_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from yamasat.flows.rain_watch import rain_watch

    monkeypatch.setenv("YAMASAT_BOUNDARIES__PATH", str(boundaries_path))
    cfg = workspace / "rain.yaml"
    cfg.write_text(
        "sources: {sample-rainfall: {kind: static, profile: jaxa-earth, "
        f"location: '{sample_root / 'gsmap' / 'catalog.json'}'}}}}\n",
        encoding="utf-8",
    )
    bbox = ",".join(f"{v:g}" for v in SampleManifest.read(sample_root).bbox)
    kwargs: dict[str, Any] = {
        "aoi": bbox,
        "rain_source": "sample-rainfall",
        "source": str(sample_root / "catalog.json"),
        "profile": "sample",
        "config": str(cfg),
    }

    first = rain_watch(today="2025-07-05", **kwargs)
    # the demo extent covers parts of Hikari, Yanai, Tabuse and Hirao: one event each
    assert sorted(e.split("/")[0] for e in first["new_events"]) == [
        "35210",
        "35212",
        "35343",
        "35344",
    ]
    rows = _by_kind(first)
    assert rows["flood-s1"]["status"] == "pending" and "no Sentinel-1" in rows["flood-s1"]["reason"]
    assert rows["landslide-s2"]["status"] == "pending" and first["products"] == []

    flood = rain_watch(today="2025-07-08", **kwargs)
    rows = _by_kind(flood)
    assert flood["new_events"] == [] and rows["flood-s1"]["status"] == "made"
    assert "2025-07-06" in rows["flood-s1"]["reason"] and flood["products"] == [
        rows["flood-s1"]["product"]
    ]
    assert "no Sentinel-2" in rows["landslide-s2"]["reason"]
    # the fused flood waits for a Sentinel-2 acquisition after the peak too
    fused = rows["flood-fused"]
    assert fused["status"] == "pending" and "needs both sensors" in fused["reason"], fused

    again = rain_watch(today="2025-07-08", **kwargs)
    assert again["new_events"] == [] and again["products"] == []
    assert _by_kind(again)["flood-s1"]["status"] == "done"

    last = rain_watch(today="2025-07-12", **kwargs)
    fused = _by_kind(last)["flood-fused"]  # S1 07-06 and the (cloudy) S2 07-09: one product
    assert fused["status"] == "made" and last["products"] == [fused["product"]], fused
    assert "2025-07-06" in fused["reason"] and "2025-07-09" in fused["reason"]
    assert last["results"]["flood-fused"]["after"] == "2025-07-05/2025-07-09"
    cloudy = _by_kind(last)["landslide-s2"]
    assert (
        cloudy["status"] == "pending"
        and "clouds" in cloudy["reason"]
        and "2025-07-09" in cloudy["reason"]
    )

    settings = load_settings(cfg)
    with open_registry(settings) as reg:
        events = rain_events(reg)
        links = event_links(reg, [e.id for e in events])
    assert len(events) == 4
    assert {links[(e.id, "flood-s1")].product_id for e in events} == {rows["flood-s1"]["product"]}
    fractions = {links[(e.id, "landslide-s2")].clear_fraction for e in events}
    (fraction,) = fractions  # one decision for the storm, kept on each of its events
    assert fraction is not None and fraction < 0.8 and f"{fraction:.2f}" in cloudy["reason"]

    # the report: offline, one section for the one storm, the flood with its table and
    # quicklook, the landslide pending with its reason
    page = Path(last["report"]).read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert page.count("<section>") == 1 and "光市 Hikari City" in page
    flood_part, slide_part = page.split("斜面崩壊")[0], page.split("斜面崩壊")[1]
    assert "area km²" in flood_part and 'alt="quicklook" src="data:image/png;base64,' in flood_part
    assert "保留 pending" in slide_part and "clouds" in slide_part and "2025-07-09" in slide_part
    assert page.count('alt="rainfall ') == 4  # a rainfall chart per municipality
    png = Path(last["report"]).with_suffix(".png")
    assert png.read_bytes()[:4] == b"\x89PNG"

    # six weeks on: no new rain to read (the series ends 07-20), the stored event goes on
    # and the clear 08-18 scene makes the landslide; the flood is not made again
    slide = rain_watch(today="2025-08-20", **kwargs)
    rows = _by_kind(slide)
    assert rows["landslide-s2"]["status"] == "made", rows
    assert "2025-08-18" in rows["landslide-s2"]["reason"]
    assert rows["flood-s1"]["status"] == "done" and slide["products"] == [
        rows["landslide-s2"]["product"]
    ]
    page = Path(slide["report"]).read_text(encoding="utf-8")
    assert "保留 pending" not in page and page.count("area km²") == 3
    assert _by_kind(slide)["flood-fused"]["status"] == "done"

    # the report alone, from the command line: the same page from the registry
    folder = workspace / "report-alone"
    argv = ["--config", str(cfg), "rainfall", "report", "--out", str(folder)]
    assert run([*argv, "--today", "2025-08-20", "--source", "sample-rainfall"]) == 0
    assert "(1 storms)" in capsys.readouterr().out
    alone = (folder / "rain_report.html").read_text(encoding="utf-8")
    assert alone.count("<section>") == 1 and alone.count("area km²") == 3
    assert (folder / "rain_report.png").read_bytes()[:4] == b"\x89PNG"
