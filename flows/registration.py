"""Registering flow outputs in the solutions registry (``--solution ID``).

:func:`register_outcome` is what product flows call after publishing: it verifies the files
of the outcome against their checksums, verifies the STAC item, registers the product exactly
once and links it to the solution. :func:`check_solution_task` and :func:`register_task` are
the Prefect tasks around them.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ..catalogs.registry import ProductEntry, open_registry, verify_files, verify_item
from ..errors import EvidenceError, UnknownSolutionError, YamasatError
from ..processing.faults import fault_point
from ..settings import Settings

__all__ = [
    "PENDING_FOLDER",
    "OutcomeRegistration",
    "PendingRegistration",
    "check_solution",
    "check_solution_task",
    "complete_pending",
    "current_user",
    "note_pending",
    "pending_marker",
    "pending_registrations",
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


#: where registrations asked for and not yet done are noted, under the output root
PENDING_FOLDER = Path(".yamasat") / "pending"


def pending_marker(out_root: Path, product_id: str) -> Path:
    """The note of ``product_id``'s pending registration under ``out_root``."""
    return out_root / PENDING_FOLDER / f"{product_id}.json"


@dataclass(frozen=True)
class PendingRegistration:
    """A registration asked for and not (yet) done: the product, the solution, the run."""

    product_id: str
    item_href: str
    solution: str | None
    run_id: str | None
    asked_at: str
    marker: Path

    def as_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


def note_pending(
    out_root: Path, product_id: str, item_href: str, solution: str | None, run_id: str | None
) -> Path:
    """Note, before registering, that ``product_id`` is to be registered (and attached to
    ``solution``): a run killed before the registration commits leaves the note, and the
    next run in ``out_root`` or ``yamasat catalog repair`` completes it. Written atomically."""
    marker = pending_marker(out_root, product_id)
    marker.parent.mkdir(parents=True, exist_ok=True)
    note = {
        "product_id": product_id,
        "item_href": item_href,
        "solution": solution,
        "run_id": run_id,
        "asked_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    tmp = marker.with_name(f".{marker.name}.{os.getpid()}")
    tmp.write_text(json.dumps(note, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, marker)
    return marker


def pending_registrations(out_root: Path) -> list[PendingRegistration]:
    """The registrations noted as pending under ``out_root``, oldest first; an unreadable
    note is reported as one with no item (``catalog validate`` shows it)."""
    folder = out_root / PENDING_FOLDER
    found = []
    for marker in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            note = json.loads(marker.read_text(encoding="utf-8"))
            pending = PendingRegistration(
                product_id=str(note["product_id"]),
                item_href=str(note["item_href"]),
                solution=note.get("solution"),
                run_id=note.get("run_id"),
                asked_at=str(note.get("asked_at", "")),
                marker=marker,
            )
        except (OSError, ValueError, KeyError, TypeError):
            pending = PendingRegistration(marker.stem, "", None, None, "", marker)
        found.append(pending)
    return sorted(found, key=lambda p: p.asked_at)


def complete_pending(
    settings: Settings, out_root: Path
) -> tuple[list[OutcomeRegistration], list[tuple[PendingRegistration, str]]]:
    """Do the registrations noted as pending under ``out_root`` (once each: registering is
    idempotent); returns those done and those that failed with why. A product that no
    longer verifies (or a solution that is gone) is refused and its note removed: there is
    nothing left to register; a registry that cannot be reached leaves the notes for the
    next attempt."""
    done: list[OutcomeRegistration] = []
    failed: list[tuple[PendingRegistration, str]] = []
    for pending in pending_registrations(out_root):
        try:
            if not pending.item_href:
                raise EvidenceError(f"the note {pending.marker} cannot be read")
            done.append(
                register_outcome(
                    settings,
                    pending.item_href,
                    solution_id=pending.solution,
                    run_id=pending.run_id,
                )
            )
        except (EvidenceError, UnknownSolutionError) as e:
            failed.append((pending, str(e)))
        except YamasatError as e:  # the registry is unavailable or busy: kept for later
            failed.append((pending, str(e)))
            continue
        pending.marker.unlink(missing_ok=True)
    return done, failed


@task(name="register", retries=2, retry_delay_seconds=[1, 4], cache_policy=NO_CACHE)
def register_task(
    settings: Settings, outcome: dict[str, Any], solution: str | None, run_id: str | None
) -> dict[str, Any]:
    """Verify the published product's files and register it, linked to ``solution`` if
    given. The registration is noted as pending first (:func:`note_pending`) and the note
    removed once it is done: a failure or a kill leaves it for the next run or ``catalog
    repair``; a product that does not verify is refused and its note removed."""
    out_root = settings.storage.output_root
    marker = note_pending(
        out_root, str(outcome["item_id"]), str(outcome["item_href"]), solution, run_id
    )
    fault_point("before_register")  # inert unless a test arms it (processing/faults.py)
    # a product found already published is verified again from its STAC item
    target: dict[str, Any] | str = (
        str(outcome["item_href"]) if outcome.get("outcome") == "exists" else outcome
    )
    try:
        reg = register_outcome(settings, target, solution_id=solution, run_id=run_id)
    except (EvidenceError, UnknownSolutionError):
        marker.unlink(missing_ok=True)
        raise
    marker.unlink(missing_ok=True)
    get_run_logger().info("%s", reg.message)
    return reg.as_dict()
