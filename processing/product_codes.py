"""The values of a product raster (DESIGN §3 "Products"): a uint8 COG on the project grid."""

from __future__ import annotations

from typing import Final

__all__ = ["DETECTED", "NODATA", "NOT_DETECTED"]

NOT_DETECTED: Final = 0
DETECTED: Final = 1
NODATA: Final = 255
"""no valid observation: not observed in both periods, masked, or outside the AOI"""
