"""What the web view shows, read from the registry and the product folders (never written).

* products: the registered products, each with its STAC item (provenance, QA, assets) and
  the solutions it supports; an asset file is served only when the product's item lists it
  and it lies in the product's own folder;
* the indicator: :func:`checked_tally` counts with the same code as ``yamasat solutions
  tally`` (``settings_tally``) after verifying the evidence files, as the command does by
  default, but keeps the results in memory instead of recording them (and re-hashes a
  product only when a file of its folder changed size or modification time);
* recent runs (``run_records``) and the base layer (municipal outlines from the configured N03
  file, else the prefecture outline of the ``japanmap`` package).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..catalogs.extent.boundaries import (
    MLIT_CREDIT,
    fallback_prefecture_outline,
    load_boundaries,
)
from ..catalogs.extent.municipalities import PREFECTURE, by_code
from ..catalogs.registry import settings_tally, verify_item
from ..catalogs.registry.engine import sqlite_path
from ..catalogs.registry.evidence import catalog_items
from ..catalogs.registry.run_records import RunRecord, run_records
from ..errors import RegistryError, RegistryUnavailableError, UnknownProductError

if TYPE_CHECKING:
    from ..catalogs.registry import Registry, Tally
    from ..catalogs.registry.evidence import ProductCheck
    from ..catalogs.registry.records import EvidenceRecord, SolutionRecord
    from ..settings import Settings

__all__ = [
    "BaseLayer",
    "EvidenceChecks",
    "ProductView",
    "WebCatalog",
    "base_layer",
    "check_registry_exists",
    "checked_tally",
]

log = logging.getLogger(__name__)

#: how far (degrees) outlines are simplified for the map: about 30 m, far below a screen pixel
#: at the zoom that shows a municipality whole
_SIMPLIFY_DEG = 0.0003


@dataclass(frozen=True)
class ProductView:
    """One registered product as the pages show it."""

    id: str
    kind: str
    item: dict[str, Any]
    """the STAC item as stored in the registry (asset hrefs relative to ``folder``)"""
    folder: Path
    """the folder of the item JSON, where its assets lie"""
    solutions: tuple[str, ...]
    qa_status: str
    qa_message: str
    run_id: str | None

    @property
    def props(self) -> dict[str, Any]:
        """The item's properties."""
        return dict(self.item.get("properties", {}))

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        """West, south, east, north in degrees, when the item has a bbox."""
        b = self.item.get("bbox")
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3])) if b else None

    @property
    def main_asset(self) -> str | None:
        """The asset named like the kind (``change``, ``flood``...): the one the map shows."""
        return self.kind if self.kind in self.item.get("assets", {}) else None


@dataclass(frozen=True)
class BaseLayer:
    """The map's base layer: GeoJSON in degrees and where it came from."""

    geojson: dict[str, Any]
    municipal: bool
    """True for municipal outlines (N03), False for the prefecture outline only"""
    credit: str


def _read_item(path: Path) -> dict[str, Any] | None:
    try:
        item = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        log.warning("product item %s cannot be read (%s); not shown", path, e)
        return None
    return item if isinstance(item, dict) else None


def check_registry_exists(settings: Settings) -> None:
    """Refuse a SQLite registry that does not exist yet (the view opens, never creates one)."""
    from sqlalchemy.engine import make_url

    path = sqlite_path(make_url(settings.registry_url_resolved))
    if path is not None and not path.is_file():
        raise RegistryUnavailableError(
            f"there is no registry at {path}: run `yamasat demo` (or a product flow) first, or "
            "point storage.output_root (YAMASAT_STORAGE__OUTPUT_ROOT) at the folder of your "
            "products"
        )


