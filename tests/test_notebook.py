"""The README's Python example in a notebook (issue 16, item 6): a fresh Jupyter kernel runs
change on the sample archive, reads the product as xarray and its polygons as a
GeoDataFrame. A kernel differs from a script: an event loop is already running in it, and
the process lives on after the cell."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from yamasat.flows.demo import CHANGE_PERIODS

pytestmark = pytest.mark.slow


def _notebook(site: Path, catalog: Path) -> object:
    import nbformat

    cells = [
        "import json\nimport geopandas\nimport xarray\nimport yamasat",
        f"""product = yamasat.change_detection(
    aoi={str(site)!r},
    before={CHANGE_PERIODS[0]!r},
    after={CHANGE_PERIODS[1]!r},
    source={str(catalog)!r},
)""",
        """dndvi = product.read("dndvi")  # xarray.DataArray (y, x), lazy
change = product.read("change")
sites = product.polygons()  # geopandas.GeoDataFrame
assert isinstance(dndvi, xarray.DataArray) and isinstance(sites, geopandas.GeoDataFrame)
print(json.dumps({
    "dims": list(dndvi.dims),
    "changed_px": int((change == 1).sum()),
    "polygons": len(sites),
    "crs": sites.crs.to_string(),
    "valid_fraction": product.result["valid_fraction"],
}))""",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    return nb


def test_the_readme_example_runs_in_a_fresh_kernel(
    sample_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient import NotebookClient

    from yamasat.catalogs.sample import SampleManifest

    w, s, e, n = SampleManifest.read(sample_root).bbox
    site = tmp_path / "my_site.geojson"
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    site.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    # the kernel inherits the environment: a user's, with no test server or settings
    for key in [k for k in os.environ if k.startswith(("YAMASAT_", "PREFECT_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("YAMASAT_STORAGE__OUTPUT_ROOT", str(tmp_path / "products"))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    nb = _notebook(site, sample_root / "catalog.json")
    client = NotebookClient(
        nb,  # type: ignore[arg-type]
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell's traceback, if a cell fails
    last = nb.cells[-1].outputs  # type: ignore[attr-defined]
    text = "".join(o.get("text", "") for o in last if o.get("name") == "stdout")
    got = json.loads(text.strip().splitlines()[-1])
    assert got["dims"] == ["y", "x"]
    assert got["changed_px"] > 100 and got["polygons"] >= 1
    assert got["crs"] == "EPSG:6671" and got["valid_fraction"] > 0.3
