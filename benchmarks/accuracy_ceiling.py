"""How far a product's score is limited by the grids, not by its method: the grid ceiling.

A sample world renders each scene on the scene's own grid (the Sentinel-2 tiles' and the
Sentinel-1 items' UTM grids, 10 m), a pixel taking a planted event when its centre lies in
the event's outline (the demo's world) or in the share of it the outline covers (a varied
world's mixed edges); it scores a product on the project grid (EPSG:6671, 10 m) against the
same outline rasterised there by pixel centre. The two grids do not line up, and a rendered
pixel carries no sub-pixel fraction, so along every edge of the truth the scenes cannot say on
which side of the outline a project pixel's centre falls.

:func:`grid_oracle` measures that limit: it rasterises the event's outline on each scene's
own grid exactly as the generator renders it, resamples that perfect map onto the project
grid bilinearly (as the products load their bands) and calls a pixel the event where at least
half of it is: a perfect map carried through the products' resampling. Its scores against
the truth, on the pixels the product observed, are the reference the product's are read
against. It is not a strict bound (a method that weighs the resampled edge values, as the
change map's boundary rule does, can beat it by a little), but a floor well above it asks for
more than the rendered pixels hold.
:func:`edge_shares` says how many of a product's errors lie on the truth's edge (its
outermost pixels and the ring of pixels just outside).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

__all__ = ["change_ceiling", "edge_shares", "flood_ceiling", "grid_oracle"]


def _scene_grids(files: Sequence[Path]) -> list[tuple[Any, Any, tuple[int, int]]]:
    import rasterio

    grids = []
    for f in files:
        with rasterio.open(f) as ds:
            grids.append((ds.transform, ds.crs, (ds.height, ds.width)))
    return grids


def grid_oracle(
    geometry: Any,
    geometry_crs: Any,
    scene_files: Sequence[Path],
    geobox: Any,
    *,
    mixed: bool = False,
) -> np.ndarray:
    """The perfect map of ``geometry`` as the scenes in ``scene_files`` render it (pixel
    centres on each scene's grid; with ``mixed``, the share of each pixel it covers, as a
    world with mixed edges renders events), resampled bilinearly onto ``geobox`` and cut at
    one half. The first scene covering a pixel decides it (as a mosaic does)."""
    import shapely
    from odc.geo.geobox import GeoBox
    from pyproj import Transformer
    from rasterio.warp import Resampling, reproject

    from yamasat.catalogs.sample.render import coverage, rasterize

    # the generator's own rendering (it takes outlines in EPSG:6671) on each scene's grid
    render = coverage if mixed else rasterize
    to_6671 = Transformer.from_crs(geometry_crs, "EPSG:6671", always_xy=True)
    g6671 = shapely.transform(geometry, lambda xy: np.column_stack(to_6671.transform(*xy.T)))
    out = np.full(tuple(geobox.shape), np.nan, dtype="float32")
    for transform, crs, shape in _scene_grids(scene_files):
        native = render(g6671, GeoBox(shape, transform, crs)).astype("float32")
        dst = np.full(tuple(geobox.shape), np.nan, dtype="float32")
        reproject(
            native,
            dst,
            src_transform=transform,
            src_crs=crs,
            dst_transform=geobox.affine,
            dst_crs=str(geobox.crs),
            resampling=Resampling.bilinear,
            src_nodata=None,
            dst_nodata=np.nan,
        )
        take = np.isnan(out) & np.isfinite(dst)
        out[take] = dst[take]
    return np.asarray(out >= 0.5)


def edge_shares(product: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Shares of the product's false positives and observed misses on the truth's edge (its
    outermost pixels and the pixels touching it from outside, 8-connected)."""
    seen = product != 255
    pred = (product == 1) & seen
    t = truth.astype(bool)
    ring = ndimage.binary_dilation(t, structure=np.ones((3, 3))) & ~ndimage.binary_erosion(
        t, structure=np.ones((3, 3))
    )
    fp, fn = pred & ~t, ~pred & t & seen
    return {
        "fp_on_edge": float(ring[fp].mean()) if fp.any() else float("nan"),
        "fn_on_edge": float(ring[fn].mean()) if fn.any() else float("nan"),
    }


def _scores(pred: np.ndarray, truth: np.ndarray, seen: np.ndarray) -> dict[str, float]:
    tp = int((pred & truth & seen).sum())
    fp = int((pred & ~truth & seen).sum())
    fn = int((~pred & truth & seen).sum())
    nan = float("nan")
    return {
        "csi": tp / (tp + fp + fn) if tp + fp + fn else nan,
        "precision": tp / (tp + fp) if tp + fp else nan,
        "recall": tp / (tp + fn) if tp + fn else nan,
    }


def _against_truth(
    world: Any,
    geobox: Any,
    geometry: Any,
    files: Sequence[Path],
    product: np.ndarray,
    truth: np.ndarray,
) -> dict[str, float]:
    """The grid oracle of ``geometry`` over ``files`` scored on the product's observed pixels
    (permanent water left out, as the truth leaves it out), with the product's edge shares."""
    if geometry is None or geometry.is_empty or not files:
        return {}
    mixed = bool(getattr(world.params, "mixed_edges", False))
    oracle = grid_oracle(geometry, str(geobox.crs), files, geobox, mixed=mixed)
    oracle &= world.land_cover(geobox) != 1
    seen = product != 255
    out = {f"oracle_{k}": v for k, v in _scores(oracle, truth.astype(bool), seen).items()}
    return out | edge_shares(product, truth)


def flood_ceiling(
    world: Any,
    geobox: Any,
    sample_root: Path,
    sensor: str,
    day: Any,
    product: np.ndarray,
    truth: np.ndarray,
) -> dict[str, float]:
    """The grid oracle's scores for a flood product (``sensor`` "s2": the flood's extent on the
    Sentinel-2 date ``day`` over that day's 10 m tiles; "s1": the peak extent over the
    Sentinel-1 scene of ``day``) and :func:`edge_shares` of the product."""
    ev = world.event("flood")
    if ev is None:
        return {}
    stamp = f"{day:%Y%m%d}"
    if sensor == "s2":
        geometry = ev.extent_on(day)
        files = sorted((sample_root / "sentinel-2-c1-l2a").glob(f"*_{stamp}T*/B03.tif"))
    else:
        geometry = ev.geometry
        files = sorted((sample_root / "sentinel-1-rtc").glob(f"*_{stamp}T*/*vv*.tif*"))
    return _against_truth(world, geobox, geometry, files, product, truth)


def change_ceiling(
    world: Any,
    geobox: Any,
    sample_root: Path,
    before: Any,
    after: Any,
    day: Any,
    product: np.ndarray,
    truth: np.ndarray,
) -> dict[str, float]:
    """The grid oracle's scores for a change map: the outlines :meth:`World.change_truth`
    burns between the days ``before`` and ``after``, over the 10 m tiles of the Sentinel-2
    date ``day``; and :func:`edge_shares` of the product."""
    import shapely

    outlines = [g for _, g in world.changed_outlines(before, after)]
    files = sorted((sample_root / "sentinel-2-c1-l2a").glob(f"*_{day:%Y%m%d}T*/B03.tif"))
    geometry = shapely.union_all(outlines) if outlines else None
    return _against_truth(world, geobox, geometry, files, product, truth)
