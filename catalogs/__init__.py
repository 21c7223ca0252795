"""What exists and where: sources, places and periods, product STAC, registry, sample."""

# one module, one name: an `except` clause must never miss our errors imported twice
if __name__ != "yamasat.catalogs":
    raise ImportError(f"import yamasat.catalogs, not {__name__}: the folder is linked into yamasat")
