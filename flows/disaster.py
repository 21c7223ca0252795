"""Prefect flows of the disaster products: ``flood_mapping``, ``landslide_mapping``,
``burn_mapping``. Each reads: config → search → analyse and write → publish → summarise.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from catalogs.errors import YamasatError
from flows.compute import compute_on
from flows.disaster_steps import analyse_burn, analyse_flood_s1, analyse_flood_s2, analyse_landslide
from flows.prepare import Prepared
from flows.publish import ProductOutcome
from flows.run_common import current_run_id, finish_run, prepare_run, search_task

__all__ = ["burn_mapping", "flood_mapping", "landslide_mapping"]

_BANDS = {
    "s1": ("vv", "vh"),
    "flood-s2": ("green", "swir16", "scl"),
    "landslide": ("red", "nir", "green", "swir16", "scl"),
    "burn": ("nir", "swir22", "green", "swir16", "scl"),
}


@task(name="analyse-flood", cache_policy=NO_CACHE)
def flood_task(
    prep: Prepared,
    sensor: str,
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
    force: bool,
) -> ProductOutcome:
    analyse = analyse_flood_s1 if sensor == "s1" else analyse_flood_s2
    with compute_on(prep.settings):
        return analyse(prep, before, after, force=force, run_id=current_run_id())


@flow(name="flood_mapping", log_prints=False)
def flood_mapping(
    aoi: str,
    before: str,
    after: str,
    sensor: str = "s1",
    source: str = "sample",
    out: str | None = None,
    solution: str | None = None,
    force: bool = False,
    config: str | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    """Flood extent (and likelihood, for SAR) between a pre-event and a post-event period."""
    if sensor not in ("s1", "s2"):
        raise YamasatError(f"unknown sensor {sensor!r}; use s1 (Sentinel-1 SAR) or s2 (Sentinel-2)")
    prep = prepare_run(
        aoi=aoi,
        before=before,
        after=after,
        source=source,
        out=out,
        config=config,
        profile=profile,
        solution=solution,
    )
    family, bands = ("s1", _BANDS["s1"]) if sensor == "s1" else ("s2", _BANDS["flood-s2"])
    b = search_task(prep, "before", family, bands)
    a = search_task(prep, "after", family, bands)
    return finish_run(prep, flood_task(prep, sensor, b, a, force), solution)


@task(name="analyse-landslide", cache_policy=NO_CACHE)
def landslide_task(
    prep: Prepared, before: list[dict[str, Any]], after: list[dict[str, Any]], force: bool
) -> ProductOutcome:
    with compute_on(prep.settings):
        return analyse_landslide(prep, before, after, force=force, run_id=current_run_id())


@flow(name="landslide_mapping", log_prints=False)
def landslide_mapping(
    aoi: str,
    before: str,
    after: str,
    source: str = "sample",
    out: str | None = None,
    solution: str | None = None,
    force: bool = False,
    config: str | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    """Landslide scars (one polygon per scar with area, mean slope and ΔNDVI)."""
    prep = prepare_run(
        aoi=aoi,
        before=before,
        after=after,
        source=source,
        out=out,
        config=config,
        profile=profile,
        solution=solution,
    )
    b = search_task(prep, "before", "s2", _BANDS["landslide"])
    a = search_task(prep, "after", "s2", _BANDS["landslide"])
    return finish_run(prep, landslide_task(prep, b, a, force), solution)


@task(name="analyse-burn", cache_policy=NO_CACHE)
def burn_task(
    prep: Prepared, before: list[dict[str, Any]], after: list[dict[str, Any]], force: bool
) -> ProductOutcome:
    with compute_on(prep.settings):
        return analyse_burn(prep, before, after, force=force, run_id=current_run_id())


@flow(name="burn_mapping", log_prints=False)
def burn_mapping(
    aoi: str,
    before: str,
    after: str,
    source: str = "sample",
    out: str | None = None,
    solution: str | None = None,
    force: bool = False,
    config: str | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    """Burn scar: dNBR severity classes and a binary burned product."""
    prep = prepare_run(
        aoi=aoi,
        before=before,
        after=after,
        source=source,
        out=out,
        config=config,
        profile=profile,
        solution=solution,
    )
    b = search_task(prep, "before", "s2", _BANDS["burn"])
    a = search_task(prep, "after", "s2", _BANDS["burn"])
    return finish_run(prep, burn_task(prep, b, a, force), solution)
