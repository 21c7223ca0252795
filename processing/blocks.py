"""Apply a 2-D neighbourhood operation plane by plane, on numpy or dask.

The result does not depend on the chunking when the operation looks no further than its halo
(minimum mapping unit, AOI edges). An operation that also takes a statistic of the whole
plane it is given sees one block on dask: the Lee filter's noise estimate
(:func:`yamasat.processing.sar.lee_filter`) is per block, so it depends on the chunk size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["map_planes"]


def _per_plane(
    block: np.ndarray, fn: Callable[..., np.ndarray], dtype_out: Any, kwargs: dict[str, Any]
) -> np.ndarray:
    out = np.empty(block.shape, dtype=dtype_out)
    for idx in np.ndindex(block.shape[:-2]):
        out[idx] = fn(block[idx], **kwargs)
    return out


def map_planes(
    data: Any,
    fn: Callable[..., np.ndarray],
    *,
    halo: int,
    dtype: Any,
    boundary: Any = "none",
    **kwargs: Any,
) -> Any:
    """``fn(plane, **kwargs)`` on every 2-D plane (the last two dims) of ``data``.

    On dask, blocks overlap by ``halo`` pixels in y and x (``map_overlap``) so results near
    chunk edges equal the numpy result whenever ``fn`` looks no further than ``halo``.
    """
    if hasattr(data, "map_overlap"):
        depth = {i: 0 for i in range(data.ndim - 2)} | {data.ndim - 2: halo, data.ndim - 1: halo}
        return data.map_overlap(
            _per_plane,
            depth=depth,
            boundary=boundary,
            dtype=dtype,
            fn=fn,
            dtype_out=dtype,
            kwargs=kwargs,
        )
    return _per_plane(np.asarray(data), fn, dtype, kwargs)
