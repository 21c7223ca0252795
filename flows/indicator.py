"""The ``indicator_report`` flow: tally the indicator and publish its report.

:func:`build_report` tallies the indicator and writes the HTML page and PNG chart; the
Prefect flow :func:`indicator_report` does the same and publishes Markdown and table
artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from ..catalogs.registry import Tally, open_registry, settings_tally, validate_products
from ..catalogs.registry.formats import row_dict, tally_markdown
from ..catalogs.registry.report import write_report
from ..settings import Settings
from .tracking import RunContext, tracked

__all__ = ["ReportResult", "build_report", "indicator_report"]


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
