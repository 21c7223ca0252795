"""The expected-accuracy table from a sweep of ``benchmarks/accuracy.py`` (``--write-table``).

One row per product run in the sweep: its recipe, the parameters the product records with
the settings of the sweep (checked against the key each product's QA reports), and its CSI,
precision and recall min / median / max over the worlds where it was scored. Rows of other
recipes or parameters already in the table are kept.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

RECIPE_OF_RUN = {
    "change": "change",
    "flood (S1)": "flood-s1",
    "flood (S2)": "flood-s2",
    "flood (fused)": "flood-fused",
    "landslide": "landslide",
    "burn": "burn",
}
"""the benchmark's product names and the recipes that make them"""


def recorded_parameters(recipe_name: str, settings: Any) -> dict[str, Any]:
    """What a product of ``recipe_name`` records of its method with ``settings``."""
    from yamasat.flows.recipes import RECIPES

    recipe = RECIPES[recipe_name]
    return recipe.record(recipe.choose(recipe.params(settings), {}))


def table_rows(worlds: list[dict[str, Any]], settings: Any, *, how: str) -> list[dict[str, Any]]:
    """The table rows of a sweep's per-world results (``run_world``'s)."""
    from yamasat.flows.prepare import software_version
    from yamasat.processing.expected_accuracy import measured_row, parameters_key

    rows = []
    today = dt.datetime.now(dt.UTC).date().isoformat()
    for name, recipe in RECIPE_OF_RUN.items():
        results = {w["seed"]: w["products"][name] for w in worlds if name in w["products"]}
        if not results:
            continue
        parameters = recorded_parameters(recipe, settings)
        key = parameters_key(parameters)
        for seed, r in results.items():
            made = r.get("parameters_key")
            if made is not None and made != key:
                raise SystemExit(
                    f"{name} of world {seed} was made with parameters {made}, not the "
                    f"settings' {key}: no row written"
                )
        scores = {
            seed: ({k: r[k] for k in ("csi", "precision", "recall")} if r.get("scored") else None)
            for seed, r in results.items()
        }
        rows.append(
            measured_row(recipe, parameters, scores, measured=today, version=software_version(),
                         how=how)
        )  # fmt: skip
    return rows


def write_from_sweep(
    worlds: list[dict[str, Any]], settings: Any, path: Path | None, *, command: str
) -> Path:
    """Write the rows of a sweep into the table at ``path`` (default: the package's)."""
    from yamasat.processing.expected_accuracy import write_table

    how = f"benchmarks/accuracy.py {command}".strip()
    return write_table(table_rows(worlds, settings, how=how), path)
