"""Rain events (issue 15, item 2): thresholds crossed per municipality, start/peak/end, the
merge rule for storms close in time, per-municipality thresholds from the config, and the
registry keeping one row per storm and municipality across reruns."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from yamasat.catalogs.registry.events import (
    event_links,
    link_event_product,
    rain_events,
    record_events,
)
from yamasat.catalogs.registry.repo import Registry
from yamasat.processing.rainfall_events import DEFAULT_THRESHOLDS, detect_events
from yamasat.settings.rainfall import RainfallConfig

D0 = dt.date(2025, 7, 1)


def _table(series: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """A municipality table whose max and mean equal the given daily totals."""
    frames = []
    for code, daily in series.items():
        values = pd.Series(np.asarray(daily, dtype="float64"))
        cols: dict[str, object] = {
            "code": code,
            "day": [D0 + dt.timedelta(days=i) for i in range(len(daily))],
        }
        for k in (1, 2, 3):
            total = values.rolling(k, min_periods=k).sum().to_numpy()
            cols[f"max_{k}d_mm"] = total
            cols[f"mean_{k}d_mm"] = total
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)


def _defaults(code: str) -> Mapping[int, float]:
    return DEFAULT_THRESHOLDS


def test_thresholds_make_events_with_start_peak_and_end() -> None:
    table = _table(
        {
            "35201": [0, 10, 120, 30, 0, 0, 0],  # 24 h ≥ 100 on day 3
            "35202": [0, 60, 60, 60, 0, 0, 0],  # 24 h never, 72 h = 180 on day 4
            "35203": [0, 40, 40, 40, 0, 0, 0],  # 72 h = 120: below both
            "35204": [0, 0, 0, 0, 20, 90, 80],  # 72 h = 190 reached on the last day: ongoing
        }
    )
    events = {e.code: e for e in detect_events(table, _defaults)}
    assert set(events) == {"35201", "35202", "35204"}  # nothing where nothing crossed

    a = events["35201"]
    assert (a.start, a.peak, a.end) == (
        D0 + dt.timedelta(1),
        D0 + dt.timedelta(2),
        D0 + dt.timedelta(3),
    )
    assert a.crossed == ("24h ≥ 100 mm", "72h ≥ 150 mm") and a.peak_mm == 120.0
    assert a.first_crossing == D0 + dt.timedelta(2)

    b = events["35202"]
    assert b.crossed == ("72h ≥ 150 mm",) and b.totals_mm[3] == 180.0
    assert (b.start, b.end, b.first_crossing) == (
        D0 + dt.timedelta(1),
        D0 + dt.timedelta(3),
        D0 + dt.timedelta(3),
    )

    c = events["35204"]
    assert c.end is None and c.peak == D0 + dt.timedelta(
        5
    )  # ongoing: the spell reaches the data's end


def test_spells_a_dry_day_apart_are_one_storm_two_days_apart_are_two() -> None:
    one_gap = _table({"35206": [0, 120, 30, 0, 40, 110, 10, 0, 0]})
    (merged,) = detect_events(one_gap, _defaults, merge_gap_days=1)
    assert (merged.start, merged.end) == (D0 + dt.timedelta(1), D0 + dt.timedelta(6))
    assert merged.peak == D0 + dt.timedelta(1) and merged.peak_mm == 120.0

    two_gaps = _table({"35206": [0, 120, 30, 0, 0, 110, 10, 0, 0]})
    first, second = detect_events(two_gaps, _defaults, merge_gap_days=1)
    assert (first.start, first.end) == (D0 + dt.timedelta(1), D0 + dt.timedelta(2))
    assert (second.start, second.end) == (D0 + dt.timedelta(5), D0 + dt.timedelta(6))
    assert len(detect_events(two_gaps, _defaults, merge_gap_days=2)) == 1


def test_a_missing_day_is_not_a_dry_day_that_ends_an_event() -> None:
    (event,) = detect_events(_table({"35206": [0, 130, 20, math.nan]}), _defaults)
    assert event.end is None  # wet up to the last day with data: may go on
    (event,) = detect_events(_table({"35206": [0, 130, 20, 0, math.nan]}), _defaults)
    assert event.end == D0 + dt.timedelta(2)  # a known dry day ended it


def test_thresholds_per_municipality_come_from_the_config() -> None:
    cfg = RainfallConfig.model_validate(
        {"by_municipality": {"35201": {"h24_mm": 150.0, "h72_mm": 250.0}}}
    )
    table = _table({"35201": [0, 120, 30, 0], "35202": [0, 120, 30, 0]})
    events = detect_events(table, cfg.thresholds_for)
    assert [e.code for e in events] == ["35202"]
    assert cfg.thresholds_for("35202") == {1: 100.0, 3: 150.0}
    with pytest.raises(ValueError, match="five-digit"):
        RainfallConfig.model_validate({"by_municipality": {"hofu": {}}})


@pytest.fixture
def reg(tmp_path: Path) -> Iterator[Registry]:
    with Registry.open(f"sqlite:///{tmp_path / 'registry.sqlite'}") as r:
        yield r


def test_rerunning_detection_adds_no_second_event(reg: Registry) -> None:
    table = _table({"35206": [0, 120, 30, 0, 0], "35210": [0, 60, 60, 60, 0]})
    events = detect_events(table, _defaults)
    stored, new = record_events(reg, events, merge_gap_days=1)
    assert sorted(new) == ["35206/2025-07-02", "35210/2025-07-02"] and len(stored) == 2
    again, new_again = record_events(reg, detect_events(table, _defaults), merge_gap_days=1)
    assert new_again == [] and sorted(again, key=lambda e: e.id) == sorted(
        stored, key=lambda e: e.id
    )
    assert len(rain_events(reg)) == 2


def test_a_storm_seen_growing_day_by_day_stays_one_row(reg: Registry) -> None:
    daily = [0, 60, 80, 40, 20, 0, 0]
    for last in range(3, len(daily) + 1):  # the daily watch sees one more day each time
        record_events(
            reg, detect_events(_table({"35206": daily[:last]}), _defaults), merge_gap_days=1
        )
    (event,) = rain_events(reg)
    assert event.id == "35206/2025-07-02"
    assert (event.start, event.peak, event.end) == (
        D0 + dt.timedelta(1),
        D0 + dt.timedelta(2),
        D0 + dt.timedelta(4),
    )
    assert event.totals["72h"] == 180.0 and event.crossed == ("72h ≥ 150 mm",)


def test_a_detection_bridging_two_stored_storms_merges_them(reg: Registry) -> None:
    first = detect_events(_table({"35206": [0, 120, 0, 0, 0, 0]}), _defaults)
    second = detect_events(_table({"35206": [0, 0, 0, 0, 110, 0]}), _defaults)
    record_events(reg, [*first, *second], merge_gap_days=1)
    assert len(rain_events(reg)) == 2
    link_event_product(
        reg, ["35206/2025-07-05"], kind="flood-s1", status="pending", reason="no pass yet"
    )
    # with a 3-day gap allowed, a new reading of the same days joins them
    bridge = detect_events(_table({"35206": [0, 120, 0, 0, 110, 0]}), _defaults, merge_gap_days=3)
    stored, new = record_events(reg, bridge, merge_gap_days=3)
    assert new == [] and [e.id for e in rain_events(reg)] == ["35206/2025-07-02"]
    assert stored[0].end == D0 + dt.timedelta(4) and stored[0].peak_mm == 120.0
    links = event_links(reg, ["35206/2025-07-02"])
    assert links[("35206/2025-07-02", "flood-s1")].reason == "no pass yet"


def test_a_made_product_link_is_not_taken_back_by_a_later_empty_check(reg: Registry) -> None:
    """Found in review: a forced rerun whose plan came back pending wrote product None over
    the made link, and the registry lost which product the event has."""
    from tests.support.fake_products import fake_entry

    for product in ("flood-1", "flood-2"):
        reg.register_product(fake_entry(product))
    table = _table({"35206": [0, 120, 30, 0, 0]})
    _, new = record_events(reg, detect_events(table, _defaults), merge_gap_days=1)
    link_event_product(reg, new, kind="flood-s1", status="made", product_id="flood-1")
    link_event_product(reg, new, kind="flood-s1", status="pending", reason="no S1 pass")
    (link,) = event_links(reg, new).values()
    assert (link.status, link.product_id) == ("made", "flood-1")
    link_event_product(reg, new, kind="flood-s1", status="made", product_id="flood-2")
    (link,) = event_links(reg, new).values()
    assert link.product_id == "flood-2"  # a product made again replaces it
