"""The registry and the STAC output catalog together: register, attach, validate, repair, rebuild.

* :func:`register_item` verifies a product item (STAC, files, checksums) and registers it.
* :func:`attach_evidence` links a product to a solution after re-verifying its files.
* :func:`validate_products` re-verifies every registered product and records the result.
* :func:`repair_catalog` walks ``<out>/catalog.json`` and registers, exactly once, published
  products that were written but never registered (a crash between the two steps).
* :func:`rebuild_catalog` regenerates ``<out>/catalog.json``, its collections and item JSONs
  from the registry (the registry keeps every item's JSON).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import EvidenceError, RegistryError
from .evidence import (
    ProductCheck,
    ProductEntry,
    asset_problems,
    catalog_items,
    verify_item,
)
from .repo import Registration, Registry

__all__ = [
    "RebuildReport",
    "RepairReport",
    "attach_evidence",
    "rebuild_catalog",
    "register_item",
    "repair_catalog",
    "validate_products",
]

log = logging.getLogger(__name__)


def register_item(
    registry: Registry, item_href: str | Path, *, run_id: str | None = None
) -> Registration:
    """Verify the product item at ``item_href`` and register it (idempotent).

    Raises :class:`EvidenceError` with every reason when the item is not a valid, published
    product whose files match their checksums; nothing is registered then.
    """
    check = verify_item(item_href)
    if not check.ok:
        raise EvidenceError(f"product item {check.item_href} was refused: {check.reason}")
    return registry.register_product(ProductEntry.from_check(check, run_id=run_id))


def _looks_like_path(ref: str) -> bool:
    return ref.endswith(".json") or "/" in ref or Path(ref).is_file()


def attach_evidence(
    registry: Registry, solution_id: str, ref: str, *, by: str
) -> tuple[str, bool, Registration | None]:
    """Attach a product to a solution: ``ref`` is a registered product id or the path of a
    product item JSON (registered first). The product's files are verified now; a product
    that fails is refused with the reason (and its record shows the failure).

    Returns ``(product_id, newly attached, registration or None)``.
    """
    registry.solution(solution_id)  # unknown ids fail before any work, with close matches
    registration: Registration | None = None
    if _looks_like_path(ref):
        registration = register_item(registry, ref)
        product_id = registration.product_id
    else:
        entry = registry.product(ref.strip())
        product_id = entry.id
        check = verify_item(entry.item_href)
        registry.record_check(product_id, ok=check.ok, message=check.reason)
        if not check.ok:
            raise EvidenceError(
                f"product {product_id} is refused as evidence for {solution_id}: {check.reason}"
            )
    return product_id, registry.attach(solution_id, product_id, by=by), registration


def validate_products(registry: Registry) -> list[tuple[ProductEntry, ProductCheck]]:
    """Re-verify every registered product (STAC validity, files, checksums); record results."""
    results = []
    for entry, _solutions in registry.products():
        check = verify_item(entry.item_href)
        if check.ok and check.item is not None and check.item.get("id") != entry.id:
            check = ProductCheck(check.item_href, check.item, (f"item id is {check.item['id']}",))
        registry.record_check(entry.id, ok=check.ok, message=check.reason)
        results.append((entry, check))
    return results


@dataclass
class RepairReport:
    """What :func:`repair_catalog` found."""

    registered: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(item path, reason) of items that failed verification and were not registered"""


def repair_catalog(registry: Registry, out_root: Path) -> RepairReport:
    """Register the published products of ``out_root`` that the registry lacks (once each)."""
    report = RepairReport()
    for path in catalog_items(out_root):
        check = verify_item(path)
        if not check.ok:
            report.refused.append((str(path), check.reason))
            continue
        result = registry.register_product(ProductEntry.from_check(check))
        (report.registered if result.created else report.already).append(result.product_id)
    return report


@dataclass
class RebuildReport:
    """What :func:`rebuild_catalog` wrote and left out."""

    catalog: Path
    items: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(product id, reason): registered products left out (files missing or changed)"""
    unregistered: list[str] = field(default_factory=list)
    """item paths that were in the old catalog but are not registered (run repair first)"""
    elsewhere: list[tuple[str, str]] = field(default_factory=list)
    """(product id, item path): registered products under another output root, left out"""


def rebuild_catalog(registry: Registry, out_root: Path) -> RebuildReport:
    """Regenerate the STAC catalog at ``out_root`` from the registry's products under it.

    Products whose files no longer match the registered checksums are left out and listed.
    Items in the old catalog that are not registered are listed (``catalog repair`` adds
    them). Writes are atomic, under the catalog lock.
    """
    import pystac

    from ..products.items import KIND_TITLES, AtomicStacIO, catalog_lock

    out_root = Path(out_root).resolve()
    report = RebuildReport(out_root / "catalog.json")
    groups: dict[str, list[pystac.Item]] = defaultdict(list)
    known: set[str] = set()
    for entry, _solutions in registry.products():
        folder = Path(entry.item_href).resolve().parent
        known.add(str(Path(entry.item_href).resolve()))
        if folder.parent.parent != out_root:
            report.elsewhere.append((entry.id, entry.item_href))
            continue
        problems = asset_problems(entry.item, folder)
        if problems:
            report.skipped.append((entry.id, "; ".join(problems)))
            continue
        item = pystac.Item.from_dict(dict(entry.item), preserve_dict=False)
        for asset in item.assets.values():
            asset.href = str((folder / Path(asset.href).name).resolve())
        groups[entry.kind].append(item)
        report.items.append(entry.id)
    try:
        if (out_root / "catalog.json").exists():
            report.unregistered = [str(p) for p in catalog_items(out_root) if str(p) not in known]
    except RegistryError as e:  # an unreadable old catalog is what a rebuild replaces
        log.warning("the old catalog %s cannot be read (%s); it is replaced", out_root,
                    e.__cause__ or e)  # fmt: skip
    root = pystac.Catalog(
        id="yamasat-products",
        description="Products of yamasat, the satellite-data pipeline of Yamaguchi Prefecture",
        title="yamasat products",
    )
    for kind in sorted(groups):
        items = sorted(groups[kind], key=lambda i: i.id)
        coll = pystac.Collection(
            id=kind,
            description=f"yamasat {kind} products: {KIND_TITLES.get(kind, kind)}",
            extent=pystac.Extent.from_items(items),
            license="CC-BY-4.0",
            title=KIND_TITLES.get(kind, kind),
        )
        coll.add_items(items)
        root.add_child(coll)
    io = AtomicStacIO()
    with catalog_lock(out_root):
        root.normalize_hrefs(str(out_root))
        root.make_all_asset_hrefs_relative()
        root.save(catalog_type=pystac.CatalogType.SELF_CONTAINED, stac_io=io)
    return report
