"""Plain-Python steps of the product flows: prepare, search, analyse and publish.

Prefect tasks in the flow modules call these; tests call them directly. Each step takes and
returns small frozen values (ids, hrefs, item dicts), never arrays: the dask graph is built
and computed inside :func:`analyse_change`, at the write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pystac

from catalogs.aoi import AOI, resolve_aoi
from catalogs.boundaries import Boundaries, load_boundaries
from catalogs.errors import BoundariesMissingError, NoDataError, OutputExistsError
from catalogs.hrefs import HrefPolicy
from catalogs.municipalities import by_code
from catalogs.periods import Period, check_before_after, parse_period
from catalogs.products import AssetSpec, ProductSpec, item_folder, product_item, publish_item
from catalogs.profiles import scale_offset
from catalogs.settings import Settings
from catalogs.sources import NetworkPolicy, Source, resolve_source, search_items, vet_assets
from flows.progress import report
from processing.change_detection import NODATA, ChangeParams, change_measures, change_product
from processing.gdal_env import configure_gdal
from processing.grid import aoi_mask, project_geobox
from processing.load import load_s2, open_raster
from processing.threshold import Direction, change_threshold
from processing.write import CogSpec, WrittenFile, sha256_file, write_cogs

__all__ = [
    "ChangeOutcome",
    "Prepared",
    "analyse_change",
    "prepare",
    "search_family",
    "season_warnings",
]

log = logging.getLogger(__name__)

SOFTWARE = "yamasat"


def software_version() -> str:
    """The installed yamasat version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yamasat")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class Prepared:
    """Validated inputs of a run; made before any search."""

    settings: Settings
    aoi: AOI
    before: Period
    after: Period
    source: Source
    out_root: Path


def prepare(
    *,
    aoi: str,
    before: str,
    after: str,
    source: str,
    out: Path | None,
    settings: Settings,
    profile: str | None = None,
) -> Prepared:
    """Check periods, AOI and source; raises a clear error before any request is sent."""
    p_before = parse_period(before, what="before period")
    p_after = parse_period(after, what="after period")
    check_before_after(p_before, p_after)
    today = dt.datetime.now(dt.UTC).date()
    if p_after.start > today:
        raise NoDataError(f"the after period {p_after} lies in the future: no data can exist yet")
    area = resolve_aoi(aoi, boundaries_path=settings.boundaries.path)
    src = resolve_source(source, configured=dict(settings.sources), profile=profile)
    out_root = (out or settings.storage.output_root).resolve()
    return Prepared(settings, area, p_before, p_after, src, out_root)


def network_policy(settings: Settings) -> NetworkPolicy:
    """Timeouts and retries from ``network.*``."""
    n = settings.network
    return NetworkPolicy(timeout_s=n.timeout_s, max_retries=n.max_retries, backoff_s=n.backoff_s)


def href_policy(settings: Settings, source: Source) -> HrefPolicy:
    """The asset-href policy: configured roots, the sample root, and a local catalog's folder."""
    roots = [*settings.network.allowed_roots, settings.sample.root]
    if source.kind == "static" and not source.location.startswith(("http://", "https://")):
        roots.append(Path(source.location).parent)
    return HrefPolicy(
        allowed_roots=tuple(Path(r) for r in roots),
        allowed_http_hosts=tuple(settings.network.allowed_http_hosts),
    )


