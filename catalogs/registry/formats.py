"""The tally as text: CSV (one row per fiscal year), JSON (everything) and Markdown."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from .tally import Counted, Tally, fy_label

__all__ = ["TITLE", "TITLE_EN", "tally_csv", "tally_dict", "tally_json", "tally_markdown"]

TITLE = "衛星データを活用したソリューション開発件数（累計）"
"""The indicator's name as the prefecture's strategy writes it."""
TITLE_EN = "Solutions developed using satellite data (cumulative)"


def _counted_dict(c: Counted) -> dict[str, Any]:
    s = c.solution
    return {
        "id": s.id,
        "name_ja": s.name_ja,
        "name_en": s.name_en,
        "organization": s.organization,
        "theme": s.theme,
        "status": s.status,
        "developed_on": c.counted_on.isoformat(),
        "fy": c.fy,
        "evidence": [
            {
                "product_id": e.product_id,
                "item_href": e.item_href,
                "run_id": e.run_id,
                "kind": e.kind,
                "quicklook": e.quicklook_href,
                "checked_at": e.checked_at.isoformat() if e.checked_at else None,
            }
            for e in c.evidence
        ],
    }


def row_dict(r: Any) -> dict[str, Any]:
    """One fiscal year of a tally: label, new, cumulative, target, gap (``new`` is None for a
    year still to come)."""
    return {
        "fy": r.fy,
        "label": r.label,
        "new": None if r.future else r.new,
        "cumulative": r.cumulative,
        "target": r.target,
        "gap": r.gap,
    }


def tally_dict(t: Tally) -> dict[str, Any]:
    """A JSON-safe view of the whole tally."""
    return {
        "indicator": TITLE,
        "indicator_en": TITLE_EN,
        "as_of": t.as_of.isoformat(),
        "baseline": {"fy": t.baseline.fy, "value": t.baseline.value},
        "target": {"fy": t.target.fy, "value": t.target.value},
        "rows": [{**row_dict(r), "counted": [_counted_dict(c) for c in r.counted]} for r in t.rows],
        "baseline_solutions": [_counted_dict(c) for c in t.baseline_solutions],
        "not_counted": [{"id": x.solution.id, "reason": x.reason} for x in t.excluded],
        "warnings": list(t.warnings),
    }


def tally_json(t: Tally) -> str:
    """The tally as indented JSON (UTF-8 text, Japanese kept as is)."""
    return json.dumps(tally_dict(t), ensure_ascii=False, indent=2)


def _cell(value: int | None) -> str:
    return "" if value is None else str(value)


def tally_csv(t: Tally) -> str:
    """One row per fiscal year: fy, label, new, cumulative, target, gap, counted ids."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["fy", "label", "new", "cumulative", "target", "gap", "counted_solutions"])
    for r in t.rows:
        w.writerow(
            [
                r.fy,
                r.label,
                "" if r.future else r.new,
                _cell(r.cumulative),
                r.target,
                _cell(r.gap),
                ";".join(c.solution.id for c in r.counted),
            ]
        )
    return buf.getvalue()


def tally_markdown(t: Tally) -> str:
    """A Markdown report: table per FY, counted solutions with evidence, exclusions, warnings."""
    lines = [
        f"# {TITLE} / {TITLE_EN}",
        "",
        f"As of {t.as_of}. Baseline {t.baseline.value} in {fy_label(t.baseline.fy)}; target "
        f"{t.target.value} in {fy_label(t.target.fy)} (intermediate targets: straight line).",
        "",
        "| FY | 年度 | new | cumulative | target | gap |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for r in t.rows:
        new = "" if r.future else str(r.new)
        lines.append(
            f"| FY{r.fy} | {r.label} | {new} | {_cell(r.cumulative)} | {r.target} "
            f"| {_cell(r.gap)} |"
        )
    lines += ["", "## Counted solutions and their evidence", ""]
    if not t.counted:
        lines.append("None after the baseline yet.")
    for c in t.counted:
        s = c.solution
        lines.append(
            f"- **{s.id}** — {s.name} ({s.organization}); developed {c.counted_on} "
            f"({fy_label(c.fy)}); status {s.status}"
        )
        for e in c.evidence:
            run = f", run `{e.run_id}`" if e.run_id else ""
            lines.append(f"  - product `{e.product_id}` ({e.kind}{run}): `{e.item_href}`")
    if t.baseline_solutions:
        lines += ["", f"## Inside the baseline ({fy_label(t.baseline.fy)} and before)", ""]
        lines += [
            f"- {c.solution.id} — {c.solution.name}; developed {c.counted_on}"
            for c in t.baseline_solutions
        ]
    if t.excluded:
        lines += ["", "## Not counted", ""]
        lines += [f"- {x.solution.id}: {x.reason}" for x in t.excluded]
    if t.warnings:
        lines += ["", "## Warnings", ""]
        lines += [f"- ⚠ {w}" for w in t.warnings]
    return "\n".join(lines) + "\n"
