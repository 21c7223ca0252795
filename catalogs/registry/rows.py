"""Conversions from ORM rows to the plain records the tally, reports and CLI use."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import cast

from .evidence import ProductEntry
from .records import EvidenceRecord, SolutionRecord, Status, StatusEvent
from .tables import ProductRow, SolutionRow, StatusChangeRow

__all__ = ["entry_from_row", "evidence_record", "quicklook_href", "solution_record", "utc"]


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """An aware UTC datetime (SQLite hands back naive values of UTC columns)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def quicklook_href(item_href: str, item: dict[str, object]) -> str | None:
    """Absolute path of the product's ``quicklook`` asset, if it has one."""
    assets = item.get("assets")
    if not isinstance(assets, dict) or not isinstance(assets.get("quicklook"), dict):
        return None
    href = str(assets["quicklook"].get("href", ""))
    if not href or "://" in href:
        return href or None
    return str((Path(item_href).parent / href).resolve())


def entry_from_row(row: ProductRow) -> ProductEntry:
    """The stored product as a :class:`ProductEntry`."""
    return ProductEntry(
        id=row.id,
        kind=row.kind,
        aoi=row.aoi,
        before=row.before,
        after=row.after,
        item_href=row.item_href,
        checksum=row.checksum,
        valid_fraction=row.valid_fraction,
        outcome=row.outcome,
        qa_status=row.qa_status,
        qa_message=row.qa_message,
        item=row.item,
        run_id=row.run_id,
    )


def evidence_record(row: ProductRow) -> EvidenceRecord:
    """A product as evidence of a solution."""
    return EvidenceRecord(
        product_id=row.id,
        item_href=row.item_href,
        kind=row.kind,
        outcome=row.outcome,
        qa_status=row.qa_status,
        qa_message=row.qa_message,
        run_id=row.run_id,
        quicklook_href=quicklook_href(row.item_href, row.item),
        checked_at=utc(row.qa_checked_at),
    )


def _event(row: StatusChangeRow) -> StatusEvent:
    return StatusEvent(
        on=row.effective_on,
        from_status=cast(Status | None, row.from_status),
        to_status=cast(Status, row.to_status),
        by=row.changed_by,
        reason=row.reason,
        recorded_at=utc(row.recorded_at),
    )


def solution_record(row: SolutionRow) -> SolutionRecord:
    """A solution row with its history and evidence as a :class:`SolutionRecord`."""
    links = sorted(row.links, key=lambda link: link.product_id)
    return SolutionRecord(
        id=row.id,
        organization=row.organization,
        status=cast(Status, row.status),
        name_ja=row.name_ja,
        name_en=row.name_en,
        theme=row.theme,
        data_sources=tuple(row.data_sources or ()),
        developed_on=row.developed_on,
        notes=row.notes,
        history=tuple(_event(h) for h in sorted(row.history, key=lambda h: h.seq)),
        evidence=tuple(evidence_record(link.product) for link in links),
    )
