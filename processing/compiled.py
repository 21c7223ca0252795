"""numba-compiled kernels, one way for every module that has one."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

__all__ = ["compiled"]


@cache
def compiled(kernel: Callable[..., Any]) -> Callable[..., Any] | None:
    """``kernel`` compiled by numba (``nogil``, cached on disk where numba finds a writable
    cache folder, else in memory), once per process; None without numba."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    try:
        return numba.njit(nogil=True, cache=True)(kernel)
    except RuntimeError:  # pragma: no cover - no writable cache folder ("no locator available")
        return numba.njit(nogil=True)(kernel)
