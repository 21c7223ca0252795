"""Writing: DataArrays -> validated COGs, polygons -> GeoParquet, rows -> CSV (the output edge).

COGs are streamed: the dask graph is computed block by block into a temporary tiled GeoTIFF
(memory stays at a few chunks), GDAL's COG driver then adds overviews and the final layout,
the result is validated with rio-cogeo, fsynced and renamed into place. A reader never sees a
partial file at the final path; an existing file is not replaced unless asked.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask.array as da
import numpy as np
import rasterio
import rasterio.shutil
import xarray as xr
from odc.geo.geobox import GeoBox
from rasterio.windows import Window

from ..errors import OutputExistsError, WriteError
from .faults import fault_point

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "COG_MEDIA_TYPE",
    "CogSpec",
    "WrittenFile",
    "atomic_path",
    "float_spec",
    "scaled_spec",
    "sha256_file",
    "write_cogs",
    "write_csv",
    "write_parquet",
    "write_raster",
]

COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
"""The media type STAC gives a Cloud-Optimized GeoTIFF asset."""


@dataclass(frozen=True)
class WrittenFile:
    """A file written and checked: where, how big, and its checksum."""

    path: Path
    size: int
    sha256: str
    """hex digest"""
    stream: Path | None = None
    """the uncompressed tiled GeoTIFF the COG was made from, when the writer was asked to keep
    it (same pixels, cheaper to read back than the DEFLATE COG; the caller removes it)"""

    @property
    def multihash(self) -> str:
        """The checksum as a STAC ``file:checksum`` multihash (sha2-256)."""
        return "1220" + self.sha256


@dataclass(frozen=True)
class CogSpec:
    """How to write one array as a COG."""

    nodata: float | int | None
    dtype: str
    resampling: str = "nearest"
    """overview resampling: ``nearest`` for classes, ``average`` for continuous values"""
    description: str = ""
    max_error: float | None = None
    """floats only: compress with LERC, each stored value within this absolute error of the
    computed one (a bounded-error codec made for measured rasters); None: lossless DEFLATE"""
    scale: float | None = None
    """integers holding a measured float: stored = round(value / scale), ``nodata`` where
    the value is NaN; the scale is written in the GeoTIFF's band metadata (GDAL's
    ``scale``/``offset``, which GDAL readers apply on request) and the file is ZSTD with
    horizontal differencing (:func:`scaled_spec`)"""


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in 1 MiB pieces."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(final: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success fsync and rename it into place.

    On any error the temporary file is removed and ``final`` is untouched.
    """
    final = Path(final)
    if final.exists() and not overwrite:
        raise OutputExistsError(f"{final} exists; pass overwrite (CLI --force) to replace it")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        yield tmp
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    finally:
        for p in (tmp, tmp.with_name(tmp.name + ".aux.xml")):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def _profile(arr: xr.DataArray, spec: CogSpec, geobox: GeoBox) -> dict[str, Any]:
    ny, nx = arr.shape
    if (ny, nx) != tuple(geobox.shape):
        raise WriteError(
            f"array {arr.name!r} has shape {(ny, nx)} but the grid is {tuple(geobox.shape)}"
        )
    return {
        "driver": "GTiff",
        "width": nx,
        "height": ny,
        "count": 1,
        "dtype": spec.dtype,
        "crs": geobox.crs.to_wkt() if geobox.crs is not None else None,
        "transform": geobox.affine,
        "nodata": spec.nodata,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        # the intermediate file is uncompressed: tiles are written as they come back, and the
        # COG step compresses once with GDAL's own threads
        "compress": "NONE",
        "BIGTIFF": "IF_SAFER",
    }


def _to_cog(src: Path, dst: Path, spec: CogSpec) -> None:
    floating = np.dtype(spec.dtype).kind == "f"
    try:
        # COG_TMP_COMPRESSION: the overviews GDAL computes first go to an uncompressed
        # temporary file (they are compressed once, into the COG, instead of twice); still
        # deterministic. Lossless floats use DEFLATE level 1: the low mantissa bits of
        # measured values are noise that no level compresses (level 6 saved 0.7 % of a
        # ΔNDVI tile for 40 % more CPU); see _codec for LERC.
        with rasterio.Env(COG_TMP_COMPRESSION="NONE"):
            _cog_copy(src, dst, spec, floating)
    except rasterio.errors.RasterioError as e:
        raise WriteError(f"GDAL could not write the COG {dst}: {e}") from e


