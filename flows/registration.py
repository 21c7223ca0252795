"""Registering flow outputs in the solutions registry (``--solution ID``).

:func:`register_outcome` is what product flows call after publishing: it verifies the files
of the outcome against their checksums, verifies the STAC item, registers the product exactly
once and links it to the solution. :func:`check_solution_task` and :func:`register_task` are
the Prefect tasks around them.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ..catalogs.registry import ProductEntry, open_registry, verify_files, verify_item
from ..errors import EvidenceError
from ..settings import Settings

__all__ = [
    "OutcomeRegistration",
    "check_solution",
    "check_solution_task",
    "current_user",
    "register_outcome",
    "register_task",
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


@task(name="check-solution", cache_policy=NO_CACHE)
def check_solution_task(settings: Settings, solution: str) -> None:
    """Refuse an unknown solution id before any search or analysis."""
    check_solution(settings, solution)


@task(name="register", retries=2, retry_delay_seconds=[1, 4], cache_policy=NO_CACHE)
def register_task(
    settings: Settings, outcome: dict[str, Any], solution: str, run_id: str | None
) -> dict[str, Any]:
    """Verify the published product's files and register it, linked to ``solution``."""
    # a product found already published is verified again from its STAC item
    target: dict[str, Any] | str = (
        str(outcome["item_href"]) if outcome.get("outcome") == "exists" else outcome
    )
    reg = register_outcome(settings, target, solution_id=solution, run_id=run_id)
    get_run_logger().info("%s", reg.message)
    return reg.as_dict()
