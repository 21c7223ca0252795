"""Rain events and what each asked for.

``rain_events`` holds one row per storm and municipality (``yamasat rainfall --events`` and
the ``rain_watch`` flow), unique on (municipality, start) so a rerun over the same days adds
nothing. ``rain_event_products`` holds, per event and product kind (S1 flood, S2 landslide),
whether the product was made (and which), is pending (and why) or was given up when its
window closed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rain_events",
        sa.Column("id", sa.String(120), nullable=False),
        sa.Column("municipality", sa.String(100), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("peak", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("first_crossing", sa.Date(), nullable=False),
        sa.Column("peak_mm", sa.Float(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("crossed", sa.JSON(), nullable=False),
        sa.Column("statistic", sa.String(8), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rain_events")),
        sa.UniqueConstraint(
            "municipality", "start", name=op.f("uq_rain_events_municipality_start")
        ),
    )
    op.create_index(
        op.f("ix_rain_events_municipality"), "rain_events", ["municipality"], unique=False
    )
    op.create_table(
        "rain_event_products",
        sa.Column("event_id", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("product_id", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("clear_fraction", sa.Float(), nullable=True),
        sa.Column("run_id", sa.String(100), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["rain_events.id"],
            name=op.f("fk_rain_event_products_event_id_rain_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_rain_event_products_product_id_products"),
        ),
        sa.PrimaryKeyConstraint("event_id", "kind", name=op.f("pk_rain_event_products")),
    )


def downgrade() -> None:
    op.drop_table("rain_event_products")
    op.drop_index(op.f("ix_rain_events_municipality"), table_name="rain_events")
    op.drop_table("rain_events")
