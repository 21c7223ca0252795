"""Finishing a product: coverage gate, polygons, municipality table, quicklook, STAC, publish.

Every product kind (change, flood, landslide, burn) ends the same way: its main uint8 COG
(1 detected, 0 not, 255 no valid observation) and any extra assets are already written in a
staging folder; :func:`finalize` measures the valid coverage, refuses to publish below the
configured threshold, vectorises, tabulates per municipality, draws the quicklook, builds the
STAC item and renames the folder into the output catalog.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
from odc.geo.geobox import GeoBox
from rasterio.windows import Window

from ..catalogs.extent.boundaries import Boundaries, load_boundaries
from ..catalogs.extent.municipalities import by_code
from ..catalogs.products.items import (
    AssetSpec,
    ProductSpec,
    item_folder,
    product_item,
    publish_item,
)
from ..errors import BoundariesMissingError, OutputExistsError
from ..processing.product_codes import NODATA
from ..processing.write import WrittenFile, atomic_path, sha256_file
from .checkpoints import Checkpoints
from .prepare import Prepared, software_version

__all__ = [
    "Draft",
    "ProductOutcome",
    "existing_product",
    "finalize",
    "finish_draft",
    "float_band",
    "resumed_draft",
    "staged",
    "staging_folder",
    "start_draft",
    "summary_markdown",
]

log = logging.getLogger(__name__)

COG = "image/tiff; application=geotiff; profile=cloud-optimized"


def float_band(prep: Prepared, **extra: Any) -> dict[str, Any]:
    """The ``raster:bands`` entry of a measured float32 COG; with LERC, its error bound
    (``yamasat:max_error``) so a reader knows how close the stored values are."""
    band: dict[str, Any] = {"nodata": "nan", "data_type": "float32", **extra}
    if prep.settings.storage.float_max_error:
        band["yamasat:max_error"] = prep.settings.storage.float_max_error
    return band


_KIND_JA = {"change": "変化検出", "flood": "浸水域", "landslide": "斜面崩壊", "burn": "焼失域"}


@dataclass(frozen=True)
class ProductOutcome:
    """What a product run produced (JSON-safe through :meth:`as_dict`)."""

    outcome: str
    """``published``, ``exists`` (already published and verified: no work done) or
    ``insufficient_data``"""
    kind: str
    item_id: str
    message: str
    valid_fraction: float = 0.0
    threshold: float | None = None
    changed_area_m2: float = 0.0
    """detected area (m²)"""
    n_polygons: int = 0
    item_href: str | None = None
    folder: str | None = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    municipalities: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    input_items: list[str] = field(default_factory=list)
    qa: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Draft:
    """A product being assembled in its staging folder."""

    kind: str
    item_id: str
    staging: Path
    geobox: GeoBox
    inputs: list[str]
    parameters: dict[str, Any]
    files: dict[str, WrittenFile] = field(default_factory=dict)
    assets: dict[str, AssetSpec] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    qa: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None
    synthetic: bool = False
    rasters_done: bool = False
    """every raster is written and checked: what is left is :func:`finalize`"""
    inside_px: int | None = None
    """pixels of the grid inside the AOI (set with ``rasters_done``)"""
    warnings_at_rasters: list[str] = field(default_factory=list)
    """the warnings when the rasters were done (what a resumed :func:`finalize` starts from)"""

    def rasters_written(self, inside_px: int) -> None:
        """Every raster is written and checked; ``inside_px`` pixels of the grid are in the
        AOI. From here on a failure keeps the rasters for a resume (:func:`staged`)."""
        self.inside_px = inside_px
        self.rasters_done = True
        self.warnings_at_rasters = list(self.warnings)

    def add_cog(self, key: str, wf: WrittenFile, title: str, band: dict[str, Any]) -> None:
        """Record a written COG as an asset of the product."""
        self.files[key] = wf
        self.assets[key] = AssetSpec(wf.path, wf.size, wf.sha256, COG, ("data",), title, (band,))

    def add_file(
        self, key: str, wf: WrittenFile, media_type: str, roles: tuple[str, ...], title: str
    ) -> None:
        """Record another written file (table, picture) as an asset."""
        self.files[key] = wf
        self.assets[key] = AssetSpec(wf.path, wf.size, wf.sha256, media_type, roles, title)


def existing_product(prep: Prepared, kind: str, item_id: str) -> ProductOutcome | None:
    """The outcome ``exists`` when the product is already published and verifies, else None.

    A product folder that exists but does not verify (missing file, checksum differs, no item)
    raises :class:`OutputExistsError` with the reasons: nothing is overwritten without
    ``--force``.
    """
    from ..catalogs.registry.evidence import verify_item

    final = item_folder(prep.out_root, kind, item_id)
    if not final.exists():
        return None
    check = verify_item(final / f"{item_id}.json")
    if not check.ok or check.item is None:
        raise OutputExistsError(
            f"product {item_id} exists at {final} but does not verify "
            f"({'; '.join(check.problems)}); pass --force to recompute it"
        )
    props = check.item.get("properties", {})
    stats = props.get("yamasat:statistics", {})
    files = {
        key: {
            "path": str(final / Path(a["href"]).name),
            "sha256": str(a.get("file:checksum", ""))[4:],
            "size": a.get("file:size"),
        }
        for key, a in check.item.get("assets", {}).items()
    }
    return ProductOutcome(
        outcome="exists",
        kind=kind,
        item_id=item_id,
        message=(
            f"{kind} product {item_id} is already published and verifies: nothing to do "
            "(--force recomputes it)"
        ),
        valid_fraction=float(props.get("yamasat:valid_fraction", 0.0)),
        threshold=props.get("yamasat:parameters", {}).get("threshold_used"),
        changed_area_m2=float(stats.get("detected_area_m2", 0.0)),
        n_polygons=int(stats.get("n_polygons", 0)),
        item_href=check.item_href,
        folder=str(final),
        files=files,
        municipalities=list(stats.get("municipalities", [])),
        warnings=list(stats.get("warnings", [])),
        input_items=list(props.get("yamasat:input_items", [])),
        qa=dict(stats.get("qa", {})),
    )


@contextlib.contextmanager
def staged(draft: Draft, checkpoints: Checkpoints | None = None) -> Iterator[Draft]:
    """Work on ``draft``; its staging folder is removed afterwards, published or not (a
    published product's folder has already been renamed into the catalog by then).

    When the work fails after every raster was written (``draft.rasters_done``: polygons,
    quicklook, STAC or publishing failed), the rasters are kept in the run's ``checkpoints``
    so that a resumed run goes straight to :func:`finalize` (:func:`resumed_draft`). When it
    succeeds, rasters any run kept for this product are removed.
    """
    try:
        yield draft
    except BaseException:
        if checkpoints is not None and draft.rasters_done:
            try:
                _keep_for_resume(draft, checkpoints)
            except Exception as e:  # never mask the failure itself
                log.warning("could not keep the rasters of %s for a resume: %s", draft.item_id, e)
        raise
    else:
        if checkpoints is not None:
            for kept in checkpoints.folder.parent.glob(f"*/{_KEPT}/{draft.item_id}"):
                shutil.rmtree(kept, ignore_errors=True)
    finally:
        shutil.rmtree(draft.staging, ignore_errors=True)


_KEPT = "rasters"
"""checkpoint folder (per product) of the rasters of a run that failed after writing them"""
_MANIFEST = "draft.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


def _kept_folder(checkpoints: Checkpoints, item_id: str) -> Path:
    return checkpoints.folder / _KEPT / item_id


def _grid_of(geobox: GeoBox) -> dict[str, Any]:
    return {
        "crs": str(geobox.crs),
        "shape": [int(n) for n in geobox.shape],
        "affine": [float(v) for v in tuple(geobox.affine)[:6]],
    }


def _keep_for_resume(draft: Draft, checkpoints: Checkpoints) -> None:
    """Move the draft's COGs and a manifest into the kept folder; built aside and renamed
    into place, so a folder with a manifest is always complete."""
    final = _kept_folder(checkpoints, draft.item_id)
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    files = {}
    for key, wf in draft.files.items():
        spec = draft.assets[key]
        if spec.media_type != COG:  # tables and pictures: finalize makes them again
            continue
        name = wf.path.name
        if not _SAFE_NAME.match(name):
            raise ValueError(f"unexpected raster file name {name!r}")
        os.replace(wf.path, partial / name)  # same file system: the output root
        files[key] = {
            "name": name,
            "size": wf.size,
            "sha256": wf.sha256,
            "media_type": spec.media_type,
            "roles": list(spec.roles),
            "title": spec.title,
            "raster_bands": [dict(b) for b in spec.raster_bands],
        }
    manifest = {
        "kind": draft.kind,
        "item_id": draft.item_id,
        "grid": _grid_of(draft.geobox),
        "inputs": draft.inputs,
        "parameters": draft.parameters,
        "warnings": draft.warnings_at_rasters,
        "qa": draft.qa,
        "threshold": draft.threshold,
        "synthetic": draft.synthetic,
        "inside_px": draft.inside_px,
        "files": files,
    }
    tmp = partial / f".{_MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, default=str), encoding="utf-8")
    os.replace(tmp, partial / _MANIFEST)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(partial, final)
    log.info("kept the rasters of %s for a resume in %s", draft.item_id, final)


def resumed_draft(
    kind: str, item_id: str, staging: Path, geobox: GeoBox, checkpoints: Checkpoints | None
) -> Draft | None:
    """The draft a failed run of this lineage left with all its rasters written, linked into
    ``staging`` once the grid matches and every file's size and checksum verify; None when
    there is none or it does not verify (the rasters are then computed again). The kept
    files are removed when the product is published (:func:`staged`)."""
    if checkpoints is None:
        return None
    folder = _kept_folder(checkpoints, item_id)
    if not folder.is_dir():
        return None
    from ..catalogs.registry.evidence import verify_files

    try:
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
        if manifest["kind"] != kind or manifest["item_id"] != item_id:
            raise ValueError("they belong to another product")
        if manifest["grid"] != _grid_of(geobox):
            raise ValueError("the AOI's grid changed since they were written")
        for key, f in manifest["files"].items():
            if not _SAFE_NAME.match(str(f["name"])):
                raise ValueError(f"{key}: unexpected file name {f['name']!r}")
        problems = verify_files(
            {k: {**f, "path": folder / f["name"]} for k, f in manifest["files"].items()}
        )
        if problems:
            raise ValueError("; ".join(problems))
    except (OSError, KeyError, TypeError, ValueError) as e:
        log.warning("kept rasters of %s not used (%s): computing them again", item_id, e)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    draft = Draft(
        kind=kind,
        item_id=item_id,
        staging=staging,
        geobox=geobox,
        inputs=list(manifest["inputs"]),
        parameters=dict(manifest["parameters"]),
        warnings=list(manifest["warnings"]),
        qa=dict(manifest["qa"]),
        threshold=manifest["threshold"],
        synthetic=bool(manifest["synthetic"]),
    )
    for key, f in manifest["files"].items():
        path = staging / f["name"]
        os.link(folder / f["name"], path)  # the kept copy stays until the product is out
        wf = WrittenFile(path, int(f["size"]), str(f["sha256"]))
        draft.files[key] = wf
        draft.assets[key] = AssetSpec(
            path, wf.size, wf.sha256, f["media_type"], tuple(f["roles"]), f["title"],
            tuple(f["raster_bands"]),
        )  # fmt: skip
    draft.rasters_written(int(manifest["inside_px"]))
    log.info("resumed %s from the rasters a failed run of lineage %s wrote", item_id,
             checkpoints.lineage)  # fmt: skip
    return draft


def staging_folder(prep: Prepared, kind: str, item_id: str, *, force: bool) -> Path:
    """A fresh staging folder; refuses when the product exists and ``force`` is not given."""
    final = item_folder(prep.out_root, kind, item_id)
    if final.exists() and not force:
        raise OutputExistsError(
            f"product {item_id} already exists at {final}; pass --force to recompute it"
        )
    staging = prep.out_root / ".staging" / item_id
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def start_draft(
    prep: Prepared,
    kind: str,
    inputs: list[str],
    params: dict[str, Any],
    force: bool,
    *,
    synthetic: bool,
    warnings: list[str] | None = None,
    checkpoints: Checkpoints | None = None,
) -> Draft | ProductOutcome:
    """A draft in a fresh staging folder, or the ``exists`` outcome of a verified product;
    for a resumed run whose failed run wrote every raster, that draft (``rasters_done``)."""
    from ..processing.grid import project_geobox
    from .prepare import product_id

    grid = prep.settings.grid
    item_id = product_id(kind, prep, inputs, params)
    if not force and (done := existing_product(prep, kind, item_id)) is not None:
        return done
    staging = staging_folder(prep, kind, item_id, force=force)
    geobox = project_geobox(prep.aoi.geometry, crs=grid.crs, resolution=grid.resolution)
    if (resumed := resumed_draft(kind, item_id, staging, geobox, checkpoints)) is not None:
        return resumed
    return Draft(
        kind=kind,
        item_id=item_id,
        staging=staging,
        geobox=geobox,
        inputs=inputs,
        parameters=params,
        warnings=list(warnings or []),
        synthetic=synthetic,
    )


def finish_draft(
    prep: Prepared,
    draft: Draft,
    inside: Any,
    run_id: str | None,
    flow_name: str,
    enrich: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame] | None = None,
) -> ProductOutcome:
    """Polygons, table, quicklook, STAC and publishing, once every raster is written (or
    taken from a resumed run's checkpoint: ``inside`` None, the draft knows its size).
    ``inside`` is the lazy AOI mask on the draft's grid."""
    from .progress import report

    if inside is not None:
        draft.rasters_written(int(inside.sum().compute()))
    report("analyse", 3, 4)
    outcome = finalize(
        prep, draft, inside_px=draft.inside_px or 0, run_id=run_id, flow_name=flow_name,
        enrich=enrich,
    )  # fmt: skip
    report("analyse", 4, 4)
    return outcome


def class_counts(path: Path, *, block: int = 2048) -> tuple[int, int, int]:
    """Pixels equal to 0, 1 and 255 in a product COG, read block by block."""
    counts = np.zeros(3, dtype="int64")
    with rasterio.open(path) as src:
        for row in range(0, src.height, block):
            for col in range(0, src.width, block):
                win = Window(col, row, min(block, src.width - col), min(block, src.height - row))
                data = src.read(1, window=win)
                counts += [
                    np.count_nonzero(data == 0),
                    np.count_nonzero(data == 1),
                    np.count_nonzero(data == NODATA),
                ]
    return int(counts[0]), int(counts[1]), int(counts[2])


def _boundaries(prep: Prepared) -> Boundaries | None:
    try:
        return load_boundaries(prep.settings.boundaries.path)
    except BoundariesMissingError:
        return None


def municipality_rows(
    product: Path, crs: str, boundaries: Boundaries | None, pixel_area: float, gdf: gpd.GeoDataFrame
) -> list[dict[str, Any]]:
    """Affected area, share and valid coverage per municipality (ja/en), plus object counts."""
    from ..processing.zonal import zonal_counts_from_cog

    if boundaries is None:
        return []
    frame = boundaries.frame.to_crs(crs)
    zones = [(geom, i + 1) for i, geom in enumerate(frame.geometry)]
    counts = zonal_counts_from_cog(str(product), zones)
    objects = gdf["municipality_code"].value_counts().to_dict() if len(gdf) else {}
    rows = []
    for i, code in enumerate(frame["code"]):
        not_det, det, nodata = (int(v) for v in counts[i + 1])
        inside = not_det + det + nodata
        if det + not_det == 0:
            continue
        m = by_code(str(code))
        muni_area = float(frame.geometry.iloc[i].area)
        rows.append(
            {
                "code": str(code),
                "name_ja": m.name_ja if m else str(frame["name_ja"].iloc[i]),
                "name_en": m.name_en if m else "",
                "changed_area_m2": round(det * pixel_area, 1),
                "area_km2": round(det * pixel_area / 1e6, 4),
                "share_of_municipality": round(det * pixel_area / muni_area, 6)
                if muni_area
                else 0.0,
                "valid_coverage": round((det + not_det) / inside, 4) if inside else 0.0,
                "objects": int(objects.get(str(code), 0)),
            }
        )
    return rows


def polygons(product: Path, boundaries: Boundaries | None, crs: str) -> gpd.GeoDataFrame:
    """Polygons of the detected regions with area and municipality code and names."""
    from ..processing.vectors import polygons_from_cog

    gdf = polygons_from_cog(product)
    gdf["municipality_code"] = None
    gdf["municipality_ja"] = None
    gdf["municipality_en"] = None
    if boundaries is not None and len(gdf):
        zones = boundaries.frame.to_crs(crs)[["code", "geometry"]]
        points = gpd.GeoDataFrame(geometry=gdf.geometry.representative_point(), crs=gdf.crs)
        joined = gpd.sjoin(points, zones, how="left", predicate="within")
        joined = joined[~joined.index.duplicated(keep="first")]
        codes = joined["code"].reindex(gdf.index)
        gdf["municipality_code"] = codes.where(codes.notna(), None)
        munis = [by_code(c) if isinstance(c, str) else None for c in codes]
        gdf["municipality_ja"] = [m.name_ja if m else None for m in munis]
        gdf["municipality_en"] = [m.name_en if m else None for m in munis]
    gdf.insert(0, "id", range(1, len(gdf) + 1))
    return gdf


def write_parquet(gdf: gpd.GeoDataFrame, path: Path) -> WrittenFile:
    """GeoParquet written atomically and read back (refused if the CRS is lost)."""
    with atomic_path(path, overwrite=True) as tmp:
        gdf.to_parquet(tmp, index=False, compression="zstd", write_covering_bbox=False)
        if gpd.read_parquet(tmp).crs is None:
            raise OutputExistsError(f"GeoParquet {path} lost its CRS on read-back")
    return WrittenFile(path, path.stat().st_size, sha256_file(path))


def write_table(rows: list[dict[str, Any]], path: Path) -> WrittenFile:
    """The per-municipality table as UTF-8 CSV (with BOM, so spreadsheet software shows 日本語)."""
    cols = [
        "code",
        "name_ja",
        "name_en",
        "area_km2",
        "share_of_municipality",
        "valid_coverage",
        "objects",
    ]
    with (
        atomic_path(path, overwrite=True) as tmp,
        tmp.open("w", encoding="utf-8-sig", newline="") as f,
    ):
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return WrittenFile(path, path.stat().st_size, sha256_file(path))


def quicklook(product: Path, out: Path, prep: Prepared, kind: str) -> WrittenFile:
    """A decimated picture of the product with the AOI outline and a bilingual title."""
    from rasterio.enums import Resampling

    from ..processing.quicklook import render_quicklook

    with rasterio.open(product) as src:
        scale = max(1, int(max(src.height, src.width) / 1200))
        shape = (max(1, src.height // scale), max(1, src.width // scale))
        data = src.read(1, out_shape=shape, resampling=Resampling.nearest)
        b = src.bounds
    title = (
        f"{_KIND_JA.get(kind, kind)} {kind} — {prep.aoi.name_ja} ({prep.aoi.name_en})\n"
        f"before {prep.before} → after {prep.after}"
    )
    render_quicklook(
        data,
        (b.left, b.right, b.bottom, b.top),
        out,
        title=title,
        outline=prep.aoi.geometry_in(prep.settings.grid.crs),
        colour="#2166ac" if kind == "flood" else "#d7301f",
    )
    return WrittenFile(out, out.stat().st_size, sha256_file(out))


def finalize(
    prep: Prepared,
    draft: Draft,
    *,
    inside_px: int,
    run_id: str | None,
    flow_name: str,
    enrich: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame] | None = None,
) -> ProductOutcome:
    """Gate on coverage, then add polygons, table, quicklook and STAC, and publish.

    ``draft.files[draft.kind]`` must be the main product COG. ``enrich`` may add per-object
    columns to the polygons (for example mean slope of landslide scars).
    """
    settings = prep.settings
    kind = draft.kind
    main = draft.files[kind].path
    counts = class_counts(main)
    valid_fraction = (counts[0] + counts[1]) / inside_px if inside_px else 0.0
    if valid_fraction < settings.analytics.min_valid_fraction:
        shutil.rmtree(draft.staging, ignore_errors=True)
        return ProductOutcome(
            outcome="insufficient_data",
            kind=kind,
            item_id=draft.item_id,
            message=(
                f"only {100 * valid_fraction:.1f} % of the AOI has a valid observation "
                f"(minimum {100 * settings.analytics.min_valid_fraction:.0f} %): no product "
                "published; widen the periods or choose less cloudy dates"
            ),
            valid_fraction=round(valid_fraction, 4),
            threshold=draft.threshold,
            warnings=draft.warnings,
            input_items=draft.inputs,
            qa=draft.qa,
        )
    crs = settings.grid.crs
    pixel_area = float(abs(draft.geobox.affine.a * draft.geobox.affine.e))
    boundaries = _boundaries(prep)
    if boundaries is None:
        draft.warnings.append("no municipal boundaries configured: per-municipality table empty")
    gdf = polygons(main, boundaries, crs)
    if enrich is not None and len(gdf):
        gdf = enrich(gdf)
    draft.add_file(
        "polygons",
        write_parquet(gdf, draft.staging / "polygons.parquet"),
        "application/vnd.apache.parquet",
        ("data",),
        "Detected regions (GeoParquet, EPSG:6671): area_m2, municipality code and names",
    )
    rows = municipality_rows(main, crs, boundaries, pixel_area, gdf)
    draft.add_file(
        "municipalities",
        write_table(rows, draft.staging / "municipalities.csv"),
        "text/csv",
        ("metadata",),
        "Per-municipality table / 市町村別集計 (CSV, UTF-8)",
    )
    draft.add_file(
        "quicklook",
        quicklook(main, draft.staging / "quicklook.png", prep, kind),
        "image/png",
        ("overview", "visual"),
        "Quicklook",
    )
    detected = counts[1] * pixel_area
    spec = ProductSpec(
        kind=kind,
        item_id=draft.item_id,
        aoi_key=prep.aoi.key,
        aoi_name=f"{prep.aoi.name_ja} / {prep.aoi.name_en}",
        aoi_geometry_4326=_mapping(prep.aoi.geometry),
        before=str(prep.before),
        after=str(prep.after),
        datetime_range=(
            dt.datetime.combine(prep.before.start, dt.time(), dt.UTC),
            dt.datetime.combine(prep.after.end, dt.time(23, 59, 59), dt.UTC),
        ),
        geobox=draft.geobox,
        software_version=software_version(),
        flow_name=flow_name,
        parameters={
            **draft.parameters,
            "threshold_used": draft.threshold,
            "source": prep.source.name,
        },
        input_items=draft.inputs,
        valid_fraction=valid_fraction,
        outcome="published",
        statistics={
            "detected_area_m2": round(detected, 1),
            "n_polygons": len(gdf),
            "municipalities": rows,
            "qa": draft.qa,
            "warnings": draft.warnings,
        },
        run_id=run_id,
        source=prep.source.location,
        synthetic_inputs=draft.synthetic,
    )
    item = product_item(spec, draft.assets)
    final = item_folder(prep.out_root, kind, draft.item_id)
    if final.exists():
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    draft.staging.rename(final)
    href = publish_item(item, prep.out_root)
    return ProductOutcome(
        outcome="published",
        kind=kind,
        item_id=draft.item_id,
        message=f"{kind} product {draft.item_id} published",
        valid_fraction=round(valid_fraction, 4),
        threshold=draft.threshold,
        changed_area_m2=round(detected, 1),
        n_polygons=len(gdf),
        item_href=str(href),
        folder=str(final),
        files={
            k: {"path": str(final / v.path.name), "sha256": v.sha256, "size": v.size}
            for k, v in draft.files.items()
        },
        municipalities=rows,
        warnings=draft.warnings,
        input_items=draft.inputs,
        qa=draft.qa,
    )


def _mapping(geom: Any) -> dict[str, Any]:
    import shapely.geometry

    return dict(shapely.geometry.mapping(geom))


def summary_markdown(prep: Prepared, outcome: ProductOutcome) -> str:
    """Markdown summary of a product run, with the per-municipality table (ja/en)."""
    lines = [
        f"# {outcome.kind} — {prep.aoi.name_ja} ({prep.aoi.name_en})",
        "",
        f"- outcome: **{outcome.outcome}** — {outcome.message}",
        f"- before: {prep.before}; after: {prep.after}; source: {prep.source.name}",
        f"- valid coverage: {100 * outcome.valid_fraction:.1f} %",
    ]
    if outcome.threshold is not None:
        lines.append(f"- threshold used: {outcome.threshold:g}")
    if outcome.outcome in ("published", "exists"):
        lines += [
            f"- detected area: {outcome.changed_area_m2 / 1e6:.3f} km² "
            f"in {outcome.n_polygons} polygons",
            f"- STAC item: `{outcome.item_href}`",
        ]
        lines += [f"- {k}: `{v['path']}`" for k, v in outcome.files.items()]
    for key, value in outcome.qa.items():
        lines.append(f"- QA {key}: {value}")
    lines += [f"- ⚠ {w}" for w in outcome.warnings]
    if outcome.municipalities:
        lines += [
            "",
            "| code | 市町村 | municipality | km² | share | coverage | objects |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['code']} | {r['name_ja']} | {r['name_en']} | {r['area_km2']:.4f} "
            f"| {100 * r['share_of_municipality']:.3f} % | {100 * r['valid_coverage']:.1f} % "
            f"| {r['objects']} |"
            for r in outcome.municipalities
        ]
    return "\n".join(lines)
