"""Why a pixel might fool a detector: one label per pixel, for errors by cause.

A planted event is the truth of its product and a confounder of the others (a fresh
landslide scar is a false positive for a flood map, a burn scar for a landslide map).
The confounders of varied worlds (wet soil, wind on water, radar layover and shadow, forest
thinning), clouds, shadows, cirrus and haze on the compared dates, paddy irrigation and phenology,
steep slopes (illumination, radar geometry), permanent water and the land cover make up
the rest. :func:`cause_labels` composes them with a fixed precedence so every pixel gets
exactly one cause; :data:`CAUSE_NAMES` names the codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from numpy.typing import NDArray

from .landscape import BARE, FOREST, PADDY, URBAN, WATER

__all__ = ["CAUSE_CODES", "CAUSE_NAMES", "STEEP_DEG", "cause_labels"]

CAUSE_NAMES: dict[int, str] = {
    0: "other",
    1: "flood",
    2: "landslide",
    3: "change",
    4: "burn",
    5: "clearcut",
    6: "harvest",
    7: "construction",
    8: "thinning",
    10: "cloud",
    11: "cloud shadow",
    12: "cirrus",
    13: "haze",
    20: "permanent water",
    21: "paddy (irrigation, phenology)",
    22: "steep slope (illumination, radar)",
    23: "forest",
    24: "urban",
    25: "bare soil",
    30: "wet soil",
    31: "wind-roughened water",
    32: "radar shadow",
    33: "layover",
}
"""Cause code -> name. Events 1-7 (5-7: land management, varied worlds only), thinning 8,
sky 10-13, land 20-25, the other confounders of varied worlds 30-33 (:mod:`.confounders`)."""
CAUSE_CODES: dict[str, int] = {v: k for k, v in CAUSE_NAMES.items()}
"""Cause name -> code."""
STEEP_DEG = 20.0
"""Slopes steeper than this (degrees) are labelled ``steep slope``."""

_EVENT_CODES = {
    "flood": 1,
    "landslide": 2,
    "change": 3,
    "burn": 4,
    "clearcut": 5,
    "harvest": 6,
    "construction": 7,
    "thinning": 8,
}
_LAND_CODES = ((WATER, 20), (PADDY, 21), (FOREST, 23), (URBAN, 24), (BARE, 25))


def cause_labels(
    *,
    land_cover: NDArray[np.uint8],
    slope: NDArray[np.floating],
    events: Mapping[str, NDArray[np.bool_]],
    skies: Iterable[tuple[NDArray[np.floating], NDArray[np.bool_], NDArray[np.bool_]]] = (),
    haze: NDArray[np.bool_] | None = None,
    confounders: Mapping[str, NDArray[np.bool_]] | None = None,
) -> NDArray[np.uint8]:
    """One cause code per pixel (uint8, see :data:`CAUSE_NAMES`).

    Precedence, highest first: the confounders (``confounders``: cause name -> mask, later
    ones win; wet soil, wind-roughened water, layover and radar shadow, which name the
    misses inside the flood too); a planted event or thinning (``events``: name -> mask);
    cloud, cloud shadow or cirrus on any of the compared dates (``skies``: (opacity,
    shadow, cirrus) per date); haze (``haze``: where it is noticeable); steep slope
    (> :data:`STEEP_DEG`, not water); the land cover.
    """
    out = np.zeros(land_cover.shape, dtype=np.uint8)
    for lc, code in _LAND_CODES:
        out[land_cover == lc] = code
    out[(slope > STEEP_DEG) & (land_cover != WATER)] = CAUSE_CODES[
        "steep slope (illumination, radar)"
    ]
    if haze is not None:
        out[haze] = CAUSE_CODES["haze"]
    for opacity, shadow, cirrus in skies:
        out[shadow] = CAUSE_CODES["cloud shadow"]
        out[cirrus] = CAUSE_CODES["cirrus"]
        out[opacity > 0] = CAUSE_CODES["cloud"]
    for name, mask in events.items():
        if name in _EVENT_CODES:
            out[mask] = _EVENT_CODES[name]
    for name, mask in (confounders or {}).items():
        out[mask] = CAUSE_CODES[name]
    return out
