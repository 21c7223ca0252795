"""Accuracy of a binary product against ground truth (pixel confusion, CSI, object recall),
and the rasters compared: the product read back, a truth geometry rasterised."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

__all__ = ["Confusion", "confusion", "object_recall", "rasterize_truth", "read_product"]


@dataclass(frozen=True)
class Confusion:
    """Pixel counts and the scores derived from them (NaN when undefined)."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def csi(self) -> float:
        """Critical success index TP / (TP + FP + FN) (also IoU, threat score)."""
        d = self.tp + self.fp + self.fn
        return self.tp / d if d else float("nan")

    @property
    def precision(self) -> float:
        d = self.tp + self.fp
        return self.tp / d if d else float("nan")

    @property
    def recall(self) -> float:
        d = self.tp + self.fn
        return self.tp / d if d else float("nan")

    def as_dict(self) -> dict[str, float]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "csi": round(self.csi, 4),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
        }


def confusion(product: np.ndarray, truth: np.ndarray, *, nodata: int = 255) -> Confusion:
    """Compare a 1/0/``nodata`` product with a 1/0 truth over pixels the product observed."""
    product = np.asarray(product)
    truth = np.asarray(truth).astype(bool)
    seen = product != nodata
    pred = (product == 1) & seen
    t = truth & seen
    return Confusion(
        tp=int(np.count_nonzero(pred & t)),
        fp=int(np.count_nonzero(pred & ~t)),
        fn=int(np.count_nonzero(~pred & t)),
        tn=int(np.count_nonzero(~pred & ~t & seen)),
    )


def object_recall(
    product: np.ndarray, truth: np.ndarray, *, min_pixels: int = 1, min_overlap: float = 0.25
) -> tuple[int, int]:
    """(objects found, objects) for truth objects of at least ``min_pixels`` pixels.

    A truth object (8-connected) is found when at least ``min_overlap`` of its pixels are
    detected.
    """
    labels, n = ndimage.label(np.asarray(truth).astype(bool), structure=np.ones((3, 3)))
    detected = np.asarray(product) == 1
    found = total = 0
    for idx in range(1, n + 1):
        obj = labels == idx
        size = int(obj.sum())
        if size < min_pixels:
            continue
        total += 1
        if detected[obj].mean() >= min_overlap:
            found += 1
    return found, total


def read_product(path: Path | str) -> np.ndarray:
    """The whole first band of a product COG."""
    import rasterio

    with rasterio.open(path) as src:
        return np.asarray(src.read(1))


def rasterize_truth(geometry: Any, shape: tuple[int, int], transform: Any) -> np.ndarray:
    """1 on the pixels whose centre lies in ``geometry`` (in the grid's CRS), else 0."""
    from rasterio import features

    return np.asarray(features.rasterize([geometry], out_shape=shape, transform=transform))
