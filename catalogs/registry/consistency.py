"""Run records, the output STAC catalog and the registry, compared: every disagreement.

The three describe the same products of one output root and must agree: a product a run
published is in the catalog and registered; a registered product under the root is in the
catalog and names a run that recorded it; a catalog item is registered; a folder at a
product's final path is in the catalog; no staging folder outlives its run. :func:`compare`
lists each disagreement with what repairs it; ``yamasat catalog validate`` prints them
(with the registrations noted as pending, which the flows keep) and fails when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...errors import RegistryError
from .evidence import ProductEntry, catalog_items
from .repo import Registry
from .run_records import RunRecord, run_records

__all__ = ["Disagreement", "compare", "final_folders"]


@dataclass(frozen=True)
class Disagreement:
    """One way the run records, the catalog and the registry disagree."""

    what: str
    """``not_in_catalog``, ``not_registered``, ``orphan_folder``, ``run_product``,
    ``unrecorded_product``, ``stale_staging``, ``catalog_unreadable`` (or ``pending`` and
    ``files``, added by the CLI)"""
    subject: str
    """the product id or path concerned"""
    message: str
    """what is wrong and what repairs it"""


def final_folders(out_root: Path) -> dict[str, Path]:
    """Product folders at final paths under ``out_root`` (``<kind>/<id>/`` of every known
    product kind, and of any other folder holding a collection), by folder name."""
    from ..products.items import KIND_TITLES

    found: dict[str, Path] = {}
    for kind in sorted(out_root.iterdir()) if out_root.is_dir() else []:
        if not kind.is_dir() or kind.name.startswith("."):
            continue
        if kind.name in KIND_TITLES or (kind / "collection.json").is_file():
            for folder in sorted(p for p in kind.iterdir() if p.is_dir()):
                found[folder.name] = folder
    return found


def _under(path: str | Path, root: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(root)
    except OSError:
        return False


def _catalogued(out_root: Path) -> tuple[dict[str, Path], list[Disagreement]]:
    """Item ids of the catalog at ``out_root`` → their JSON; a catalog that cannot be read
    while products exist is itself a disagreement."""
    if not (out_root / "catalog.json").exists():
        return {}, []
    try:
        return {p.stem: p for p in catalog_items(out_root)}, []
    except RegistryError as e:
        return {}, [Disagreement("catalog_unreadable", str(out_root / "catalog.json"), str(e))]


def _runs_of_root(registry: Registry, out_root: Path, default_root: Path | None) -> list[RunRecord]:
    """The recorded runs whose output root is ``out_root`` (their ``out``, else the
    configured root ``default_root`` they ran with)."""
    runs = []
    for run in run_records(registry, limit=100_000):
        out = run.parameters.get("out") or default_root
        if out is not None and Path(str(out)).resolve() == out_root:
            runs.append(run)
    return runs


def compare(
    registry: Registry,
    out_root: Path,
    *,
    default_root: Path | None = None,
    products: list[ProductEntry] | None = None,
) -> list[Disagreement]:
    """Every disagreement among the run records, the catalog at ``out_root`` and the
    registry (``products``: the registered products, read from it when None). Products
    registered under another output root (a shared ``storage.registry_url``) are not this
    catalog's and are left alone."""
    out_root = Path(out_root).resolve()
    entries = products if products is not None else [e for e, _ in registry.products()]
    here = {e.id: e for e in entries if _under(e.item_href, out_root)}
    registered = {e.id for e in entries}
    catalogued, found = _catalogued(out_root)
    for pid in sorted(set(here) - set(catalogued)):
        found.append(Disagreement("not_in_catalog", pid, (
            f"registered ({here[pid].item_href}) but not in the catalog: 'yamasat catalog "
            "rebuild' writes the catalog from the registry"
        )))  # fmt: skip
    for pid in sorted(set(catalogued) - registered):
        found.append(Disagreement("not_registered", pid, (
            f"in the catalog ({catalogued[pid]}) but not registered: 'yamasat catalog "
            "repair' verifies and registers it"
        )))  # fmt: skip
    for name, folder in final_folders(out_root).items():
        if name not in catalogued and name not in here:
            found.append(Disagreement("orphan_folder", str(folder), (
                "a folder at a product's final path that is neither in the catalog nor "
                "registered (a publish cut short): re-run its product, which replaces it, "
                "or remove it"
            )))  # fmt: skip
    runs = _runs_of_root(registry, out_root, default_root)
    recorded: set[str] = set()
    for run in runs:
        recorded.update(run.products)
        for pid in run.products:
            if pid not in registered or pid not in catalogued:
                where = [w for w, ok in (("the catalog", pid in catalogued),
                                         ("the registry", pid in registered))
                         if not ok]  # fmt: skip
                found.append(Disagreement("run_product", pid, (
                    f"run {run.id} recorded publishing it, but it is not in "
                    f"{' nor in '.join(where)}: 'yamasat catalog repair' registers a "
                    "published product; re-run it if its files are gone"
                )))  # fmt: skip
    run_ids = {r.id for r in runs if r.host is not None}  # not the stubs registration adds
    for pid, entry in sorted(here.items()):
        if entry.run_id in run_ids and pid not in recorded:
            found.append(Disagreement("unrecorded_product", pid, (
                f"registered as made by run {entry.run_id}, whose record does not name it"
            )))  # fmt: skip
    live = any(r.state == "running" and not r.lost for r in runs)
    staging = out_root / ".staging"
    leftovers = sorted(p for p in staging.iterdir() if p.is_dir()) if staging.is_dir() else []
    for folder in [] if live else leftovers:
        found.append(Disagreement("stale_staging", str(folder), (
            "staging left by a run that is no longer running: the next run of its product "
            "removes it, or remove it"
        )))  # fmt: skip
    return found
