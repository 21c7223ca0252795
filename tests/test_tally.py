"""The indicator tally as pure functions: fiscal years, 令和 labels, the counting rules,
baseline and target, and the report formats (CSV, JSON, Markdown, HTML + PNG)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yamasat.catalogs.registry.formats import tally_csv, tally_json, tally_markdown
from yamasat.catalogs.registry.records import EvidenceRecord, SolutionRecord, Status, StatusEvent
from yamasat.catalogs.registry.report import write_report
from yamasat.catalogs.registry.tally import (
    Point,
    Tally,
    era_label,
    fiscal_year,
    qualifies,
    tally,
    target_path,
)
from yamasat.errors import InputDateError

D = dt.date
BASE, GOAL = Point(2022, 25), Point(2026, 33)
TODAY = D(2026, 11, 28)


def ev(pid: str = "p1", *, ok: bool = True, outcome: str = "published") -> EvidenceRecord:
    return EvidenceRecord(
        product_id=pid,
        item_href=f"/data/products/change/{pid}/{pid}.json",
        kind="change",
        outcome=outcome,
        qa_status="ok" if ok else "failed",
        qa_message="ok" if ok else "asset 'change': checksum differs",
        run_id="run-7",
        quicklook_href=f"/data/products/change/{pid}/quicklook.png",
    )


def step(on: D, frm: Status | None, to: Status) -> StatusEvent:
    return StatusEvent(on=on, from_status=frm, to_status=to, by="staff", reason="test")


def sol(
    sid: str,
    developed_on: D | None,
    *,
    status: Status = "developed",
    evidence: tuple[EvidenceRecord, ...] = (ev(),),
    history: tuple[StatusEvent, ...] | None = None,
) -> SolutionRecord:
    if history is None:
        history = (step(developed_on, None, status),) if developed_on else ()
    return SolutionRecord(
        id=sid,
        organization="宇部データ",
        status=status,
        name_ja=f"{sid} 名",
        name_en=sid,
        developed_on=developed_on,
        history=history,
        evidence=evidence,
    )


def run(records: list[SolutionRecord], **kw: object) -> Tally:
    return tally(records, baseline=BASE, target=GOAL, today=TODAY, **kw)  # type: ignore[arg-type]


def row(t: Tally, fy: int) -> tuple[int, int | None, int, int | None]:
    r = next(r for r in t.rows if r.fy == fy)
    return r.new, r.cumulative, r.target, r.gap


# ---------------------------------------------------------------- calendar


@pytest.mark.parametrize(
    ("day", "fy"),
    [(D(2023, 3, 31), 2022), (D(2023, 4, 1), 2023), (D(2024, 1, 1), 2023), (D(2027, 3, 31), 2026)],
)
def test_fiscal_year_runs_april_to_march(day: D, fy: int) -> None:
    assert fiscal_year(day) == fy


def test_reiwa_labels() -> None:
    assert era_label(2019) == "令和元年度"
    assert era_label(2022) == "令和4年度"
    assert era_label(2026) == "令和8年度"
    assert era_label(2018) == "平成30年度"
    assert era_label(1989) == "平成元年度"


def test_target_path_is_a_straight_line_rounded_up() -> None:
    assert [target_path(fy, BASE, GOAL) for fy in range(2022, 2028)] == [25, 27, 29, 31, 33, 33]
    assert target_path(2023, Point(2022, 25), Point(2025, 30)) == 27  # 26.67 → 27


# ---------------------------------------------------------------- counting rules


def test_31_march_is_inside_the_baseline_1_april_counts() -> None:
    t = run([sol("march", D(2023, 3, 31)), sol("april", D(2023, 4, 1))])
    assert row(t, 2022) == (0, 25, 25, 0)
    assert row(t, 2023) == (1, 26, 27, 1)
    assert [c.solution.id for c in t.counted] == ["april"]
    assert [c.solution.id for c in t.baseline_solutions] == ["march"]


def test_back_and_forth_counts_once_in_the_first_fy() -> None:
    history = (
        step(D(2023, 10, 1), None, "prototype"),
        step(D(2024, 3, 31), "prototype", "developed"),
        step(D(2024, 5, 1), "developed", "prototype"),
    )
    moved_back = sol("bf", D(2024, 3, 31), status="prototype", history=history)
    on, reason = qualifies(moved_back)
    assert on is None and "moved back" in reason and "2024-03-31" in reason
    assert run([moved_back]).counted == ()
    forward = (*history, step(D(2024, 7, 1), "prototype", "developed"))
    again = sol("bf", D(2024, 3, 31), status="developed", history=forward)
    t = run([again])
    assert [(c.solution.id, c.fy) for c in t.counted] == [("bf", 2023)]
    assert row(t, 2023)[0] == 1 and row(t, 2024)[0] == 0
    # developed_on missing in a record: the first date in the history is used
    derived = sol("bf", None, status="deployed", history=(*forward,))
    assert qualifies(derived)[0] == D(2024, 3, 31)


def test_a_solution_without_evidence_does_not_count() -> None:
    t = run([sol("none", D(2024, 6, 1), evidence=())])
    assert t.counted == ()
    assert t.excluded[0].reason == "no published product is attached as evidence"
    bad = sol("bad", D(2024, 6, 1), evidence=(ev("p9", ok=False), ev("p8", outcome="exists")))
    t = run([bad])
    assert t.counted == ()
    assert "p9: asset 'change': checksum differs" in t.excluded[0].reason
    good_and_bad = sol("mixed", D(2024, 6, 1), evidence=(ev("p9", ok=False), ev("p1")))
    [counted] = run([good_and_bad]).counted
    assert [e.product_id for e in counted.evidence] == ["p1"]  # only verified evidence shown


def test_retirement_does_not_uncount() -> None:
    history = (
        step(D(2023, 6, 1), None, "developed"),
        step(D(2024, 2, 1), "developed", "deployed"),
        step(D(2025, 9, 1), "deployed", "retired"),
    )
    t = run([sol("old", D(2023, 6, 1), status="retired", history=history)])
    assert [c.fy for c in t.counted] == [2023]
    assert row(t, 2025) == (0, 26, 31, 5)
    never = (step(D(2023, 6, 1), None, "prototype"), step(D(2024, 1, 1), "prototype", "retired"))
    t = run([sol("gave-up", None, status="retired", history=never)])
    assert t.counted == () and "before retirement" in t.excluded[0].reason


def test_proposed_and_prototype_do_not_count() -> None:
    t = run([sol("idea", None, status="proposed"), sol("proto", None, status="prototype")])
    assert t.counted == () and len(t.excluded) == 2


def test_baseline_warning_when_registered_baseline_differs() -> None:
    early = [sol(f"b{i:02d}", D(2020, 5, 1), evidence=()) for i in range(24)]
    t = run(early)
    assert len(t.warnings) == 1 and "24 solutions" in t.warnings[0] and "25" in t.warnings[0]
    assert t.excluded == ()  # baseline solutions need no evidence
    t = run([*early, sol("b24", D(2023, 3, 31))])
    assert t.warnings == ()
    assert row(t, 2022) == (0, 25, 25, 0)


def test_cumulative_target_gap_and_future_years() -> None:
    records = [sol(f"s{i}", D(2023 + i // 3, 6, 1)) for i in range(9)]  # 3 per FY 2023–2025
    t = run(records, until_fy=2028)
    assert [row(t, fy) for fy in range(2022, 2027)] == [
        (0, 25, 25, 0),
        (3, 28, 27, -1),
        (3, 31, 29, -2),
        (3, 34, 31, -3),
        (0, 34, 33, -1),
    ]
    late = next(r for r in t.rows if r.fy == 2027)
    assert late.future and late.cumulative is None and late.gap is None and late.target == 33
    assert t.current.fy == 2026
    assert [r.fy for r in run(records, until_fy=2024).rows] == [2022, 2023, 2024]
    with pytest.raises(InputDateError, match="before the baseline"):
        run(records, until_fy=2021)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dates(D(2018, 1, 1), TODAY),
            st.sampled_from(["proposed", "prototype", "developed", "deployed"]),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_each_solution_counts_at_most_once(specs: list[tuple[D, Status, bool]]) -> None:
    records = [
        sol(
            f"s{i}",
            on if status in ("developed", "deployed") else None,
            status=status,
            evidence=(ev(),) if has_ev else (),
        )
        for i, (on, status, has_ev) in enumerate(specs)
    ]
    t = run(records)
    counted = [c.solution.id for c in t.counted]
    assert len(counted) == len(set(counted))
    inside = {c.solution.id for c in t.baseline_solutions}
    excluded = {x.solution.id for x in t.excluded}
    assert set(counted) | inside | excluded == {r.id for r in records}
    assert not (set(counted) & inside) and not (set(counted) & excluded)
    cumulative = [r.cumulative for r in t.rows if r.cumulative is not None]
    assert cumulative == sorted(cumulative)
    assert cumulative[-1] == BASE.value + len(counted)


# ---------------------------------------------------------------- formats and report


@pytest.fixture
def sample_tally() -> Tally:
    return run(
        [
            sol("ube-flood", D(2023, 4, 1), evidence=(ev("change-a"),)),
            sol("hofu-crop", D(2024, 11, 5), evidence=(ev("change-b"), ev("change-c"))),
            sol("idea", None, status="proposed", evidence=()),
        ]
    )


def test_csv_json_and_markdown(sample_tally: Tally) -> None:
    rows = list(csv.DictReader(io.StringIO(tally_csv(sample_tally))))
    assert [r["fy"] for r in rows] == ["2022", "2023", "2024", "2025", "2026"]
    assert rows[1] == {
        "fy": "2023", "label": "令和5年度", "new": "1", "cumulative": "26", "target": "27",
        "gap": "1", "counted_solutions": "ube-flood",
    }  # fmt: skip
    data = json.loads(tally_json(sample_tally))
    assert data["baseline"] == {"fy": 2022, "value": 25}
    fy24 = data["rows"][2]
    assert fy24["cumulative"] == 27
    assert [e["product_id"] for e in fy24["counted"][0]["evidence"]] == ["change-b", "change-c"]
    assert fy24["counted"][0]["evidence"][0]["run_id"] == "run-7"
    assert data["not_counted"] == [{"id": "idea", "reason": "status proposed is below developed"}]
    md = tally_markdown(sample_tally)
    assert "| FY2024 | 令和6年度 | 1 | 27 | 29 | 2 |" in md
    assert "`change-b`" in md and "idea: status proposed" in md


def test_html_and_png_report(sample_tally: Tally, tmp_path: Path) -> None:
    files = write_report(sample_tally, tmp_path / "reports")
    png = files.png.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    page = files.html.read_text(encoding="utf-8")
    assert "data:image/png;base64," in page  # the chart is embedded: the page stands alone
    assert "令和8年度" in page and "ube-flood" in page and "run-7" in page
    links = re.findall(r'href="([^"]+quicklook\.png)"', page)
    assert len(links) == 3  # absolute (file://): the page works mailed (tests/test_report.py)
    assert links[0] == "file:///data/products/change/change-a/quicklook.png"
    assert "<script" not in page
