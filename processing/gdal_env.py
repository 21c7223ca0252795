"""GDAL settings that must reach every thread and dask worker process, and rasterio's
warnings that are expected.

They are set in ``os.environ`` (inherited by worker processes started afterwards and read by
GDAL in every thread), not only in a ``rasterio.Env`` of the calling thread.
"""

from __future__ import annotations

import os
import warnings

__all__ = ["configure_gdal", "ignore_not_georeferenced"]


def configure_gdal(
    *, timeout_s: float = 30.0, max_retries: int = 5, retry_delay_s: float = 1.0
) -> dict[str, str]:
    """Set GDAL's HTTP timeout/retry and cloud-friendly read options; returns what was set.

    Values already present in the environment win, so an operator can override any of them.
    """
    wanted = {
        "GDAL_HTTP_TIMEOUT": str(int(max(1, timeout_s))),
        "GDAL_HTTP_CONNECTTIMEOUT": str(int(max(1, timeout_s))),
        "GDAL_HTTP_MAX_RETRY": str(max_retries),
        "GDAL_HTTP_RETRY_DELAY": f"{retry_delay_s:g}",
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF",
        "GDAL_HTTP_MULTIRANGE": "YES",
        "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
        # GDAL's block cache defaults to 5 % of RAM and fills during large writes and warps;
        # a fixed size keeps peak memory independent of the scene size
        "GDAL_CACHEMAX": "256",
    }
    applied = {}
    for key, value in wanted.items():
        applied[key] = os.environ.setdefault(key, value)
    return applied


def ignore_not_georeferenced() -> None:
    """Silence rasterio's ``NotGeoreferencedWarning``: odc-stac warps through in-memory
    rasters that carry no transform by design."""
    from rasterio.errors import NotGeoreferencedWarning

    warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
