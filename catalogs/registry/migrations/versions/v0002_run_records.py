"""Run records and the acquisitions watch list.

``runs`` gains what an operator needs to see and resume a run: its parameters, AOI and
deployment, its state (running, completed, failed), outcome, machine-readable failure reason
and message, start, end and duration, the products it made, the run it resumed, and the host
and process that ran it (so a run whose process died can be told from a live one).
Rows written by revision 0001 were runs that made products, so they become ``completed``.

``acquisitions`` lists the satellite acquisitions a watch flow (the daily Sentinel-1 check)
has handled, so that the next check maps only new ones.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("state", sa.String(16), nullable=False, server_default="completed")
        )
        batch.add_column(sa.Column("parameters", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("aoi", sa.String(200), nullable=True))
        batch.add_column(sa.Column("deployment", sa.String(100), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(32), nullable=True))
        batch.add_column(sa.Column("reason", sa.String(64), nullable=True))
        batch.add_column(sa.Column("message", sa.Text(), nullable=True))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("duration_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("products", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("resumed_from", sa.String(100), nullable=True))
        batch.add_column(sa.Column("host", sa.String(200), nullable=True))
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_runs_recorded_at"), ["recorded_at"], unique=False)
    op.create_table(
        "acquisitions",
        sa.Column("id", sa.String(240), nullable=False),
        sa.Column("collection", sa.String(100), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("watch", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("municipalities", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(100), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_acquisitions_run_id_runs")),
        sa.PrimaryKeyConstraint("watch", "id", name=op.f("pk_acquisitions")),
    )


def downgrade() -> None:
    op.drop_table("acquisitions")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index(batch.f("ix_runs_recorded_at"))
        for name in (
            "pid", "host", "resumed_from", "products", "duration_s", "finished_at",
            "started_at", "message", "reason", "outcome", "deployment", "aoi", "parameters",
            "state",
        ):  # fmt: skip
            batch.drop_column(name)
