"""Finishing a product: coverage gate, polygons, municipality table, quicklook, STAC, publish.

Every product kind (change, flood, landslide, burn) ends the same way: its main uint8 COG
(1 detected, 0 not, 255 no valid observation) and any extra assets are already written in a
staging folder; :func:`finalize` measures the valid coverage, refuses to publish below the
configured threshold, vectorises, tabulates per municipality, draws the quicklook, builds the
STAC item and renames the folder into the output catalog.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pystac
from odc.geo.geobox import GeoBox

from ..catalogs.extent.boundaries import Boundaries, load_boundaries
from ..catalogs.extent.reference_map import reference_areas
from ..catalogs.products.by_municipality import municipality_rows, polygons, write_table
from ..catalogs.products.draft import (
    KEPT,
    Draft,
    draft_from_kept,
    keep_for_resume,
    read_kept_manifest,
)
from ..catalogs.products.items import item_folder, publish_item
from ..catalogs.products.publishing import product_spec, publish_draft
from ..catalogs.registry.evidence import catalog_items, verify_files, verify_item
from ..errors import BoundariesMissingError, OutputExistsError, YamasatError
from ..processing.grid import project_geobox
from ..processing.quicklook import quicklook_from_cog
from ..processing.vectors import EnrichPolygons
from ..processing.write import WrittenFile, write_parquet
from ..processing.zonal import class_counts
from .checkpoints import Checkpoints
from .prepare import Prepared, product_id, software_version
from .progress import report
from .signals import publishing
from .staging import claim_staging, release_staging

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


def existing_product(prep: Prepared, kind: str, item_id: str) -> ProductOutcome | None:
    """The outcome ``exists`` when the product is already published and verifies, else None.

    A product folder that exists but does not verify (missing file, checksum differs, no item)
    raises :class:`OutputExistsError` with the reasons: nothing is overwritten without
    ``--force``.
    """
    final = item_folder(prep.out_root, kind, item_id)
    if not final.exists():
        return None
    item_json = final / f"{item_id}.json"
    if not item_json.exists() and not _catalogued(prep.out_root, item_json):
        # a publish cut short (killed after the move, before the catalog was written): not
        # a product; the caller holds the product's lock, so no other run is publishing it
        log.warning("%s has no item and is not in the catalog: a publish cut short, "
                    "removed; the product is made again", final)  # fmt: skip
        shutil.rmtree(final)
        return None
    check = verify_item(item_json)
    if not check.ok or check.item is None:
        raise OutputExistsError(
            f"product {item_id} exists at {final} but does not verify "
            f"({'; '.join(check.problems)}); pass --force to recompute it"
        )
    if not _catalogued(prep.out_root, item_json):  # cut short while writing the catalog
        log.warning("%s verifies but is not in the catalog: added", item_json)
        publish_item(pystac.Item.from_dict(dict(check.item)), prep.out_root)
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


def _catalogued(out_root: Path, item_json: Path) -> bool:
    """True when the catalog at ``out_root`` lists the item ``item_json``."""
    try:
        return item_json.resolve() in catalog_items(out_root)
    except YamasatError:  # no catalog yet, or one that cannot be read
        return False


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
                keep_for_resume(draft, checkpoints.folder / KEPT / draft.item_id)
            except Exception as e:  # never mask the failure itself
                log.warning("could not keep the rasters of %s for a resume: %s", draft.item_id, e)
        raise
    else:
        if checkpoints is not None:
            for kept in checkpoints.folder.parent.glob(f"*/{KEPT}/{draft.item_id}"):
                shutil.rmtree(kept, ignore_errors=True)
    finally:
        release_staging(draft.staging)


def resumed_draft(
    kind: str, item_id: str, staging: Path, geobox: GeoBox, checkpoints: Checkpoints | None
) -> Draft | None:
    """The draft a failed run of this lineage left with all its rasters written, linked into
    ``staging`` once the grid matches and every file's size and checksum verify; None when
    there is none or it does not verify (the rasters are then computed again). The kept
    files are removed when the product is published (:func:`staged`)."""
    if checkpoints is None:
        return None
    folder = checkpoints.folder / KEPT / item_id
    if not folder.is_dir():
        return None
    try:
        manifest = read_kept_manifest(folder, kind, item_id, geobox)
        if problems := verify_files(manifest["files"]):
            raise ValueError("; ".join(problems))
    except (OSError, KeyError, TypeError, ValueError) as e:
        log.warning("kept rasters of %s not used (%s): computing them again", item_id, e)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    draft = draft_from_kept(manifest, staging, geobox)
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
    return claim_staging(prep.out_root, item_id)  # staging of killed runs swept first


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
    grid = prep.settings.grid
    item_id = product_id(kind, prep, inputs, params)
    if not force and (done := existing_product(prep, kind, item_id)) is not None:
        return done
    # a stop from here on: the caller releases this process's staging of the product
    # (:func:`yamasat.flows.staging.release_own_staging`), wherever it landed
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
    enrich: EnrichPolygons | None = None,
) -> ProductOutcome:
    """Polygons, table, quicklook, STAC and publishing, once every raster is written (or
    taken from a resumed run's checkpoint: ``inside`` None, the draft knows its size).
    ``inside`` is the lazy AOI mask on the draft's grid."""
    if inside is not None:
        draft.rasters_written(int(inside.sum().compute()))
    report("analyse", 3, 4)
    outcome = finalize(
        prep, draft, inside_px=draft.inside_px or 0, run_id=run_id, flow_name=flow_name,
        enrich=enrich,
    )  # fmt: skip
    report("analyse", 4, 4)
    return outcome


def _boundaries(prep: Prepared) -> Boundaries | None:
    try:
        return load_boundaries(prep.settings.boundaries.path)
    except BoundariesMissingError:
        return None


def quicklook(
    product: Path, out: Path, prep: Prepared, kind: str, boundaries: Boundaries | None = None
) -> WrittenFile:
    """A decimated picture of the product with the AOI outline, the municipalities (or the
    prefecture outline without boundaries), a bilingual title and legend."""
    title = (
        f"{_KIND_JA.get(kind, kind)} {kind} — {prep.aoi.name_ja} ({prep.aoi.name_en})\n"
        f"前 before {prep.before} → 後 after {prep.after}"
    )
    crs = prep.settings.grid.crs
    return quicklook_from_cog(
        product,
        out,
        title=title,
        outline=prep.aoi.geometry_in(crs),
        colour="#2166ac" if kind == "flood" else "#d7301f",
        reference=reference_areas(boundaries, crs),
        detected_label=f"検出 detected ({_KIND_JA.get(kind, kind)} {kind})",
    )


def finalize(
    prep: Prepared,
    draft: Draft,
    *,
    inside_px: int,
    run_id: str | None,
    flow_name: str,
    enrich: EnrichPolygons | None = None,
) -> ProductOutcome:
    """Gate on coverage, then add polygons, table, quicklook and STAC, and publish.

    ``draft.files[draft.kind]`` must be the main product COG. ``enrich`` may add per-object
    columns to the polygons (for example mean slope of landslide scars).
    """
    counts = class_counts(draft.files[draft.kind].path)
    valid_fraction = (counts[0] + counts[1]) / inside_px if inside_px else 0.0
    if valid_fraction < prep.settings.analytics.min_valid_fraction:
        shutil.rmtree(draft.staging, ignore_errors=True)
        return _insufficient(prep, draft, valid_fraction)
    pixel_area = float(abs(draft.geobox.affine.a * draft.geobox.affine.e))
    n_polygons, rows = _add_vectors_and_quicklook(prep, draft, pixel_area, enrich)
    detected = round(counts[1] * pixel_area, 1)
    spec = product_spec(
        draft,
        aoi=prep.aoi,
        before=prep.before,
        after=prep.after,
        source=prep.sources,
        flow_name=flow_name,
        software_version=software_version(),
        run_id=run_id,
        valid_fraction=valid_fraction,
        statistics={
            "detected_area_m2": detected,
            "n_polygons": n_polygons,
            "municipalities": rows,
            "qa": draft.qa,
            "warnings": draft.warnings,
        },
    )
    with publishing(draft.item_id):  # refused once a stop was asked (flows/signals.py)
        href, final = publish_draft(draft, spec, prep.out_root)
    return ProductOutcome(
        outcome="published",
        kind=draft.kind,
        item_id=draft.item_id,
        message=f"{draft.kind} product {draft.item_id} published",
        valid_fraction=round(valid_fraction, 4),
        threshold=draft.threshold,
        changed_area_m2=detected,
        n_polygons=n_polygons,
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


def _insufficient(prep: Prepared, draft: Draft, valid_fraction: float) -> ProductOutcome:
    minimum = prep.settings.analytics.min_valid_fraction
    return ProductOutcome(
        outcome="insufficient_data",
        kind=draft.kind,
        item_id=draft.item_id,
        message=(
            f"only {100 * valid_fraction:.1f} % of the AOI has a valid observation "
            f"(minimum {100 * minimum:.0f} %): no product "
            "published; widen the periods or choose less cloudy dates"
        ),
        valid_fraction=round(valid_fraction, 4),
        threshold=draft.threshold,
        warnings=draft.warnings,
        input_items=draft.inputs,
        qa=draft.qa,
    )


def _add_vectors_and_quicklook(
    prep: Prepared, draft: Draft, pixel_area: float, enrich: EnrichPolygons | None
) -> tuple[int, list[dict[str, Any]]]:
    """Write the polygons, the per-municipality table and the quicklook as assets of the
    draft; returns the number of polygons and the table's rows."""
    crs = prep.settings.grid.crs
    main = draft.files[draft.kind].path
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
        quicklook(main, draft.staging / "quicklook.png", prep, draft.kind, boundaries),
        "image/png",
        ("overview", "visual"),
        "Quicklook",
    )
    return len(gdf), rows


def summary_markdown(prep: Prepared, outcome: ProductOutcome) -> str:
    """Markdown summary of a product run, with the per-municipality table (ja/en)."""
    lines = [
        f"# {outcome.kind} — {prep.aoi.name_ja} ({prep.aoi.name_en})",
        "",
        f"- outcome: **{outcome.outcome}** — {outcome.message}",
        f"- before: {prep.before}; after: {prep.after}; source: {prep.sources.label}",
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
