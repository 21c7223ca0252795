"""Rain events: a municipality whose accumulated rainfall crosses a threshold.

The input is :func:`yamasat.processing.rainfall_stats.municipality_table` (one row per
municipality and UTC day with ``{statistic}_{k}d_mm`` totals). The rule, per municipality:

1. a **crossing** is a day ``d`` and window ``k`` with the ``k``-day total ending on ``d`` at
   or above the municipality's threshold for ``k`` days (defaults: 24 h ≥ 100 mm or
   72 h ≥ 150 mm; see the README, "Rainfall and events", for their basis);
2. a **wet spell** is a run of days with a 1-day total ≥ ``wet_day_mm``; runs separated by at
   most ``merge_gap_days`` drier (or missing) days are one spell: a lull of a day inside a
   stalled rainy-season front does not split the storm;
3. an **event** is a wet spell that overlaps the days of a crossing's window
   (``d - k + 1 … d``). Its **start** is the spell's first wet day, its **peak** the day of
   its largest 1-day total, its **end** the spell's last wet day — or ``None`` (ongoing)
   when the spell reaches the last day with data, since the next day may still be wet.

Two storms close in time therefore merge by rule 2; storms already stored are merged with a
new detection by the registry (``catalogs/registry/events.py``) when their spans overlap
within the same gap. Days are the dataset's UTC days (09:00-09:00 JST).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_THRESHOLDS", "RainEvent", "detect_events", "format_threshold"]

DEFAULT_THRESHOLDS: Mapping[int, float] = {1: 100.0, 3: 150.0}
"""window (days) -> mm: 24 h ≥ 100 mm or 72 h ≥ 150 mm"""


def format_threshold(window: int, mm: float) -> str:
    """``72h ≥ 150 mm``"""
    return f"{24 * window}h ≥ {mm:g} mm"


@dataclass(frozen=True)
class RainEvent:
    """One municipality's event."""

    code: str
    """five-digit municipality code"""
    start: dt.date
    """first wet day of the spell (UTC day)"""
    peak: dt.date
    """day of the largest 1-day total"""
    end: dt.date | None
    """last wet day; None while the spell reaches the last day with data (ongoing)"""
    peak_mm: float
    """the largest 1-day total (mm) of the statistic"""
    totals_mm: Mapping[int, float]
    """per window, the largest total reached in the spell (mm)"""
    crossed: tuple[str, ...]
    """the thresholds crossed, e.g. ``("72h ≥ 150 mm",)``"""
    first_crossing: dt.date
    """the first day a threshold was crossed"""
    statistic: str
    """``max`` or ``mean`` over the municipality"""


def _spells(wet: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Index spans (first, last) of runs of True, joined across at most ``gap`` False."""
    spans: list[tuple[int, int]] = []
    for i in np.flatnonzero(wet):
        if spans and i - spans[-1][1] - 1 <= gap:
            spans[-1] = (spans[-1][0], int(i))
        else:
            spans.append((int(i), int(i)))
    return spans


def _municipality_events(
    code: str,
    frame: pd.DataFrame,
    thresholds: Mapping[int, float],
    *,
    statistic: str,
    wet_day_mm: float,
    merge_gap_days: int,
) -> list[RainEvent]:
    frame = frame.sort_values("day")
    days = list(frame["day"])
    daily = frame[f"{statistic}_1d_mm"].to_numpy(dtype="float64")
    crossings: list[tuple[int, int, str]] = []  # (first day index, crossing day index, label)
    for k, mm in sorted(thresholds.items()):
        values = frame[f"{statistic}_{k}d_mm"].to_numpy(dtype="float64")
        for i in np.flatnonzero(np.nan_to_num(values, nan=-1.0) >= mm):
            crossings.append((max(int(i) - k + 1, 0), int(i), format_threshold(k, mm)))
    if not crossings:
        return []
    wet = np.nan_to_num(daily, nan=-1.0) >= wet_day_mm
    last_known = max((i for i, v in enumerate(daily) if math.isfinite(v)), default=-1)
    events = []
    for a, b in _spells(wet, merge_gap_days):
        hits = [(lo, i, label) for lo, i, label in crossings if lo <= b and i >= a]
        if not hits:
            continue
        span = daily[a : b + 1]
        peak = a + int(np.nanargmax(span))
        totals = {}
        for k in thresholds:
            col = frame[f"{statistic}_{k}d_mm"].to_numpy(dtype="float64")[a : b + k]
            totals[k] = float(np.nanmax(col)) if np.isfinite(col).any() else math.nan
        ongoing = b >= last_known
        events.append(
            RainEvent(
                code=code,
                start=days[a],
                peak=days[peak],
                end=None if ongoing else days[b],
                peak_mm=float(daily[peak]),
                totals_mm=totals,
                crossed=tuple(sorted({label for _, _, label in hits})),
                first_crossing=days[min(i for _, i, _ in hits)],
                statistic=statistic,
            )
        )
    return events


def detect_events(
    table: pd.DataFrame,
    thresholds_for: Callable[[str], Mapping[int, float]],
    *,
    statistic: str = "max",
    wet_day_mm: float = 5.0,
    merge_gap_days: int = 1,
) -> list[RainEvent]:
    """The events of every municipality in ``table``, by code then start.

    ``thresholds_for(code)`` gives that municipality's thresholds (window days -> mm);
    ``statistic`` is ``max`` (anywhere in the municipality, as JMA's warnings are issued per
    municipality when any part of it reaches its criterion) or ``mean`` (area-weighted).
    """
    if statistic not in ("max", "mean"):
        raise ValueError(f"statistic must be 'max' or 'mean', not {statistic!r}")
    out: list[RainEvent] = []
    for code, frame in table.groupby("code", sort=True):
        out.extend(
            _municipality_events(
                str(code),
                frame,
                thresholds_for(str(code)),
                statistic=statistic,
                wet_day_mm=wet_day_mm,
                merge_gap_days=merge_gap_days,
            )
        )
    return out
