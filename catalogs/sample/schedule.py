"""When the synthetic satellites look, and when the planted events happen.

The season is 2025-04 … 2025-10 over the Suō-nada coast. Sentinel-2 dates are 5 days apart
multiples (the S2B/S2C constellation revisit); Sentinel-1 dates are one relative orbit of
S1A, 12 days apart. Event dates are chosen so that each event has a clear-ish Sentinel-2
pair of the same season around it (see :data:`EVENT_DATES`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = [
    "EVENT_DATES",
    "EVENT_NAMES",
    "FLOOD_END_DATE",
    "FLOOD_RECEDED_DATE",
    "MANAGEMENT_DATES",
    "S1_SCHEDULE",
    "S2_DATATAKE_START",
    "S2_SCHEDULE",
    "S2_SENSING_TIME",
    "EventDates",
    "S1Acquisition",
    "S2Acquisition",
    "s2_acquisition",
]

_UTC = dt.UTC

# one S1A orbit cycle is 175 orbits in 12 days; absolute orbit 53498 started 2024-04-19
# 04:59:04 UTC (the Planetary Computer fixture item), relative = (absolute - 73) % 175 + 1
_S1_ANCHOR_TIME = dt.datetime(2024, 4, 19, 4, 59, 4, tzinfo=_UTC)
_S1_ANCHOR_ORBIT = 53498
_S1_ORBIT_SECONDS = 12 * 86400 / 175
S2_DATATAKE_START = dt.time(2, 7, 1)
"""Sensing start of the Sentinel-2 datatake over the sample area (UTC; 11:07 JST)."""
S2_SENSING_TIME = dt.time(2, 7, 18, 924000)
"""Sensing time of the sample tiles (UTC): the item ``datetime``, and the sun of the scene."""


@dataclass(frozen=True)
class S2Acquisition:
    """One Sentinel-2 overpass of the sample area."""

    date: dt.date
    """acquisition date (UTC)"""
    platform: str
    """``sentinel-2b`` or ``sentinel-2c``"""
    cloud_fraction: float
    """fraction of the sample bbox under cloud (SCL 8, 9, 10), 0..1"""

    @property
    def datatake_start(self) -> dt.datetime:
        """Sensing start of the datatake (the time in the item id), UTC."""
        return dt.datetime.combine(self.date, S2_DATATAKE_START, tzinfo=_UTC)

    @property
    def datetime(self) -> dt.datetime:
        """Sensing time of the tile (the item ``datetime``), UTC."""
        return dt.datetime.combine(self.date, S2_SENSING_TIME, tzinfo=_UTC)


@dataclass(frozen=True)
class S1Acquisition:
    """One Sentinel-1A IW pass over the sample area (always the same relative orbit)."""

    date: dt.date
    """acquisition date (UTC)"""

    @property
    def start(self) -> dt.datetime:
        """Slice start time, UTC (ascending pass, early evening local time)."""
        return dt.datetime.combine(self.date, dt.time(9, 21, 43), tzinfo=_UTC)

    @property
    def end(self) -> dt.datetime:
        """Slice end time, UTC."""
        return self.start + dt.timedelta(seconds=25)

    @property
    def datetime(self) -> dt.datetime:
        """Mid time of the slice, UTC (the item ``datetime``)."""
        return self.start + dt.timedelta(seconds=12, microseconds=500000)

    @property
    def absolute_orbit(self) -> int:
        """S1A absolute orbit number, extrapolated from a known orbit at 12 d / 175 orbits."""
        elapsed = (self.start - _S1_ANCHOR_TIME).total_seconds()
        return _S1_ANCHOR_ORBIT + int(elapsed // _S1_ORBIT_SECONDS)

    @property
    def relative_orbit(self) -> int:
        """Relative orbit (track) number, 1..175."""
        return (self.absolute_orbit - 73) % 175 + 1

    @property
    def datatake_id(self) -> int:
        """Mission datatake id (a deterministic stand-in derived from the orbit)."""
        return (self.absolute_orbit * 8 + 5) % 0xFFFFF


def _s2(day: str, cloud: float) -> S2Acquisition:
    date = dt.date.fromisoformat(day)
    # S2B and S2C fly 180° apart: one of them passes every 5 days, each every 10 days
    parity = ((date - dt.date(2025, 4, 25)).days // 5) % 2
    return S2Acquisition(
        date=date, platform="sentinel-2c" if parity else "sentinel-2b", cloud_fraction=cloud
    )


S2_SCHEDULE: tuple[S2Acquisition, ...] = (
    _s2("2025-04-25", 0.06),  # spring, paddies dry and ploughed
    _s2("2025-05-20", 0.12),  # paddies flooded for transplanting (irrigation, not disaster)
    _s2("2025-06-14", 0.86),  # 梅雨 (rainy season): mostly cloudy
    _s2("2025-06-29", 0.18),  # paddies still flooded, forest at full leaf
    _s2("2025-07-09", 0.24),  # three days after the flood: receding water, fresh landslides
    _s2("2025-08-18", 0.10),  # summer, rice green
    _s2("2025-09-22", 0.14),  # rice ripening; new solar farm
    _s2("2025-10-17", 0.05),  # after harvest
)
"""The Sentinel-2 overpasses of the sample archive, in time order."""

S1_SCHEDULE: tuple[S1Acquisition, ...] = tuple(
    S1Acquisition(dt.date.fromisoformat(d))
    for d in ("2025-06-12", "2025-06-24", "2025-07-06", "2025-07-18")
)
"""The Sentinel-1 passes (one relative orbit, ascending, 12-day repeat), in time order."""


@dataclass(frozen=True)
class EventDates:
    """Date of one planted event and the acquisitions that bracket it."""

    date: dt.date
    """the day the event happens (effects visible on acquisitions on or after it)"""
    before: dt.date
    """suggested pre-event acquisition (same season as ``after``)"""
    after: dt.date
    """suggested post-event acquisition"""
    sensor: str
    """``s2`` or ``s1``: which sensor ``before``/``after`` refer to"""


EVENT_NAMES: tuple[str, ...] = (
    "flood",
    "landslide",
    "change",
    "burn",
    "clearcut",
    "harvest",
    "construction",
)
"""The planted events, in the order they are documented (the last three: varied worlds only,
:mod:`yamasat.catalogs.sample.managed`)."""

MANAGEMENT_DATES: dict[str, dt.date] = {
    "early": dt.date(2025, 7, 20),
    "late": dt.date(2025, 9, 5),
}
"""Land management in varied worlds: a first batch of clear-cuts between the landslide
product's periods (06-29 → 08-18), the rest with harvest and construction between the change
product's periods (08-18 → 09-22)."""

