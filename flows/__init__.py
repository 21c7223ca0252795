"""When and in what order: Prefect flows, their steps, run records, deployments, the CLI."""

# one module, one name: an `except` clause must never miss our errors imported twice
if __name__ != "yamasat.flows":
    raise ImportError(f"import yamasat.flows, not {__name__}: the folder is linked into yamasat")
