"""Alembic migrations of the registry (run programmatically by :mod:`catalogs.registry.engine`)."""