def float_spec(max_error: float | None) -> CogSpec:
    """The spec of a measured float32 band (NaN nodata, averaged overviews)."""
    return CogSpec(nodata=float("nan"), dtype="float32", resampling="average", max_error=max_error)


SCALED_NODATA = -32768
"""the nodata of a measure stored as int16 (:func:`scaled_spec`)"""


def scaled_spec(scale: float = 1e-4) -> CogSpec:
    """A measured float in [−3.27, 3.27] (ΔNDVI, ΔNBR) stored as int16 × ``scale``: within
    ``scale / 2`` of the computed value, nodata −32768, averaged overviews.

    Cheaper than float32 LERC within 1e-4 on a Sentinel-2 tile's ΔNDVI (the COG step 2.5×
    less CPU, decoding 2×; 7 % larger): integers with horizontal differencing (predictor 2)
    and ZSTD level 1. ZSTD rather than DEFLATE: DEFLATE level 1 cost as much CPU as LERC,
    ZSTD half of it; a GDAL reader without ZSTD (GDAL < 2.3, or built without libzstd) is
    rarer than one without LERC, which the float32 files needed.
    """
    return CogSpec(nodata=SCALED_NODATA, dtype="int16", resampling="average", scale=scale)


def _codec(spec: CogSpec, floating: bool) -> dict[str, Any]:
    """Creation options of the COG's compression.

    Measured floats (ΔNDVI, MNDWI, slope, ΔNBR) carry low mantissa bits that are noise:
    DEFLATE saves nothing on them (a ΔNDVI tile: 548 MB from 548 MB raw, 2.9 s). LERC with a
    small error bound stores them in 168 MB in 1.2 s; GDAL ≥ 3.2 reads and writes it with NaN.
    """
    if floating and spec.max_error:
        return {"COMPRESS": "LERC", "MAX_Z_ERROR": spec.max_error}
    if spec.scale is not None:
        return {"COMPRESS": "ZSTD", "LEVEL": 1, "PREDICTOR": 2}
    if floating:
        return {"COMPRESS": "DEFLATE", "LEVEL": 1, "PREDICTOR": "YES"}
    return {"COMPRESS": "DEFLATE", "LEVEL": 6, "PREDICTOR": "NO"}


def _cog_copy(src: Path, dst: Path, spec: CogSpec, floating: bool) -> None:
    rasterio.shutil.copy(
        str(src),
        str(dst),
        driver="COG",
        **_codec(spec, floating),
        BLOCKSIZE=512,
        OVERVIEWS="AUTO",
        OVERVIEW_RESAMPLING=spec.resampling.upper(),
        RESAMPLING="NEAREST",
        NUM_THREADS="ALL_CPUS",
        BIGTIFF="IF_SAFER",
    )


def _check_cog(path: Path, final: Path) -> None:
    from rio_cogeo.cogeo import cog_validate

    ok, errors, _warnings = cog_validate(str(path), quiet=True)
    if not ok:
        raise WriteError(f"{final} is not a valid COG after writing: {errors}")


