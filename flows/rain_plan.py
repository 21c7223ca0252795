"""What the ``rain_watch`` flow asks for after rain events: pure decisions, no I/O.

* A **storm** is a set of stored events (one per municipality) whose spans overlap: its
  products are made once over the union of their municipalities. Its peak is the peak day of
  its wettest event; its start the earliest start.
* **S1 flood** (``flood-s1``): the first Sentinel-1 acquisition after the peak, within
  ``s1_window_days`` of it, with the ``reference_days`` before the storm's start as the
  pre-event reference.
* **fused flood** (``flood-fused``, S1 and S2 together, :func:`fused_plan`): asked where S1
  covers the event — the S1 flood's pass — once a Sentinel-2 acquisition after the peak is
  in too (any clouds: the fusion takes each pixel from the sensor that saw it), within
  ``s1_window_days``; made from every S1 and S2 acquisition from the day after the peak to
  the later of the two, on the S1 pass's area; same reference. One product per storm, as
  each kind.
* **S2 landslide** (``landslide-s2``): the first Sentinel-2 date after the peak, within
  ``s2_window_days``, whose clear fraction over the storm's area reaches
  ``s2_min_clear_fraction``; same reference.
* Until then the product is **pending**, with the reason (no acquisition yet; or clouds, with
  the best clear fraction seen); once the window has passed it is **closed**. A product
  already made (the registry's link) is **done**: a rerun asks for nothing again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..catalogs.registry.events import StoredEvent

__all__ = [
    "FLOOD_FUSED",
    "FLOOD_S1",
    "KINDS",
    "LANDSLIDE_S2",
    "S1_KINDS",
    "Request",
    "Scene",
    "Storm",
    "plan",
    "storms",
]

FLOOD_S1 = "flood-s1"
FLOOD_FUSED = "flood-fused"
LANDSLIDE_S2 = "landslide-s2"
KINDS = (FLOOD_S1, FLOOD_FUSED, LANDSLIDE_S2)
S1_KINDS = (FLOOD_S1, FLOOD_FUSED)
"""the kinds decided on the first Sentinel-1 pass after the peak"""
_FAR = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class Storm:
    """Overlapping events of several municipalities."""

    event_ids: tuple[str, ...]
    codes: tuple[str, ...]
    start: dt.date
    peak: dt.date
    end: dt.date | None

    @property
    def key(self) -> str:
        return f"storm-{self.start:%Y%m%d}-{'-'.join(self.codes)}"


def storms(events: Sequence[StoredEvent]) -> list[Storm]:
    """Group ``events`` whose [start, end] spans overlap (an ongoing one runs on), by start."""
    groups: list[list[StoredEvent]] = []
    for e in sorted(events, key=lambda e: (e.start, e.id)):
        if groups and e.start <= max((g.end or _FAR) for g in groups[-1]):
            groups[-1].append(e)
        else:
            groups.append([e])
    out = []
    for group in groups:
        wettest = max(group, key=lambda e: (e.peak_mm, -e.peak.toordinal()))
        ends = [e.end for e in group]
        out.append(
            Storm(
                event_ids=tuple(sorted(e.id for e in group)),
                codes=tuple(sorted({e.code for e in group})),
                start=min(e.start for e in group),
                peak=wettest.peak,
                end=None if any(x is None for x in ends) else max(x for x in ends if x),
            )
        )
    return out


@dataclass(frozen=True)
class Scene:
    """An acquisition date over the storm's area and its clear fraction (S1: 1.0)."""

    day: dt.date
    clear_fraction: float


@dataclass(frozen=True)
class Request:
    """What to do for one storm and product kind."""

    kind: str
    status: str
    """``run``, ``pending``, ``closed`` or ``done``"""
    reason: str
    after: dt.date | None = None
    """the acquisition day to map (``run``)"""
    before: tuple[dt.date, dt.date] | None = None
    """the pre-event reference period (``run``)"""
    clear_fraction: float | None = None
    first: dt.date | None = None
    """the first day of the after period (``run``; default ``after``)"""
    footprint_day: dt.date | None = None
    """the acquisition whose footprint bounds the product's area (default ``after``)"""


def plan(
    storm: Storm,
    kind: str,
    scenes: Sequence[Scene],
    *,
    today: dt.date,
    window_days: int,
    reference_days: int,
    min_clear: float = 0.0,
    done: bool = False,
) -> Request:
    """The decision for ``storm`` and ``kind`` given the ``scenes`` acquired so far."""
    if done:
        return Request(kind, "done", "made")
    last = storm.peak + dt.timedelta(days=window_days)
    after = sorted(
        (s for s in scenes if storm.peak < s.day <= min(today, last)), key=lambda s: s.day
    )
    reference = (
        storm.start - dt.timedelta(days=reference_days),
        storm.start - dt.timedelta(days=1),
    )
    for scene in after:
        if scene.clear_fraction >= min_clear:
            return Request(kind, "run", f"acquired {scene.day}", scene.day, reference,
                           scene.clear_fraction)  # fmt: skip
    sensor = "Sentinel-1" if kind in S1_KINDS else "Sentinel-2"
    if after:
        best = max(after, key=lambda s: s.clear_fraction)
        reason = (
            f"clouds: best clear fraction {best.clear_fraction:.2f} on {best.day} "
            f"(needs {min_clear:.2f})"
        )
        clear: float | None = best.clear_fraction
    else:
        reason = f"no {sensor} acquisition after the peak {storm.peak} yet"
        clear = None
    if today > last:
        return Request(kind, "closed", f"window of {window_days} days closed on {last}; {reason}",
                       clear_fraction=clear)  # fmt: skip
    return Request(kind, "pending", f"{reason} (window to {last})", clear_fraction=clear)


def fused_plan(
    storm: Storm, s1: Request, s2_scenes: Sequence[Scene], *, today: dt.date, window_days: int
) -> Request:
    """The fused flood's decision, from the S1 flood's (``s1``: S1 covering the event) and
    the Sentinel-2 acquisitions so far."""
    if s1.status != "run":
        return replace(s1, kind=FLOOD_FUSED)
    assert s1.after is not None
    last = storm.peak + dt.timedelta(days=window_days)
    s2 = sorted(s.day for s in s2_scenes if storm.peak < s.day <= min(today, last))
    if not s2:
        why = (f"no Sentinel-2 acquisition after the peak {storm.peak} yet; the fused flood "
               f"needs both sensors (Sentinel-1 {s1.after})")  # fmt: skip
        if today > last:
            return Request(
                FLOOD_FUSED, "closed", f"window of {window_days} days closed on {last}; {why}"
            )
        return Request(FLOOD_FUSED, "pending", f"{why} (window to {last})")
    return replace(
        s1, kind=FLOOD_FUSED, reason=f"acquired Sentinel-1 {s1.after}, Sentinel-2 {s2[0]}",
        after=max(s1.after, s2[0]), first=storm.peak + dt.timedelta(days=1),
        footprint_day=s1.after,
    )  # fmt: skip
