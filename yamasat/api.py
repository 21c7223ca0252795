"""The Python API: run a product from a script or a notebook, read it back, count solutions.

    import yamasat

    product = yamasat.change_detection(
        aoi="my_site.geojson", before="2025-08-01/2025-08-31", after="2025-09-15/2025-09-30",
        source="sample",
    )
    dndvi = product.read("dndvi")          # xarray.DataArray, on the product's grid
    changes = product.polygons()           # geopandas.GeoDataFrame (EPSG:6671)

Each product function runs the same Prefect flow as ``yamasat run ...`` (recorded as a run,
published to the STAC catalog under ``out`` or ``storage.output_root``) and returns a
:class:`Product`; an outcome other than a product raises the error the CLI would report
(:class:`~yamasat.errors.NoDataError`, :class:`InsufficientDataError`, ...).

From a plain script no ``if __name__ == "__main__":`` guard is needed: the API computes with
dask's threads (``dask.scheduler: threads``) unless the configuration names a cluster
(``tcp://...``), since a LocalCluster starts worker processes that would run the script
again. A Prefect server is started for the calls of the process unless ``PREFECT_API_URL``
names one (the same one the CLI would start), and stopped when the process ends.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import YamasatError

if TYPE_CHECKING:
    import geopandas as gpd
    import pystac
    import xarray as xr

__all__ = [
    "InsufficientDataError",
    "Product",
    "burn_mapping",
    "change_detection",
    "flood_mapping",
    "landslide_mapping",
    "tally",
]


class InsufficientDataError(YamasatError):
    """Too little of the AOI was observed to publish a product (outcome
    ``insufficient_data``): nothing was published or counted."""

    reason = "insufficient_data"
    exit_code = 4


@dataclass(frozen=True)
class Product:
    """A published product: its STAC item and the result of the run that made it."""

    item_href: str
    """path of the product's STAC item JSON"""
    result: dict[str, Any] = field(repr=False)
    """what the flow returned (outcome, QA, areas, per-municipality rows, files)"""

    @property
    def id(self) -> str:
        return str(self.result.get("item_id") or Path(self.item_href).stem)

    @property
    def item(self) -> pystac.Item:
        """The product's STAC item."""
        import pystac

        return pystac.Item.from_file(self.item_href)

    @property
    def assets(self) -> list[str]:
        """The names of the product's assets (rasters, polygons, table, quicklook)."""
        return list(self.item.assets)

    def read(self, asset: str) -> xr.DataArray:
        """Raster ``asset`` (for example ``change``, ``dndvi``, ``flood``, ``likelihood``)
        as an xarray DataArray on the product's grid (lazy, dask-backed), its nodata kept
        as stored (see the asset's ``raster:bands``); a measure stored as scaled integers
        (``dndvi``, ``dnbr``: int16 with a ``scale``) comes back as float32 values, NaN
        where the stored value is the nodata."""
        import numpy as np
        import odc.stac

        item = self.item
        if asset not in item.assets:
            raise YamasatError(
                f"product {self.id} has no asset {asset!r}; it has {', '.join(item.assets)}"
            )
        ds = odc.stac.load([item], bands=[asset], chunks={})
        out = ds[asset].isel(time=0, drop=True)
        band = (item.assets[asset].extra_fields.get("raster:bands") or [{}])[0]
        if "scale" not in band:
            return out
        values = out.where(out != band.get("nodata")).astype("float32")
        values = values * np.float32(band["scale"]) + np.float32(band.get("offset", 0.0))
        values.attrs = {k: v for k, v in out.attrs.items() if k != "nodata"}
        return values.rename(out.name)

    def polygons(self) -> gpd.GeoDataFrame:
        """The detected objects as a GeoDataFrame (GeoParquet asset ``polygons``)."""
        import geopandas as gpd

        href = self.item.assets["polygons"].get_absolute_href()
        return gpd.read_parquet(str(href))