def write_cogs(
    arrays: Mapping[Path, tuple[xr.DataArray, CogSpec]],
    *,
    geobox: GeoBox,
    overwrite: bool = False,
    tags: Mapping[str, str] | None = None,
    keep_streams: bool = False,
    tile_px: int | None = None,
) -> dict[Path, WrittenFile]:
    """Compute and write several 2-D arrays as COGs in one pass over their shared graph.

    Each array must be 2-D (``y, x``) on ``geobox`` (CRS and transform of the files). All
    arrays are computed together by one ``dask.array.store`` call, so inputs they share are
    read once; tiles of chunks are written as they finish. Every output is validated (rio-cogeo) and
    checksummed before it is renamed into its final path. Returns the files by final path;
    with ``keep_streams`` each keeps its uncompressed source (:attr:`WrittenFile.stream`).
    ``tile_px`` (default 4608) is the edge of the tiles of chunks computed at once: larger
    for small outputs of a graph that reads its inputs chunk by chunk (fewer neighbouring
    chunks recomputed for halos), never for one that loads scenes.
    """
    for final in arrays:
        if Path(final).exists() and not overwrite:
            raise OutputExistsError(f"{final} exists; pass overwrite (CLI --force) to replace it")
    streams: dict[Path, tuple[Path, CogSpec]] = {}
    exact: dict[Path, Path] = {}  # scaled integers: the float32 values, when streams are kept
    kept: set[Path | None] = set()
    try:
        with contextlib.ExitStack() as datasets:
            sources, targets = [], []
            for final_path, (arr, spec) in arrays.items():
                final = Path(final_path)
                if arr.ndim != 2:
                    raise WriteError(f"{final}: expected a 2-D array, got dims {arr.dims}")
                final.parent.mkdir(parents=True, exist_ok=True)
                stream = final.with_name(f".{final.name}.stream-{os.getpid()}.tif")
                streams[final] = (stream, spec)
                dst = datasets.enter_context(
                    rasterio.open(stream, "w", **_profile(arr, spec, geobox))
                )
                if tags:
                    dst.update_tags(**tags)
                if spec.description:
                    dst.set_band_description(1, spec.description)
                if spec.scale is not None:
                    dst.scales, dst.offsets = (spec.scale,), (0.0,)
                sources.append(_as_dask(arr, spec))
                targets.append(dst)
                if keep_streams and spec.scale is not None:
                    # the caller reads the exact values back, not the rounded integers
                    exact[final] = final.with_name(f".{final.name}.exact-{os.getpid()}.tif")
                    as_float = float_spec(None)
                    sources.append(_as_dask(arr, as_float))
                    targets.append(
                        datasets.enter_context(
                            rasterio.open(exact[final], "w", **_profile(arr, as_float, geobox))
                        )
                    )
            _store_by_tiles(sources, targets, tile_px=tile_px or _TILE_PX)
        written: dict[Path, WrittenFile] = {}
        for final, (stream, spec) in streams.items():
            with atomic_path(final, overwrite=overwrite) as tmp_cog:
                _to_cog(stream, tmp_cog, spec)
                fault_point("cog_write")  # inert unless a test arms it (processing/faults.py)
                _check_cog(tmp_cog, final)
            written[final] = WrittenFile(
                final,
                final.stat().st_size,
                sha256_file(final),
                stream=exact.get(final, stream) if keep_streams else None,
            )
        kept = {w.stream for w in written.values()}
        return written
    finally:
        for stream in [s for s, _spec in streams.values()] + list(exact.values()):
            if stream not in kept:
                stream.unlink(missing_ok=True)


def write_raster(path: Path, arr: xr.DataArray, *, geobox: GeoBox, dtype: str = "float32") -> Path:
    """Stream a 2-D array on ``geobox`` into an uncompressed tiled GeoTIFF (an intermediate).

    Computed tile by tile like :func:`write_cogs` (flat memory), but neither converted to a
    COG nor checksummed: for a staging file that a later step reads back. NaN is kept as is.
    """
    path = Path(path)
    if arr.ndim != 2:
        raise WriteError(f"{path}: expected a 2-D array, got dims {arr.dims}")
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = CogSpec(nodata=None, dtype=dtype)
    try:
        with rasterio.open(path, "w", **_profile(arr, spec, geobox)) as dst:
            _store_by_tiles([_as_dask(arr, spec)], [dst])
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


_TILE_PX = 4608
"""edge of the tiles of chunks computed at once (3 × 1536-px chunks, the flows' default)"""


