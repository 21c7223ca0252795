"""The solutions registry and the indicator tally (DESIGN §3 "Registry", "Indicator").

SQLAlchemy on a SQLite file by default (WAL, busy timeout, one transaction per
registration) or PostgreSQL by URL; schema migrations with Alembic, run on open.

>>> from yamasat.catalogs.registry import open_registry
>>> with open_registry(settings) as reg:          # doctest: +SKIP
...     reg.solutions()
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from .catalog import (
    RebuildReport,
    RepairReport,
    attach_evidence,
    rebuild_catalog,
    register_item,
    repair_catalog,
    validate_products,
)
from .evidence import ProductCheck, ProductEntry, verify_files, verify_item
from .records import (
    STATUSES,
    EvidenceRecord,
    SolutionRecord,
    StatusEvent,
    allowed_transitions,
)
from .repo import Registration, Registry
from .solutions import add_solution, set_status
from .tally import Point, Tally, era_label, fiscal_year, fy_label, tally

if TYPE_CHECKING:
    from ...settings import Settings

__all__ = [
    "STATUSES",
    "EvidenceRecord",
    "Point",
    "ProductCheck",
    "ProductEntry",
    "RebuildReport",
    "Registration",
    "Registry",
    "RepairReport",
    "SolutionRecord",
    "StatusEvent",
    "Tally",
    "add_solution",
    "allowed_transitions",
    "attach_evidence",
    "era_label",
    "fiscal_year",
    "fy_label",
    "open_registry",
    "rebuild_catalog",
    "register_item",
    "repair_catalog",
    "set_status",
    "settings_tally",
    "tally",
    "validate_products",
    "verify_files",
    "verify_item",
]


def open_registry(settings: Settings) -> Registry:
    """Open the configured registry (``storage.registry_url``, else the SQLite file in
    ``storage.output_root``), creating or upgrading its schema."""
    return Registry.open(settings.registry_url_resolved)


def settings_tally(
    settings: Settings,
    records: list[SolutionRecord],
    *,
    today: dt.date | None = None,
    until_fy: int | None = None,
) -> Tally:
    """:func:`tally` with baseline and target from ``settings.indicator`` (today by default)."""
    ind = settings.indicator
    return tally(
        records,
        baseline=Point(ind.baseline.fy, ind.baseline.value),
        target=Point(ind.target.fy, ind.target.value),
        today=today or dt.date.today(),
        until_fy=until_fy,
    )
