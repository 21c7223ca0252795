"""Accumulated rainfall per zone (municipality) and day, from a daily rainfall grid.

Input: :func:`yamasat.processing.rainfall.read_daily_rainfall`'s ``(time, y, x)`` array in
mm/day on the dataset's own EPSG:4326 grid (GSMaP: 0.1°), one step per UTC day (09:00-09:00
JST). For each zone and day this module gives, for each window of ``k`` days ending that day
(1, 2 and 3 days: 24, 48 and 72 hours):

* ``mean_{k}d_mm``: the area-weighted mean of the pixels' ``k``-day totals. A pixel's weight
  is the area of its cell inside the zone (cell ∩ polygon, in degrees², × cos(latitude): the
  cell's true area up to a constant), so a coastal pixel half over the sea counts half;
* ``max_{k}d_mm``: the largest ``k``-day total of any pixel whose cell meets the zone;
* ``coverage``: the share of the zone's weight with a value that day (NaN pixels excluded).

A ``k``-day total needs every one of its ``k`` days: a day the dataset does not have (not
published yet, or missing) makes every window that contains it unknown (NaN), never zero, so
a missing day cannot read as "no rain". :func:`complete_days` inserts such days as NaN steps
and lists them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
import shapely
import xarray as xr
from shapely.geometry.base import BaseGeometry

__all__ = [
    "WINDOWS",
    "complete_days",
    "municipality_table",
    "window_totals",
    "zone_weights",
]

WINDOWS: tuple[int, ...] = (1, 2, 3)
"""accumulation windows in days (24, 48 and 72 hours)"""


def _resolution(coord: np.ndarray, other: np.ndarray, fallback: float | None) -> float:
    """The pixel size along ``coord``; from ``other`` (square pixels) or ``fallback`` when
    ``coord`` has one pixel."""
    for axis in (coord, other):
        if len(axis) > 1:
            return float(abs(axis[1] - axis[0]))
    if fallback is None:
        raise ValueError("a one-pixel grid needs its resolution (res=...)")
    return fallback


def zone_weights(
    x: np.ndarray,
    y: np.ndarray,
    zones: Sequence[tuple[str, BaseGeometry]],
    *,
    res: float | None = None,
) -> dict[str, np.ndarray]:
    """Per zone code, a ``(len(y), len(x))`` array of the area of each pixel cell inside the
    zone (degrees² × cos(latitude)); 0 where the cell misses the zone.

    ``x``/``y`` are pixel centres in degrees; ``res`` the cell size (default: the
    spacing of the centres; pixels are square).
    """
    rx = res or _resolution(np.asarray(x), np.asarray(y), res)
    ry = res or _resolution(np.asarray(y), np.asarray(x), res)
    xx, yy = np.meshgrid(np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64"))
    cells = shapely.box(xx - rx / 2, yy - ry / 2, xx + rx / 2, yy + ry / 2)
    cos_lat = np.cos(np.deg2rad(yy))
    out = {}
    for code, geom in zones:
        area = np.zeros(xx.shape)
        hit = shapely.intersects(cells, geom)
        if hit.any():
            area[hit] = shapely.area(shapely.intersection(cells[hit], geom))
        out[code] = area * cos_lat
    return out


def complete_days(
    rain: xr.DataArray, days: Sequence[dt.date]
) -> tuple[xr.DataArray, list[dt.date]]:
    """``rain`` with one time step per day of ``days`` (00:00 UTC), NaN on the days it lacks;
    and those missing days."""
    have = {pd.Timestamp(t).date() for t in rain["time"].values}
    missing = [d for d in days if d not in have]
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in days])
    times = pd.DatetimeIndex(rain["time"].values).normalize()
    out = rain.assign_coords(time=times).reindex(time=index)
    out.attrs = dict(rain.attrs)
    return out, missing


def window_totals(rain: xr.DataArray, windows: Sequence[int] = WINDOWS) -> dict[int, xr.DataArray]:
    """Per window ``k``, each pixel's total over the ``k`` days ending on each day (mm); NaN
    when any of those days is NaN or lies before the first step. ``rain`` must hold one step
    per consecutive day (:func:`complete_days`)."""
    return {k: rain.rolling(time=k, min_periods=k).sum(skipna=False) for k in windows}


def _zone_stats(
    totals: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area-weighted mean, max and coverage per time step of ``totals`` (time, y, x)."""
    inside = weight > 0
    total_w = float(weight.sum())
    valid = np.isfinite(totals) & inside[None]
    w = np.where(valid, weight[None], 0.0)
    wsum = w.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(
            wsum > 0, (np.where(valid, totals, 0.0) * w).sum(axis=(1, 2)) / wsum, np.nan
        )
    maxed = np.where(valid, totals, -np.inf).max(axis=(1, 2), initial=-np.inf)
    maxed = np.where(np.isfinite(maxed), maxed, np.nan)
    coverage = wsum / total_w if total_w > 0 else np.zeros_like(wsum)
    return mean, maxed, coverage


def municipality_table(
    rain: xr.DataArray,
    zones: Sequence[tuple[str, BaseGeometry]],
    *,
    days: Sequence[dt.date],
    windows: Sequence[int] = WINDOWS,
    res: float | None = None,
) -> pd.DataFrame:
    """One row per zone and day of ``days``: ``code``, ``day`` (the UTC day), ``mean_{k}d_mm``,
    ``max_{k}d_mm`` for each window, ``coverage`` (of the 1-day value) and ``complete`` (every
    window known). ``rain`` may start before ``days`` (the days before the first one feed its
    2- and 3-day totals); it is completed to consecutive days here."""
    first = min(pd.Timestamp(t).date() for t in rain["time"].values) if rain.sizes["time"] else None
    start = min(days[0], first) if first else days[0]
    span = [start + dt.timedelta(days=i) for i in range((days[-1] - start).days + 1)]
    full, _ = complete_days(rain, span)
    totals = window_totals(full, windows)
    weights = zone_weights(full["x"].values, full["y"].values, zones, res=res)
    keep = np.array([d in set(days) for d in span])
    frames = []
    for code, _geom in zones:
        cols: dict[str, object] = {"code": code, "day": list(days)}
        cover = None
        for k in windows:
            mean, mx, coverage = _zone_stats(totals[k].values, weights[code])
            cols[f"mean_{k}d_mm"] = mean[keep]
            cols[f"max_{k}d_mm"] = mx[keep]
            if k == 1:
                cover = coverage[keep]
        cols["coverage"] = cover if cover is not None else np.nan
        frame = pd.DataFrame(cols)
        frame["complete"] = frame[[f"mean_{k}d_mm" for k in windows]].notna().all(axis=1)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