def _store_by_tiles(
    sources: list[da.Array], datasets: list[Any], *, tile_px: int = _TILE_PX
) -> None:
    """Compute the arrays one tile of chunks at a time and write each tile from this process.

    One ``dask.array.store`` over a whole scene lets the threaded scheduler load far more
    input chunks than it can write, so peak memory grows with the area; computing tile by
    tile (as many chunks square as fit in ``tile_px``, at least one) bounds it whatever the
    scene size and the chunk size (3 chunks of 2048 px held 0.2 GB more than 3 of 1536). The pixels
    come back to the caller and are written here, so the same code runs on the threaded
    scheduler and on a ``dask.distributed`` cluster (open files never travel to workers).
    Operations with a halo recompute only the neighbouring chunks they need at tile edges
    (for the loaders here: the cheap 20 m scene-classification chunks of the cloud mask).
    """
    import dask

    rows, cols = sources[0].chunks
    aligned = [s.rechunk((rows, cols)) for s in sources]
    y_edges = np.cumsum((0, *rows))
    x_edges = np.cumsum((0, *cols))
    k = max(1, tile_px // max(rows[0], cols[0]))
    for i in range(0, len(rows), k):
        for j in range(0, len(cols), k):
            # the tile's chunks, each written to its own window: a chunk computed alone is
            # the block itself, where the tile as one array was a copy of its chunks (dask's
            # concatenation); one compute over every source keeps their shared inputs shared
            picks = [
                (dst, a.blocks[bi, bj], bi, bj)
                for dst, a in zip(datasets, aligned, strict=True)
                for bi in range(i, min(i + k, len(rows)))
                for bj in range(j, min(j + k, len(cols)))
            ]
            values = dask.compute(*[block for _dst, block, _bi, _bj in picks])
            for (dst, _block, bi, bj), value in zip(picks, values, strict=True):
                window = Window(int(x_edges[bj]), int(y_edges[bi]), cols[bj], rows[bi])
                # a 3-D array and a list of bands: rasterio copies a 2-D one into 3-D first
                dst.write(np.asarray(value)[np.newaxis], [1], window=window)


def _as_dask(arr: xr.DataArray, spec: CogSpec) -> da.Array:
    data = arr.data
    if not isinstance(data, da.Array):
        data = da.from_array(np.asarray(data), chunks=(2048, 2048))
    if data.dtype.kind == "f" and np.dtype(spec.dtype).kind != "f":
        fill = spec.nodata if spec.nodata is not None else 0
        if spec.scale is not None:
            return data.map_blocks(_quantize, spec.scale, fill, spec.dtype, dtype=spec.dtype)
        data = da.where(da.isnan(data), fill, data)
    return data.astype(spec.dtype)


def _quantize(block: np.ndarray, scale: float, fill: float, dtype: str) -> np.ndarray:
    """round(block / scale) as ``dtype`` (clipped to its range above its lowest value, which
    is kept for nodata), ``fill`` where NaN; in place on a float32 copy."""
    info = np.iinfo(dtype)
    q = np.divide(block, np.float32(scale), dtype=np.float32)
    np.rint(q, out=q)
    np.clip(q, info.min + 1, info.max, out=q)
    q[np.isnan(block)] = fill
    return q.astype(dtype)


def write_parquet(gdf: gpd.GeoDataFrame, path: Path) -> WrittenFile:
    """GeoParquet written atomically and read back (refused if the CRS is lost)."""
    import geopandas as gpd

    with atomic_path(path, overwrite=True) as tmp:
        gdf.to_parquet(tmp, index=False, compression="zstd", write_covering_bbox=False)
        if gpd.read_parquet(tmp).crs is None:
            raise WriteError(f"GeoParquet {path} lost its CRS on read-back")
    return WrittenFile(path, path.stat().st_size, sha256_file(path))


def write_csv(rows: Sequence[Mapping[str, Any]], path: Path, columns: Sequence[str]) -> WrittenFile:
    """``rows`` as UTF-8 CSV with a BOM (so spreadsheet software shows 日本語), written
    atomically; keys not in ``columns`` are left out."""
    with (
        atomic_path(path, overwrite=True) as tmp,
        tmp.open("w", encoding="utf-8-sig", newline="") as f,
    ):
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return WrittenFile(path, path.stat().st_size, sha256_file(path))
