"""Prefect flows of the disaster products: ``flood_mapping``, ``landslide_mapping``,
``burn_mapping``. Each reads: config → search → analyse and write → publish → summarise,
recorded as a run (``yamasat runs list``), resumable after a failure (``resume_of``).
How each product is computed: its recipe in :mod:`yamasat.flows.recipes`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from prefect import flow

from ..errors import ParameterError
from .product_run import run_product
from .recipes import BURN, FLOOD_S1, FLOOD_S2, LANDSLIDE
from .tracking import RunContext, tracked

__all__ = ["burn_mapping", "flood_mapping", "landslide_mapping"]


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
    resume_of: str | None = None,
) -> dict[str, Any]:
    """Flood extent (and likelihood, for SAR) between a pre-event and a post-event period."""
    params = dict(aoi=aoi, before=before, after=after, sensor=sensor, source=source, out=out,
                  solution=solution, force=force, config=config, profile=profile,
                  resume_of=resume_of)  # fmt: skip
    if sensor not in ("s1", "s2"):
        bad = ParameterError(
            f"unknown sensor {sensor!r}; use s1 (Sentinel-1 SAR) or s2 (Sentinel-2)"
        )
        return cast(dict[str, Any], tracked("flood_mapping", params, _raise(bad), output_root=out))
    return run_product(FLOOD_S1 if sensor == "s1" else FLOOD_S2, params)


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
    resume_of: str | None = None,
) -> dict[str, Any]:
    """Landslide scars (one polygon per scar with area, mean slope and ΔNDVI)."""
    params = dict(aoi=aoi, before=before, after=after, source=source, out=out,
                  solution=solution, force=force, config=config, profile=profile,
                  resume_of=resume_of)  # fmt: skip
    return run_product(LANDSLIDE, params)


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
    resume_of: str | None = None,
) -> dict[str, Any]:
    """Burn scar: dNBR severity classes and a binary burned product."""
    params = dict(aoi=aoi, before=before, after=after, source=source, out=out,
                  solution=solution, force=force, config=config, profile=profile,
                  resume_of=resume_of)  # fmt: skip
    return run_product(BURN, params)


def _raise(error: Exception) -> Callable[[RunContext], dict[str, Any]]:
    def body(ctx: RunContext) -> dict[str, Any]:
        raise error

    return body
