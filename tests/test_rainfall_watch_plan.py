"""What the rain watch asks for (issue 15, item 3): storms over several municipalities, the
first S1 pass after the peak, the first clear-enough S2 date, pending with its reason, closed
when the window passes, nothing again once made."""

from __future__ import annotations

import datetime as dt

import pytest

from yamasat.catalogs.registry.events import StoredEvent
from yamasat.flows.rain_plan import (
    FLOOD_FUSED,
    FLOOD_S1,
    LANDSLIDE_S2,
    Request,
    Scene,
    fused_plan,
    plan,
    storms,
)

D = dt.date


def _event(code: str, start: D, peak: D, end: D | None, peak_mm: float) -> StoredEvent:
    return StoredEvent(f"{code}/{start}", code, start, peak, end, peak, peak_mm, {}, (), "max")


def test_overlapping_events_are_one_storm_over_their_municipalities() -> None:
    events = [
        _event("35210", D(2025, 7, 2), D(2025, 7, 4), D(2025, 7, 5), 140.0),
        _event("35343", D(2025, 7, 3), D(2025, 7, 3), D(2025, 7, 6), 100.0),
        _event("35206", D(2025, 8, 1), D(2025, 8, 2), None, 120.0),  # later: another storm
    ]
    first, second = storms(events)
    assert first.codes == ("35210", "35343") and first.peak == D(2025, 7, 4)
    assert (first.start, first.end) == (D(2025, 7, 2), D(2025, 7, 6))
    assert second.codes == ("35206",) and second.end is None


STORM = storms([_event("35210", D(2025, 7, 2), D(2025, 7, 4), D(2025, 7, 5), 140.0)])[0]
S1 = [Scene(D(2025, 6, 24), 1.0), Scene(D(2025, 7, 6), 1.0), Scene(D(2025, 7, 18), 1.0)]
S2 = [Scene(D(2025, 6, 29), 0.82), Scene(D(2025, 7, 9), 0.76), Scene(D(2025, 8, 18), 0.9)]


def test_s1_flood_on_the_first_pass_after_the_peak_with_a_reference_before_the_storm() -> None:
    early = plan(STORM, FLOOD_S1, S1, today=D(2025, 7, 5), window_days=14, reference_days=30)
    assert early.status == "pending" and "no Sentinel-1 acquisition" in early.reason
    req = plan(STORM, FLOOD_S1, S1, today=D(2025, 7, 8), window_days=14, reference_days=30)
    assert (req.status, req.after) == ("run", D(2025, 7, 6))
    assert req.before == (D(2025, 6, 2), D(2025, 7, 1))
    again = plan(STORM, FLOOD_S1, S1, today=D(2025, 7, 8), window_days=14, reference_days=30,
                 done=True)  # fmt: skip
    assert again.status == "done"
    late = plan(STORM, FLOOD_S1, S1[:1], today=D(2025, 7, 30), window_days=14, reference_days=30)
    assert late.status == "closed" and "2025-07-18" in late.reason


def test_s2_landslide_waits_for_a_clear_enough_date_and_says_why() -> None:
    kw = dict(window_days=60, reference_days=30, min_clear=0.8)
    cloudy = plan(STORM, LANDSLIDE_S2, S2, today=D(2025, 7, 20), **kw)  # type: ignore[arg-type]
    assert cloudy.status == "pending" and "clouds" in cloudy.reason and "0.76" in cloudy.reason
    assert cloudy.clear_fraction == 0.76
    clear = plan(STORM, LANDSLIDE_S2, S2, today=D(2025, 8, 20), **kw)  # type: ignore[arg-type]
    assert (clear.status, clear.after, clear.clear_fraction) == ("run", D(2025, 8, 18), 0.9)
    closed = plan(STORM, LANDSLIDE_S2, S2[:2], today=D(2025, 9, 10), **kw)  # type: ignore[arg-type]
    assert closed.status == "closed" and "clouds" in closed.reason


def test_fused_flood_on_the_s1_pass_once_sentinel_2_is_in_too() -> None:
    def fused(today: D, s2: list[Scene] = S2) -> Request:
        s1 = plan(STORM, FLOOD_FUSED, S1, today=today, window_days=14, reference_days=30)
        return fused_plan(STORM, s1, s2, today=today, window_days=14)

    assert fused(D(2025, 7, 5)).status == "pending"  # no S1 pass yet: as the S1 flood
    waiting = fused(D(2025, 7, 8))  # S1 07-06, no S2 after the peak yet
    assert waiting.status == "pending" and "needs both sensors" in waiting.reason
    req = fused(D(2025, 7, 12))  # the cloudy 07-09 scene counts: fusion takes what it saw
    assert (req.kind, req.status, req.first, req.after) == (
        FLOOD_FUSED, "run", D(2025, 7, 5), D(2025, 7, 9),
    )  # fmt: skip
    assert req.footprint_day == D(2025, 7, 6) and req.before == (D(2025, 6, 2), D(2025, 7, 1))
    closed = fused(D(2025, 8, 1), s2=[])  # the window of the S1 pass passed with no S2
    assert closed.status == "closed" and "needs both sensors" in closed.reason


def test_run_products_mode_is_checked_and_inline_outside_a_deployment() -> None:
    from yamasat.errors import ParameterError
    from yamasat.flows.rain_dispatch import dispatch

    ran: list[dict[str, str]] = []

    def inline(**params: str) -> dict[str, str]:
        ran.append(params)
        return {"outcome": "published"}

    # auto, outside a deployment: inline, without asking any Prefect server
    assert dispatch(None, "auto", "flood_mapping", inline, {"aoi": "x"}) == {  # type: ignore[arg-type]
        "outcome": "published"
    }
    assert ran == [{"aoi": "x"}]
    with pytest.raises(ParameterError, match="auto, inline or deployments"):
        dispatch(None, "remote", "flood_mapping", inline, {})  # type: ignore[arg-type]
