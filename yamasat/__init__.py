"""yamasat: the satellite-data pipeline of Yamaguchi Prefecture.

The Python API (:mod:`yamasat.api`, imported when first used, so that ``import yamasat``
stays light): :func:`change_detection`, :func:`flood_mapping`, :func:`landslide_mapping`
and :func:`burn_mapping` run a product and return a :class:`Product` (``read(asset)`` as
xarray, ``polygons()`` as a GeoDataFrame, ``item`` as pystac); :func:`tally` counts the
indicator. See the README's "Python" section.

The repository keeps the three layers in top-level folders (``flows/``, ``processing/``,
``catalogs/``); this package links them in, so that they import as ``yamasat.flows``,
``yamasat.processing`` and ``yamasat.catalogs`` and no generic name lands among a user's
packages. Beside them: :mod:`yamasat.errors` (the one error hierarchy) and
:mod:`yamasat.settings` (the configuration, parsed from ``config/yamasat.yaml``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("yamasat")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_API = (
    "InsufficientDataError",
    "Product",
    "burn_mapping",
    "change_detection",
    "flood_mapping",
    "landslide_mapping",
    "tally",
)

__all__ = [
    "InsufficientDataError",
    "Product",
    "__version__",
    "burn_mapping",
    "change_detection",
    "flood_mapping",
    "landslide_mapping",
    "tally",
]


def __getattr__(name: str) -> object:
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'yamasat' has no attribute {name!r}")
