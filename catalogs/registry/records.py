"""Plain records of the registry and the rules that need no database (pure functions).

The lifecycle of a solution is ``proposed → prototype → developed → deployed → retired``.
Moving forward may skip steps (a solution registered late can start at ``developed``);
moving back is one step at a time (``developed → prototype``, ``deployed → developed``,
``prototype → proposed``); ``retired`` is final except for a return to ``deployed`` (a
service reinstated). Every change records its effective date, who made it and why.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ...errors import InputDateError, StatusTransitionError

__all__ = [
    "STATUSES",
    "EvidenceRecord",
    "SolutionRecord",
    "Status",
    "StatusEvent",
    "allowed_transitions",
    "check_date",
    "check_status",
    "check_transition",
    "close_matches",
    "first_developed",
    "normalise_name",
    "normalise_org",
    "rank",
]

Status = Literal["proposed", "prototype", "developed", "deployed", "retired"]
STATUSES: tuple[Status, ...] = ("proposed", "prototype", "developed", "deployed", "retired")
_RANK: dict[str, int] = {s: i for i, s in enumerate(STATUSES)}
_ALLOWED: dict[str, tuple[Status, ...]] = {
    "proposed": ("prototype", "developed", "deployed", "retired"),
    "prototype": ("proposed", "developed", "deployed", "retired"),
    "developed": ("prototype", "deployed", "retired"),
    "deployed": ("developed", "retired"),
    "retired": ("deployed",),
}
#: the earliest date accepted (the pipeline's oldest possible evidence: Sentinel-2A, 2015)
EARLIEST = dt.date(2000, 1, 1)


def rank(status: str) -> int:
    """Position of ``status`` in the lifecycle (``proposed`` = 0 ... ``retired`` = 4)."""
    return _RANK[status]


def allowed_transitions(current: str) -> tuple[Status, ...]:
    """The statuses a solution in ``current`` may move to."""
    return _ALLOWED[current]


def check_status(status: str) -> Status:
    """``status`` as a lifecycle status, or :class:`StatusTransitionError` naming the valid ones."""
    for s in STATUSES:
        if s == status.strip().lower():
            return s
    raise StatusTransitionError(
        f"unknown status {status!r}; the lifecycle is {' → '.join(STATUSES)}"
    )


def check_transition(solution_id: str, current: str, new: str) -> Status:
    """Validate a status change; the error names the allowed moves from ``current``."""
    target = check_status(new)
    allowed = _ALLOWED[current]
    if target not in allowed:
        moves = ", ".join(allowed) if allowed else "none"
        why = "it already has this status" if target == current else "the lifecycle forbids it"
        raise StatusTransitionError(
            f"solution {solution_id!r} cannot move from {current!r} to {target!r} ({why}); "
            f"allowed from {current!r}: {moves}. Lifecycle: {' → '.join(STATUSES)} "
            "(forward moves may skip steps; backward moves go one step at a time)"
        )
    return target


def check_date(value: dt.date | str, *, what: str, today: dt.date | None = None) -> dt.date:
    """A past or present calendar date (``YYYY-MM-DD``); refuses the future and before 2000."""
    if isinstance(value, str):
        text = value.strip()
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                raise ValueError("expected YYYY-MM-DD")
            value = dt.date.fromisoformat(text)
        except ValueError as e:
            raise InputDateError(
                f"{what} {text!r} is not a date ({e}); write it as YYYY-MM-DD, e.g. 2024-04-01"
            ) from None
    if isinstance(value, dt.datetime):
        value = value.date()
    today = today or dt.date.today()
    if value > today:
        raise InputDateError(
            f"{what} {value} is in the future (today is {today}); record what has happened, "
            "on the date it happened"
        )
    if value < EARLIEST:
        raise InputDateError(f"{what} {value} is before {EARLIEST}; check the year")
    return value


_ORG_FORMS = re.compile(
    r"株式会社|有限会社|合同会社|合資会社|一般社団法人|一般財団法人|公益社団法人|公益財団法人|"
    r"\(株\)|\(有\)|\(同\)|\b(?:co|corp|corporation|inc|ltd|llc|kk|limited|company)\b\.?",
    re.IGNORECASE,
)
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_name(name: str) -> str:
    """Comparison key of a name: NFKC (full-width → half-width), case-folded, no spaces or
    punctuation. ``"Flood Map"``, ``"flood-map"`` and ``"ＦＬＯＯＤ　ＭＡＰ"`` share a key."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", name).casefold())


def normalise_org(org: str) -> str:
    """Comparison key of an organisation: as :func:`normalise_name`, without legal forms
    (株式会社, (株), Co., Ltd., Inc. ...), so ``"㈱山口データ"`` equals ``"山口データ株式会社"``."""
    text = unicodedata.normalize("NFKC", org).casefold()
    return _NOT_WORD.sub("", _ORG_FORMS.sub(" ", text))


def close_matches(word: str, choices: Iterable[str], *, n: int = 5) -> list[str]:
    """Up to ``n`` choices that look like ``word`` (difflib), best first."""
    pool = list(choices)
    found = difflib.get_close_matches(word, pool, n=n, cutoff=0.5)
    found += [c for c in pool if word and word in c and c not in found]
    return found[:n]


@dataclass(frozen=True)
class StatusEvent:
    """One status change of a solution."""

    on: dt.date
    """effective date (the day the change happened, not the day it was recorded)"""
    from_status: Status | None
    """None for the status given when the solution was added"""
    to_status: Status
    by: str
    reason: str
    recorded_at: dt.datetime | None = None


@dataclass(frozen=True)
class EvidenceRecord:
    """A product attached to a solution, with its last verification."""

    product_id: str
    item_href: str
    kind: str
    outcome: str
    """``published`` for a product that can count"""
    qa_status: str
    """``ok`` when the files matched their checksums at the last check, else ``failed``"""
    qa_message: str = ""
    run_id: str | None = None
    quicklook_href: str | None = None
    checked_at: dt.datetime | None = None

    @property
    def usable(self) -> bool:
        """Whether this product counts as evidence (published, files verified)."""
        return self.outcome == "published" and self.qa_status == "ok"


@dataclass(frozen=True)
class SolutionRecord:
    """A solution with its history and evidence, as the tally and the CLI see it."""

    id: str
    organization: str
    status: Status
    name_ja: str | None = None
    name_en: str | None = None
    theme: str = ""
    data_sources: tuple[str, ...] = ()
    developed_on: dt.date | None = None
    """the first date the solution reached ``developed`` or later (kept when it moves back)"""
    notes: str = ""
    history: tuple[StatusEvent, ...] = field(default_factory=tuple)
    evidence: tuple[EvidenceRecord, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        """``name_ja / name_en`` (whichever exist)."""
        return " / ".join(n for n in (self.name_ja, self.name_en) if n)


def first_developed(history: Sequence[StatusEvent]) -> dt.date | None:
    """The earliest effective date of a change into ``developed`` or ``deployed``."""
    dates = [
        e.on for e in history if e.to_status != "retired" and rank(e.to_status) >= rank("developed")
    ]
    return min(dates) if dates else None
