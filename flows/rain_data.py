"""Daily rainfall per municipality for a period: search the configured rainfall source,
read GSMaP, accumulate per municipality (``processing/rainfall_stats.py``), and say which
days the dataset lacks (missing, or late: GSMaP's standard product appears days after).

Used by ``yamasat rainfall`` and the ``rain_watch`` flow; no Prefect here."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import xarray as xr
from shapely.geometry.base import BaseGeometry

from ..catalogs.extent.aoi import AOI
from ..catalogs.extent.boundaries import Boundaries, load_boundaries
from ..catalogs.extent.municipalities import by_code
from ..catalogs.extent.periods import Period
from ..errors import BoundariesMissingError, NoDataError
from ..processing.gdal_env import configure_gdal
from ..processing.rainfall import DAY_NOTE, read_daily_rainfall
from ..processing.rainfall_events import RainEvent, detect_events
from ..processing.rainfall_stats import WINDOWS, municipality_table
from ..settings import Settings

__all__ = [
    "COLUMNS",
    "RainfallTable",
    "boundaries_or_none",
    "detect",
    "rainfall_table",
    "records",
    "zones_of",
]

COLUMNS = [
    "code",
    "name_ja",
    "name_en",
    "day",
    "jst",
    *(f"{stat}_{k}d_mm" for k in WINDOWS for stat in ("mean", "max")),
    "coverage",
    "complete",
]
"""the columns of the table, CSV and JSON rows, in order"""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RainfallTable:
    """Accumulated rainfall per municipality and day, and what the dataset lacked."""

    frame: pd.DataFrame
    """:func:`municipality_table`'s rows (unrounded), with ``name_ja`` and ``name_en``"""
    period: Period
    source: str
    """the source and collection read"""
    units: str
    """unit of every total, from the dataset's metadata (``mm``)"""
    source_unit: str
    """the unit the dataset states for its values (GSMaP: ``mm/hr``, a daily mean rate)"""
    missing: list[dt.date] = field(default_factory=list)
    """days (of the period and the 2 before it) the dataset does not have"""
    late: list[dt.date] = field(default_factory=list)
    """of those, the days recent enough to be not yet published"""
    zones: dict[str, BaseGeometry] = field(default_factory=dict)
    """the zones (EPSG:4326) by code"""
    total: xr.DataArray | None = None
    """each pixel's total over the period's days it has (mm), for the map"""

    @property
    def day_note(self) -> str:
        return f"days are GSMaP's UTC days: {DAY_NOTE}"

    @property
    def warnings(self) -> list[str]:
        """What a reader must know: days the totals could not include."""
        out = []
        lost = [d for d in self.missing if d not in self.late]
        if self.late:
            out.append(
                "not yet published (GSMaP appears days late): "
                + ", ".join(d.isoformat() for d in self.late)
                + "; totals over them are unknown, not zero"
            )
        if lost:
            out.append(
                "missing from the dataset: "
                + ", ".join(d.isoformat() for d in lost)
                + "; totals over them are unknown, not zero"
            )
        return out


def zones_of(aoi: AOI, boundaries: Boundaries | None) -> dict[str, BaseGeometry]:
    """The municipalities meeting ``aoi`` (clipped to it) by code; without boundaries, the
    AOI as one zone named by its key."""
    if boundaries is None:
        return {aoi.key: aoi.geometry}
    out = {}
    for code, geom in zip(boundaries.frame["code"], boundaries.frame.geometry, strict=True):
        if geom.intersects(aoi.geometry):
            part = geom.intersection(aoi.geometry)
            if part.area > 0:
                out[str(code)] = part
    return out or {aoi.key: aoi.geometry}


def boundaries_or_none(settings: Settings) -> Boundaries | None:
    """The configured municipal boundaries, or None (with a warning) when there are none."""
    try:
        return load_boundaries(settings.boundaries.path)
    except BoundariesMissingError as e:
        log.warning("no municipal boundaries (%s): the AOI is reported as one area", e)
        return None


def _names(code: str, aoi: AOI) -> tuple[str, str]:
    m = by_code(code)
    return (m.name_ja, m.name_en) if m else (aoi.name_ja, aoi.name_en)


