"""The honest QA every product carries (issue 13, item 4), added once its rasters are written:

- ``observed``: the share of the AOI observed, and of the detections' neighbourhood
  (:data:`~yamasat.processing.product_qa.NEIGHBOURHOOD_PX` pixels around them);
- ``expected_accuracy``: the figures of this recipe with these parameters from the package's
  table (:mod:`yamasat.processing.expected_accuracy`), or "not measured";
- ``weak_areas``: the share of the AOI where the method is known to be weak, with its rule:
  set by the radar floods themselves (steep and high terrain, :func:`terrain_weak_areas`),
  else the optical rule (clouds and their edges).

:func:`qa_lines` says them in a few lines, as ``yamasat run`` and ``yamasat demo`` print them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import xarray as xr

from ..processing.expected_accuracy import expected_accuracy, expected_summary
from ..processing.product_qa import OPTICAL_WEAK_RULE, observed_figures, terrain_weak_share
from ..processing.terrain import S1_IW_INCIDENCE_DEG
from .publish import Draft

__all__ = ["HONEST_QA_KEYS", "add_product_qa", "qa_lines", "terrain_weak_areas"]

HONEST_QA_KEYS = ("observed", "expected_accuracy", "weak_areas")
"""the QA entries this module adds (printed by :func:`qa_lines`, not one by one)"""


def terrain_weak_areas(
    inside: xr.DataArray,
    slope: xr.DataArray | None,
    hand: xr.DataArray | None,
    *,
    max_slope_deg: float,
    max_hand_m: float,
    radar: xr.DataArray | None = None,
) -> dict[str, Any]:
    """The radar flood's weak areas: terrain it excludes, where a flood would be missed, and
    where the radar may see layover or shadow (``radar``: codes of
    :func:`~yamasat.processing.terrain.radar_layover_shadow`, of every pass OR-ed)."""
    if slope is None and hand is None:
        return {
            "share": None,
            "what": "terrain not known",
            "rule": "terrain exclusion off by request: steep slopes, radar shadow and layover "
            "not known (no DEM read)",
        }
    shares = terrain_weak_share(
        inside, slope, hand, max_slope_deg=max_slope_deg, max_hand_m=max_hand_m, radar=radar
    )
    geometry = (
        "; possible radar layover (terrain rising towards the sensor more steeply than the "
        f"near-range incidence, {min(S1_IW_INCIDENCE_DEG):g}°) or shadow (falling away more "
        f"steeply than 90° − the far-range incidence, {90 - max(S1_IW_INCIDENCE_DEG):g}°), "
        "where backscatter says nothing of water"
        if radar is not None
        else "; radar layover and shadow not computed"
    )
    return {
        **shares,
        "what": f"slope > {max_slope_deg:g}°, HAND > {max_hand_m:g} m, layover or shadow",
        "rule": f"slope > {max_slope_deg:g}° or more than {max_hand_m:g} m above the nearest "
        "drainage (HAND): excluded as unable to hold flood water, so a flood there is missed"
        + geometry,
    }


def add_product_qa(recipe: str, draft: Draft, inside: xr.DataArray | None) -> None:
    """Add the honest QA entries to ``draft.qa`` from its main COG (``draft.kind``), its
    recorded parameters and the AOI mask ``inside``."""
    figures = observed_figures(draft.files[draft.kind].path, inside)
    draft.qa["observed"] = {
        k: figures[k]
        for k in ("aoi", "near_detections", "near_detections_px", "near_detections_rule")
    }
    draft.qa["expected_accuracy"] = {
        "recipe": recipe,
        **expected_accuracy(recipe, draft.parameters),
    }
    if "weak_areas" not in draft.qa:  # optical: clouds (the radar floods set their own)
        unseen, beside = figures["unobserved_share"], figures["beside_unobserved_share"]
        draft.qa["weak_areas"] = {
            "share": None if unseen is None else round(unseen + beside, 4),
            "unobserved": unseen,
            "beside_unobserved": beside,
            "what": "clouds and shadows, and their edges",
            "rule": OPTICAL_WEAK_RULE,
        }


def _pct(v: Any) -> str:
    return "?" if v is None else f"{100 * float(v):.1f} %"


def qa_lines(qa: Mapping[str, Any], *, short: bool = False) -> list[tuple[str, str]]:
    """(label, text) of the honest QA entries of ``qa`` (those it has); ``short``: without
    the rules and the measurement's provenance (the demo's summary)."""
    out = []
    if isinstance(obs := qa.get("observed"), Mapping):
        near = obs.get("near_detections")
        out.append(
            (
                "observed",
                f"{_pct(obs.get('aoi'))} of the AOI; "
                + (
                    f"{_pct(near)} within {obs.get('near_detections_px')} px of the detections"
                    if near is not None
                    else "no detection"
                ),
            )
        )
    if isinstance(exp := qa.get("expected_accuracy"), Mapping):
        out.append(("expected accuracy", expected_summary(exp, short=short)))
    if isinstance(weak := qa.get("weak_areas"), Mapping):
        what = weak.get("what", "") if short else weak.get("rule")
        out.append(("weak areas", f"{_pct(weak.get('share'))} of the AOI: {what}"))
    return out
