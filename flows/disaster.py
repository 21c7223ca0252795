"""Prefect flows of the disaster products: ``flood_mapping``, ``landslide_mapping``,
``burn_mapping``. Each reads: config → search → analyse and write → publish → summarise,
recorded as a run (``yamasat runs list``), resumable after a failure (``resume_of``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from prefect import flow

from ..errors import ParameterError
from .checkpoints import Checkpoints
from .disaster_steps import analyse_burn, analyse_flood_s1, analyse_flood_s2, analyse_landslide
from .prepare import Prepared
from .publish import ProductOutcome
from .run_common import analyse_task, finish_run, prepare_run, search_task
from .tracking import RunContext, tracked

__all__ = ["burn_mapping", "flood_mapping", "landslide_mapping"]

_BANDS = {
    "s1": ("vv", "vh"),
    "flood-s2": ("green", "swir16", "scl"),
    "landslide": ("red", "nir", "green", "swir16", "scl"),
    "burn": ("nir", "swir22", "green", "swir16", "scl"),
}


def _product_run(
    flow_name: str,
    params: dict[str, Any],
    family: str,
    bands: tuple[str, ...],
    analyse: Callable[
        [Prepared, list[dict[str, Any]], list[dict[str, Any]], Checkpoints | None],
        ProductOutcome,
    ],
) -> dict[str, Any]:
    """The common body: prepare, search both periods (checkpointed), analyse, finish."""

    def body(ctx: RunContext) -> dict[str, Any]:
        prep = prepare_run(
            aoi=params["aoi"],
            before=ctx.params["before"],  # relative periods resolved once, as recorded
            after=ctx.params["after"],
            source=params["source"],
            settings=ctx.settings,
            out_root=ctx.out_root,
            profile=params["profile"],
            solution=params["solution"],
        )
        b = search_task(prep, "before", family, bands, ctx.checkpoints)
        a = search_task(prep, "after", family, bands, ctx.checkpoints)
        return finish_run(prep, analyse(prep, b, a, ctx.checkpoints), params["solution"])

    # a failure returns a Failed state (reason in its message); Prefect raises the original
    # exception to a direct caller, so callers only ever receive the dict
    return cast(dict[str, Any], tracked(flow_name, params, body, output_root=params["out"]))


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
    family, bands = ("s1", _BANDS["s1"]) if sensor == "s1" else ("s2", _BANDS["flood-s2"])
    return _product_run(
        "flood_mapping", params, family, bands,
        lambda prep, b, a, ckpt: analyse_task.with_options(name="analyse-flood")(
            prep, "flood_mapping", sensor, analyse_flood_s1 if sensor == "s1" else analyse_flood_s2,
            b, a, force, ckpt,
        ),
    )  # fmt: skip


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
    return _product_run(
        "landslide_mapping", params, "s2", _BANDS["landslide"],
        lambda prep, b, a, ckpt: analyse_task.with_options(name="analyse-landslide")(
            prep, "landslide_mapping", "s2", analyse_landslide, b, a, force, ckpt
        ),
    )  # fmt: skip


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
    return _product_run(
        "burn_mapping", params, "s2", _BANDS["burn"],
        lambda prep, b, a, ckpt: analyse_task.with_options(name="analyse-burn")(
            prep, "burn_mapping", "s2", analyse_burn, b, a, force, ckpt
        ),
    )  # fmt: skip


def _raise(error: Exception) -> Callable[[RunContext], dict[str, Any]]:
    def body(ctx: RunContext) -> dict[str, Any]:
        raise error

    return body
