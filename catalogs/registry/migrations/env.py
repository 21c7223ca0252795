"""Alembic environment: runs on the connection (and transaction) the registry hands over.

There is no ``alembic.ini``: :func:`yamasat.catalogs.registry.engine.upgrade` builds the Config in
code and passes an open connection in ``config.attributes["connection"]`` so that the
upgrade runs inside the caller's transaction, under its write lock.
"""

from __future__ import annotations

from alembic import context

from yamasat.catalogs.registry.tables import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the registry migrations run only through yamasat.catalogs.registry.engine.upgrade "
        "(it passes an open connection); there is no alembic.ini"
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
