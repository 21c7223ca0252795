"""Seeded random fields on a regular lattice in EPSG:6671, and sampling them anywhere.

Every random quantity of the sample world comes from :func:`rng_for`, a
:class:`numpy.random.Generator` seeded from the world seed *and* a purpose string, so
fields never share a stream and adding a new field does not change the existing ones.
Smooth fields are fractional Brownian surfaces made by spectral synthesis (a power-law
filter applied to white noise in the Fourier domain; Saupe, "Algorithms for random
fractals", in *The Science of Fractal Images*, Springer 1988, ch. 2).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

__all__ = ["Bilinear", "Lattice", "fbm", "rng_for"]

Float32Array = NDArray[np.float32]
FloatArray = NDArray[np.floating]


def rng_for(seed: int, purpose: str, *keys: int) -> np.random.Generator:
    """Return a generator for one purpose, independent of every other purpose.

    The stream is a function of ``seed``, the CRC-32 of ``purpose`` and the integer
    ``keys`` (for example a date ordinal and a band index), never of global state.
    """
    return np.random.default_rng([seed, zlib.crc32(purpose.encode("utf-8")), *keys])


def fbm(
    rng: np.random.Generator,
    shape: tuple[int, int],
    *,
    step: float,
    min_scale: float,
    max_scale: float,
    beta: float = 3.0,
) -> Float32Array:
    """Fractional Brownian surface with zero mean and unit standard deviation.

    Args:
        rng: source of the white noise.
        shape: (rows, cols) of the lattice.
        step: lattice spacing in metres.
        min_scale: shortest wavelength kept, metres (smaller features are filtered out).
        max_scale: longest wavelength kept, metres (larger trends are damped).
        beta: spectral exponent of the power spectrum ``P(k) ~ k**-beta``; 2 is rough,
            3 is terrain-like, 4 is smooth.
    """
    white = rng.standard_normal(shape)
    spectrum = np.fft.rfft2(white)
    ky = np.fft.fftfreq(shape[0], d=step)[:, None]
    kx = np.fft.rfftfreq(shape[1], d=step)[None, :]
    k = np.hypot(kx, ky)
    k_low = 1.0 / max_scale
    k_high = 1.0 / min_scale
    # power law above k_low, flat below it; a Gaussian roll-off above k_high
    kk = np.maximum(k, k_low)
    amplitude = kk ** (-beta / 2.0) * np.exp(-((k / k_high) ** 2))
    amplitude[0, 0] = 0.0
    field = np.fft.irfft2(spectrum * amplitude, s=shape)
    std = float(field.std())
    if std == 0.0:
        return np.zeros(shape, dtype=np.float32)
    return ((field - field.mean()) / std).astype(np.float32)


@dataclass(frozen=True, eq=False)
class Bilinear:
    """Bilinear interpolation weights of a set of points on a lattice (see
    :meth:`Lattice.bilinear`); points outside the lattice are clamped to its edge."""

    flat: NDArray[np.intp]
    """flat index of the upper-left node of each point's cell"""
    stride: int
    """lattice columns"""
    fr: Float32Array
    """fractional row offset within the cell, 0..1"""
    fc: Float32Array
    """fractional column offset within the cell, 0..1"""

    def __call__(self, field: FloatArray) -> Float32Array:
        """Interpolate ``field`` (lattice shape) at the points."""
        f = np.asarray(field, dtype=np.float32).ravel()
        top = f[self.flat] * (1 - self.fc) + f[self.flat + 1] * self.fc
        bottom = (
            f[self.flat + self.stride] * (1 - self.fc) + f[self.flat + self.stride + 1] * self.fc
        )
        return (top * (1 - self.fr) + bottom * self.fr).astype(np.float32, copy=False)


@dataclass(frozen=True)
class Lattice:
    """A north-up regular lattice of nodes in EPSG:6671 (metres).

    Node ``(r, c)`` sits at ``x = x0 + c * step`` (easting) and ``y = y0 - r * step``
    (northing): row 0 is the northern edge.
    """

    x0: float
    """easting of the nodes of column 0, metres"""
    y0: float
    """northing of the nodes of row 0 (the northern row), metres"""
    step: float
    """node spacing, metres"""
    shape: tuple[int, int]
    """(rows, cols)"""

    @classmethod
    def covering(
        cls, bounds: tuple[float, float, float, float], *, step: float, margin: float
    ) -> Lattice:
        """Smallest lattice on multiples of ``step`` covering ``bounds`` (x0, y0, x1, y1)
        grown by ``margin`` metres on every side."""
        xmin = math.floor((bounds[0] - margin) / step) * step
        xmax = math.ceil((bounds[2] + margin) / step) * step
        ymin = math.floor((bounds[1] - margin) / step) * step
        ymax = math.ceil((bounds[3] + margin) / step) * step
        cols = round((xmax - xmin) / step) + 1
        rows = round((ymax - ymin) / step) + 1
        return cls(x0=xmin, y0=ymax, step=step, shape=(rows, cols))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the nodes, metres."""
        rows, cols = self.shape
        return (
            self.x0,
            self.y0 - (rows - 1) * self.step,
            self.x0 + (cols - 1) * self.step,
            self.y0,
        )

    def nodes(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """2-D arrays of node eastings and northings."""
        rows, cols = self.shape
        x = self.x0 + self.step * np.arange(cols, dtype=np.float64)
        y = self.y0 - self.step * np.arange(rows, dtype=np.float64)
        xx, yy = np.meshgrid(x, y)
        return xx, yy

    def index(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Fractional (row, col) of map coordinates."""
        return (self.y0 - y) / self.step, (x - self.x0) / self.step

    def bilinear(self, x: FloatArray, y: FloatArray) -> Bilinear:
        """Precomputed bilinear weights at points, to sample many fields cheaply."""
        rows, cols = self.index(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        rows = np.clip(rows, 0.0, self.shape[0] - 1.0)
        cols = np.clip(cols, 0.0, self.shape[1] - 1.0)
        r0 = np.minimum(np.floor(rows).astype(np.intp), self.shape[0] - 2)
        c0 = np.minimum(np.floor(cols).astype(np.intp), self.shape[1] - 2)
        return Bilinear(
            flat=r0 * self.shape[1] + c0,
            stride=self.shape[1],
            fr=(rows - r0).astype(np.float32),
            fc=(cols - c0).astype(np.float32),
        )

    def sample(
        self, field: FloatArray, x: FloatArray, y: FloatArray, *, order: int = 1
    ) -> Float32Array:
        """Interpolate ``field`` (defined on the nodes) at map coordinates ``x``, ``y``.

        Order 1 is bilinear; points outside the lattice take the value of the nearest edge.
        """
        rows, cols = self.index(x, y)
        out = ndimage.map_coordinates(
            field, [rows.ravel(), cols.ravel()], order=order, mode="nearest", prefilter=False
        )
        return out.reshape(np.shape(x)).astype(np.float32, copy=False)