def search_family(
    prep: Prepared, family: str, period: Period, bands: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Search ``family`` items for ``period``; vet the hrefs of ``bands``; return item dicts."""
    items = search_items(
        prep.source,
        family=family,
        aoi=prep.aoi.geometry,
        period=period,
        policy=network_policy(prep.settings),
    )
    fam = prep.source.profile.family(family)
    vet_assets(items, [fam.asset_key(b) for b in bands], href_policy(prep.settings, prep.source))
    return [it.to_dict(include_self_link=False, transform_hrefs=False) for it in items]


def season_warnings(before: Period, after: Period) -> list[str]:
    """Warnings when the two periods are not in comparable seasons.

    Paddies in Yamaguchi are flooded for transplanting from May to June: comparing a period
    in that window with one outside it shows irrigation water as vegetation change.
    """

    def mid(p: Period) -> dt.date:
        return p.start + (p.end - p.start) / 2

    def in_irrigation(p: Period) -> bool:
        return any((p.start + dt.timedelta(days=d)).month in (5, 6) for d in range(0, p.days, 3))

    warnings = []
    gap = abs(mid(after).timetuple().tm_yday - mid(before).timetuple().tm_yday)
    gap = min(gap, 365 - gap)
    if gap > 45:
        warnings.append(
            f"before ({before}) and after ({after}) are {gap} days apart in the seasonal cycle: "
            "phenology may show up as change; compare the same season of two years"
        )
    if in_irrigation(before) != in_irrigation(after):
        warnings.append(
            "only one period falls in the paddy irrigation season (May–June): flooded paddies "
            "may be detected as change"
        )
    return warnings


@dataclass(frozen=True)
class ChangeOutcome:
    """What a change run produced (JSON-safe through :meth:`as_dict`)."""

    outcome: str
    """``published``, ``insufficient_data`` or ``exists``"""
    item_id: str
    message: str
    valid_fraction: float = 0.0
    threshold: float | None = None
    changed_area_m2: float = 0.0
    n_polygons: int = 0
    item_href: str | None = None
    folder: str | None = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    municipalities: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    input_items: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def product_id(kind: str, prep: Prepared, inputs: list[str], params: dict[str, Any]) -> str:
    """Deterministic identity of a product: kind, AOI, periods, inputs, parameters, version."""
    key = json.dumps(
        {
            "kind": kind,
            "aoi": prep.aoi.key,
            "before": str(prep.before),
            "after": str(prep.after),
            "inputs": sorted(inputs),
            "params": params,
            "grid": [prep.settings.grid.crs, prep.settings.grid.resolution],
            "version": software_version(),
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    aoi = "".join(c if c.isalnum() else "-" for c in prep.aoi.key)[:40]
    return f"{kind}-{aoi}-{prep.after.start:%Y%m%d}-{digest}"


def _boundaries(settings: Settings) -> Boundaries | None:
    try:
        return load_boundaries(settings.boundaries.path)
    except BoundariesMissingError:
        return None


def _zonal_rows(
    change_path: Path, crs: str, boundaries: Boundaries | None, pixel_area: float
) -> list[dict[str, Any]]:
    from processing.zonal import zonal_counts_from_cog

    if boundaries is None:
        return []
    frame = boundaries.frame.to_crs(crs)
    zones = [(geom, i + 1) for i, geom in enumerate(frame.geometry)]
    counts = zonal_counts_from_cog(str(change_path), zones)
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
                "share_of_municipality": round(det * pixel_area / muni_area, 6)
                if muni_area
                else 0.0,
                "valid_coverage": round((det + not_det) / inside, 4) if inside else 0.0,
            }
        )
    return rows


def _polygons(change_path: Path, boundaries: Boundaries | None, crs: str) -> Any:
    import geopandas as gpd

    from processing.vectors import polygons_from_cog

    gdf = polygons_from_cog(change_path)
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


def _write_parquet(gdf: Any, path: Path) -> WrittenFile:
    import geopandas as gpd

    from processing.write import atomic_path

    with atomic_path(path, overwrite=True) as tmp:
        gdf.to_parquet(tmp, index=False, compression="zstd", write_covering_bbox=False)
        back = gpd.read_parquet(tmp)
        if back.crs is None:
            raise OutputExistsError(f"GeoParquet {path} lost its CRS on read-back")
    return WrittenFile(path, path.stat().st_size, sha256_file(path))


def _otsu_from_cog(path: Path, direction: Direction) -> float:
    """Two-stage Otsu threshold estimated on a decimated read (overviews) of the measure."""
    import rasterio
    import xarray as xr

    with rasterio.open(path) as src:
        scale = max(1, int(max(src.height, src.width) / 2048))
        data = src.read(1, out_shape=(src.height // scale, src.width // scale))
    return round(change_threshold(xr.DataArray(data), direction=direction), 4)


def analyse_change(
    prep: Prepared,
    before_items: list[dict[str, Any]],
    after_items: list[dict[str, Any]],
    *,
    params: ChangeParams,
    force: bool = False,
    run_id: str | None = None,
    flow_name: str = "change_detection",
) -> ChangeOutcome:
    """Load, compute and write the change product into a staging folder, then publish it.

    Never publishes when the valid coverage of the AOI is below
    ``analytics.min_valid_fraction``: the outcome is then ``insufficient_data``.
    """
    settings = prep.settings
    net = settings.network
    configure_gdal(
        timeout_s=net.timeout_s, max_retries=net.max_retries, retry_delay_s=net.backoff_s
    )
    b_items = [pystac.Item.from_dict(d) for d in before_items]
    a_items = [pystac.Item.from_dict(d) for d in after_items]
    inputs = [it.id for it in b_items + a_items]
    p_dict = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(params).items()}
    item_id = product_id("change", prep, inputs, p_dict)
    final = item_folder(prep.out_root, "change", item_id)
    if final.exists() and not force:
        raise OutputExistsError(
            f"product {item_id} already exists at {final}; pass --force to recompute it"
        )
    warnings = season_warnings(prep.before, prep.after)
    grid = settings.grid
    geobox = project_geobox(prep.aoi.geometry, crs=grid.crs, resolution=grid.resolution)
    fam = prep.source.profile.family("s2")
    common = {
        "assets": fam.assets,
        "geobox": geobox,
        "scale_fn": scale_offset,
        "bands": params.bands(),
        "chunk": grid.chunk_size,
        "mask_classes": tuple(settings.masking.scl_mask_classes),
        "dilation_px": settings.masking.dilation_px,
    }
    report("analyse", 0, 4)
    before_ds = load_s2(b_items, **common)  # type: ignore[arg-type]
    after_ds = load_s2(a_items, **common)  # type: ignore[arg-type]
    measures = change_measures(before_ds, after_ds, params)
    inside = aoi_mask(geobox, prep.aoi.geometry, chunk=grid.chunk_size)
    delta = measures.measure.where(measures.valid & inside)
    staging = prep.out_root / ".staging" / item_id
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        measure_name = (
            "dndvi" if not params.cva_bands and params.index == "ndvi" else f"d{params.index}"
        )
        if params.cva_bands:
            measure_name = "cva"
        files: dict[str, WrittenFile] = {}
        delta_path = staging / f"{measure_name}.tif"
        files[measure_name] = write_cogs(
            {
                delta_path: (
                    delta,
                    CogSpec(nodata=float("nan"), dtype="float32", resampling="average"),
                )
            },
            geobox=geobox,
            tags={"software": f"{SOFTWARE} {software_version()}"},
        )[delta_path]
        report("analyse", 1, 4)
        threshold = (
            _otsu_from_cog(delta_path, params.direction)
            if params.threshold == "otsu"
            else float(params.threshold)
        )
        stored = open_raster(str(delta_path), geobox=geobox, chunk=grid.chunk_size)
        product = change_product(
            stored,
            stored.notnull(),
            threshold=threshold,
            direction=params.direction,
            min_mapping_unit_px=params.min_mapping_unit_px,
        )
        product = product.where(inside, NODATA).astype("uint8")
        change_path = staging / "change.tif"
        files["change"] = write_cogs(
            {change_path: (product, CogSpec(nodata=NODATA, dtype="uint8"))}, geobox=geobox
        )[change_path]
        report("analyse", 2, 4)
        inside_px = int(inside.sum().compute())
        counts = _class_counts(change_path)
        pixel_area = float(abs(geobox.affine.a * geobox.affine.e))
        valid_fraction = (counts[0] + counts[1]) / inside_px if inside_px else 0.0
        if valid_fraction < settings.analytics.min_valid_fraction:
            shutil.rmtree(staging, ignore_errors=True)
            return ChangeOutcome(
                outcome="insufficient_data",
                item_id=item_id,
                message=(
                    f"only {100 * valid_fraction:.1f} % of the AOI has a valid observation in both "
                    f"periods (minimum {100 * settings.analytics.min_valid_fraction:.0f} %): "
                    "no product published; widen the periods or choose less cloudy dates"
                ),
                valid_fraction=valid_fraction,
                threshold=threshold,
                warnings=warnings,
                input_items=inputs,
            )
        report("analyse", 3, 4)
        boundaries = _boundaries(settings)
        gdf = _polygons(change_path, boundaries, grid.crs)
        files["polygons"] = _write_parquet(gdf, staging / "polygons.parquet")
        municipalities = _zonal_rows(change_path, grid.crs, boundaries, pixel_area)
        ql = staging / "quicklook.png"
        _quicklook(change_path, ql, prep, title_kind="変化検出 change")
        files["quicklook"] = WrittenFile(ql, ql.stat().st_size, sha256_file(ql))
        changed = counts[1] * pixel_area
        spec = ProductSpec(
            kind="change",
            item_id=item_id,
            aoi_key=prep.aoi.key,
            aoi_name=f"{prep.aoi.name_ja} / {prep.aoi.name_en}",
            aoi_geometry_4326=_mapping(prep.aoi.geometry),
            before=str(prep.before),
            after=str(prep.after),
            datetime_range=(
                dt.datetime.combine(prep.before.start, dt.time(), dt.UTC),
                dt.datetime.combine(prep.after.end, dt.time(23, 59, 59), dt.UTC),
            ),
            geobox=geobox,
            software_version=software_version(),
            flow_name=flow_name,
            parameters={**p_dict, "threshold_used": threshold, "source": prep.source.name},
            input_items=inputs,
            valid_fraction=valid_fraction,
            outcome="published",
            statistics={
                "changed_area_m2": round(changed, 1),
                "n_polygons": len(gdf),
                "municipalities": municipalities,
            },
            run_id=run_id,
            source=prep.source.location,
            synthetic_inputs=any(
                it.properties.get("yamasat:synthetic") for it in b_items + a_items
            ),
        )
        item = product_item(spec, _asset_specs(files, measure_name))
        if final.exists():
            shutil.rmtree(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(final)
        href = publish_item(item, prep.out_root)
        report("analyse", 4, 4)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ChangeOutcome(
        outcome="published",
        item_id=item_id,
        message=f"change product {item_id} published",
        valid_fraction=round(valid_fraction, 4),
        threshold=threshold,
        changed_area_m2=round(changed, 1),
        n_polygons=len(gdf),
        item_href=str(href),
        folder=str(final),
        files={
            k: {"path": str(final / v.path.name), "sha256": v.sha256, "size": v.size}
            for k, v in files.items()
        },
        municipalities=municipalities,
        warnings=warnings,
        input_items=inputs,
    )


def _class_counts(path: Path) -> tuple[int, int, int]:
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    counts = np.zeros(3, dtype="int64")
    with rasterio.open(path) as src:
        for row in range(0, src.height, 2048):
            for col in range(0, src.width, 2048):
                win = Window(col, row, min(2048, src.width - col), min(2048, src.height - row))
                data = src.read(1, window=win)
                counts += [
                    np.count_nonzero(data == 0),
                    np.count_nonzero(data == 1),
                    np.count_nonzero(data == NODATA),
                ]
    return int(counts[0]), int(counts[1]), int(counts[2])


def _mapping(geom: Any) -> dict[str, Any]:
    import shapely.geometry

    return dict(shapely.geometry.mapping(geom))


def _quicklook(change_path: Path, out: Path, prep: Prepared, *, title_kind: str) -> None:
    import rasterio
    from rasterio.enums import Resampling

    from processing.quicklook import render_quicklook

    with rasterio.open(change_path) as src:
        scale = max(1, int(max(src.height, src.width) / 1200))
        data = src.read(
            1,
            out_shape=(max(1, src.height // scale), max(1, src.width // scale)),
            resampling=Resampling.nearest,
        )
        b = src.bounds
    outline = prep.aoi.geometry_in(prep.settings.grid.crs)
    title = (
        f"{title_kind} — {prep.aoi.name_ja} ({prep.aoi.name_en})\n"
        f"before {prep.before} → after {prep.after}"
    )
    render_quicklook(data, (b.left, b.right, b.bottom, b.top), out, title=title, outline=outline)


def _asset_specs(files: dict[str, WrittenFile], measure_name: str) -> dict[str, AssetSpec]:
    cog = "image/tiff; application=geotiff; profile=cloud-optimized"
    out = {
        "change": AssetSpec(
            files["change"].path,
            files["change"].size,
            files["change"].sha256,
            cog,
            ("data",),
            "Change: 1 detected, 0 not detected, 255 no valid observation",
            ({"nodata": NODATA, "data_type": "uint8", "spatial_resolution": 10},),
        ),
        measure_name: AssetSpec(
            files[measure_name].path,
            files[measure_name].size,
            files[measure_name].sha256,
            cog,
            ("data",),
            f"{measure_name} (after − before)",
            ({"nodata": "nan", "data_type": "float32", "unit": "1"},),
        ),
        "polygons": AssetSpec(
            files["polygons"].path,
            files["polygons"].size,
            files["polygons"].sha256,
            "application/vnd.apache.parquet",
            ("data",),
            "Changed regions (GeoParquet, area_m2, municipality)",
        ),
        "quicklook": AssetSpec(
            files["quicklook"].path,
            files["quicklook"].size,
            files["quicklook"].sha256,
            "image/png",
            ("overview", "visual"),
            "Quicklook",
        ),
    }
    return out
