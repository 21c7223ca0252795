"""Test helpers: real parts, really started (DESIGN.md section 8)."""

from .rangeserver import RangeServer, RequestRecord

__all__ = ["RangeServer", "RequestRecord"]
