"""The registry: solutions, their status history, products, runs and evidence links.

Every write is one transaction (``BEGIN IMMEDIATE`` on SQLite). Registering a product is
``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` on its deterministic id (SQLite ≥ 3.35 or
PostgreSQL), then a select: two threads or processes registering the same product both
succeed and exactly one row exists; the one that got no id back learns that it was already
registered. Writes that find the database locked past the busy
timeout are retried with backoff, then reported as :class:`RegistryBusyError`.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, Insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload

from ...errors import (
    EvidenceError,
    RegistryBusyError,
    RegistryUnavailableError,
    UnknownProductError,
    UnknownSolutionError,
)
from ...processing.faults import fault_point
from .engine import (
    create_registry_engine,
    masked,
    open_failure,
    upgrade,
    writer,
)
from .evidence import ProductEntry
from .records import SolutionRecord, close_matches
from .rows import entry_from_row, solution_record
from .tables import ProductRow, RunRow, SolutionProductRow, SolutionRow

__all__ = ["Registration", "Registry"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_ATTEMPTS = 4


@dataclass(frozen=True)
class Registration:
    """The result of registering a product."""

    product_id: str
    created: bool
    """True when this call inserted the row; False when it was already registered"""
    updated: bool = False
    """True when an existing row was refreshed because the files were re-published"""

    @property
    def message(self) -> str:
        if self.created:
            return f"product {self.product_id} registered"
        if self.updated:
            return f"product {self.product_id} was registered; its record was refreshed"
        return f"product {self.product_id} already registered"


def now() -> dt.datetime:
    """The current time, UTC."""
    return dt.datetime.now(dt.UTC)


def _busy(e: DBAPIError) -> bool:
    text_ = str(e.orig).lower()
    code = getattr(e.orig, "sqlstate", None) or getattr(e.orig, "pgcode", None)
    return "locked" in text_ or "busy" in text_ or code in ("40001", "40P01", "55P03")


class Registry:
    """Operations on one registry database. Open with :meth:`open`; close when done."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)

    @classmethod
    def open(cls, url: str, *, busy_timeout_s: float = 30.0) -> Registry:
        """Open (and create or upgrade) the registry at ``url``; checks SQLite integrity."""
        engine = create_registry_engine(url, busy_timeout_s=busy_timeout_s)
        try:
            if engine.dialect.name == "sqlite":
                with engine.connect() as conn:
                    rows = [str(r[0]) for r in conn.execute(text("PRAGMA quick_check"))]
                if rows != ["ok"]:
                    raise open_failure(
                        engine.url, ValueError(f"integrity check: {'; '.join(rows[:3])}")
                    )
            upgrade(engine)
        except (DBAPIError, sqlite3.Error) as e:
            engine.dispose()
            raise open_failure(engine.url, e) from e
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions

    def write(self, fn: Callable[[Session], T], *, what: str) -> T:
        """Run ``fn`` in one write transaction, retrying while the database is busy."""
        delay = 0.05
        for attempt in range(_ATTEMPTS):
            try:
                with Session(self._writer, expire_on_commit=False) as session, session.begin():
                    return fn(session)
            except IntegrityError:
                raise
            except OperationalError as e:
                if not _busy(e):
                    raise self._unavailable(e, what) from e
                if attempt == _ATTEMPTS - 1:
                    raise RegistryBusyError(
                        f"{what}: the registry stayed locked by other writers ({e.orig}); "
                        "retry later, or use PostgreSQL for many concurrent writers"
                    ) from e
                log.info("%s: registry busy, retrying in %.2f s", what, delay)
                time.sleep(delay * (1 + random.random()))
                delay *= 4
            except (DBAPIError, sqlite3.Error) as e:
                raise self._unavailable(e, what) from e
        raise AssertionError("unreachable")  # pragma: no cover

    def read(self, fn: Callable[[Session], T], *, what: str) -> T:
        """Run ``fn`` in a read transaction."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                return fn(session)
        except (DBAPIError, sqlite3.Error) as e:
            raise self._unavailable(e, what) from e

    def _unavailable(self, e: Exception, what: str) -> RegistryUnavailableError:
        return RegistryUnavailableError(
            f"{what}: the registry at {masked(self.engine.url)} failed "
            f"({getattr(e, 'orig', e)}); nothing was changed"
        )

    def _insert(self, session: Session, table: Any) -> Any:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    # ------------------------------------------------------------------ lookups

    def require_solution(self, session: Session, solution_id: str) -> SolutionRow:
        """The solution row, or :class:`UnknownSolutionError` listing close matches."""
        row = session.get(SolutionRow, solution_id)
        if row is None:
            ids = session.scalars(select(SolutionRow.id)).all()
            near = close_matches(solution_id, ids)
            hint = (
                f"did you mean: {', '.join(near)}?"
                if near
                else ("no solution is registered yet" if not ids else "no close match")
            )
            raise UnknownSolutionError(
                f"unknown solution {solution_id!r}; {hint} "
                "('yamasat solutions list' shows all; 'yamasat solutions add' registers one)"
            )
        return row

    def require_product(self, session: Session, product_id: str) -> ProductRow:
        """The product row, or :class:`UnknownProductError` listing close matches."""
        row = session.get(ProductRow, product_id)
        if row is None:
            near = close_matches(product_id, session.scalars(select(ProductRow.id)).all())
            hint = f"did you mean: {', '.join(near)}?" if near else "no close match"
            raise UnknownProductError(
                f"unknown product {product_id!r}; {hint} ('yamasat catalog list' shows the "
                "registered products; give a product's STAC item path to register it)"
            )
        return row

    def solution(self, solution_id: str) -> SolutionRecord:
        """One solution with its history and evidence."""

        def go(s: Session) -> SolutionRecord:
            return solution_record(self.require_solution(s, solution_id.strip()))

        return self.read(go, what=f"reading solution {solution_id}")

    def solutions(self, *, status: str | None = None) -> list[SolutionRecord]:
        """All solutions (optionally of one status), ordered by id, with history and evidence."""

        def go(s: Session) -> list[SolutionRecord]:
            query = select(SolutionRow).order_by(SolutionRow.id)
            query = query.options(
                selectinload(SolutionRow.history),
                selectinload(SolutionRow.links).selectinload(SolutionProductRow.product),
            )
            if status is not None:
                query = query.where(SolutionRow.status == status)
            return [solution_record(r) for r in s.scalars(query)]

        return self.read(go, what="listing solutions")

    def products(self) -> list[tuple[ProductEntry, list[str]]]:
        """All registered products, by id, each with the ids of the solutions it supports."""

        def go(s: Session) -> list[tuple[ProductEntry, list[str]]]:
            query = select(ProductRow).options(selectinload(ProductRow.links))
            rows = s.scalars(query.order_by(ProductRow.id))
            return [(entry_from_row(r), sorted(k.solution_id for k in r.links)) for r in rows]

        return self.read(go, what="listing products")

    def product(self, product_id: str) -> ProductEntry:
        """One registered product."""
        return self.read(
            lambda s: entry_from_row(self.require_product(s, product_id)),
            what=f"reading product {product_id}",
        )

    # ------------------------------------------------------------------ products

    def register_product(self, entry: ProductEntry) -> Registration:
        """Register a verified, published product exactly once (see the module docstring)."""
        if entry.outcome != "published" or entry.qa_status != "ok":
            raise EvidenceError(
                f"product {entry.id or entry.item_href} was not registered: "
                f"{entry.qa_message if entry.qa_status != 'ok' else 'outcome ' + entry.outcome}"
            )

        def go(s: Session) -> Registration:
            stamp = now()
            if entry.run_id:
                run: Insert = self._insert(s, RunRow).values(
                    id=entry.run_id,
                    flow=entry.flow,
                    software_version=entry.software_version,
                    recorded_at=stamp,
                )
                s.execute(run.on_conflict_do_nothing(index_elements=["id"]))  # type: ignore[attr-defined]
            values = {
                "id": entry.id,
                "kind": entry.kind,
                "aoi": entry.aoi,
                "before": entry.before,
                "after": entry.after,
                "item_href": entry.item_href,
                "run_id": entry.run_id,
                "checksum": entry.checksum,
                "valid_fraction": entry.valid_fraction,
                "outcome": entry.outcome,
                "qa_status": entry.qa_status,
                "qa_message": entry.qa_message,
                "qa_checked_at": stamp,
                "item": dict(entry.item),
                "registered_at": stamp,
            }
            stmt = self._insert(s, ProductRow).values(**values)
            stmt = stmt.on_conflict_do_nothing(index_elements=["id"]).returning(ProductRow.id)
            if s.execute(stmt).first() is not None:
                fault_point("registry_commit")  # inert unless a test arms it
                return Registration(entry.id, created=True)
            row = self.require_product(s, entry.id)
            if row.checksum == entry.checksum and row.item_href == entry.item_href:
                return Registration(entry.id, created=False)
            log.warning(
                "product %s was re-published (checksum %s → %s); its record is refreshed",
                entry.id,
                row.checksum[:16],
                entry.checksum[:16],
            )
            for key in ("item_href", "checksum", "item", "qa_status", "qa_message"):
                setattr(row, key, values[key])
            row.qa_checked_at = stamp
            return Registration(entry.id, created=False, updated=True)

        return self.write(go, what=f"registering product {entry.id}")

    def record_check(self, product_id: str, *, ok: bool, message: str) -> None:
        """Store the result of re-verifying a product's files."""

        def go(s: Session) -> None:
            row = self.require_product(s, product_id)
            row.qa_status = "ok" if ok else "failed"
            row.qa_message, row.qa_checked_at = message, now()

        self.write(go, what=f"recording the check of {product_id}")

    def attach(self, solution_id: str, product_id: str, *, by: str) -> bool:
        """Link a registered, verified product to a solution; False if already linked."""

        def go(s: Session) -> bool:
            self.require_solution(s, solution_id)
            row = self.require_product(s, product_id)
            if row.outcome != "published" or row.qa_status != "ok":
                raise EvidenceError(
                    f"product {product_id} is refused as evidence for {solution_id}: "
                    f"{row.qa_message if row.qa_status != 'ok' else 'outcome ' + row.outcome}"
                )
            stmt = self._insert(s, SolutionProductRow).values(
                solution_id=solution_id, product_id=product_id, attached_at=now(), attached_by=by
            )
            stmt = stmt.on_conflict_do_nothing().returning(SolutionProductRow.product_id)
            return s.execute(stmt).first() is not None

        return self.write(go, what=f"attaching {product_id} to {solution_id}")