def _run(flow_name: str, params: dict[str, Any]) -> Product:
    from .flows.deployments import load_flow
    from .flows.prefect_env import prefect_defaults, prefect_run_settings
    from .settings import load_settings

    config = params.get("config")
    settings = load_settings(Path(config) if config else None)
    prefect_defaults()
    _start_api()  # first: its Prefect settings outlive this call's
    with _threads_unless_a_cluster(settings.dask.scheduler), prefect_run_settings(settings):
        result = load_flow(flow_name)(**params)
    outcome = result.get("outcome")
    if outcome not in ("published", "exists"):
        raise InsufficientDataError(str(result.get("message") or outcome))
    return Product(str(result["item_href"]), result)


@contextlib.contextmanager
def _threads_unless_a_cluster(scheduler: str) -> Any:
    """dask's threads for this call, unless a scheduler address (or the environment) says
    otherwise: a LocalCluster's spawned workers would re-run a script without a guard."""
    key = "YAMASAT_DASK__SCHEDULER"
    if key in os.environ or scheduler.startswith("tcp://"):
        yield
        return
    os.environ[key] = "threads"
    try:
        yield
    finally:
        os.environ.pop(key, None)


_API_STACK: list[contextlib.ExitStack] = []
"""the Prefect API started for this process's runs, if any (closed at exit)"""


def _start_api() -> None:
    """A Prefect API for this process's runs (started once, stopped at exit), unless
    ``PREFECT_API_URL`` names one."""
    from prefect.settings import PREFECT_API_URL

    if _API_STACK or PREFECT_API_URL.value():
        return
    from .flows.local_prefect import run_api

    stack = contextlib.ExitStack()
    stack.enter_context(run_api())
    _API_STACK.append(stack)
    atexit.register(stack.close)


def change_detection(
    aoi: str, before: str, after: str, *, source: str = "sample", **options: Any
) -> Product:
    """Vegetation/land-cover change between two periods (``yamasat run change``).
    ``options`` are the flow's: ``out``, ``family_sources``, ``solution``, ``force``,
    ``config``, ``profile``."""
    return _run("change_detection", dict(aoi=aoi, before=before, after=after, source=source,
                                         **options))  # fmt: skip


def flood_mapping(
    aoi: str, before: str, after: str, *, sensor: str = "s1", source: str = "sample",
    **options: Any,
) -> Product:  # fmt: skip
    """Flood extent from Sentinel-1 (``sensor="s1"``), Sentinel-2 (``"s2"``) or both
    (``"fused"``: every acquisition after the event; assets ``flood``, ``likelihood`` and
    ``sensor``, which says which sensor decided each pixel)."""
    return _run("flood_mapping", dict(aoi=aoi, before=before, after=after, sensor=sensor,
                                      source=source, **options))  # fmt: skip


def landslide_mapping(
    aoi: str, before: str, after: str, *, source: str = "sample", **options: Any
) -> Product:
    """Landslide scars (NDVI loss to bare soil on steep slopes)."""
    return _run("landslide_mapping", dict(aoi=aoi, before=before, after=after, source=source,
                                          **options))  # fmt: skip


def burn_mapping(
    aoi: str, before: str, after: str, *, source: str = "sample", **options: Any
) -> Product:
    """Burn scar (dNBR with the USGS severity classes)."""
    return _run("burn_mapping", dict(aoi=aoi, before=before, after=after, source=source,
                                     **options))  # fmt: skip


def tally(*, fy: int | None = None, verify: bool = True, config: str | None = None) -> Any:
    """The indicator per fiscal year, as ``yamasat solutions tally`` counts it (evidence
    re-checked unless ``verify`` is false): a :class:`~yamasat.catalogs.registry.Tally`."""
    from .catalogs.registry import open_registry, settings_tally, validate_products
    from .settings import load_settings

    settings = load_settings(Path(config) if config else None)
    with open_registry(settings) as reg:
        if verify:
            validate_products(reg)
        records = reg.solutions()
    return settings_tally(settings, records, until_fy=fy)
