"""Prefect flows of the disaster products: ``flood_mapping``, ``landslide_mapping``,
``burn_mapping``. Each reads: config → search → analyse and write → publish → summarise,
recorded as a run (``yamasat runs list``), resumable after a failure (``resume_of``).
How each product is computed: its recipe in :mod:`yamasat.flows.recipes`; the parameters
they share: :mod:`yamasat.flows.flow_factory`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from prefect import flow

from ..errors import ParameterError
from .flow_factory import product_flow, with_run_options
from .product_run import run_product
from .recipes import BURN, FLOOD_FUSED, FLOOD_S1, FLOOD_S2, LANDSLIDE
from .tracking import RunContext, tracked

__all__ = ["burn_mapping", "flood_mapping", "landslide_mapping"]


@flow(name="flood_mapping", log_prints=False)
@with_run_options(after="sensor")
def flood_mapping(
    aoi: str,
    before: str,
    after: str,
    sensor: str = "s1",
    resume_of: str | None = None,
    terrain: bool | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Flood extent (and likelihood, for SAR) between a pre-event and a post-event period,
    from ``sensor`` ``s1`` (Sentinel-1), ``s2`` (Sentinel-2) or ``fused`` (every acquisition
    of both after the event, a product of its own).
    ``terrain=False`` makes it without the steep-terrain exclusion (no DEM read): a product
    of its own, never the full one; without it, a source with no DEM fails the run. ``None``
    (the default): as ``analytics.flood.terrain`` says (true unless configured off)."""
    params = dict(
        aoi=aoi, before=before, after=after, sensor=sensor, **options, resume_of=resume_of,
        terrain=terrain,
    )  # fmt: skip
    recipes = {"s1": FLOOD_S1, "s2": FLOOD_S2, "fused": FLOOD_FUSED}
    if sensor not in recipes:
        bad = ParameterError(
            f"unknown sensor {sensor!r}; use s1 (Sentinel-1 SAR), s2 (Sentinel-2) or fused (both)"
        )
        out = options["out"]
        return cast(dict[str, Any], tracked("flood_mapping", params, _raise(bad), output_root=out))
    return run_product(recipes[sensor], params)


landslide_mapping = product_flow(
    "landslide_mapping",
    LANDSLIDE,
    "Landslide scars (one polygon per scar with area, mean slope and ΔNDVI).",
    __name__,
)

burn_mapping = product_flow(
    "burn_mapping",
    BURN,
    "Burn scar: dNBR severity classes and a binary burned product.",
    __name__,
)


def _raise(error: Exception) -> Callable[[RunContext], dict[str, Any]]:
    def body(ctx: RunContext) -> dict[str, Any]:
        raise error

    return body
