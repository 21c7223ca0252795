"""How: pure xarray/dask raster analytics, with I/O only at its edges (load, write)."""

# one module, one name: an `except` clause must never miss our errors imported twice
if __name__ != "yamasat.processing":
    raise ImportError(f"import yamasat.processing, not {__name__}: the folder is linked in yamasat")
