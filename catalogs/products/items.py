"""Products as STAC: build an Item (pure) and publish it into the output catalog (I/O).

The output root is a STAC catalog (``<out>/catalog.json``) with one collection per product
kind (``change``, ``flood``, ``landslide``, ``burn``). An item's folder holds its assets, so
the catalog is self-contained and can be moved or served as is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pystac
from odc.geo.geobox import GeoBox

from ..sources.hrefs import safe_name

log = logging.getLogger(__name__)

__all__ = [
    "KIND_TITLES",
    "PROCESSING_SCHEMA",
    "AssetSpec",
    "AtomicStacIO",
    "ProductSpec",
    "catalog_lock",
    "item_folder",
    "product_item",
    "publish_item",
]

PROCESSING_SCHEMA = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
FILE_SCHEMA = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
PROJ_SCHEMA = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
RASTER_SCHEMA = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"

KIND_TITLES = {
    "change": "Land-cover change (ΔNDVI) / 土地被覆変化",
    "flood": "Flood extent / 浸水域",
    "landslide": "Landslide scars / 斜面崩壊",
    "burn": "Burn scars / 焼失域",
}


@dataclass(frozen=True)
class AssetSpec:
    """One written file to attach to a product item."""

    path: Path
    size: int
    sha256: str
    media_type: str
    roles: tuple[str, ...]
    title: str
    raster_bands: tuple[Mapping[str, Any], ...] = ()
    """``raster:bands`` entries (nodata, data_type, unit, ...) for raster assets"""


@dataclass(frozen=True)
class ProductSpec:
    """Everything an item records, so the product can be re-run from it."""

    kind: str
    item_id: str
    aoi_key: str
    aoi_name: str
    aoi_geometry_4326: Mapping[str, Any]
    before: str
    after: str
    datetime_range: tuple[dt.datetime, dt.datetime]
    geobox: GeoBox
    software_version: str
    flow_name: str
    parameters: Mapping[str, Any]
    input_items: Sequence[str]
    valid_fraction: float
    outcome: str
    statistics: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    source: str = ""
    synthetic_inputs: bool = False


def product_item(spec: ProductSpec, assets: Mapping[str, AssetSpec]) -> pystac.Item:
    """Build the STAC Item of a product (pure; hrefs are file names relative to the item)."""
    if safe_name(spec.item_id) != spec.item_id:
        raise ValueError(f"product id {spec.item_id!r} is not a safe file name")
    start, end = spec.datetime_range
    gb = spec.geobox
    geometry = dict(spec.aoi_geometry_4326)
    import shapely.geometry

    bbox = list(shapely.geometry.shape(geometry).bounds)
    props: dict[str, Any] = {
        "start_datetime": start.isoformat().replace("+00:00", "Z"),
        "end_datetime": end.isoformat().replace("+00:00", "Z"),
        "title": f"{KIND_TITLES.get(spec.kind, spec.kind)} — {spec.aoi_name}",
        "yamasat:kind": spec.kind,
        "yamasat:aoi": spec.aoi_key,
        "yamasat:aoi_name": spec.aoi_name,
        "yamasat:before": spec.before,
        "yamasat:after": spec.after,
        "yamasat:outcome": spec.outcome,
        "yamasat:valid_fraction": round(float(spec.valid_fraction), 6),
        "yamasat:statistics": dict(spec.statistics),
        "yamasat:source": spec.source,
        "yamasat:synthetic_inputs": spec.synthetic_inputs,
        "proj:code": f"EPSG:{gb.crs.epsg}" if gb.crs is not None and gb.crs.epsg else None,
        "proj:shape": [int(gb.shape.y), int(gb.shape.x)],
        "proj:transform": list(gb.affine)[:6],
        "processing:software": {"yamasat": spec.software_version},
        "processing:lineage": (
            f"{spec.flow_name}: {len(spec.input_items)} input items, parameters in "
            "yamasat:parameters"
        ),
        "processing:level": "L3",
        "yamasat:flow": spec.flow_name,
        "yamasat:parameters": dict(spec.parameters),
        "yamasat:input_items": list(spec.input_items),
    }
    if spec.run_id:
        props["yamasat:run_id"] = spec.run_id
    item = pystac.Item(
        id=spec.item_id,
        geometry=geometry,
        bbox=bbox,
        datetime=None,
        properties=props,
        stac_extensions=[PROJ_SCHEMA, RASTER_SCHEMA, FILE_SCHEMA, PROCESSING_SCHEMA],
    )
    for key, a in assets.items():
        extra: dict[str, Any] = {
            "file:size": int(a.size),
            "file:checksum": "1220" + a.sha256,
        }
        if a.raster_bands:
            extra["raster:bands"] = [dict(b) for b in a.raster_bands]
        item.add_asset(
            key,
            pystac.Asset(
                href=a.path.name,
                media_type=a.media_type,
                roles=list(a.roles),
                title=a.title,
                extra_fields=extra,
            ),
        )
    return item


def item_folder(out_root: Path, kind: str, item_id: str) -> Path:
    """Where a product's item JSON and assets live: ``<out>/<kind>/<safe item id>/``."""
    return Path(out_root) / safe_name(kind) / safe_name(item_id)


