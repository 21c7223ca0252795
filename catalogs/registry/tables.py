"""The registry schema as SQLAlchemy 2.0 typed ORM classes.

Eight tables: ``solutions`` (one row per solution, with its current status and the date it
first reached ``developed``), ``status_changes`` (who changed the status, when and why),
``products`` (one row per published product; the primary key is the product's deterministic
STAC item id, so registering it twice is a no-op), ``runs`` (flow runs: parameters,
state, outcome, reason, duration, products), ``solution_products`` (the evidence links) and
``acquisitions`` (what a watch flow has already handled), ``rain_events`` (one row per
storm and municipality) and ``rain_event_products`` (what each event asked for).

The schema is created and upgraded only by the Alembic migrations in ``migrations/``; a test
checks that they and these classes agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "AcquisitionRow",
    "Base",
    "ProductRow",
    "RainEventProductRow",
    "RainEventRow",
    "RunRow",
    "SolutionProductRow",
    "SolutionRow",
    "StatusChangeRow",
]

#: constraint names Alembic can refer to, the same on SQLite and PostgreSQL
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s_%(column_1_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

STATUS_CHECK = "status IN ('proposed', 'prototype', 'developed', 'deployed', 'retired')"


class Base(DeclarativeBase):
    """Declarative base with a naming convention for constraints."""

    metadata = MetaData(naming_convention=NAMING)


class SolutionRow(Base):
    """A solution developed (or being developed) with satellite data."""

    __tablename__ = "solutions"
    __table_args__ = (
        UniqueConstraint("org_key", "name_ja_key"),
        UniqueConstraint("org_key", "name_en_key"),
        CheckConstraint(STATUS_CHECK, name="status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_ja: Mapped[str | None] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    name_ja_key: Mapped[str | None] = mapped_column(String(200))
    name_en_key: Mapped[str | None] = mapped_column(String(200))
    organization: Mapped[str] = mapped_column(String(200))
    org_key: Mapped[str] = mapped_column(String(200))
    theme: Mapped[str] = mapped_column(String(100))
    data_sources: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    developed_on: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    history: Mapped[list[StatusChangeRow]] = relationship(
        back_populates="solution", order_by="StatusChangeRow.seq", cascade="all, delete-orphan"
    )
    links: Mapped[list[SolutionProductRow]] = relationship(
        back_populates="solution", cascade="all, delete-orphan"
    )


class StatusChangeRow(Base):
    """One status change: from, to, effective date, who, why and when it was recorded."""

    __tablename__ = "status_changes"
    __table_args__ = (UniqueConstraint("solution_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    solution_id: Mapped[str] = mapped_column(
        ForeignKey("solutions.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    effective_on: Mapped[dt.date] = mapped_column(Date)
    changed_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    solution: Mapped[SolutionRow] = relationship(back_populates="history")


class RunRow(Base):
    """A flow run (Prefect flow-run id, or a caller-chosen id): what it was asked, how it
    ended (state, outcome, machine-readable reason), when, and the products it made."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    flow: Mapped[str] = mapped_column(String(100))
    software_version: Mapped[str] = mapped_column(String(40))
    #: when the run was first recorded (its start, for runs recorded by revision 0002 on)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    state: Mapped[str] = mapped_column(String(16), server_default="completed")
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    aoi: Mapped[str | None] = mapped_column(String(200))
    deployment: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float | None] = mapped_column(Float)
    products: Mapped[list[str] | None] = mapped_column(JSON)
    resumed_from: Mapped[str | None] = mapped_column(String(100))
    host: Mapped[str | None] = mapped_column(String(200))
    pid: Mapped[int | None] = mapped_column(Integer)


class AcquisitionRow(Base):
    """An acquisition a watch flow has handled (so the next check skips it)."""

    __tablename__ = "acquisitions"

    watch: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: ``collection/item-id``
    id: Mapped[str] = mapped_column(String(240), primary_key=True)
    collection: Mapped[str] = mapped_column(String(100))
    acquired_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(32))
    municipalities: Mapped[list[str]] = mapped_column(JSON)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ProductRow(Base):
    """A published product; ``id`` is its deterministic STAC item id (the identity key)."""

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    aoi: Mapped[str] = mapped_column(String(200))
    before: Mapped[str] = mapped_column(String(40))
    after: Mapped[str] = mapped_column(String(40))
    item_href: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), index=True)
    checksum: Mapped[str] = mapped_column(String(80))
    valid_fraction: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(32))
    qa_status: Mapped[str] = mapped_column(String(16))
    qa_message: Mapped[str] = mapped_column(Text, default="")
    qa_checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    item: Mapped[dict[str, Any]] = mapped_column(JSON)
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    links: Mapped[list[SolutionProductRow]] = relationship(back_populates="product")


class SolutionProductRow(Base):
    """A product attached to a solution as evidence."""

    __tablename__ = "solution_products"

    solution_id: Mapped[str] = mapped_column(
        ForeignKey("solutions.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)
    attached_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    attached_by: Mapped[str] = mapped_column(String(100))

    solution: Mapped[SolutionRow] = relationship(back_populates="links")
    product: Mapped[ProductRow] = relationship(back_populates="links")


class RainEventRow(Base):
    """A rain event: one municipality's storm (``processing/rainfall_events.py``); its id
    is ``<code>/<start>`` of its first detection and stays when a later detection merges in."""

    __tablename__ = "rain_events"
    __table_args__ = (UniqueConstraint("municipality", "start"),)

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    municipality: Mapped[str] = mapped_column(String(100), index=True)
    start: Mapped[dt.date] = mapped_column(Date)
    peak: Mapped[dt.date] = mapped_column(Date)
    #: None while ongoing
    end: Mapped[dt.date | None] = mapped_column(Date)
    first_crossing: Mapped[dt.date] = mapped_column(Date)
    peak_mm: Mapped[float] = mapped_column(Float)
    #: the largest total per window, ``{"24h": mm, "72h": mm}``
    totals: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the thresholds crossed, ``["72h ≥ 150 mm"]``
    crossed: Mapped[list[str]] = mapped_column(JSON)
    statistic: Mapped[str] = mapped_column(String(8))
    detected_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class RainEventProductRow(Base):
    """What a rain event asked for, per product kind: made (with its product), pending (why)
    or closed (its window passed); one per event and kind."""

    __tablename__ = "rain_event_products"

    event_id: Mapped[str] = mapped_column(
        String(120), ForeignKey("rain_events.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    product_id: Mapped[str | None] = mapped_column(ForeignKey("products.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    clear_fraction: Mapped[float | None] = mapped_column(Float)
    run_id: Mapped[str | None] = mapped_column(String(100))
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
