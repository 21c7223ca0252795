"""Per-scene plausibility check of the Sentinel-2 L2A reflectance offset.

Since processing baseline 04.00 (25 Jan 2022) ESA stores L2A reflectance as
DN = (ρ + 0.1) × 10000 (``BOA_ADD_OFFSET`` = −1000): reflectance = DN × 0.0001 − 0.1. Earth
Search's older ``sentinel-2-l2a`` collection says per scene whether it already took the offset
out of its COGs (``earthsearch:boa_offset_applied``), but that flag is wrong for some scenes in
both directions while ``raster:bands`` always says offset −0.1 (Element84/earth-search#66,
#71; cirrus-geo/cirrus-earth-search#33). Applying the offset to data that already had it
removed makes dark targets negative; never applying it makes every pixel 0.1 too bright.

The check looks at the scene's own numbers over valid land (SCL 4 vegetation, 5 not
vegetated): in the visible bands (blue, green, red) most vegetated land has ρ < 0.1. So:

* if the offset is still in the data, DN ≥ 1000 almost everywhere (ρ ≥ 0): the share of land
  pixels that would be **negative after applying −0.1** is tiny (noise, < ``low``);
* if the offset was taken out, that share is large (dark vegetation: ρ < 0.1 → DN < 1000).

Rule: share ≥ ``high`` (0.20) → the offset is out of the data: (scale, 0); share ≤ ``low``
(0.02) → the offset is in the data: (scale, −0.1); in between, or with fewer than
``min_pixels`` land pixels, the flag decides (recorded as such). A 50 DN margin keeps
atmospheric-correction noise around ρ = 0 from counting as negative.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "LAND_CLASSES",
    "OffsetDecision",
    "checked_scale_fn",
    "decide_offset",
    "read_scene_sample",
]

LAND_CLASSES = (4, 5)
"""SCL classes of valid land: vegetation, not vegetated"""


@dataclass(frozen=True)
class OffsetDecision:
    """The scale/offset decided for one scene, and why (for the product's QA)."""

    scale: float
    offset: float
    rule: str
    """``negative-share-high``, ``negative-share-low``, ``flag (ambiguous)`` or
    ``flag (too few land pixels)``"""
    flag: bool | None
    """``earthsearch:boa_offset_applied`` as the scene said"""
    negative_share: float | None
    """share of land pixels negative after applying the offset (None: not measured)"""
    land_pixels: int

    @property
    def flag_wrong(self) -> bool:
        """The scene's flag contradicts its pixels."""
        decided_applied = self.offset == 0.0
        return (
            self.flag is not None
            and self.rule.startswith("negative")
            and (self.flag != decided_applied)
        )

    def as_qa(self) -> dict[str, Any]:
        return {**asdict(self), "flag_wrong": self.flag_wrong}


def decide_offset(
    visible: Mapping[str, np.ndarray],
    scl: np.ndarray,
    *,
    flag: bool | None,
    scale: float = 1e-4,
    offset: float = -0.1,
    nodata: int = 0,
    low: float = 0.02,
    high: float = 0.20,
    min_pixels: int = 500,
    margin_dn: float = 50.0,
) -> OffsetDecision:
    """Decide (scale, offset) of one scene from its stored numbers (see the module's rule).

    ``visible`` maps band names to raw DN arrays (the same shape as ``scl``); ``flag`` is the
    scene's ``earthsearch:boa_offset_applied`` (None when absent).
    """
    land = np.isin(scl, LAND_CLASSES)
    for dn in visible.values():
        land &= dn != nodata
    n = int(land.sum())
    by_flag = (scale, 0.0) if flag else (scale, offset)
    if n < min_pixels:
        return OffsetDecision(*by_flag, "flag (too few land pixels)", flag, None, n)
    cut = -offset / scale - margin_dn  # DN below which reflectance < -margin after the offset
    share = float(np.mean([np.mean(dn[land] < cut) for dn in visible.values()]))
    if share >= high:
        return OffsetDecision(scale, 0.0, "negative-share-high", flag, share, n)
    if share <= low:
        return OffsetDecision(scale, offset, "negative-share-low", flag, share, n)
    return OffsetDecision(*by_flag, "flag (ambiguous)", flag, share, n)


def read_scene_sample(
    hrefs: Mapping[str, str], scl_href: str, *, size: int = 256
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Decimated reads (``size`` × ``size``, GDAL picks overviews) of the visible bands and
    SCL of one scene, on one common raster (the assets of a tile share their extent)."""
    import rasterio
    from rasterio.enums import Resampling

    def read(href: str) -> np.ndarray:
        with rasterio.open(href) as src:
            return np.asarray(src.read(1, out_shape=(size, size), resampling=Resampling.nearest))

    return {band: read(h) for band, h in hrefs.items()}, read(scl_href)


def checked_scale_fn(
    items: Sequence[Any],
    assets: Mapping[str, str],
    base: Callable[[str, Mapping[str, Any], Mapping[str, Any]], tuple[float, float]],
) -> tuple[
    Callable[[str, Mapping[str, Any], Mapping[str, Any]], tuple[float, float]],
    dict[str, OffsetDecision],
]:
    """A scale function for ``items`` (pystac Items of Earth Search's older ``sentinel-2-l2a``)
    whose reflectance offsets are decided per scene from its own pixels (:func:`decide_offset`)
    instead of its ``earthsearch:boa_offset_applied`` flag, and the decisions by item id.

    Only the visible bands among ``assets`` (our band -> asset key) are read, those the run
    loads anyway and whose hrefs were vetted; with none of them (burn: nir and swir22) the
    flag decides, and the rule says so. Other bands and non-reflectance values go to ``base``.
    """
    visible = [b for b in VISIBLE if b in assets]
    decisions: dict[str, OffsetDecision] = {}
    by_href: dict[str, OffsetDecision] = {}
    for item in items:
        props = item.properties
        flag = props.get("earthsearch:boa_offset_applied")
        flag = flag if isinstance(flag, bool) else None
        red = item.assets[assets[visible[0]]].to_dict() if visible else {}
        scale, offset = _declared(red)
        if visible and "scl" in assets:
            hrefs = {b: item.assets[assets[b]].href for b in visible}
            dn, scl = read_scene_sample(hrefs, item.assets[assets["scl"]].href)
            decision = decide_offset(dn, scl, flag=flag, scale=scale, offset=offset)
        else:
            by_flag = (scale, 0.0) if flag else (scale, offset)
            decision = OffsetDecision(*by_flag, "flag (no visible band loaded)", flag, None, 0)
        decisions[item.id] = decision
        for key in assets.values():
            by_href[item.assets[key].href] = decision

    def scale_fn(
        band: str, properties: Mapping[str, Any], asset: Mapping[str, Any]
    ) -> tuple[float, float]:
        decision = by_href.get(str(asset.get("href")))
        if decision is None or band not in REFLECTANCE:
            return base(band, properties, asset)
        return (decision.scale, decision.offset)

    return scale_fn, decisions


VISIBLE = ("blue", "green", "red")
REFLECTANCE = frozenset({"blue", "green", "red", "nir", "nir08", "swir16", "swir22"})


def _declared(asset: Mapping[str, Any]) -> tuple[float, float]:
    """The scale and offset ``raster:bands`` declares (Earth Search: 0.0001 and −0.1)."""
    rb = asset.get("raster:bands") or [{}]
    first = rb[0] if isinstance(rb[0], Mapping) else {}
    return float(first.get("scale", 1e-4)), float(first.get("offset", -0.1))