EVENT_DATES: dict[str, EventDates] = {
    "burn": EventDates(dt.date(2025, 5, 1), dt.date(2025, 4, 25), dt.date(2025, 5, 20), "s2"),
    "landslide": EventDates(dt.date(2025, 7, 5), dt.date(2025, 6, 29), dt.date(2025, 8, 18), "s2"),
    "flood": EventDates(dt.date(2025, 7, 6), dt.date(2025, 6, 24), dt.date(2025, 7, 6), "s1"),
    "change": EventDates(dt.date(2025, 9, 1), dt.date(2025, 8, 18), dt.date(2025, 9, 22), "s2"),
    "clearcut": EventDates(dt.date(2025, 7, 20), dt.date(2025, 6, 29), dt.date(2025, 8, 18), "s2"),
    "harvest": EventDates(dt.date(2025, 9, 5), dt.date(2025, 8, 18), dt.date(2025, 9, 22), "s2"),
    "construction": EventDates(
        dt.date(2025, 9, 5), dt.date(2025, 8, 18), dt.date(2025, 9, 22), "s2"
    ),
}
"""Event dates. The flood peaks on the S1 pass of 2025-07-06 and is still partly visible
(receding) on the S2 overpass of 2025-07-09; it is gone by 2025-07-12."""

FLOOD_RECEDED_DATE = dt.date(2025, 7, 8)
"""From this day the flood covers only its receded extent."""
FLOOD_END_DATE = dt.date(2025, 7, 12)
"""From this day the flood water is gone."""


def s2_acquisition(date: dt.date) -> S2Acquisition | None:
    """The scheduled S2 overpass on ``date``, or None."""
    for acq in S2_SCHEDULE:
        if acq.date == date:
            return acq
    return None
