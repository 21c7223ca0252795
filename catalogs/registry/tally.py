"""The indicator tally: pure functions over solution records (no database, no clock).

The indicator is 衛星データを活用したソリューション開発件数（累計）: the cumulative number of
solutions developed using satellite data, per Japanese fiscal year.

Rules (DESIGN §3 "Indicator"):

* Fiscal year N runs 1 April N to 31 March N+1 (31 March 2023 is FY2022, 1 April 2023 is
  FY2023). Its label is 令和{N−2018}年度, with 令和元年度 for FY2019 (平成 before that).
* A solution counts **once**, in the fiscal year of its ``developed_on`` date, when its
  status is ``developed`` or later and it has at least one published product as evidence
  whose files verified against their checksums.
* ``developed_on`` is the first date the solution reached ``developed``. A solution that
  moves back (``developed → prototype``) is not counted while it stays below ``developed``;
  when it moves forward again it is counted once, in the fiscal year of that *first* date,
  not of the later one.
* Retirement does not un-count: a retired solution counts when the status it had just
  before retirement was ``developed`` or later.
* Baseline: the cumulative count at the baseline FY is the configured value (25 in FY2022).
  Solutions dated on or before the baseline FY are inside it and add nothing. They are
  listed for audit, and a warning is given when their number (by status and date; evidence
  is not required, since they predate this pipeline) differs from the configured value.
* Target per FY: the straight line from the baseline to the configured target, rounded up
  to whole solutions; only the final value comes from the strategy. ``gap`` = target −
  cumulative (positive: behind the path). Fiscal years after today's have no count yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from ...errors import InputDateError
from .records import EvidenceRecord, SolutionRecord, first_developed, rank

__all__ = [
    "Counted",
    "Excluded",
    "Point",
    "Tally",
    "YearRow",
    "era_label",
    "fiscal_year",
    "fy_label",
    "qualifies",
    "tally",
    "target_path",
]


def fiscal_year(day: dt.date) -> int:
    """The Japanese fiscal year of ``day`` (April–March): 2024-03-31 → 2023, 2024-04-01 → 2024."""
    return day.year if day.month >= 4 else day.year - 1


def era_label(fy: int) -> str:
    """``令和N年度`` for FY2019 onwards (FY2019 = 令和元年度); ``平成N年度`` for FY1989–2018."""
    if fy >= 2019:
        n, era = fy - 2018, "令和"
    elif fy >= 1989:
        n, era = fy - 1988, "平成"
    else:
        return f"{fy}年度"
    return f"{era}{'元' if n == 1 else n}年度"


def fy_label(fy: int) -> str:
    """``FY2026 (令和8年度)``."""
    return f"FY{fy} ({era_label(fy)})"


@dataclass(frozen=True)
class Point:
    """A cumulative count in a fiscal year (the configured baseline or target)."""

    fy: int
    value: int


def target_path(fy: int, baseline: Point, target: Point) -> int:
    """The target for ``fy`` on the straight line baseline → target, rounded up (see module)."""
    if fy <= baseline.fy:
        return baseline.value
    if fy >= target.fy:
        return target.value
    rise = (target.value - baseline.value) * (fy - baseline.fy)
    return baseline.value + -(-rise // (target.fy - baseline.fy))


@dataclass(frozen=True)
class Counted:
    """A counted solution with the date that counts and the evidence that proves it."""

    solution: SolutionRecord
    counted_on: dt.date
    fy: int
    evidence: tuple[EvidenceRecord, ...]


@dataclass(frozen=True)
class Excluded:
    """A registered solution that does not count, and why."""

    solution: SolutionRecord
    reason: str


@dataclass(frozen=True)
class YearRow:
    """One fiscal year of the tally."""

    fy: int
    label: str
    new: int
    cumulative: int | None
    """None for fiscal years after today's"""
    target: int
    gap: int | None
    counted: tuple[Counted, ...]
    future: bool = False


@dataclass(frozen=True)
class Tally:
    """The whole tally: rows per FY, who counts (with evidence), who does not and why."""

    baseline: Point
    target: Point
    as_of: dt.date
    rows: tuple[YearRow, ...]
    baseline_solutions: tuple[Counted, ...]
    excluded: tuple[Excluded, ...]
    warnings: tuple[str, ...]

    @property
    def current(self) -> YearRow:
        """The last fiscal year with a count (today's FY, or the last one asked for)."""
        past = [r for r in self.rows if not r.future]
        return past[-1] if past else self.rows[0]

    @property
    def counted(self) -> tuple[Counted, ...]:
        """Every solution counted after the baseline, oldest first."""
        return tuple(c for r in self.rows for c in r.counted)


