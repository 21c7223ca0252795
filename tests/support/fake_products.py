"""Tiny products for registry tests: a real 16×16 COG + quicklook published as a STAC item,
and light registry entries for concurrency tests (run in worker processes by ``main``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from yamasat.catalogs.registry.evidence import ProductEntry

__all__ = ["fake_entry", "main", "publish_fake_product"]

# a 1×1 white PNG
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d6a4f00000000049454e44ae426082"
)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def publish_fake_product(
    out_root: Path, tag: str, *, kind: str = "change", run_id: str | None = "run-1"
) -> dict[str, Any]:
    """Write and publish a product (as the flows do) but do not register it.

    Returns a ``ChangeOutcome.as_dict()``-like dict: outcome, item_id, item_href, files.
    """
    import rasterio
    import rasterio.shutil
    from odc.geo.geobox import GeoBox
    from rasterio.transform import from_origin

    from yamasat.catalogs.products.items import (
        AssetSpec,
        ProductSpec,
        item_folder,
        product_item,
        publish_item,
    )

    item_id = f"{kind}-test-{tag}"
    folder = item_folder(out_root, kind, item_id)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / ".plain.tif"
    data = (np.arange(256, dtype="uint8").reshape(16, 16) % 3).astype("uint8")
    profile = {
        "driver": "GTiff", "width": 16, "height": 16, "count": 1, "dtype": "uint8",
        "crs": "EPSG:6671", "transform": from_origin(0, 160, 10, 10), "nodata": 255,
    }  # fmt: skip
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    cog = folder / f"{kind}.tif"
    rasterio.shutil.copy(tmp, cog, driver="COG")
    tmp.unlink()
    ql = folder / "quicklook.png"
    ql.write_bytes(_PNG)
    files = {
        kind: AssetSpec(cog, cog.stat().st_size, _sha(cog), "image/tiff", ("data",), "product"),
        "quicklook": AssetSpec(ql, ql.stat().st_size, _sha(ql), "image/png", ("overview",), "ql"),
    }
    ring = [[131.0, 34.0], [131.1, 34.0], [131.1, 34.1], [131.0, 34.1], [131.0, 34.0]]
    geom = {"type": "Polygon", "coordinates": [ring]}
    spec = ProductSpec(
        kind=kind,
        item_id=item_id,
        aoi_key="test-aoi",
        aoi_name="テスト / test",
        aoi_geometry_4326=geom,
        before="2024-05-01/2024-05-31",
        after="2025-05-01/2025-05-31",
        datetime_range=(
            dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
            dt.datetime(2025, 5, 31, 23, 59, 59, tzinfo=dt.UTC),
        ),
        geobox=GeoBox.from_bbox((0, 0, 160, 160), crs="EPSG:6671", resolution=10),
        software_version="0.1.0",
        flow_name="change_detection",
        parameters={"tag": tag},
        input_items=["a", "b"],
        valid_fraction=0.9,
        outcome="published",
        run_id=run_id,
    )
    href = publish_item(product_item(spec, files), out_root)
    return {
        "outcome": "published",
        "item_id": item_id,
        "item_href": str(href),
        "files": {
            k: {"path": str(a.path), "sha256": a.sha256, "size": a.size} for k, a in files.items()
        },
    }


def fake_entry(product_id: str, *, run_id: str | None = None) -> ProductEntry:
    """A verified-looking registry entry without files (for concurrency tests)."""
    return ProductEntry(
        id=product_id,
        kind="change",
        aoi="test-aoi",
        before="2024-05-01/2024-05-31",
        after="2025-05-01/2025-05-31",
        item_href=f"/nowhere/change/{product_id}/{product_id}.json",
        checksum="1220" + hashlib.sha256(product_id.encode()).hexdigest(),
        valid_fraction=0.9,
        outcome="published",
        qa_status="ok",
        qa_message="ok",
        item={"id": product_id, "type": "Feature", "assets": {}},
        run_id=run_id,
        flow="change_detection",
        software_version="0.1.0",
    )


def main() -> None:
    """Worker: ``python -c 'from tests.support.fake_products import main; main()' URL GATE ID...``

    Opens the registry, signals readiness (``GATE.ready-<pid>``), waits for ``GATE`` to
    exist, registers every product id given, and prints ``{"created": n, "seen": m}``.
    """
    from yamasat.catalogs.registry import Registry

    url, gate, *ids = sys.argv[1:]
    gate_path = Path(gate)
    with Registry.open(url) as reg:
        gate_path.with_name(f"{gate_path.name}.ready-{id(reg)}-{time.time_ns()}").touch()
        deadline = time.monotonic() + 120
        while not gate_path.exists():
            if time.monotonic() > deadline:
                raise SystemExit("the start gate never opened")
            time.sleep(0.01)
        created = sum(reg.register_product(fake_entry(pid, run_id="run-x")).created for pid in ids)
    print(json.dumps({"created": created, "seen": len(ids)}))
