"""Adding solutions and changing their status, with validation and an audit trail.

``developed_on`` is the first date the solution reached ``developed`` (or ``deployed``).
It is set by the change that first reaches that status and kept when the status later moves
back and forward again: the indicator counts a solution once, in the fiscal year it first
qualified (see :mod:`yamasat.catalogs.registry.tally`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...errors import InputDateError, RegistryError, SolutionExistsError
from .records import (
    SolutionRecord,
    check_date,
    check_status,
    check_transition,
    normalise_name,
    normalise_org,
    rank,
)
from .repo import Registry, now
from .rows import solution_record
from .tables import SolutionRow, StatusChangeRow

__all__ = ["add_solution", "check_solution_id", "set_status"]

_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_DEVELOPED = rank("developed")


def check_solution_id(solution_id: str) -> str:
    """A solution id must be a slug: ``[a-z0-9-]``, 1–64 characters, no leading/trailing '-'."""
    text = solution_id.strip()
    if not _ID_RE.fullmatch(text):
        raise RegistryError(
            f"solution id {solution_id!r} is not a slug; use lower-case letters, digits and "
            "'-', at most 64 characters, starting and ending with a letter or digit "
            "(for example 'ube-flood-alert')"
        )
    return text


def _text(value: str | None, what: str, *, limit: int = 200) -> str | None:
    if value is None or not value.strip():
        return None
    text = " ".join(value.split())
    if len(text) > limit:
        raise RegistryError(f"{what} is {len(text)} characters long; at most {limit} are allowed")
    return text


def add_solution(
    registry: Registry,
    solution_id: str,
    *,
    organization: str,
    name_ja: str | None = None,
    name_en: str | None = None,
    theme: str = "",
    data_sources: Sequence[str] = (),
    status: str = "proposed",
    developed_on: dt.date | str | None = None,
    since: dt.date | str | None = None,
    notes: str = "",
    by: str,
    reason: str = "registered",
    today: dt.date | None = None,
) -> SolutionRecord:
    """Register a new solution; raises :class:`SolutionExistsError` when the id, or the same
    normalised name in the same organisation, is taken (another organisation may reuse a name).

    ``since`` is the date the initial status took effect (default: ``developed_on`` for a
    solution added as developed or deployed, else today); later status changes cannot take
    effect before it.
    """
    sid = check_solution_id(solution_id)
    ja, en, org = _names(sid, name_ja, name_en, organization)
    first = _initial_status(status)
    day, start = _initial_dates(sid, first, developed_on, since, today)
    ja_key, en_key, org_key = (
        normalise_name(ja) if ja else None,
        normalise_name(en) if en else None,
        normalise_org(org),
    )

    def go(s: Session) -> SolutionRecord:
        _check_unused(s, sid, org, ja_key, en_key, org_key)
        stamp = now()
        row = SolutionRow(
            id=sid,
            name_ja=ja,
            name_en=en,
            name_ja_key=ja_key,
            name_en_key=en_key,
            organization=org,
            org_key=org_key,
            theme=_text(theme, "theme", limit=100) or "",
            data_sources=[d.strip() for d in data_sources if d.strip()],
            status=first,
            developed_on=day,
            notes=notes.strip(),
            created_at=stamp,
            updated_at=stamp,
        )
        row.history.append(
            StatusChangeRow(
                seq=1,
                from_status=None,
                to_status=first,
                effective_on=start or (today or dt.date.today()),
                changed_by=by,
                reason=reason.strip() or "registered",
                recorded_at=stamp,
            )
        )
        s.add(row)
        s.flush()
        return solution_record(row)

    try:
        return registry.write(go, what=f"adding solution {sid}")
    except IntegrityError as e:  # a concurrent add won the race (PostgreSQL)
        raise SolutionExistsError(
            f"solution {sid!r} or its name in {org} was registered at the same time by "
            "someone else; run 'yamasat solutions list' and retry if needed"
        ) from e


def _names(
    sid: str, name_ja: str | None, name_en: str | None, organization: str
) -> tuple[str | None, str | None, str]:
    """The names and the organization, cleaned; at least one name and the organization."""
    ja, en = _text(name_ja, "name_ja"), _text(name_en, "name_en")
    org = _text(organization, "organization")
    if ja is None and en is None:
        raise RegistryError(f"solution {sid!r} needs a name: give name_ja, name_en or both")
    if org is None:
        raise RegistryError(f"solution {sid!r} needs an organization (the developer's name)")
    return ja, en, org


def _initial_status(status: str) -> str:
    first = check_status(status)
    if first == "retired":
        raise RegistryError(
            "a solution cannot be added as 'retired'; add it with the last status it had, "
            "then 'yamasat solutions set-status ID retired'"
        )
    return first


def _initial_dates(
    sid: str,
    first: str,
    developed_on: dt.date | str | None,
    since: dt.date | str | None,
    today: dt.date | None,
) -> tuple[dt.date | None, dt.date | None]:
    """``developed_on`` and the date the initial status took effect, checked against it."""
    day: dt.date | None = None
    if developed_on is not None:
        day = check_date(developed_on, what="developed_on", today=today)
    if rank(first) >= _DEVELOPED and day is None:
        raise InputDateError(
            f"a solution added as {first!r} needs its developed_on date (YYYY-MM-DD): the "
            "indicator counts it in that fiscal year"
        )
    if rank(first) < _DEVELOPED and day is not None:
        raise InputDateError(
            f"developed_on applies from status 'developed'; {sid!r} is added as {first!r}. "
            "Give it with --status developed, or set it later with set-status."
        )
    start = day
    if since is not None:
        start = check_date(since, what="since", today=today)
        if day is not None and start != day:
            raise InputDateError(
                f"since {start} differs from developed_on {day}: a solution added as "
                f"{first!r} took that status on its developed_on date; give only developed_on"
            )
    return day, start


def _check_unused(
    s: Session, sid: str, org: str, ja_key: str | None, en_key: str | None, org_key: str
) -> None:
    """Raise :class:`SolutionExistsError` if the id, or the name in ``org``, is taken."""
    existing = s.get(SolutionRow, sid)
    if existing is not None:
        raise SolutionExistsError(
            f"solution id {sid!r} is already used by {existing.name_ja or existing.name_en!r} "
            f"({existing.organization}); choose another id"
        )
    same = [SolutionRow.name_ja_key == ja_key] if ja_key else []
    same += [SolutionRow.name_en_key == en_key] if en_key else []
    twin = s.scalars(select(SolutionRow).where(SolutionRow.org_key == org_key, or_(*same))).first()
    if twin is not None:
        raise SolutionExistsError(
            f"{org} already has a solution with this name: {twin.id!r} "
            f"({twin.name_ja or ''} / {twin.name_en or ''}); names are compared ignoring "
            "case, width, spaces and punctuation. Use that id, or give a distinct name."
        )


def set_status(
    registry: Registry,
    solution_id: str,
    status: str,
    *,
    by: str,
    reason: str,
    on: dt.date | str | None = None,
    today: dt.date | None = None,
) -> SolutionRecord:
    """Move a solution to ``status`` on date ``on`` (default today), recording who and why.

    The first move to ``developed`` or ``deployed`` sets ``developed_on``; later moves keep
    it. A change cannot take effect before the previous one, nor in the future.
    """
    if not reason or not reason.strip():
        raise RegistryError("a status change needs a reason (why the status changes)")
    day = check_date(on if on is not None else (today or dt.date.today()), what="date", today=today)

    def go(s: Session) -> SolutionRecord:
        row = registry.require_solution(s, solution_id.strip())
        target = check_transition(row.id, row.status, status)
        last = max(row.history, key=lambda h: h.seq) if row.history else None
        if last is not None and day < last.effective_on:
            raise InputDateError(
                f"the status of {row.id!r} "
                + (
                    f"last changed on {last.effective_on} ({last.from_status} → {last.to_status})"
                    if last.from_status
                    else f"was first recorded as {last.to_status!r} on {last.effective_on}, "
                    "when it was registered"
                )
                + f"; a change cannot take effect before it (got {day})"
                + (
                    "; a solution registered late can be given the date its first status took "
                    "effect with `solutions add --since DATE`"
                    if not last.from_status
                    else ""
                )
            )
        if target != "retired" and rank(target) >= _DEVELOPED and row.developed_on is None:
            row.developed_on = day
        stamp = now()
        row.history.append(
            StatusChangeRow(
                seq=(last.seq if last else 0) + 1,
                from_status=row.status,
                to_status=target,
                effective_on=day,
                changed_by=by,
                reason=reason.strip(),
                recorded_at=stamp,
            )
        )
        row.status = target
        row.updated_at = stamp
        s.flush()
        return solution_record(row)

    return registry.write(go, what=f"changing the status of {solution_id}")
