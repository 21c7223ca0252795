"""Registering flow outputs in the solutions registry, and the ``indicator_report`` flow.

:func:`register_outcome` is what product flows call after publishing (when given
``--solution``): it verifies the files of the outcome against their checksums, verifies the
STAC item, registers the product exactly once and links it to the solution.
:func:`build_report` tallies the indicator and writes the HTML page and PNG chart; the
Prefect flow :func:`indicator_report` does the same and publishes Markdown and table
artifacts.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from catalogs.errors import EvidenceError
from catalogs.registry import (
    ProductEntry,
    Tally,
    open_registry,
    settings_tally,
    validate_products,
    verify_files,
    verify_item,
)
from catalogs.registry.formats import row_dict, tally_markdown
from catalogs.registry.report import write_report
from catalogs.settings import Settings
from flows.runs import RunContext, tracked

__all__ = [
    "OutcomeRegistration",
    "ReportResult",
    "build_report",
    "check_solution",
    "current_user",
    "indicator_report",
    "register_outcome",
]


def current_user() -> str:
    """The login name, for the audit trail (``yamasat`` when it cannot be found)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "yamasat"


@dataclass(frozen=True)
class OutcomeRegistration:
    """What :func:`register_outcome` did."""

    product_id: str
    created: bool
    """False when the product was already registered (a re-run, or another process)"""
    solution_id: str | None
    attached: bool
    """True when this call linked the product to the solution"""
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_solution(settings: Settings, solution_id: str) -> None:
    """Fail early, before any analysis, when ``solution_id`` is not registered."""
    with open_registry(settings) as reg:
        reg.solution(solution_id)


def register_outcome(
    settings: Settings,
    outcome: Mapping[str, Any] | str | Path,
    *,
    kind: str | None = None,
    solution_id: str | None = None,
    run_id: str | None = None,
    by: str | None = None,
) -> OutcomeRegistration:
    """Verify and register a published product, then link it to ``solution_id`` if given.

    ``outcome`` is a flow outcome (``ProductOutcome.as_dict()``: ``outcome``, ``kind``,
    ``item_href``, ``files`` with ``path``/``sha256``/``size``) or the path of the product's
    STAC item. ``kind``, when given, must match the product's kind.
    Safe to repeat: a product already registered (by a re-run, or concurrently by another
    process) is not registered again. Raises :class:`EvidenceError` with the reasons when
    the product is not published, a file is missing or a checksum differs; raises
    :class:`UnknownSolutionError` (with close matches) before registering anything when
    ``solution_id`` is unknown.
    """
    if isinstance(outcome, Mapping):
        state = outcome.get("outcome")
        if state != "published" or not outcome.get("item_href"):
            raise EvidenceError(
                f"product {outcome.get('item_id', '?')} was not published (outcome {state!r}): "
                "there is nothing to register"
            )
        problems = verify_files(outcome.get("files") or {})
        if problems:
            raise EvidenceError(
                f"product {outcome.get('item_id')} was refused: {'; '.join(problems)}"
            )
        href = str(outcome["item_href"])
        kind = kind or (str(outcome["kind"]) if outcome.get("kind") else None)
    else:
        href = str(outcome)
    check = verify_item(href)
    if not check.ok:
        raise EvidenceError(f"product item {check.item_href} was refused: {check.reason}")
    entry = ProductEntry.from_check(check, run_id=run_id)
    if kind is not None and entry.kind != kind:
        raise EvidenceError(
            f"product {entry.id} is a {entry.kind!r} product, not {kind!r}: check the item href"
        )
    with open_registry(settings) as reg:
        if solution_id is not None:
            reg.solution(solution_id)
        result = reg.register_product(entry)
        attached = (
            reg.attach(solution_id, entry.id, by=by or current_user()) if solution_id else False
        )
    message = result.message
    if solution_id:
        message += (
            f"; attached to {solution_id}" if attached else f"; already attached to {solution_id}"
        )
    return OutcomeRegistration(entry.id, result.created, solution_id, attached, message)


@dataclass(frozen=True)
class ReportResult:
    """The tally and where its report was written."""

    tally: Tally
    html: Path
    png: Path
    checked: int
    """products re-verified before tallying (0 unless asked)"""


def build_report(
    settings: Settings, out_dir: Path | None = None, *, fy: int | None = None, verify: bool = False
) -> ReportResult:
    """Tally the registry and write ``indicator.html`` + ``indicator.png`` to ``out_dir``
    (default ``<output_root>/reports``). ``verify`` re-checks every product's files first."""
    with open_registry(settings) as reg:
        checked = len(validate_products(reg)) if verify else 0
        records = reg.solutions()
    t = settings_tally(settings, records, until_fy=fy)
    folder = out_dir or settings.storage.output_root / "reports"
    files = write_report(t, folder)
    return ReportResult(t, files.html, files.png, checked)


@task(name="tally-and-write-report", cache_policy=NO_CACHE)
def _report_task(
    settings: Settings, out_dir: Path | None, fy: int | None, verify: bool
) -> ReportResult:
    return build_report(settings, out_dir, fy=fy, verify=verify)


@flow(name="indicator_report", log_prints=False)
def indicator_report(
    out: str | None = None, fy: int | None = None, verify: bool = True, config: str | None = None
) -> dict[str, Any]:
    """Tally the indicator, write the HTML page and PNG chart, publish artifacts."""
    params = {"out": out, "fy": fy, "verify": verify, "config": config}

    def body(ctx: RunContext) -> dict[str, Any]:
        result = _report_task(ctx.settings, Path(out) if out else None, fy, verify)
        return _report_artifacts(result)

    # a failure returns a Failed state (reason in its message); Prefect raises the original
    # exception to a direct caller, so callers only ever receive the dict
    return cast(dict[str, Any], tracked("indicator_report", params, body))


def _report_artifacts(result: ReportResult) -> dict[str, Any]:
    t = result.tally
    create_markdown_artifact(
        key="indicator-report", markdown=tally_markdown(t), description="indicator tally"
    )
    create_table_artifact(
        key="indicator-tally",
        table=[row_dict(r) for r in t.rows],
        description="solutions developed using satellite data, per fiscal year",
    )
    current = t.current
    return {
        "html": str(result.html),
        "png": str(result.png),
        "fy": current.fy,
        "cumulative": current.cumulative,
        "target": t.target.value,
        "counted": [c.solution.id for c in t.counted],
        "warnings": list(t.warnings),
    }
