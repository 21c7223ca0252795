"""Rain events in the registry: one row per storm and municipality, idempotent across reruns,
and what each event asked for (one product per event and kind).

Merging (documented in the README, "Rainfall and events"): a detected event is merged into
the stored events of the same municipality whose span comes within ``merge_gap_days`` of its
own (an ongoing event's span runs to the future). The merged row keeps the id of the earliest
stored event; its start is the earliest start, its end the detection's end (None while the
detection says ongoing, else the latest end), its peak the day with the larger 1-day total,
its crossed thresholds the union and its totals the larger of each window. Rerunning a
detection over the same days therefore changes nothing; a storm seen growing over several
daily runs stays one row.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...processing.rainfall_events import RainEvent
from .repo import Registry, now
from .rows import utc
from .tables import RainEventProductRow, RainEventRow

__all__ = [
    "EventLink",
    "StoredEvent",
    "event_links",
    "link_event_product",
    "product_item",
    "rain_events",
    "record_events",
]

_FAR = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class StoredEvent:
    """A rain event as the registry holds it."""

    id: str
    code: str
    start: dt.date
    peak: dt.date
    end: dt.date | None
    first_crossing: dt.date
    peak_mm: float
    totals: Mapping[str, float]
    crossed: tuple[str, ...]
    statistic: str

    @property
    def ongoing(self) -> bool:
        return self.end is None


@dataclass(frozen=True)
class EventLink:
    """What one event asked for, for one product kind."""

    event_id: str
    kind: str
    status: str
    """``made``, ``pending`` or ``closed``"""
    product_id: str | None
    reason: str
    clear_fraction: float | None
    run_id: str | None
    checked_at: dt.datetime | None


def _stored(row: RainEventRow) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        code=row.municipality,
        start=row.start,
        peak=row.peak,
        end=row.end,
        first_crossing=row.first_crossing,
        peak_mm=row.peak_mm,
        totals=dict(row.totals),
        crossed=tuple(row.crossed),
        statistic=row.statistic,
    )


def _totals(event: RainEvent) -> dict[str, float]:
    return {
        f"{24 * k}h": round(v, 1) for k, v in sorted(event.totals_mm.items()) if not math.isnan(v)
    }


def _near(row: RainEventRow, event: RainEvent, gap: int) -> bool:
    lo = event.start - dt.timedelta(days=gap + 1)
    hi = event.end + dt.timedelta(days=gap + 1) if event.end else _FAR
    return row.start <= hi and (row.end or _FAR) >= lo


def _merge(s: Session, rows: list[RainEventRow], event: RainEvent, stamp: dt.datetime) -> None:
    keep, others = rows[0], rows[1:]
    starts = [keep.start, event.start, *(r.start for r in others)]
    ends = [r.end for r in rows]
    keep.start = min(starts)
    keep.end = None if event.end is None else max([event.end, *(e for e in ends if e)])
    peaks = [(r.peak_mm, r.peak) for r in rows] + [(round(event.peak_mm, 1), event.peak)]
    keep.peak_mm, keep.peak = max(peaks, key=lambda p: (p[0], -p[1].toordinal()))
    keep.first_crossing = min([event.first_crossing, *(r.first_crossing for r in rows)])
    totals: dict[str, float] = {}
    for src in [*(r.totals for r in rows), _totals(event)]:
        for key, value in src.items():
            totals[key] = max(totals.get(key, value), value)
    keep.totals = totals
    keep.crossed = sorted({*event.crossed, *(c for r in rows for c in r.crossed)})
    for other in others:  # a detection bridged two stored events: the later ones fold in
        for link in s.scalars(
            select(RainEventProductRow).where(RainEventProductRow.event_id == other.id)
        ):
            if s.get(RainEventProductRow, (keep.id, link.kind)) is None:
                s.add(_copy_link(link, keep.id))
        s.delete(other)
    keep.updated_at = stamp


def _copy_link(link: RainEventProductRow, event_id: str) -> RainEventProductRow:
    return RainEventProductRow(
        event_id=event_id,
        kind=link.kind,
        status=link.status,
        product_id=link.product_id,
        reason=link.reason,
        clear_fraction=link.clear_fraction,
        run_id=link.run_id,
        checked_at=link.checked_at,
    )


def _insert(s: Session, event: RainEvent, stamp: dt.datetime) -> RainEventRow:
    row = RainEventRow(
        id=f"{event.code}/{event.start.isoformat()}",
        municipality=event.code,
        start=event.start,
        peak=event.peak,
        end=event.end,
        first_crossing=event.first_crossing,
        peak_mm=round(event.peak_mm, 1),
        totals=_totals(event),
        crossed=list(event.crossed),
        statistic=event.statistic,
        detected_at=stamp,
        updated_at=stamp,
    )
    s.add(row)
    return row


def record_events(
    reg: Registry, events: Sequence[RainEvent], *, merge_gap_days: int
) -> tuple[list[StoredEvent], list[str]]:
    """Store ``events`` (merging as the module says); returns the stored events they became
    and the ids of the rows that are new."""

    def go(s: Session) -> tuple[list[StoredEvent], list[str]]:
        stamp = now()
        touched: list[RainEventRow] = []
        new: list[str] = []
        for event in events:
            query = select(RainEventRow).where(RainEventRow.municipality == event.code)
            near = sorted(
                (r for r in s.scalars(query) if _near(r, event, merge_gap_days)),
                key=lambda r: (r.start, r.id),
            )
            if near:
                _merge(s, near, event, stamp)
                row = near[0]
            else:
                row = _insert(s, event, stamp)
                new.append(row.id)
            s.flush()
            touched.append(row)
        unique = {r.id: r for r in touched if r in s}
        return [_stored(r) for r in unique.values()], new

    return reg.write(go, what="recording rain events")


def rain_events(
    reg: Registry, *, codes: Iterable[str] | None = None, since: dt.date | None = None
) -> list[StoredEvent]:
    """Stored events (of ``codes``; ending on or after ``since`` or ongoing), by start."""

    def go(s: Session) -> list[StoredEvent]:
        query = select(RainEventRow).order_by(RainEventRow.start, RainEventRow.municipality)
        if codes is not None:
            query = query.where(RainEventRow.municipality.in_(list(codes)))
        rows = [_stored(r) for r in s.scalars(query)]
        if since is not None:
            rows = [r for r in rows if r.end is None or r.end >= since]
        return rows

    return reg.read(go, what="reading rain events")


def link_event_product(
    reg: Registry,
    event_ids: Iterable[str],
    *,
    kind: str,
    status: str,
    product_id: str | None = None,
    reason: str = "",
    clear_fraction: float | None = None,
    run_id: str | None = None,
) -> None:
    """Set what each of ``event_ids`` has for ``kind`` (one row per event and kind). A made
    product is never taken back: a later check that finds nothing to make (a forced rerun
    whose search came back empty) leaves the made link as it was."""
    ids = list(event_ids)

    def go(s: Session) -> None:
        stamp = now()
        for event_id in ids:
            row = s.get(RainEventProductRow, (event_id, kind))
            if row is None:
                row = RainEventProductRow(event_id=event_id, kind=kind)
                s.add(row)
            elif row.status == "made" and row.product_id and product_id is None:
                continue
            row.status, row.product_id, row.reason = status, product_id, reason
            row.clear_fraction, row.run_id, row.checked_at = clear_fraction, run_id, stamp

    reg.write(go, what=f"linking rain events to their {kind} product")


def event_links(reg: Registry, event_ids: Iterable[str]) -> dict[tuple[str, str], EventLink]:
    """(event id, kind) -> link, for ``event_ids``."""
    ids = list(event_ids)

    def go(s: Session) -> dict[tuple[str, str], EventLink]:
        query = select(RainEventProductRow).where(RainEventProductRow.event_id.in_(ids))
        return {
            (r.event_id, r.kind): EventLink(
                r.event_id,
                r.kind,
                r.status,
                r.product_id,
                r.reason,
                r.clear_fraction,
                r.run_id,
                utc(r.checked_at),
            )
            for r in s.scalars(query)
        }

    return reg.read(go, what="reading rain event products")


def product_item(reg: Registry, product_id: str) -> tuple[dict[str, Any], str] | None:
    """The registered product's STAC item (dict) and the href it was published at."""
    from .tables import ProductRow

    def go(s: Session) -> tuple[dict[str, Any], str] | None:
        row = s.get(ProductRow, product_id)
        return None if row is None else (dict(row.item), row.item_href)

    return reg.read(go, what=f"reading product {product_id}")
