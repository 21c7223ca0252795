"""Time periods given as ``A/B`` intervals, as in STAC ``datetime`` searches."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from catalogs.errors import InputDateError

__all__ = ["Period", "check_before_after", "parse_period"]


@dataclass(frozen=True)
class Period:
    """A closed interval of calendar days (UTC), ``start <= end``."""

    start: dt.date
    """first day included"""
    end: dt.date
    """last day included"""

    def __str__(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"

    @property
    def stac_datetime(self) -> str:
        """The interval in the form a STAC API ``datetime`` parameter accepts (UTC, inclusive)."""
        return f"{self.start.isoformat()}T00:00:00Z/{self.end.isoformat()}T23:59:59Z"

    def contains(self, when: dt.datetime | dt.date) -> bool:
        """True when ``when`` (a date, or a datetime taken as its UTC date) is in the period."""
        if isinstance(when, dt.datetime):
            if when.tzinfo is not None:
                when = when.astimezone(dt.UTC)
            when = when.date()
        return self.start <= when <= self.end

    @property
    def days(self) -> int:
        """Number of days in the period, both ends included."""
        return (self.end - self.start).days + 1


def _parse_day(text: str, *, what: str, whole: str) -> dt.date:
    text = text.strip()
    try:
        if "T" in text:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise InputDateError(
            f"{what} {whole!r}: {text!r} is not an ISO date; write YYYY-MM-DD/YYYY-MM-DD, "
            "for example 2025-05-01/2025-05-31"
        ) from e


def parse_period(text: str, *, what: str = "period") -> Period:
    """Parse ``A/B`` (ISO dates or datetimes) into a :class:`Period`.

    A single date means that one day. Open ends (``..``) are refused: analyses need a bounded
    period. Raises :class:`InputDateError` naming the value when it is malformed or reversed.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputDateError(f"{what} is empty; write YYYY-MM-DD/YYYY-MM-DD")
    parts = text.strip().split("/")
    if len(parts) == 1:
        day = _parse_day(parts[0], what=what, whole=text)
        return Period(day, day)
    if len(parts) != 2:
        raise InputDateError(f"{what} {text!r} has {len(parts) - 1} slashes; write A/B")
    if ".." in (parts[0].strip(), parts[1].strip()) or "" in (parts[0].strip(), parts[1].strip()):
        raise InputDateError(f"{what} {text!r} is open-ended; give both a start and an end date")
    start = _parse_day(parts[0], what=what, whole=text)
    end = _parse_day(parts[1], what=what, whole=text)
    if end < start:
        raise InputDateError(
            f"{what} {text!r} is reversed: it ends ({end}) before it starts ({start}); "
            f"did you mean {end}/{start}?"
        )
    return Period(start, end)


def check_before_after(before: Period, after: Period) -> None:
    """Refuse a before/after pair that overlaps or is in the wrong order."""
    if after.start <= before.end:
        if after.end < before.start:
            raise InputDateError(
                f"the 'after' period {after} lies before the 'before' period {before}; swap them"
            )
        raise InputDateError(
            f"the 'before' period {before} and the 'after' period {after} overlap; "
            "the 'after' period must start after the 'before' period ends"
        )