class EvidenceChecks:
    """Verifications of product items (``verify_item``: files, sizes, SHA-256), each kept
    until a file in the product's folder changes size or modification time: a page view
    re-hashes only what changed since the view last looked."""

    def __init__(self) -> None:
        self._done: dict[str, tuple[tuple[tuple[str, int, int], ...], ProductCheck]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _signature(item_href: str) -> tuple[tuple[str, int, int], ...]:
        folder = Path(item_href).parent
        try:
            entries = sorted(p for p in folder.iterdir() if p.is_file())
        except OSError:
            return ()
        out = []
        for p in entries:
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((p.name, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def check(self, item_href: str) -> ProductCheck:
        """The verification of the item at ``item_href``, redone when its files changed."""
        signature = self._signature(item_href)
        with self._lock:
            done = self._done.get(item_href)
        if done is not None and done[0] == signature and signature:
            return done[1]
        check = verify_item(item_href)
        with self._lock:
            self._done[item_href] = (signature, check)
        return check


def _fresh(e: EvidenceRecord, checks: EvidenceChecks, at: dt.datetime) -> EvidenceRecord:
    check = checks.check(e.item_href)
    ok = check.ok and check.item is not None and check.item.get("id") == e.product_id
    message = check.reason
    if check.ok and not ok and check.item is not None:
        message = f"item id is {check.item.get('id')}"
    return replace(e, qa_status="ok" if ok else "failed", qa_message=message, checked_at=at)


def checked_tally(
    settings: Settings, registry: Registry, checks: EvidenceChecks | None = None
) -> Tally:
    """The indicator as ``yamasat solutions tally`` counts it (``settings_tally`` over the
    registry's solutions), every evidence product verified (files and checksums, as
    ``validate_products`` does) first, the results kept in memory: the registry is not
    written. ``checks`` keeps verifications of unchanged folders between calls."""
    at = dt.datetime.now(dt.UTC)
    checks = checks or EvidenceChecks()
    records: list[SolutionRecord] = [
        replace(rec, evidence=tuple(_fresh(e, checks, at) for e in rec.evidence))
        for rec in registry.solutions()
    ]
    return settings_tally(settings, records)


def base_layer(settings: Settings) -> BaseLayer:
    """Municipal outlines from ``boundaries.path`` (names in ja and en), else the prefecture
    outline from ``japanmap``. A configured file that cannot be read fails here, naming it."""
    import shapely

    path = settings.boundaries.path
    if path is None:
        geom = fallback_prefecture_outline()
        feature = {
            "type": "Feature",
            "properties": {
                "code": PREFECTURE.code,
                "name_ja": PREFECTURE.name_ja,
                "name_en": PREFECTURE.name_en,
            },
            "geometry": shapely.geometry.mapping(geom),
        }
        fc = {"type": "FeatureCollection", "features": [feature]}
        return BaseLayer(fc, municipal=False, credit="japanmap")
    frame = load_boundaries(Path(path)).frame
    features = []
    for code, name_ja, geom in zip(frame["code"], frame["name_ja"], frame.geometry, strict=True):
        m = by_code(str(code))
        simple = shapely.simplify(geom, _SIMPLIFY_DEG, preserve_topology=True)
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": str(code),
                    "name_ja": m.name_ja if m else str(name_ja),
                    "name_en": m.name_en if m else str(name_ja),
                },
                "geometry": shapely.geometry.mapping(simple),
            }
        )
    return BaseLayer(
        {"type": "FeatureCollection", "features": features}, municipal=True, credit=MLIT_CREDIT
    )


class WebCatalog:
    """Read-only access to the registry and the product folders for the pages."""

    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self.checks = EvidenceChecks()

    def products(self) -> list[ProductView]:
        """Every product of the output catalog (``<output_root>/catalog.json``) and of the
        registry, newest period first; registered ones carry their solutions and last check."""
        views: dict[str, ProductView] = {}
        for path in self._catalog_items():
            item = _read_item(path)
            if item is not None and item.get("id"):
                views[str(item["id"])] = ProductView(
                    id=str(item["id"]),
                    kind=str(item.get("properties", {}).get("yamasat:kind", "")),
                    item=item,
                    folder=path.parent,
                    solutions=(),
                    qa_status="unregistered",
                    qa_message="published in the catalog, not in the registry (no solution "
                    "attached it)",
                    run_id=item.get("properties", {}).get("yamasat:run_id"),
                )
        for entry, solutions in self.registry.products():
            views[entry.id] = ProductView(
                id=entry.id,
                kind=entry.kind,
                item=dict(entry.item),
                folder=Path(entry.item_href).parent,
                solutions=tuple(solutions),
                qa_status=entry.qa_status,
                qa_message=entry.qa_message,
                run_id=entry.run_id,
            )
        return sorted(
            views.values(), key=lambda v: (v.props.get("yamasat:after", ""), v.id), reverse=True
        )

    def _catalog_items(self) -> list[Path]:
        root = self.settings.storage.output_root
        if not (root / "catalog.json").is_file():
            return []
        try:
            return catalog_items(root)
        except RegistryError as e:
            log.warning("%s", e)
            return []

    def product(self, product_id: str) -> ProductView:
        """One product by id; :class:`UnknownProductError` when it is not registered."""
        for view in self.products():
            if view.id == product_id:
                return view
        raise UnknownProductError(
            f"there is no product {product_id!r} in the catalog or the registry; the map lists "
            "every product"
        )

    def asset_path(self, view: ProductView, key: str) -> Path:
        """The file of asset ``key`` of a product: listed in its item, inside its folder."""
        asset = view.item.get("assets", {}).get(key)
        if not isinstance(asset, dict) or "href" not in asset:
            known = ", ".join(sorted(view.item.get("assets", {})))
            raise UnknownProductError(
                f"product {view.id} has no asset {key!r}; its assets are {known}"
            )
        folder = view.folder.resolve()
        path = (folder / str(asset["href"])).resolve()
        if not path.is_relative_to(folder) or not path.is_file():
            raise UnknownProductError(
                f"asset {key!r} of product {view.id} is not a file in the product's folder "
                f"({path}); `yamasat catalog validate` checks the products"
            )
        return path

    def municipality_rows(self, view: ProductView) -> list[dict[str, str]]:
        """The per-municipality table (the ``municipalities`` CSV asset), or [] without one."""
        try:
            path = self.asset_path(view, "municipalities")
        except UnknownProductError:
            return []
        text = path.read_text(encoding="utf-8-sig")
        return list(csv.DictReader(io.StringIO(text)))

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """The most recent runs, newest first."""
        return run_records(self.registry, limit=limit)

    def tally(self) -> Tally:
        """See :func:`checked_tally`."""
        return checked_tally(self.settings, self.registry, self.checks)
