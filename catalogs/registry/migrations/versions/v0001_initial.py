"""Initial registry schema: solutions, status changes, runs, products, evidence links.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_STATUS = "status IN ('proposed', 'prototype', 'developed', 'deployed', 'retired')"


def _ts(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "solutions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name_ja", sa.String(200), nullable=True),
        sa.Column("name_en", sa.String(200), nullable=True),
        sa.Column("name_ja_key", sa.String(200), nullable=True),
        sa.Column("name_en_key", sa.String(200), nullable=True),
        sa.Column("organization", sa.String(200), nullable=False),
        sa.Column("org_key", sa.String(200), nullable=False),
        sa.Column("theme", sa.String(100), nullable=False),
        sa.Column("data_sources", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("developed_on", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint(_STATUS, name=op.f("ck_solutions_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_solutions")),
        sa.UniqueConstraint(
            "org_key", "name_en_key", name=op.f("uq_solutions_org_key_name_en_key")
        ),
        sa.UniqueConstraint(
            "org_key", "name_ja_key", name=op.f("uq_solutions_org_key_name_ja_key")
        ),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("flow", sa.String(100), nullable=False),
        sa.Column("software_version", sa.String(40), nullable=False),
        _ts("recorded_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_table(
        "status_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("solution_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _ts("recorded_at"),
        sa.ForeignKeyConstraint(
            ["solution_id"],
            ["solutions.id"],
            name=op.f("fk_status_changes_solution_id_solutions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_changes")),
        sa.UniqueConstraint("solution_id", "seq", name=op.f("uq_status_changes_solution_id_seq")),
    )
    op.create_index(
        op.f("ix_status_changes_solution_id"), "status_changes", ["solution_id"], unique=False
    )
    op.create_table(
        "products",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("aoi", sa.String(200), nullable=False),
        sa.Column("before", sa.String(40), nullable=False),
        sa.Column("after", sa.String(40), nullable=False),
        sa.Column("item_href", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(100), nullable=True),
        sa.Column("checksum", sa.String(80), nullable=False),
        sa.Column("valid_fraction", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("qa_status", sa.String(16), nullable=False),
        sa.Column("qa_message", sa.Text(), nullable=False),
        _ts("qa_checked_at"),
        sa.Column("item", sa.JSON(), nullable=False),
        _ts("registered_at"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_products_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_index(op.f("ix_products_kind"), "products", ["kind"], unique=False)
    op.create_index(op.f("ix_products_run_id"), "products", ["run_id"], unique=False)
    op.create_table(
        "solution_products",
        sa.Column("solution_id", sa.String(64), nullable=False),
        sa.Column("product_id", sa.String(200), nullable=False),
        _ts("attached_at"),
        sa.Column("attached_by", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_solution_products_product_id_products"),
        ),
        sa.ForeignKeyConstraint(
            ["solution_id"],
            ["solutions.id"],
            name=op.f("fk_solution_products_solution_id_solutions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("solution_id", "product_id", name=op.f("pk_solution_products")),
    )


def downgrade() -> None:
    op.drop_table("solution_products")
    op.drop_index(op.f("ix_products_run_id"), table_name="products")
    op.drop_index(op.f("ix_products_kind"), table_name="products")
    op.drop_table("products")
    op.drop_index(op.f("ix_status_changes_solution_id"), table_name="status_changes")
    op.drop_table("status_changes")
    op.drop_table("runs")
    op.drop_table("solutions")
