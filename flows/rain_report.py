"""The rain event report, in Japanese and English: one self-contained HTML page (pictures
embedded, no network) and a PNG, one section per storm.

Each section: the municipalities with an event, their start, peak, end and the thresholds
crossed; per municipality the daily rainfall with its 24 h and 72 h totals and thresholds;
the products made (flooded km² or landslide count per municipality from the product's own
table, its quicklook), and what is pending and why (no acquisition yet, or clouds with the
clear fraction) or closed. Modelled on the indicator report (``catalogs/registry/report.py``).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import shapely

from ..catalogs.extent.aoi import AOI
from ..catalogs.extent.municipalities import by_code
from ..catalogs.extent.periods import Period
from ..catalogs.products.totals import polygon_totals
from ..catalogs.registry import open_registry
from ..catalogs.registry.events import EventLink, StoredEvent, event_links, product_item
from ..catalogs.registry.events import rain_events as stored_events
from ..errors import NoDataError
from ..processing.rainfall_chart import render_series_png
from ..settings import Settings
from .rain_data import boundaries_or_none, rainfall_table, zones_of
from .rain_plan import FLOOD_FUSED, FLOOD_S1, KINDS, Storm, storms

__all__ = ["RainReport", "municipality_name", "write_rain_report"]

TITLE = "降雨イベント報告 Rain event report"
_KIND_NAMES = {
    FLOOD_S1: "浸水（Sentinel-1） flood (S1)",
    FLOOD_FUSED: "浸水（Sentinel-1・2 統合） fused flood (S1 + S2)",
    "landslide-s2": "斜面崩壊（Sentinel-2） landslide (S2)",
}
_STATUS = {"made": "作成済 made", "pending": "保留 pending", "closed": "終了 closed"}
_CSS = """body{font-family:'Noto Sans CJK JP','IPAexGothic',sans-serif;margin:2em;max-width:62em}
table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.3em .6em}
img{max-width:100%}section{border-top:2px solid #08519c;margin-top:2em}.pending{color:#a50f15}"""


@dataclass(frozen=True)
class RainReport:
    """Where the report was written, and what it holds."""

    html: Path
    png: Path
    storms: int


def _img(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def municipality_name(code: str) -> str:
    m = by_code(code)
    return f"{m.name_ja} {m.name_en}" if m else code


def _aoi_zone(key: str) -> dict[str, shapely.Geometry]:
    """The AOI an event without municipal boundaries was found over, from its key (a
    ``W,S,E,N`` box or a named AOI); none when the key does not resolve."""
    from ..catalogs.extent.aoi import resolve_aoi
    from ..errors import AOIError

    try:
        return {key: resolve_aoi(key.removeprefix("bbox:")).geometry}
    except AOIError:
        return {}


def _series(settings: Settings, storm: Storm, events: list[StoredEvent], today: dt.date,
            rain_source: str | None) -> dict[str, bytes]:  # fmt: skip
    """A rainfall chart per municipality of the storm."""
    boundaries = boundaries_or_none(settings)
    zones = zones_of(AOI("storm", "storm", "storm", shapely.box(122, 24, 154, 46), "-"), boundaries)
    key = "storm"
    if boundaries is None and len(storm.codes) == 1:  # the event is the AOI's: its own key
        key, zones = storm.codes[0], _aoi_zone(storm.codes[0])
    union = shapely.union_all([zones[c] for c in storm.codes if c in zones]) if zones else None
    if union is None or union.is_empty:
        return {}
    end = min(today, (storm.end or today) + dt.timedelta(days=3))
    period = Period(storm.start - dt.timedelta(days=3), end)
    try:
        table = rainfall_table(settings, aoi=AOI(key, key, key, union, "-"),
                               period=period, source=rain_source, today=today,
                               boundaries=boundaries)  # fmt: skip
    except NoDataError:
        return {}
    stat = settings.rainfall.statistic
    out = {}
    for e in events:
        rows = table.frame[table.frame["code"] == e.code].sort_values("day")
        thresholds = {
            f"{24 * k}h": mm for k, mm in settings.rainfall.thresholds_for(e.code).items()
        }
        totals = {f"{24 * k}h": list(rows[f"{stat}_{k}d_mm"]) for k in (1, 3)}
        out[e.code] = render_series_png(
            list(rows["day"]), list(rows[f"{stat}_1d_mm"]), totals, thresholds,
            title=f"{municipality_name(e.code)}: 降水量 rainfall ({stat}, mm)",
        )  # fmt: skip
    return out


def _product_html(settings: Settings, link: EventLink, codes: tuple[str, ...]) -> str:
    with open_registry(settings) as reg:
        found = product_item(reg, link.product_id) if link.product_id else None
    if found is None:
        return f"<p>{html.escape(str(link.product_id))}</p>"
    item, href = found
    base = Path(urlparse(href).path).parent
    assets = item.get("assets", {})
    parts = [f"<p>product <code>{html.escape(str(item.get('id')))}</code></p>"]
    table = assets.get("municipalities")
    if table:
        path = base / str(table["href"])
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        cells = "".join(
            f"<tr><td>{html.escape(r['name_ja'])} {html.escape(r['name_en'])}</td>"
            f"<td>{float(r['area_km2']):.3f}</td><td>{r['objects']}</td></tr>"
            for r in rows if r["code"] in codes
        ) or _whole_area(base, assets.get("polygons"))  # fmt: skip
        parts.append("<table><tr><th>市町村 municipality</th><th>面積 area km²</th>"
                     f"<th>件数 objects</th></tr>{cells}</table>")  # fmt: skip
    look = assets.get("quicklook")
    if look and (base / str(look["href"])).is_file():
        parts.append(_img((base / str(look["href"])).read_bytes(), "quicklook"))
    return "".join(parts)


def _whole_area(base: Path, polygons: dict[str, object] | None) -> str:
    """The product's row over its whole area, from its polygons: without municipal
    boundaries its per-municipality table is empty."""
    path = base / str(polygons["href"]) if polygons else None
    if path is None or not path.is_file():
        return ""
    km2, count = polygon_totals(path)
    return (f"<tr><td>全域 whole area (no municipal boundaries)</td>"
            f"<td>{km2:.3f}</td><td>{count}</td></tr>")  # fmt: skip


def _section(settings: Settings, storm: Storm, events: list[StoredEvent],
             links: dict[tuple[str, str], EventLink], charts: dict[str, bytes]) -> str:  # fmt: skip
    names = ", ".join(municipality_name(c) for c in storm.codes)
    head = (f"<section><h2>{storm.start} – {storm.end or '継続中 ongoing'}: "
            f"{html.escape(names)}</h2>")  # fmt: skip
    rows = "".join(
        f"<tr><td>{html.escape(municipality_name(e.code))}</td><td>{e.start}</td>"
        f"<td>{e.peak}</td>"
        f"<td>{e.end or '継続中 ongoing'}</td><td>{e.peak_mm:.1f}</td>"
        f"<td>{html.escape(', '.join(e.crossed))}</td></tr>"
        for e in events
    )
    body = [head, "<table><tr><th>市町村 municipality</th><th>開始 start</th><th>ピーク peak</th>"
            "<th>終了 end</th><th>日最大 peak day mm</th><th>超過した基準 thresholds crossed</th>"
            f"</tr>{rows}</table>"]  # fmt: skip
    body += [_img(charts[c], f"rainfall {c}") for c in storm.codes if c in charts]
    for kind in KINDS:
        link = next((links[(e, kind)] for e in storm.event_ids if (e, kind) in links), None)
        body.append(f"<h3>{html.escape(_KIND_NAMES[kind])}</h3>")
        if link is None:
            body.append('<p class="pending">未確認 not checked yet</p>')
        elif link.status == "made":
            body.append(_product_html(settings, link, storm.codes))
        else:
            body.append(f'<p class="pending">{html.escape(_STATUS.get(link.status, link.status))}: '
                        f"{html.escape(link.reason)}</p>")  # fmt: skip
    return "".join(body) + "</section>"


def write_rain_report(
    settings: Settings, out_dir: Path, *, today: dt.date, rain_source: str | None = None
) -> RainReport:
    """Write ``rain_report.html`` and ``rain_report.png`` (the wettest event's rainfall) into
    ``out_dir`` from the registry's events and links."""
    with open_registry(settings) as reg:
        events = stored_events(reg)
        links = event_links(reg, [e.id for e in events])
    sections, first_chart = [], None
    for storm in storms(events):
        members = [e for e in events if e.id in storm.event_ids]
        charts = _series(settings, storm, members, today, rain_source)
        wettest = max(members, key=lambda e: e.peak_mm)
        first_chart = first_chart or charts.get(wettest.code)
        sections.append(_section(settings, storm, members, links, charts))
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "rain_report.png"
    png.write_bytes(first_chart or b"")
    page = (f'<!doctype html><html lang="ja"><meta charset="utf-8"><title>{TITLE}</title>'
            f"<style>{_CSS}</style><h1>{TITLE}</h1><p>{today} — GSMaP: © JAXA; days are UTC "
            "days, 09:00–09:00 JST</p>"
            + ("".join(sections) or "<p>イベントなし no events</p>") + "</html>")  # fmt: skip
    page_path = out_dir / "rain_report.html"
    page_path.write_text(page, encoding="utf-8")
    return RainReport(page_path, png, len(sections))
