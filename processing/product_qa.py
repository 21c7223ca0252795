"""Honest QA figures of a written product (1 detected, 0 not, 255 not observed): how much of
the AOI and of the detections' neighbourhood was observed, and how much of the AOI lies where
a method is known to be weak (beside clouds for optical products, steep or high terrain for
radar floods). Read back block by block with a halo, so memory stays at a few blocks (and
one row of blocks of the AOI mask)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .product_codes import NODATA

__all__ = [
    "NEIGHBOURHOOD_PX",
    "NEIGHBOURHOOD_RULE",
    "OPTICAL_WEAK_RULE",
    "SEEN_EDGE_PX",
    "observed_figures",
    "terrain_weak_share",
]

NEIGHBOURHOOD_PX = 10
"""a detection's neighbourhood: the pixels within this many pixels of it (100 m at 10 m)"""
NEIGHBOURHOOD_RULE = (
    f"AOI pixels within {NEIGHBOURHOOD_PX} px (Chebyshev: the {2 * NEIGHBOURHOOD_PX + 1} px "
    "square around each detected pixel) that are not detections themselves; where they were "
    "not observed, an object may go on unseen"
)
SEEN_EDGE_PX = 3
"""observed pixels this close to an unobserved one are beside a cloud's edge"""
OPTICAL_WEAK_RULE = (
    "clouds, their shadows, cirrus and snow (unobserved: the SCL mask, dilated) and the "
    f"observed pixels within {SEEN_EDGE_PX} px of them, where cloud edges, haze and shadow "
    "fringes the mask missed are read as change"
)


def _blocks(height: int, width: int, block: int) -> list[tuple[int, int, int, int]]:
    return [
        (r, min(r + block, height), c, min(c + block, width))
        for r in range(0, height, block)
        for c in range(0, width, block)
    ]


def _any_run(a: np.ndarray, k: int) -> np.ndarray:
    """``out[i] = a[i:i + k].any(axis=0)`` for bool ``a`` (k - 1 rows fewer), by OR-ing shifted
    copies: runs of 1, 2, 4, … rows, then two overlapping runs of the largest length."""
    w = 1
    while 2 * w <= k:
        a = a[:-w] | a[w:]
        w *= 2
    if k > w:
        a = a[: len(a) - (k - w)] | a[k - w :]
    return a


def _near(mask: np.ndarray, px: int, core: tuple[slice, slice]) -> np.ndarray:
    """Pixels of ``mask[core]`` within ``px`` (Chebyshev) of a True pixel of ``mask``, pixels
    beyond ``mask`` False: a (2 px + 1)-square maximum filter (mode constant), on bools."""
    rows, cols = core
    padded = np.pad(mask, px)
    sub = padded[rows.start : rows.stop + 2 * px, cols.start : cols.stop + 2 * px]
    k = 2 * px + 1
    out: np.ndarray = _any_run(_any_run(sub, k).T, k).T
    return out


def observed_figures(
    product: Path,
    inside: xr.DataArray | None,
    *,
    neighbourhood_px: int = NEIGHBOURHOOD_PX,
    edge_px: int = SEEN_EDGE_PX,
    block: int = 1024,
) -> dict[str, Any]:
    """Observed share of the AOI and of the detections' neighbourhood, and the share of the
    AOI unobserved or within ``edge_px`` of an unobserved pixel, from the product COG
    ``product``; ``inside`` is the AOI mask on its grid (None: the whole grid)."""
    n = _observed_counts(product, inside, neighbourhood_px, edge_px, block)
    aoi = n["aoi"]
    return {
        "aoi": round(n["seen"] / aoi, 4) if aoi else None,
        "near_detections": round(n["ring_seen"] / n["ring"], 4) if n["ring"] else None,
        "near_detections_px": neighbourhood_px,
        "near_detections_rule": NEIGHBOURHOOD_RULE,
        "unobserved_share": round(n["unseen"] / aoi, 4) if aoi else None,
        "beside_unobserved_share": round(n["near_unseen"] / aoi, 4) if aoi else None,
    }


