"""Alembic migrations of the registry, run by :mod:`yamasat.catalogs.registry.engine`."""
