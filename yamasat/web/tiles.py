"""Web-map tiles of a product's main raster: rio-tiler reads the COG (its overviews at low
zoom), reprojects onto Web Mercator (XYZ, 256 px) and colours the classes as a PNG.

The main asset of every product is uint8: 1 detected, 0 not detected, 255 no valid
observation (the GDAL nodata). Detected pixels get the kind's colour, opaque; the others are
transparent, so the base layer shows through.
"""

from __future__ import annotations

import functools
from pathlib import Path

# imported here, once, not in the first requests' threads (concurrent first imports of
# rio_tiler.io in a thread pool can see a half-initialised module)
import numpy as np
from rasterio.errors import RasterioError
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.utils import render

from ..errors import LoadError

__all__ = ["KIND_COLOURS", "render_tile", "transparent_tile"]

KIND_COLOURS: dict[str, tuple[int, int, int]] = {
    "change": (214, 0, 147),  # magenta
    "flood": (0, 92, 230),  # blue
    "landslide": (166, 86, 0),  # brown
    "burn": (230, 57, 0),  # red-orange
}
"""The colour of detected pixels per product kind (RGB); other kinds are drawn black"""

TILE_SIZE = 256


@functools.cache
def transparent_tile() -> bytes:
    """A fully transparent 256 × 256 PNG (a tile outside the product)."""
    data = np.zeros((1, TILE_SIZE, TILE_SIZE), dtype="uint8")
    mask = np.zeros((TILE_SIZE, TILE_SIZE), dtype="uint8")
    return bytes(render(data, mask, img_format="PNG"))


def render_tile(path: Path, kind: str, z: int, x: int, y: int) -> bytes:
    """The XYZ tile ``z/x/y`` of the class raster at ``path`` as PNG (transparent outside it).

    Raises :class:`LoadError` naming the file when it cannot be read.
    """
    colour = KIND_COLOURS.get(kind, (0, 0, 0))
    colormap = {0: (0, 0, 0, 0), 1: (*colour, 255), 255: (0, 0, 0, 0)}
    try:
        with Reader(str(path)) as src:
            img = src.tile(x, y, z, tilesize=TILE_SIZE, indexes=1, resampling_method="nearest")
    except TileOutsideBounds:
        return transparent_tile()
    except RasterioError as e:
        raise LoadError(f"tile {z}/{x}/{y} of {path} could not be read: {e}") from e
    return bytes(img.render(img_format="PNG", colormap=colormap))
