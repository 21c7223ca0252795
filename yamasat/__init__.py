"""yamasat: the satellite-data pipeline of Yamaguchi Prefecture.

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

__all__ = ["__version__"]