@contextlib.contextmanager
def catalog_lock(out_root: Path) -> Iterator[None]:
    """An exclusive lock on the output catalog (``fcntl.flock`` on ``<out>/.catalog.lock``)."""
    out_root.mkdir(parents=True, exist_ok=True)
    with (out_root / ".catalog.lock").open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _dt_or_none(item: pystac.Item, key: str) -> dt.datetime | None:
    value = item.properties.get(key)
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


class AtomicStacIO(pystac.stac_io.DefaultStacIO):
    """pystac I/O whose writes go to a temporary file, fsync, then rename (never half a JSON)."""

    def write_text_to_href(self, href: str, txt: str) -> None:
        path = Path(href)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with tmp.open("w", encoding="utf-8") as f:
            f.write(txt)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def _root_catalog(out_root: Path, io: pystac.StacIO) -> pystac.Catalog:
    path = out_root / "catalog.json"
    if path.is_file():
        return pystac.Catalog.from_file(str(path), stac_io=io)
    cat = pystac.Catalog(
        id="yamasat-products",
        description="Products of yamasat, the satellite-data pipeline of Yamaguchi Prefecture",
        title="yamasat products",
    )
    cat._stac_io = io
    return cat


def _keep_link(link: pystac.Link, item_id: str) -> bool:
    """Drop the link of the item being replaced, and links to items whose JSON is gone."""
    if link.rel != "item":
        return True
    target = link.get_absolute_href()
    if target is None:
        return True
    path = Path(target)
    if path.stem == item_id:
        return False
    if not path.is_file():
        log.warning("catalog entry %s points to a missing file; dropped from the catalog", path)
        return False
    return True


def publish_item(item: pystac.Item, out_root: Path) -> Path:
    """Add ``item`` (assets already written in its folder) to the catalog at ``out_root``.

    Creates the root catalog and the kind's collection when missing, replaces an item of the
    same id, updates the collection extent, and saves the catalog self-contained with atomic
    JSON writes under an exclusive lock. Returns the path of the item JSON.
    """
    out_root = Path(out_root).resolve()
    kind = str(item.properties["yamasat:kind"])
    folder = item_folder(out_root, kind, item.id)
    for asset in item.assets.values():
        asset.href = str(folder / Path(asset.href).name)
    io = AtomicStacIO()
    with catalog_lock(out_root):
        root = _root_catalog(out_root, io)
        coll = root.get_child(kind)
        if not isinstance(coll, pystac.Collection):
            coll = pystac.Collection(
                id=kind,
                description=f"yamasat {kind} products: {KIND_TITLES.get(kind, kind)}",
                extent=pystac.Extent(
                    pystac.SpatialExtent([list(item.bbox or [])]),
                    pystac.TemporalExtent([[_dt_or_none(item, "start_datetime"), None]]),
                ),
                license="CC-BY-4.0",
                title=KIND_TITLES.get(kind, kind),
            )
            root.add_child(coll)
        coll.links = [link for link in coll.links if _keep_link(link, item.id)]
        coll.add_item(item)
        coll.update_extent_from_items()
        root.normalize_hrefs(str(out_root))
        root.make_all_asset_hrefs_relative()
        root.save(catalog_type=pystac.CatalogType.SELF_CONTAINED, stac_io=io)
    href = item.get_self_href()
    return Path(href) if href else folder / f"{item.id}.json"
