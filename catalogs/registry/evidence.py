"""Verify a product through its STAC item: the item is valid STAC and every file it lists is
there with the size and SHA-256 recorded in ``file:size`` / ``file:checksum``.

A product is accepted as evidence only when this check passes; the problems found are the
reasons given when it is refused. Only local files are verified: products are written by
yamasat into a local output catalog, and a URL or GDAL ``/vsi`` href is a problem here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...processing.write import sha256_file

__all__ = [
    "ProductCheck",
    "ProductEntry",
    "catalog_items",
    "verify_files",
    "verify_item",
]

log = logging.getLogger(__name__)

_MULTIHASH_SHA256 = "1220"


@dataclass(frozen=True)
class ProductCheck:
    """The result of verifying one product item."""

    item_href: str
    """absolute path of the item JSON"""
    item: Mapping[str, Any] | None
    """the item as read (None when it could not be read)"""
    problems: tuple[str, ...]
    """what is wrong, one sentence each; empty when the product verified"""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def reason(self) -> str:
        """All problems in one line (``"ok"`` when none)."""
        return "; ".join(self.problems) or "ok"


@dataclass(frozen=True)
class ProductEntry:
    """What the registry stores about a product (built from a verified item)."""

    id: str
    kind: str
    aoi: str
    before: str
    after: str
    item_href: str
    checksum: str
    """``file:checksum`` of the main asset (the asset named like the kind)"""
    valid_fraction: float
    outcome: str
    qa_status: str
    qa_message: str
    item: Mapping[str, Any]
    """the item JSON without links (asset hrefs relative to the item)"""
    run_id: str | None = None
    flow: str = ""
    software_version: str = ""

    @classmethod
    def from_check(cls, check: ProductCheck, *, run_id: str | None = None) -> ProductEntry:
        """The entry of a checked item; ``run_id`` overrides ``yamasat:run_id``."""
        item = check.item or {}
        props = item.get("properties", {})
        kind = str(props.get("yamasat:kind", ""))
        main = item.get("assets", {}).get(kind, {})
        return cls(
            id=str(item.get("id", "")),
            kind=kind,
            aoi=str(props.get("yamasat:aoi", "")),
            before=str(props.get("yamasat:before", "")),
            after=str(props.get("yamasat:after", "")),
            item_href=check.item_href,
            checksum=str(main.get("file:checksum", "")),
            valid_fraction=float(props.get("yamasat:valid_fraction", 0.0)),
            outcome=str(props.get("yamasat:outcome", "")),
            qa_status="ok" if check.ok else "failed",
            qa_message=check.reason,
            item={k: v for k, v in item.items() if k != "links"},
            run_id=run_id or props.get("yamasat:run_id") or None,
            flow=str(props.get("yamasat:flow", "")),
            software_version=str(props.get("processing:software", {}).get("yamasat", "")),
        )


def _check_file(path: Path, *, sha256: str, size: int | None, label: str) -> str | None:
    if not path.is_file():
        return f"{label}: file {path} is missing"
    try:
        actual_size = path.stat().st_size
        if size is not None and actual_size != size:
            return f"{label}: {path} has {actual_size} bytes, the record says {size}"
        actual = sha256_file(path)
    except OSError as e:
        return f"{label}: {path} cannot be read ({e.strerror})"
    if actual != sha256.lower():
        return (
            f"{label}: checksum of {path} differs (sha256 {actual[:12]}…, recorded {sha256[:12]}…)"
        )
    return None


def asset_problems(item: Mapping[str, Any], base: Path) -> list[str]:
    problems: list[str] = []
    kind = item.get("properties", {}).get("yamasat:kind")
    assets = item.get("assets", {})
    if kind not in assets:
        problems.append(f"the item has no main asset {kind!r}")
    for key, asset in assets.items():
        href = str(asset.get("href", ""))
        checksum = asset.get("file:checksum")
        label = f"asset {key!r}"
        if not isinstance(checksum, str) or not checksum.startswith(_MULTIHASH_SHA256):
            problems.append(f"{label} has no sha2-256 file:checksum; it cannot be verified")
            continue
        if "://" in href or href.startswith("/vsi"):
            problems.append(f"{label} href {href!r} is not a local file")
            continue
        size = asset.get("file:size")
        path = (base / href).resolve()
        problem = _check_file(
            path,
            sha256=checksum[len(_MULTIHASH_SHA256) :],
            size=int(size) if isinstance(size, int) else None,
            label=label,
        )
        if problem:
            problems.append(problem)
    return problems


def _stac_problems(item: Mapping[str, Any], href: str) -> list[str]:
    import pystac
    from pystac.validation.stac_validator import GetSchemaError, JsonSchemaSTACValidator

    if item.get("type") != "Feature":
        return ["not a STAC item (type is not 'Feature')"]
    try:
        JsonSchemaSTACValidator().validate_core(
            dict(item), pystac.STACObjectType.ITEM, str(item.get("stac_version")), href
        )
    except pystac.STACValidationError as e:
        return [f"invalid STAC item: {str(e).splitlines()[-1]}"]
    except GetSchemaError as e:
        return [f"STAC version {item.get('stac_version')} cannot be validated offline ({e})"]
    return []


def verify_item(item_href: str | Path) -> ProductCheck:
    """Read and verify a product item JSON (see the module docstring); never raises for a
    bad product: the problems are returned."""
    path = Path(str(item_href)).expanduser().resolve()
    try:
        item = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ProductCheck(str(path), None, (f"item {path} is missing",))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return ProductCheck(str(path), None, (f"item {path} cannot be read as JSON ({e})",))
    if not isinstance(item, dict):
        return ProductCheck(str(path), None, (f"item {path} is not a JSON object",))
    problems = _stac_problems(item, str(path))
    props = item.get("properties", {})
    if not props.get("yamasat:kind"):
        problems.append("not a yamasat product (no yamasat:kind property)")
    outcome = props.get("yamasat:outcome")
    if outcome != "published":
        problems.append(f"outcome is {outcome!r}, not 'published'")
    problems += asset_problems(item, path.parent)
    return ProductCheck(str(path), item, tuple(problems))


def verify_files(files: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Problems with files listed as ``{name: {path, sha256, size}}`` (a flow's outcome)."""
    problems = []
    for name, f in files.items():
        problem = _check_file(
            Path(str(f["path"])),
            sha256=str(f["sha256"]),
            size=int(f["size"]) if f.get("size") is not None else None,
            label=f"file {name!r}",
        )
        if problem:
            problems.append(problem)
    return problems


def catalog_items(out_root: Path) -> list[Path]:
    """Item JSON paths of an output catalog (``<out>/catalog.json`` → collections → items).

    Walks the links as written (relative hrefs), without pystac, so that one bad item does
    not hide the others. Raises :class:`RegistryError` when the root catalog is unreadable.
    """
    from ...errors import RegistryError

    root = Path(out_root).resolve() / "catalog.json"
    try:
        catalog = json.loads(root.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RegistryError(
            f"cannot read the output catalog {root} ({e}); give the folder that holds "
            "catalog.json, or run 'yamasat catalog rebuild' to regenerate it from the registry"
        ) from e
    items: list[Path] = []
    for link in _links(catalog, "child"):
        child = (root.parent / str(link.get("href", ""))).resolve()
        try:
            collection = json.loads(child.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            log.warning("collection %s cannot be read (%s); skipped", child, e)
            continue
        for ilink in _links(collection, "item"):
            items.append((child.parent / str(ilink.get("href", ""))).resolve())
    return items


def _links(obj: object, rel: str) -> list[dict[str, Any]]:
    links = obj.get("links", []) if isinstance(obj, dict) else []
    return [x for x in links if isinstance(x, dict) and x.get("rel") == rel]
