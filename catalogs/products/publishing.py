"""Publishing a finished draft: the STAC item's spec from the run's AOI, periods and source,
and the move of the staging folder into the output catalog."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely.geometry

from ...processing.faults import fault_point
from .draft import Draft
from .items import ProductSpec, item_folder, product_item, publish_item

if TYPE_CHECKING:
    from ..extent.aoi import AOI
    from ..extent.periods import Period
    from ..sources.family_sources import SourceSet

__all__ = ["product_spec", "publish_draft"]


def product_spec(
    draft: Draft,
    *,
    aoi: AOI,
    before: Period,
    after: Period,
    source: SourceSet,
    flow_name: str,
    software_version: str,
    run_id: str | None,
    valid_fraction: float,
    statistics: Mapping[str, Any],
) -> ProductSpec:
    """What the published item of ``draft`` records (outcome ``published``)."""
    return ProductSpec(
        kind=draft.kind,
        item_id=draft.item_id,
        aoi_key=aoi.key,
        aoi_name=f"{aoi.name_ja} / {aoi.name_en}",
        aoi_geometry_4326=dict(shapely.geometry.mapping(aoi.geometry)),
        before=str(before),
        after=str(after),
        datetime_range=(
            dt.datetime.combine(before.start, dt.time(), dt.UTC),
            dt.datetime.combine(after.end, dt.time(23, 59, 59), dt.UTC),
        ),
        geobox=draft.geobox,
        software_version=software_version,
        flow_name=flow_name,
        parameters={
            **draft.parameters,
            "threshold_used": draft.threshold,
            "source": source.label,
        },
        input_items=draft.inputs,
        valid_fraction=valid_fraction,
        outcome="published",
        statistics=statistics,
        run_id=run_id,
        source=source.location,
        synthetic_inputs=draft.synthetic,
    )


def publish_draft(draft: Draft, spec: ProductSpec, out_root: Path) -> tuple[Path, Path]:
    """Build the item, move the staging folder into the catalog (replacing an older folder of
    the same product) and publish the item; returns (item JSON, product folder)."""
    item = product_item(spec, draft.assets)
    final = item_folder(out_root, draft.kind, draft.item_id)
    if final.exists():
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    draft.staging.rename(final)
    fault_point("after_move")  # inert unless a test arms it (processing/faults.py)
    return publish_item(item, out_root), final