def rainfall_table(
    settings: Settings,
    *,
    aoi: AOI,
    period: Period,
    source: str | None = None,
    today: dt.date | None = None,
    boundaries: Boundaries | None = None,
) -> RainfallTable:
    """Rainfall per municipality of ``aoi`` and day of ``period`` from ``source`` (default
    ``rainfall.source``). Days the dataset lacks are listed (``late`` within
    ``rainfall.latency_days`` of ``today``), and every total over them is unknown."""
    from ..catalogs.sources.family_sources import resolve_sources
    from ..catalogs.sources.search import search_items
    from .prepare import network_policy

    spec = source or settings.rainfall.source
    src = resolve_sources(spec, configured=dict(settings.sources)).of("rainfall")
    lead = max(WINDOWS) - 1
    span = Period(period.start - dt.timedelta(days=lead), period.end)
    days = [span.start + dt.timedelta(days=i) for i in range((span.end - span.start).days + 1)]
    today = today or dt.datetime.now(dt.UTC).date()
    recent = today - dt.timedelta(days=settings.rainfall.latency_days)
    try:
        items = search_items(
            src, family="rainfall", aoi=aoi.geometry, period=span, policy=network_policy(settings)
        )
    except NoDataError as e:
        late = [d for d in days if d > recent]
        raise NoDataError(
            f"no rainfall from {src.name} for {span}"
            + (" (its last days may not be published yet: GSMaP appears days late)" if late else "")
            + f": {e}"
        ) from e
    net = settings.network
    configure_gdal(
        timeout_s=net.timeout_s, max_retries=net.max_retries, retry_delay_s=net.backoff_s
    )
    rain = read_daily_rainfall(items, aoi=aoi.geometry, asset=_asset(items))
    have = {pd.Timestamp(t).date() for t in rain["time"].values}
    missing = [d for d in days if d not in have]
    zones = zones_of(aoi, boundaries if boundaries is not None else boundaries_or_none(settings))
    want = [d for d in days if d >= period.start]
    frame = municipality_table(rain, list(zones.items()), days=want, res=_res(rain))
    names = {code: _names(code, aoi) for code in zones}
    frame.insert(1, "name_ja", [names[c][0] for c in frame["code"]])
    frame.insert(2, "name_en", [names[c][1] for c in frame["code"]])
    collection = items[0].collection_id or "?"
    return RainfallTable(
        frame=frame,
        period=period,
        source=f"{src.name} ({collection})",
        units="mm",
        source_unit=str(rain.attrs.get("source_unit")),
        missing=missing,
        late=[d for d in missing if d > recent],
        zones=zones,
        total=rain.sel(time=rain["time"] >= pd.Timestamp(period.start)).sum("time"),
    )


def records(table: RainfallTable) -> list[dict[str, Any]]:
    """The rows as plain values (totals in mm to 0.1, coverage to 0.001; None when
    unknown), the same for the table, the CSV and the JSON."""
    out = []
    for row in table.frame.to_dict("records"):
        day = row["day"]
        rec: dict[str, Any] = {
            "code": row["code"],
            "name_ja": row["name_ja"],
            "name_en": row["name_en"],
            "day": day.isoformat(),
            "jst": f"{day:%m-%d} 09:00 - {day + dt.timedelta(days=1):%m-%d} 09:00 JST",
        }
        for col in COLUMNS[5:-2]:
            value = row[col]
            rec[col] = None if pd.isna(value) else round(float(value), 1)
        cover = row["coverage"]
        rec["coverage"] = None if pd.isna(cover) else round(float(cover), 3)
        rec["complete"] = bool(row["complete"])
        out.append(rec)
    return out


def _asset(items: list[Any]) -> str:
    from ..catalogs.sources.profiles import layout_of

    return layout_of("rainfall", items).assets["rainfall"]


def _res(rain: Any) -> float | None:
    for dim in ("x", "y"):
        values = rain[dim].values
        if len(values) > 1:
            return float(abs(values[1] - values[0]))
    return None


def detect(settings: Settings, table: RainfallTable) -> list[RainEvent]:
    """The rain events in ``table`` by the configured rule and thresholds."""
    cfg = settings.rainfall
    return detect_events(
        table.frame,
        cfg.thresholds_for,
        statistic=cfg.statistic,
        wet_day_mm=cfg.wet_day_mm,
        merge_gap_days=cfg.merge_gap_days,
    )