def _status_that_counts(rec: SolutionRecord) -> str:
    if rec.status != "retired":
        return rec.status
    into_retired = [e for e in rec.history if e.to_status == "retired"]
    before = into_retired[-1].from_status if into_retired else None
    return before or ("developed" if rec.developed_on else "proposed")


def qualifies(rec: SolutionRecord) -> tuple[dt.date | None, str]:
    """``(date that counts, "")`` for a solution that counts, else ``(None, reason)``."""
    status = _status_that_counts(rec)
    if rank(status) < rank("developed"):
        was = (
            f"; it reached developed on {rec.developed_on} and moved back"
            if (rec.developed_on and rec.status != "retired")
            else ""
        )
        retired = " before retirement" if rec.status == "retired" else ""
        return None, f"status {status}{retired} is below developed{was}"
    on = rec.developed_on or first_developed(rec.history)
    if on is None:
        return None, "no developed_on date is recorded"
    if not any(e.usable for e in rec.evidence):
        if not rec.evidence:
            return None, "no published product is attached as evidence"
        why = "; ".join(f"{e.product_id}: {e.qa_message or e.outcome}" for e in rec.evidence)
        return None, f"no attached product verified as evidence ({why})"
    return on, ""


def _developed_on_or_before(rec: SolutionRecord, fy: int) -> dt.date | None:
    if rank(_status_that_counts(rec)) < rank("developed"):
        return None
    on = rec.developed_on or first_developed(rec.history)
    return on if on is not None and fiscal_year(on) <= fy else None


def tally(
    records: Sequence[SolutionRecord],
    *,
    baseline: Point,
    target: Point,
    today: dt.date,
    until_fy: int | None = None,
) -> Tally:
    """Tally ``records`` per fiscal year from the baseline FY to ``until_fy`` (default: the
    later of the target FY and today's FY). Pure: the same records give the same tally."""
    now_fy = fiscal_year(today)
    last = until_fy if until_fy is not None else max(target.fy, now_fy)
    if last < baseline.fy:
        raise InputDateError(
            f"FY{last} is before the baseline {fy_label(baseline.fy)}; ask for a fiscal year "
            f"from {baseline.fy} on"
        )
    by_fy: dict[int, list[Counted]] = {}
    inside: list[Counted] = []
    excluded: list[Excluded] = []
    for rec in sorted(records, key=lambda r: r.id):
        early = _developed_on_or_before(rec, baseline.fy)
        if early is not None:
            usable = tuple(e for e in rec.evidence if e.usable)
            inside.append(Counted(rec, early, fiscal_year(early), usable))
            continue
        on, reason = qualifies(rec)
        if on is None:
            excluded.append(Excluded(rec, reason))
            continue
        c = Counted(rec, on, fiscal_year(on), tuple(e for e in rec.evidence if e.usable))
        by_fy.setdefault(c.fy, []).append(c)
    rows: list[YearRow] = []
    cumulative = baseline.value
    for fy in range(baseline.fy, last + 1):
        goal = target_path(fy, baseline, target)
        if fy > now_fy:
            rows.append(YearRow(fy, era_label(fy), 0, None, goal, None, (), future=True))
            continue
        counted = tuple(sorted(by_fy.get(fy, []), key=lambda c: (c.counted_on, c.solution.id)))
        cumulative += len(counted)
        rows.append(
            YearRow(fy, era_label(fy), len(counted), cumulative, goal, goal - cumulative, counted)
        )
    warnings: list[str] = []
    if len(inside) != baseline.value:
        warnings.append(
            f"the registry holds {len(inside)} solutions developed on or before "
            f"{fy_label(baseline.fy)}, but the configured baseline is {baseline.value}: "
            "register the missing baseline solutions (solutions add --status developed "
            "--developed-on YYYY-MM-DD) or correct indicator.baseline in the config"
        )
    return Tally(
        baseline=baseline,
        target=target,
        as_of=today,
        rows=tuple(rows),
        baseline_solutions=tuple(sorted(inside, key=lambda c: (c.counted_on, c.solution.id))),
        excluded=tuple(excluded),
        warnings=tuple(warnings),
    )
