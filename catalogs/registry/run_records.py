"""Run records: every flow run's parameters, state, outcome, failure reason and products.

A run is recorded when it starts (``state='running'``) and again when it ends (``completed``
or ``failed`` with a machine-readable ``reason`` and a message). ``yamasat runs list`` reads
them; ``yamasat runs resume`` re-runs a failed run with its recorded parameters. A run that
stays ``running`` after its process died shows as such: the operator sees it was cut off.

The acquisitions list is the memory of watch flows (the daily Sentinel-1 check): which
acquisitions were handled, with what outcome and for which municipalities.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import InvariantError, UnknownRunError
from .records import close_matches
from .repo import Registry, now
from .rows import utc
from .tables import AcquisitionRow, RunRow

__all__ = [
    "AcquisitionRecord",
    "RunRecord",
    "RunState",
    "acquisitions",
    "close_lost_run",
    "completed_resumes",
    "finish_run_record",
    "handled_acquisitions",
    "mark_acquisitions",
    "note_run_products",
    "run_record",
    "run_records",
    "start_run_record",
]

RunState = Literal["running", "completed", "failed"]


REUSED_PID_SLACK_S = 120.0
"""a process that started this much later than a run was recorded is not the run's process"""


@dataclass(frozen=True)
class RunRecord:
    """One flow run as the registry knows it."""

    id: str
    flow: str
    state: str
    started_at: dt.datetime
    software_version: str
    parameters: dict[str, Any] = field(default_factory=dict)
    aoi: str | None = None
    deployment: str | None = None
    outcome: str | None = None
    reason: str | None = None
    message: str | None = None
    finished_at: dt.datetime | None = None
    duration_s: float | None = None
    products: tuple[str, ...] = ()
    resumed_from: str | None = None
    host: str | None = None
    pid: int | None = None

    @property
    def lost(self) -> bool:
        """Recorded as running on this host by a process that no longer exists, or whose
        process id now belongs to a process started well after the run (ids are reused)."""
        if self.state != "running" or self.pid is None or self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's (also where /proc hides it)
            return False
        import psutil

        try:
            created = psutil.Process(self.pid).create_time()
        except (psutil.Error, OSError):  # gone meanwhile, or not ours to inspect
            return False
        # The recording process started before it recorded the run. psutil derives start
        # times from the current clock (and Linux's boot time in whole seconds), so a clock
        # step since the run started shifts them: only a start more than
        # REUSED_PID_SLACK_S after the run's is taken as another process.
        return created > self.started_at.timestamp() + REUSED_PID_SLACK_S

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form (``runs list --json``)."""
        out: dict[str, Any] = dict(self.__dict__)
        out["started_at"] = self.started_at.isoformat()
        out["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        out["products"] = list(self.products)
        out["lost"] = self.lost
        return out


@dataclass(frozen=True)
class AcquisitionRecord:
    """An acquisition a watch handled: outcome and the municipalities it covered."""

    watch: str
    id: str
    collection: str
    acquired_at: dt.datetime
    outcome: str
    municipalities: tuple[str, ...]
    run_id: str | None = None


def _record(row: RunRow) -> RunRecord:
    started = utc(row.started_at) or utc(row.recorded_at)
    if started is None:  # recorded_at is NOT NULL
        raise InvariantError(f"run {row.id} has neither started_at nor recorded_at")
    return RunRecord(
        id=row.id,
        flow=row.flow,
        state=row.state,
        started_at=started,
        software_version=row.software_version,
        parameters=dict(row.parameters or {}),
        aoi=row.aoi,
        deployment=row.deployment,
        outcome=row.outcome,
        reason=row.reason,
        message=row.message,
        finished_at=utc(row.finished_at),
        duration_s=row.duration_s,
        products=tuple(row.products or ()),
        resumed_from=row.resumed_from,
        host=row.host,
        pid=row.pid,
    )


def start_run_record(
    reg: Registry,
    run_id: str,
    *,
    flow: str,
    software_version: str,
    parameters: Mapping[str, Any],
    aoi: str | None = None,
    deployment: str | None = None,
    resumed_from: str | None = None,
) -> None:
    """Record that ``run_id`` started (a retried Prefect flow run starts again: same row)."""

    def go(s: Session) -> None:
        stamp = now()
        row = s.get(RunRow, run_id)
        if row is None:
            row = RunRow(id=run_id, recorded_at=stamp)
            s.add(row)
        row.flow, row.software_version = flow, software_version
        row.parameters, row.deployment = dict(parameters), deployment
        row.aoi = aoi if aoi is None or len(aoi) <= 200 else "…" + aoi[-199:]
        row.resumed_from = resumed_from
        row.host, row.pid = socket.gethostname(), os.getpid()
        row.state, row.started_at = "running", stamp
        row.outcome = row.reason = row.message = None
        row.finished_at, row.duration_s = None, None

    reg.write(go, what=f"recording the start of run {run_id}")


def finish_run_record(
    reg: Registry,
    run_id: str,
    *,
    state: RunState,
    outcome: str | None = None,
    reason: str | None = None,
    message: str | None = None,
    products: Sequence[str] = (),
) -> RunRecord:
    """Record how ``run_id`` ended; the duration is measured from its recorded start."""

    def go(s: Session) -> RunRecord:
        row = s.get(RunRow, run_id)
        if row is None:
            raise _unknown(s, run_id)
        stamp = now()
        started = utc(row.started_at) or utc(row.recorded_at) or stamp
        row.state, row.outcome, row.reason, row.message = state, outcome, reason, message
        # products noted while it ran (note_run_products) stay: what it published is recorded
        row.products = list(dict.fromkeys([*(row.products or []), *products]))
        row.finished_at = stamp
        row.duration_s = round((stamp - started).total_seconds(), 3)
        return _record(row)

    return reg.write(go, what=f"recording the end of run {run_id}")


def note_run_products(reg: Registry, run_id: str, products: Sequence[str]) -> None:
    """Add ``products`` to what run ``run_id`` has published, as soon as they are published:
    a run that fails or is killed afterwards still names them."""

    def go(s: Session) -> None:
        row = s.get(RunRow, run_id)
        if row is None:
            raise _unknown(s, run_id)
        row.products = list(dict.fromkeys([*(row.products or []), *products]))

    reg.write(go, what=f"recording the products of run {run_id}")


def close_lost_run(reg: Registry, run_id: str, *, why: str) -> RunRecord:
    """Record a run still marked running, whose process is gone, as failed with reason
    ``lost``; its end time is when this was noticed (``why`` says so in the message). A run
    that recorded its end meanwhile is returned as it is."""

    def go(s: Session) -> RunRecord:
        row = s.get(RunRow, run_id)
        if row is None:
            raise _unknown(s, run_id)
        if row.state == "running":
            row.state, row.reason = "failed", "lost"
            row.message = why
            row.finished_at = now()
        return _record(row)

    return reg.write(go, what=f"closing the lost run {run_id}")


def _unknown(s: Session, run_id: str) -> UnknownRunError:
    ids = s.scalars(select(RunRow.id).order_by(RunRow.recorded_at.desc()).limit(500)).all()
    near = close_matches(run_id, ids)
    hint = f"did you mean: {', '.join(near)}?" if near else "no close match"
    return UnknownRunError(
        f"unknown run {run_id!r}; {hint} ('yamasat runs list' shows the recent runs)"
    )


def run_record(reg: Registry, run_id: str) -> RunRecord:
    """One run; a unique prefix of its id is enough (as ``runs list`` shows them shortened)."""

    def go(s: Session) -> RunRecord:
        row = s.get(RunRow, run_id)
        if row is None and len(run_id) >= 6:
            prefixed = RunRow.id.startswith(run_id, autoescape=True)
            rows = s.scalars(select(RunRow).where(prefixed).limit(2)).all()
            row = rows[0] if len(rows) == 1 else None
        if row is None:
            raise _unknown(s, run_id)
        return _record(row)

    return reg.read(go, what=f"reading run {run_id}")


def run_records(
    reg: Registry,
    *,
    limit: int = 20,
    flow: str | None = None,
    state: str | None = None,
    aoi: str | None = None,
) -> list[RunRecord]:
    """The most recent runs first, optionally of one flow, state or AOI."""

    def go(s: Session) -> list[RunRecord]:
        query = select(RunRow).order_by(RunRow.recorded_at.desc(), RunRow.id).limit(limit)
        if flow is not None:
            query = query.where(RunRow.flow == flow)
        if state is not None:
            query = query.where(RunRow.state == state)
        if aoi is not None:
            query = query.where(RunRow.aoi == aoi)
        return [_record(r) for r in s.scalars(query)]

    return reg.read(go, what="listing runs")


def completed_resumes(reg: Registry, run_ids: Iterable[str]) -> dict[str, str]:
    """For each of ``run_ids`` that a later run resumed to completion: that run's id."""
    wanted = list(run_ids)

    def go(s: Session) -> dict[str, str]:
        found: dict[str, str] = {}
        for i in range(0, len(wanted), 500):
            query = select(RunRow.resumed_from, RunRow.id).where(
                RunRow.resumed_from.in_(wanted[i : i + 500]), RunRow.state == "completed"
            )
            found.update({str(a): str(b) for a, b in s.execute(query)})
        return found

    return reg.read(go, what="reading resumed runs")


