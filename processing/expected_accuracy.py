"""The expected accuracy of each product and method: a versioned table in the package
(``expected_accuracy.json`` beside this module) that ``benchmarks/accuracy.py --write-table``
writes from its sweep over the evaluation worlds, and that every product's QA quotes.

A row holds the figures of one recipe (``flood-s1``, ``change`` …) with one set of recorded
parameters (what the product records of its method, and its identity): CSI, precision and
recall min / median / max over the worlds scored, the worlds (seeds, how many run and
scored), when and with which yamasat version they were measured, and how. A product is
matched to a row by its recipe and the hash of its recorded parameters
(:func:`parameters_key`): a product made with other parameters, or a recipe with no row, is
"not measured" — a figure is never borrowed from another method.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "TABLE_FORMAT",
    "TABLE_PATH",
    "expected_accuracy",
    "expected_summary",
    "load_table",
    "measured_row",
    "parameters_key",
    "write_table",
]

TABLE_PATH = Path(__file__).with_name("expected_accuracy.json")
"""the table shipped in the package"""
TABLE_FORMAT = 1
"""the table's layout (raised when rows change shape)"""
SCORES = ("csi", "precision", "recall")


def parameters_key(parameters: Mapping[str, Any]) -> str:
    """A short hash of a product's recorded parameters (canonical JSON, sorted keys)."""
    text = json.dumps(dict(parameters), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_table(path: Path | None = None) -> dict[str, Any]:
    """The table at ``path`` (default: the package's); an empty table when there is none."""
    path = TABLE_PATH if path is None else path
    if not path.is_file():
        return {"format": TABLE_FORMAT, "rows": []}
    table: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return table


def _range(values: Sequence[float]) -> dict[str, float | None]:
    v = [float(x) for x in values if not math.isnan(float(x))]  # NaN (undefined score) left out
    if not v:
        return {"min": None, "median": None, "max": None}
    return {
        "min": round(min(v), 3),
        "median": round(statistics.median(v), 3),
        "max": round(max(v), 3),
    }


def measured_row(
    recipe: str,
    parameters: Mapping[str, Any],
    scores: Mapping[int, Mapping[str, float] | None],
    *,
    measured: str,
    version: str,
    how: str,
) -> dict[str, Any]:
    """A table row from the per-world ``scores`` of one recipe ({seed: {"csi": …,
    "precision": …, "recall": …}}, None for a world run but not scored)."""
    scored = {s: v for s, v in scores.items() if v is not None}
    return {
        "product": recipe,
        "parameters_key": parameters_key(parameters),
        "parameters": dict(parameters),
        **{k: _range([v[k] for v in scored.values()]) for k in SCORES},
        "worlds": {"run": len(scores), "scored": len(scored), "seeds": sorted(scores)},
        "measured": measured,
        "package_version": version,
        "how": how,
    }


def write_table(rows: Sequence[Mapping[str, Any]], path: Path | None = None) -> Path:
    """Add ``rows`` to the table at ``path`` (default: the package's), replacing the rows of
    the same recipe and parameters; the others are kept."""
    path = TABLE_PATH if path is None else path
    table = load_table(path)
    new = {(r["product"], r["parameters_key"]) for r in rows}
    kept = [r for r in table.get("rows", []) if (r["product"], r["parameters_key"]) not in new]
    out = {
        "format": TABLE_FORMAT,
        "about": "expected accuracy per recipe and recorded parameters, written by "
        "benchmarks/accuracy.py --write-table; read by every product's QA",
        "rows": sorted([*kept, *map(dict, rows)], key=lambda r: (r["product"], r["measured"])),
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def expected_accuracy(
    recipe: str, parameters: Mapping[str, Any], table: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What the table says of ``recipe`` with these recorded ``parameters``: the row's
    figures, or ``{"status": "not measured", "why": …}``."""
    table = load_table() if table is None else table
    key = parameters_key(parameters)
    rows = [r for r in table.get("rows", []) if r.get("product") == recipe]
    for r in rows:
        if r.get("parameters_key") == key:
            out = {k: r[k] for k in (*SCORES, "worlds", "measured", "package_version", "how")}
            return {"status": "measured", "parameters_key": key, **out}
    why = (
        f"the table has {len(rows)} row(s) of {recipe}, none with these parameters (key {key})"
        if rows
        else f"no row of {recipe} in the table"
    )
    return {
        "status": "not measured",
        "parameters_key": key,
        "why": why + "; run benchmarks/accuracy.py --write-table",
    }


def expected_summary(expected: Mapping[str, Any], *, short: bool = False) -> str:
    """One line of an :func:`expected_accuracy` answer, as the CLI prints it (``short``: the
    CSI range and the worlds only)."""
    if expected.get("status") != "measured":
        return "not measured" if short else f"not measured ({expected.get('why', '')})"
    csi, w = expected["csi"], expected["worlds"]

    def f(v: float | None) -> str:
        return "?" if v is None else f"{v:.3f}"

    if short:
        return (
            f"CSI min {f(csi['min'])}, median {f(csi['median'])}, max {f(csi['max'])} "
            f"({w['scored']} of {w['run']} worlds)"
        )
    p, r = expected["precision"], expected["recall"]
    return (
        f"CSI {f(csi['min'])} / {f(csi['median'])} / {f(csi['max'])} (min / median / max over "
        f"{w['scored']} of {w['run']} synthetic worlds), precision ≥ {f(p['min'])}, "
        f"recall ≥ {f(r['min'])}; measured "
        f"{expected['measured']} with yamasat {expected['package_version']} ({expected['how']})"
    )
