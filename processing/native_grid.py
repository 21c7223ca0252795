"""The items' own pixel grids, from their ``proj:*`` metadata: which CRS (UTM zone) each item
lies in, and the grid of a zone's lattice covering the project grid, so that a zone can be
loaded without resampling (see :func:`yamasat.processing.load.load_s2`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pystac
from odc.geo.geobox import GeoBox

__all__ = ["asset_grid", "native_geobox", "split_by_crs"]


def asset_grid(item: pystac.Item, key: str) -> tuple[str, Any] | None:
    """(CRS, affine) of an asset from its ``proj:*`` fields (asset level, else item level)."""
    from affine import Affine

    asset = item.assets.get(key)
    if asset is None:
        return None
    fields = {**item.properties, **asset.extra_fields}
    if fields.get("proj:code"):
        crs = str(fields["proj:code"])
    elif fields.get("proj:epsg"):
        crs = f"EPSG:{int(fields['proj:epsg'])}"
    elif fields.get("proj:wkt2"):
        crs = str(fields["proj:wkt2"])
    else:
        return None
    tr = fields.get("proj:transform")
    if not tr or len(tr) < 6:
        return None
    return crs, Affine(*(float(v) for v in tr[:6]))


def split_by_crs(
    items: Sequence[pystac.Item], *, assets: Mapping[str, str]
) -> list[list[pystac.Item]] | None:
    """``items`` grouped by the CRS their ``assets`` declare (``proj:*``), in order of first
    appearance; None when an item declares none or its assets disagree."""
    from odc.geo import CRS

    groups: dict[Any, list[pystac.Item]] = {}
    for item in items:
        grids = [asset_grid(item, key) for key in assets.values()]
        crss = {CRS(g[0]) for g in grids if g is not None}
        if any(g is None for g in grids) or len(crss) != 1:
            return None
        groups.setdefault(crss.pop(), []).append(item)
    return list(groups.values())


def native_geobox(
    items: Sequence[pystac.Item],
    *,
    assets: Mapping[str, str],
    like: GeoBox,
    pad_px: int = 2,
    block_px: int = 512,
) -> GeoBox | None:
    """The items' own pixel grid (CRS and lattice) covering ``like``, or None if they have none.

    When every asset in ``assets`` of every item declares (``proj:*``) the same CRS and the
    finest of them has the resolution of ``like`` on one pixel lattice shared by all items (as
    Sentinel-2 tiles of one UTM zone do), returns the grid of that lattice that covers
    ``like``'s footprint plus ``pad_px`` pixels: loading onto it reads the finest bands without
    resampling. Otherwise (items in two UTM zones, another resolution, no ``proj`` metadata)
    returns None and the caller loads onto ``like`` directly.

    The grid's corner is moved out to a multiple of ``block_px`` pixels from the first item's
    corner, so that chunks of a multiple of ``block_px`` read whole internal tiles of that
    item's COGs (a chunk across tile edges decodes up to 1.6 times the tiles it needs).
    """
    from affine import Affine
    from odc.geo import CRS

    if not items or like.crs is None:
        return None
    res = abs(float(like.resolution.x))
    crss: set[Any] = set()
    phases: set[tuple[float, float]] = set()
    steps: set[float] = set()
    corner: tuple[float, float] | None = None
    for item in items:
        grids = [asset_grid(item, key) for key in assets.values()]
        if any(g is None for g in grids):
            return None
        known = [g for g in grids if g is not None]
        crss.update(CRS(crs) for crs, _ in known)
        finest = min((t for _, t in known), key=lambda t: abs(t.a))
        if finest.b != 0 or finest.d != 0 or not (abs(finest.a) == res == -finest.e):
            return None
        corner = corner or (finest.c, finest.f)
        # the lattice of the coarsest asset (a whole multiple of the finest) anchors the grid,
        # so that coarser bands can be read on their own grid too
        tr = max((t for _, t in known), key=lambda t: abs(t.a))
        step = abs(tr.a) if float(abs(tr.a) / res).is_integer() else res
        steps.add(step)
        phases.add((round((tr.c / step) % 1.0, 6) % 1.0, round((tr.f / step) % 1.0, 6) % 1.0))
    if len(crss) != 1 or len(phases) != 1 or len(steps) != 1 or corner is None:
        return None
    crs = crss.pop()
    (px, py) = phases.pop()
    step = steps.pop()
    minx, miny, maxx, maxy = like.footprint(crs).boundingbox
    pad = pad_px * res
    block = block_px * res
    if block % step == 0 and abs((corner[0] / step - px) % 1.0) < 1e-6:
        (cx, cy) = corner
        x0 = cx + np.floor((minx - pad - cx) / block) * block
        y1 = cy - np.floor((cy - maxy - pad) / block) * block
    else:
        x0 = (np.floor((minx - pad) / step - px) + px) * step
        y1 = (np.ceil((maxy + pad) / step - py) + py) * step
    nx = int(np.ceil((maxx + pad - x0) / step)) * int(step / res)
    ny = int(np.ceil((y1 - (miny - pad)) / step)) * int(step / res)
    return GeoBox((ny, nx), Affine(res, 0.0, float(x0), 0.0, -res, float(y1)), crs)