def handled_acquisitions(reg: Registry, watch: str, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` (``collection/item``) the watch ``watch`` has already handled."""
    wanted = list(ids)

    def go(s: Session) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            query = select(AcquisitionRow.id).where(
                AcquisitionRow.watch == watch, AcquisitionRow.id.in_(part)
            )
            found.update(s.scalars(query))
        return found

    return reg.read(go, what=f"reading the acquisitions of watch {watch}")


def mark_acquisitions(reg: Registry, records: Sequence[AcquisitionRecord]) -> None:
    """Remember acquisitions as handled (a second mark of the same one updates it)."""

    def go(s: Session) -> None:
        stamp = now()
        for rec in records:
            row = s.get(AcquisitionRow, (rec.watch, rec.id))
            if row is None:
                row = AcquisitionRow(watch=rec.watch, id=rec.id)
                s.add(row)
            row.collection, row.acquired_at, row.outcome = (
                rec.collection,
                rec.acquired_at,
                rec.outcome,
            )
            row.municipalities, row.run_id, row.checked_at = (
                list(rec.municipalities),
                rec.run_id,
                stamp,
            )

    reg.write(go, what="recording handled acquisitions")


def acquisitions(reg: Registry, watch: str, *, limit: int = 50) -> list[AcquisitionRecord]:
    """The acquisitions ``watch`` handled, newest acquisition first."""

    def go(s: Session) -> list[AcquisitionRecord]:
        query = (
            select(AcquisitionRow)
            .where(AcquisitionRow.watch == watch)
            .order_by(AcquisitionRow.acquired_at.desc())
            .limit(limit)
        )
        return [
            AcquisitionRecord(
                watch=r.watch,
                id=r.id,
                collection=r.collection,
                acquired_at=utc(r.acquired_at) or r.acquired_at,
                outcome=r.outcome,
                municipalities=tuple(r.municipalities),
                run_id=r.run_id,
            )
            for r in s.scalars(query)
        ]

    return reg.read(go, what=f"reading the acquisitions of watch {watch}")