def _observed_counts(
    product: Path, inside: xr.DataArray | None, neighbourhood_px: int, edge_px: int, block: int
) -> dict[str, int]:
    """The pixel counts behind :func:`observed_figures`, block by block with a halo: the AOI,
    its observed pixels, the neighbourhood ("ring") and its observed pixels, the unobserved
    AOI and the observed AOI beside it. A block with no detection (no unobserved pixel) in
    it or its halo skips the neighbourhood's (the edge's) filter: it adds nothing."""
    import rasterio
    from rasterio.windows import Window

    halo = max(neighbourhood_px, edge_px)
    n = {"aoi": 0, "seen": 0, "ring": 0, "ring_seen": 0, "near_unseen": 0, "unseen": 0}
    with rasterio.open(product) as src:
        h, w = src.height, src.width
        band: np.ndarray | None = None
        band_rows = (-1, -1)
        for r0, r1, c0, c1 in _blocks(h, w, block):
            hr0, hr1, hc0, hc1 = (
                max(r0 - halo, 0),
                min(r1 + halo, h),
                max(c0 - halo, 0),
                min(c1 + halo, w),
            )
            if inside is not None and band_rows != (hr0, hr1):
                # the AOI mask of a whole row of blocks (with the halo), computed once
                band = np.asarray(inside[hr0:hr1].values, dtype=bool)
                band_rows = (hr0, hr1)
            data = src.read(1, window=Window(hc0, hr0, hc1 - hc0, hr1 - hr0))
            core = (slice(r0 - hr0, r1 - hr0), slice(c0 - hc0, c1 - hc0))
            ins = np.ones(data.shape, bool) if band is None else band[:, hc0:hc1]
            seen = data != NODATA
            ins_c, seen_c = ins[core], seen[core]
            unseen = ~seen & ins
            n["aoi"] += int(np.count_nonzero(ins_c))
            n["seen"] += int(np.count_nonzero(seen_c & ins_c))
            n["unseen"] += int(np.count_nonzero(unseen[core]))
            detected = data == 1
            if detected.any():  # no detection in the block and its halo: no neighbourhood
                ring = _near(detected, neighbourhood_px, core) & ~detected[core] & ins_c
                n["ring"] += int(np.count_nonzero(ring))
                n["ring_seen"] += int(np.count_nonzero(ring & seen_c))
            if unseen.any():
                near_unseen = _near(unseen, edge_px, core) & seen_c & ins_c
                n["near_unseen"] += int(np.count_nonzero(near_unseen))
    return n


def terrain_weak_share(
    inside: xr.DataArray,
    slope: xr.DataArray | None,
    hand: xr.DataArray | None,
    *,
    max_slope_deg: float,
    max_hand_m: float,
    radar: xr.DataArray | None = None,
) -> dict[str, float | None]:
    """Shares of the AOI steeper than ``max_slope_deg``, higher than ``max_hand_m`` above the
    drainage, in possible radar layover or shadow (``radar`` codes, bits 1 and 2 of
    :func:`~.terrain.radar_layover_shadow`), and any of them (None for a layer not given)."""
    names = ("steep", "above_drainage", "layover", "shadow", "share")
    out: dict[str, float | None] = dict.fromkeys(names)
    layers = {"aoi": inside}
    if slope is not None:
        layers["steep"] = (slope > max_slope_deg) & inside
    if hand is not None:
        layers["above_drainage"] = (hand > max_hand_m) & inside
    if radar is not None:
        layers["layover"] = ((radar & 1) > 0) & inside
        layers["shadow"] = ((radar & 2) > 0) & inside
    if len(layers) == 1:
        return out
    either = xr.zeros_like(inside, dtype=bool)
    for layer in list(layers.values())[1:]:
        either = either | layer
    layers["share"] = either
    sums = xr.Dataset({k: v.astype("int64") for k, v in layers.items()}).sum().compute()
    n_in = int(sums["aoi"])
    for k in names:
        if k in sums and n_in:
            out[k] = round(int(sums[k]) / n_in, 4)
    return out
