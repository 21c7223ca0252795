"""A small world for the web view's tests: two published products over Hofu (one registered
as a counted solution's evidence, one only in the catalog), solutions counted and not, and
recorded runs (one completed, one failed), all through the real publishing, registry and CLI
code. The change product plants a 1 km square of detected pixels whose corners the map test
looks for in a screenshot."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FLOOD_SQUARE", "SQUARE", "WebWorld", "build_web_world"]

#: grid of the change product (EPSG:6671, 10 m): 300 × 300 px, upper-left corner
ORIGIN = (-56_000.0, -214_500.0)  # inside Hofu (35206)
SIZE = 300
RES = 10.0
#: the planted square of detected pixels: rows/cols [row0, row1) × [col0, col1)
SQUARE = (100, 200, 120, 220)
#: the flood product's square, away from the change product's
FLOOD_SQUARE = (20, 60, 240, 290)
#: columns without a valid observation (255)
NODATA_COLS = 30


@dataclass(frozen=True)
class WebWorld:
    """What the tests look for."""

    out: Path
    change_id: str
    flood_id: str
    square_4326: tuple[tuple[float, float], ...]
    """corners of the planted square (lon, lat): upper-left, upper-right, lower-right,
    lower-left"""
    failed_run: str
    completed_run: str


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_cog(path: Path, data: np.ndarray) -> None:
    import rasterio
    import rasterio.shutil
    from rasterio.transform import from_origin

    tmp = path.with_name(".plain.tif")
    profile = {
        "driver": "GTiff", "width": SIZE, "height": SIZE, "count": 1, "dtype": "uint8",
        "crs": "EPSG:6671", "transform": from_origin(*ORIGIN, RES, RES), "nodata": 255,
    }  # fmt: skip
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    rasterio.shutil.copy(tmp, path, driver="COG", overview_resampling="nearest")
    tmp.unlink()


def _png(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buf, format="PNG")
    return buf.getvalue()


def _corners_4326() -> tuple[tuple[float, float], ...]:
    import pyproj

    tr = pyproj.Transformer.from_crs("EPSG:6671", "EPSG:4326", always_xy=True)
    r0, r1, c0, c1 = SQUARE
    x0, y0 = ORIGIN
    xs = (x0 + c0 * RES, x0 + c1 * RES)
    ys = (y0 - r0 * RES, y0 - r1 * RES)
    pts = [(xs[0], ys[0]), (xs[1], ys[0]), (xs[1], ys[1]), (xs[0], ys[1])]
    return tuple(tr.transform(x, y) for x, y in pts)


def _publish(out: Path, kind: str, tag: str, *, run_id: str, municipalities: bool) -> str:
    from odc.geo.geobox import GeoBox

    from yamasat.catalogs.products.items import (
        AssetSpec,
        ProductSpec,
        item_folder,
        product_item,
        publish_item,
    )

    item_id = f"{kind}-web-{tag}"
    folder = item_folder(out, kind, item_id)
    folder.mkdir(parents=True, exist_ok=True)
    data = np.zeros((SIZE, SIZE), dtype="uint8")
    r0, r1, c0, c1 = SQUARE if kind == "change" else FLOOD_SQUARE
    data[r0:r1, c0:c1] = 1
    data[:, :NODATA_COLS] = 255
    cog = folder / f"{kind}.tif"
    _write_cog(cog, data)
    ql = folder / "quicklook.png"
    ql.write_bytes(_png((200, 40, 160)))
    band = {"nodata": 255, "data_type": "uint8"}
    files = {
        kind: AssetSpec(cog, cog.stat().st_size, _sha(cog), "image/tiff; application=geotiff; "
                        "profile=cloud-optimized", ("data",), f"{kind} 1/0/255", (band,)),
        "quicklook": AssetSpec(ql, ql.stat().st_size, _sha(ql), "image/png", ("overview",),
                               "Quicklook"),
    }  # fmt: skip
    area = float((data == 1).sum()) * RES * RES
    rows = []
    if municipalities:
        csv_path = folder / "municipalities.csv"
        header = "code,name_ja,name_en,area_km2,share_of_municipality,valid_coverage,objects\n"
        line = f"35206,防府市,Hofu City,{area / 1e6:.4f},0.0051,0.9000,1\n"
        csv_path.write_text("\ufeff" + header + line, encoding="utf-8")
        files["municipalities"] = AssetSpec(
            csv_path, csv_path.stat().st_size, _sha(csv_path), "text/csv", ("metadata",),
            "Per-municipality table / 市町村別集計 (CSV, UTF-8)",
        )  # fmt: skip
        rows = [{"code": "35206", "name_ja": "防府市", "name_en": "Hofu City"}]
    gb = GeoBox.from_bbox(
        (ORIGIN[0], ORIGIN[1] - SIZE * RES, ORIGIN[0] + SIZE * RES, ORIGIN[1]),
        crs="EPSG:6671",
        resolution=RES,
    )
    footprint = gb.extent.to_crs("EPSG:4326").geom.__geo_interface__
    spec = ProductSpec(
        kind=kind,
        item_id=item_id,
        aoi_key="hofu",
        aoi_name="防府市 / Hofu City",
        aoi_geometry_4326=footprint,
        before="2025-08-01/2025-08-31",
        after="2025-09-15/2025-09-30" if kind == "change" else "2025-07-01/2025-07-10",
        datetime_range=(
            dt.datetime(2025, 8, 1, tzinfo=dt.UTC),
            dt.datetime(2025, 9, 30, 23, 59, 59, tzinfo=dt.UTC),
        ),
        geobox=gb,
        software_version="0.1.0",
        flow_name="change_detection" if kind == "change" else "flood_mapping",
        parameters={"threshold": "otsu", "min_mapping_unit_px": 10, "threshold_used": -0.3765},
        input_items=["S2C_T52SGC_20250818T020701_L2A", "S2B_T52SGC_20250922T020701_L2A"],
        valid_fraction=0.9,
        outcome="published",
        statistics={
            "detected_area_m2": area,
            "n_polygons": 1,
            "municipalities": rows,
            "qa": {"threshold_from_otsu": True},
            "warnings": ["a planted test warning"],
        },
        run_id=run_id,
        source="sample",
        synthetic_inputs=True,
    )
    publish_item(product_item(spec, files), out)
    return item_id


def build_web_world(out: Path) -> WebWorld:
    """Products, solutions and runs under ``out`` (``YAMASAT_STORAGE__OUTPUT_ROOT`` must point
    there). Solutions go in through the CLI, as a user adds them."""
    from yamasat.catalogs.registry import Registry
    from yamasat.catalogs.registry.run_records import finish_run_record, start_run_record
    from yamasat.flows.cli import run

    out.mkdir(parents=True, exist_ok=True)
    done, failed = "11111111-aaaa-4bbb-8ccc-000000000001", "22222222-aaaa-4bbb-8ccc-000000000002"
    change_id = _publish(out, "change", "hofu", run_id=done, municipalities=True)
    flood_id = _publish(out, "flood", "hofu", run_id=done, municipalities=False)
    item = out / "change" / change_id / f"{change_id}.json"
    commands: list[list[str]] = [
        ["solutions", "add", "hofu-solar", "--org", "防府データ株式会社", "--name-ja",
         "太陽光発電所の把握", "--name-en", "Solar farm watch", "--status", "developed",
         "--developed-on", "2025-10-01", "--theme", "land"],
        ["solutions", "add", "ube-idea", "--org", "宇部データ株式会社", "--name-en", "Idea"],
        ["solutions", "add", "hagi-proto", "--org", "萩データ合同会社", "--name-en", "Proto",
         "--status", "developed", "--developed-on", "2025-06-01"],
        ["solutions", "attach", "hofu-solar", str(item), "--by", "test"],
    ]  # fmt: skip
    for args in commands:
        code = run(args)
        if code != 0:
            raise RuntimeError(f"yamasat {' '.join(args)} exited {code}")
    with Registry.open(f"sqlite:///{out / 'registry.sqlite'}") as reg:
        start_run_record(reg, done, flow="change_detection", software_version="0.1.0",
                         parameters={"aoi": "hofu"}, aoi="hofu")  # fmt: skip
        finish_run_record(reg, done, state="completed", outcome="published",
                          products=[change_id, flood_id])  # fmt: skip
        start_run_record(reg, failed, flow="flood_mapping", software_version="0.1.0",
                         parameters={"aoi": "ube"}, aoi="ube")  # fmt: skip
        finish_run_record(reg, failed, state="failed", reason="no_data",
                          message="no Sentinel-1 scene over ube in 2025-07")  # fmt: skip
    return WebWorld(out, change_id, flood_id, _corners_4326(), failed, done)
