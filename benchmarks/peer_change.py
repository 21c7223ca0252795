"""The peer for ``bench_change.py``: the same change job written as a competent user would.

No yamasat code: pystac to list the items, odc-stac to load red, nir and scl on the tiles' own
grid, the SCL cloud classes masked, ΔNDVI computed once into memory, Otsu (scikit-image) on a
sample, and two DEFLATE COGs written with rasterio (ΔNDVI as float32 and the change mask). It
does less than yamasat (no warp to the project grid, no minimum mapping unit, no polygons,
quicklook or STAC), so yamasat beating it means something.

    python benchmarks/peer_change.py CATALOG.json OUT_DIR BEFORE_DAY AFTER_DAY
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

SCL_INVALID = (0, 1, 3, 8, 9, 10)  # no data, saturated, cloud shadow, clouds, cirrus


def _ndvi(ds: Any) -> Any:
    """NDVI from L2A digital numbers (scale 1e-4, offset −0.1), masked by the SCL."""
    red = ds.red.where(ds.red > 0) * 1e-4 - 0.1
    nir = ds.nir.where(ds.nir > 0) * 1e-4 - 0.1
    ndvi = (nir - red) / (nir + red)
    return ndvi.where(~ds.scl.isin(SCL_INVALID)).astype("float32")


def _write_cog(path: Path, data: Any, geobox: Any, nodata: float) -> None:
    import rasterio

    profile = {
        "driver": "COG",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": str(geobox.crs),
        "transform": geobox.affine,
        "nodata": nodata,
        "compress": "DEFLATE",
        "num_threads": "ALL_CPUS",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def run(catalog: str, out: str, before_day: str, after_day: str) -> dict[str, Any]:
    import numpy as np
    import odc.stac
    import pystac
    from skimage.filters import threshold_otsu

    items = list(pystac.Catalog.from_file(catalog).get_items(recursive=True))
    ds = odc.stac.load(
        items,
        bands=["red", "nir", "scl"],
        crs=items[0].properties["proj:code"],  # the tiles' own grid, no warp
        resolution=10,
        chunks={"x": 2048, "y": 2048},
        groupby="solar_day",
    )
    days = ds.time.dt.strftime("%Y-%m-%d").values
    ndvi = _ndvi(ds)
    before = ndvi.isel(time=list(days).index(before_day))
    after = ndvi.isel(time=list(days).index(after_day))
    dndvi = (after - before).compute().values  # once, into memory
    sample = dndvi[::7, ::7]
    sample = sample[np.isfinite(sample)]
    threshold = float(threshold_otsu(-sample))  # loss of vegetation is the change sought
    changed = np.where(np.isfinite(dndvi), (-dndvi > threshold).astype("uint8"), 255)
    Path(out).mkdir(parents=True, exist_ok=True)
    _write_cog(Path(out) / "dndvi.tif", np.nan_to_num(dndvi, nan=-9999.0), ds.odc.geobox, -9999)
    _write_cog(Path(out) / "change.tif", changed.astype("uint8"), ds.odc.geobox, 255)
    return {"changed_px": int((changed == 1).sum()), "threshold": threshold}


if __name__ == "__main__":
    print(run(*sys.argv[1:5]))
