"""The Python API (issue 16, item 1): ``import yamasat`` from a plain script with no main
guard, a company's AOI from a GeoJSON, change over two periods, the product read as xarray
and its polygons as a GeoDataFrame; and ``import yamasat`` itself stays light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from yamasat.flows.demo import CHANGE_PERIODS

pytestmark = pytest.mark.slow


def test_import_yamasat_is_light() -> None:
    code = (
        "import sys, yamasat\n"
        "assert callable(yamasat.change_detection) and yamasat.Product\n"
        "print(sorted(m for m in ('prefect', 'dask', 'rasterio', 'xarray') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)  # fmt: skip
    # the API's names resolve without importing the heavy libraries until a call needs them
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_a_plain_script_runs_change_and_reads_the_product(
    sample_root: Path, tmp_path: Path
) -> None:
    from yamasat.catalogs.sample import SampleManifest

    w, s, e, n = SampleManifest.read(sample_root).bbox
    site = tmp_path / "company_site.geojson"
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    site.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "site"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }]}))  # fmt: skip
    script = tmp_path / "prototype.py"
    script.write_text(
        textwrap.dedent(f"""
        # a company's prototype: no `if __name__ == "__main__":` guard
        import json
        import yamasat

        product = yamasat.change_detection(
            aoi={str(site)!r}, before={CHANGE_PERIODS[0]!r}, after={CHANGE_PERIODS[1]!r},
            source={str(sample_root / "catalog.json")!r},
        )
        dndvi = product.read("dndvi")
        change = product.read("change").compute()
        polygons = product.polygons()
        print(json.dumps({{
            "id": product.id,
            "dims": list(dndvi.dims),
            "dndvi": [str(dndvi.dtype), float(dndvi.min()), float(dndvi.max())],
            "changed_px": int((change == 1).sum()),
            "polygons": len(polygons),
            "crs": polygons.crs.to_string(),
            "geometry": polygons.geometry.geom_type.unique().tolist(),
        }}))
    """)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YAMASAT_", "PREFECT_"))}
    env |= {"YAMASAT_STORAGE__OUTPUT_ROOT": str(tmp_path / "products"),
            "PREFECT_HOME": str(tmp_path / "prefect")}  # fmt: skip
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["id"].startswith("change-")
    assert got["dims"] == ["y", "x"]
    # stored as int16 × 1e-4: read back as float32 ΔNDVI (NaN where not observed)
    assert got["dndvi"][0] == "float32" and -2 <= got["dndvi"][1] < -0.2 < got["dndvi"][2] <= 2
    assert got["changed_px"] > 100 and got["polygons"] >= 1
    assert got["crs"] == "EPSG:6671" and set(got["geometry"]) <= {"Polygon", "MultiPolygon"}
