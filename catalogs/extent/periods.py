"""Time periods given as ``A/B`` intervals, as in STAC ``datetime`` searches.

Scheduled runs need periods relative to the day they run, so a day may also be written
``today``, ``today-P1Y`` or ``today-P2W`` (ISO 8601 durations of years, months, weeks and days),
and one end of a period may be a duration: ``P30D/today`` is the 30 days ending today,
``P30D/today-P1Y`` the same 30 days a year earlier, ``2026-04-01/P1M`` the month of April. ``today``
is the calendar day in Asia/Tokyo unless another day or time zone is given.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from ...errors import InputDateError

__all__ = [
    "DEFAULT_TIMEZONE",
    "Period",
    "check_before_after",
    "is_relative",
    "parse_period",
    "today_in",
]

#: the time zone that decides what "today" is (the prefecture's)
DEFAULT_TIMEZONE = "Asia/Tokyo"
_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
_TODAY = re.compile(r"^today((?:[+-]P[0-9YMWD]+)*)$")


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


def today_in(timezone: str = DEFAULT_TIMEZONE) -> dt.date:
    """The calendar day now in ``timezone`` (an IANA name such as ``Asia/Tokyo``)."""
    return dt.datetime.now(ZoneInfo(timezone)).date()


def is_relative(text: str) -> bool:
    """True when ``text`` uses ``today`` or a duration (its dates depend on the day it is read)."""
    return any(
        _TODAY.match(part.strip()) or _DURATION.match(part.strip()) for part in text.split("/")
    )


def _duration(text: str, *, what: str, whole: str) -> relativedelta:
    m = _DURATION.match(text)
    if not m or text == "P":
        raise InputDateError(
            f"{what} {whole!r}: {text!r} is not a duration; write for example P30D, P2W, P1M or P1Y"
        )
    y, mo, w, d = (int(g) if g else 0 for g in m.groups())
    return relativedelta(years=y, months=mo, weeks=w, days=d)


def _relative_day(m: re.Match[str], today: dt.date, *, what: str, whole: str) -> dt.date:
    day = today
    for sign, dur in re.findall(r"([+-])(P[0-9YMWD]+)", m.group(1)):
        delta = _duration(dur, what=what, whole=whole)
        day = day + delta if sign == "+" else day - delta
    return day


def _parse_day(text: str, *, what: str, whole: str, today: dt.date | None = None) -> dt.date:
    text = text.strip()
    m = _TODAY.match(text)
    if m:
        return _relative_day(m, today or today_in(), what=what, whole=whole)
    try:
        if "T" in text:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise InputDateError(
            f"{what} {whole!r}: {text!r} is not an ISO date; write YYYY-MM-DD/YYYY-MM-DD, "
            "for example 2025-05-01/2025-05-31"
        ) from e


def parse_period(text: str, *, what: str = "period", today: dt.date | None = None) -> Period:
    """Parse ``A/B`` (ISO dates or datetimes, ``today±P…``, or a duration at one end) into a
    :class:`Period`.

    A single date means that one day. Open ends (``..``) are refused: analyses need a bounded
    period. ``today`` defaults to the current day in Asia/Tokyo. Raises
    :class:`InputDateError` naming the value when it is malformed or reversed.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputDateError(f"{what} is empty; write YYYY-MM-DD/YYYY-MM-DD")
    parts = [p.strip() for p in text.strip().split("/")]
    if len(parts) == 1:
        day = _parse_day(parts[0], what=what, whole=text, today=today)
        return Period(day, day)
    if len(parts) != 2:
        raise InputDateError(f"{what} {text!r} has {len(parts) - 1} slashes; write A/B")
    if ".." in parts or "" in parts:
        raise InputDateError(f"{what} {text!r} is open-ended; give both a start and an end date")
    if parts[0].startswith("P") and parts[1].startswith("P"):
        raise InputDateError(f"{what} {text!r} has a duration at both ends; give one date")
    if parts[0].startswith("P"):
        end = _parse_day(parts[1], what=what, whole=text, today=today)
        # P30D/end: the 30 days ending on ``end``, both ends included
        start = end - _duration(parts[0], what=what, whole=text) + dt.timedelta(days=1)
    elif parts[1].startswith("P"):
        start = _parse_day(parts[0], what=what, whole=text, today=today)
        end = start + _duration(parts[1], what=what, whole=text) - dt.timedelta(days=1)
    else:
        start = _parse_day(parts[0], what=what, whole=text, today=today)
        end = _parse_day(parts[1], what=what, whole=text, today=today)
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
