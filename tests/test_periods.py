from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yamasat.catalogs.extent.periods import (
    Period,
    check_before_after,
    is_relative,
    parse_period,
    today_in,
)
from yamasat.errors import InputDateError


def test_parse_interval_and_single_day() -> None:
    p = parse_period("2025-05-01/2025-05-31")
    assert p == Period(dt.date(2025, 5, 1), dt.date(2025, 5, 31))
    assert p.days == 31
    assert p.stac_datetime == "2025-05-01T00:00:00Z/2025-05-31T23:59:59Z"
    assert parse_period("2025-05-03") == Period(dt.date(2025, 5, 3), dt.date(2025, 5, 3))
    assert parse_period("2025-05-01T10:00:00Z/2025-05-02").start == dt.date(2025, 5, 1)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2025-05-31/2025-05-01", "reversed"),
        ("2025-13-01/2025-12-31", "not an ISO date"),
        ("May 2025", "not an ISO date"),
        ("../2025-05-01", "open-ended"),
        ("2025-05-01/", "open-ended"),
        ("2025-01-01/2025-02-01/2025-03-01", "slashes"),
        ("", "empty"),
    ],
)
def test_bad_periods_are_named(text: str, fragment: str) -> None:
    with pytest.raises(InputDateError, match=fragment):
        parse_period(text)


def test_before_after_rules() -> None:
    before = parse_period("2025-04-01/2025-04-30")
    after = parse_period("2025-06-01/2025-06-30")
    check_before_after(before, after)
    with pytest.raises(InputDateError, match="overlap"):
        check_before_after(before, parse_period("2025-04-15/2025-05-15"))
    with pytest.raises(InputDateError, match="swap"):
        check_before_after(after, before)


def test_contains_converts_to_utc() -> None:
    p = parse_period("2025-05-01/2025-05-01")
    jst = dt.timezone(dt.timedelta(hours=9))
    assert p.contains(dt.datetime(2025, 5, 2, 8, 0, tzinfo=jst))  # 23:00 UTC on the 1st
    assert not p.contains(dt.datetime(2025, 5, 2, 10, 0, tzinfo=jst))


# the end must stay a date: starts up to 3000 days before the calendar's last day (hypothesis
# once drew 9999-08-01 + 153 days)
@given(
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date.max - dt.timedelta(days=3000)),
    st.integers(min_value=0, max_value=3000),
)
def test_roundtrip(start: dt.date, length: int) -> None:
    end = start + dt.timedelta(days=length)
    p = parse_period(f"{start.isoformat()}/{end.isoformat()}")
    assert parse_period(str(p)) == p
    if length > 0:
        with pytest.raises(InputDateError):
            parse_period(f"{end.isoformat()}/{start.isoformat()}")


TODAY = dt.date(2026, 11, 28)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("P30D/today", "2026-10-30", "2026-11-28"),
        ("P30D/today-P1Y", "2025-10-30", "2025-11-28"),
        ("today-P2W/today", "2026-11-14", "2026-11-28"),
        ("2026-04-01/P1M", "2026-04-01", "2026-04-30"),
        ("P1M/2026-03-31", "2026-03-01", "2026-03-31"),
        ("today", "2026-11-28", "2026-11-28"),
        ("today-P1M+P1D/today+P0D", "2026-10-29", "2026-11-28"),
    ],
)
def test_relative_periods(text: str, start: str, end: str) -> None:
    """Scheduled runs write periods relative to the day they run."""
    period = parse_period(text, today=TODAY)
    assert (period.start.isoformat(), period.end.isoformat()) == (start, end)
    assert is_relative(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("P/today", "not a duration"),
        ("P3H/today", "not a duration"),
        ("P1D/P2D", "duration at both ends"),
        ("tomorrow/today", "not an ISO date"),
        ("today/today-P1D", "reversed"),
    ],
)
def test_bad_relative_periods_are_named(text: str, fragment: str) -> None:
    with pytest.raises(InputDateError, match=fragment):
        parse_period(text, today=TODAY)


def test_today_is_the_tokyo_day() -> None:
    """At 20:00 UTC it is already the next day in Japan, and relative periods follow Japan."""
    assert not is_relative("2026-01-01/2026-01-31")
    tokyo = today_in("Asia/Tokyo")
    assert parse_period("today").start == tokyo
    assert abs((tokyo - today_in("UTC")).days) <= 1
