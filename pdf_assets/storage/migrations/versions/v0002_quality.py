"""Quality in the database: document status `partial` with failure counts, flags and doc_id;
region status and error; failures located by doc_id, page and region; page text.

Every new column is NOT NULL with a server default (or nullable), so existing rows stay
valid and an older writer's INSERTs still work. `documents.doc_id` is filled from `sha256`,
which held the doc_id until now. SQLite cannot change a CHECK constraint in place, so the
`documents` table is rebuilt from an explicit copy of its 0001 definition (batch mode; the
caller has switched foreign keys off, or the rebuild's DROP would cascade to pages).
Regions only gain columns: SQLite takes a CHECK in ADD COLUMN, so that large table is not
copied.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _documents_0001() -> sa.Table:
    """`documents` as revision 0001 created it: what SQLite's rebuild copies from."""
    return sa.Table(
        "documents",
        sa.MetaData(),
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.String(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('ok', 'error')", name="ck_documents_status"),
        sa.ForeignKeyConstraint(
            ["partition"], ["partitions.key"], name="fk_documents_partition_partitions", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.UniqueConstraint("partition", "path", name="uq_documents_partition_path"),
        sa.Index("ix_documents_partition", "partition"),
        sa.Index("ix_documents_sha256", "sha256"),
    )


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def upgrade() -> None:
    with op.batch_alter_table("documents", copy_from=_documents_0001()) as batch:
        batch.add_column(sa.Column("doc_id", sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("flags", sa.Text(), nullable=False, server_default=""))
        for name in ("failures", "failed_regions", "recovered_regions"):
            batch.add_column(_count(name))
        batch.drop_constraint(op.f("ck_documents_status"), type_="check")
        batch.create_check_constraint(op.f("ck_documents_status"), sa.text("status IN ('ok', 'partial', 'error')"))
    op.execute("UPDATE documents SET doc_id = sha256")
    op.create_index(op.f("ix_documents_partition_doc_id"), "documents", ["partition", "doc_id"])

    op.add_column("pages", sa.Column("text", sa.Text(), nullable=False, server_default=""))
    status_check = sa.CheckConstraint("status IN ('ok', 'failed', 'recovered')", name=op.f("ck_regions_status"))
    op.add_column(
        "regions", sa.Column("status", sa.String(length=10), status_check, nullable=False, server_default="ok")
    )
    op.add_column("regions", sa.Column("error", sa.Text(), nullable=True))

    op.add_column("failures", sa.Column("doc_id", sa.String(), nullable=True))
    op.add_column("failures", sa.Column("page_no", sa.Integer(), nullable=True))
    op.add_column("failures", sa.Column("region_idx", sa.Integer(), nullable=True))
    op.add_column("failures", sa.Column("recovered", sa.String(), nullable=True))
    op.create_index(op.f("ix_failures_doc_id"), "failures", ["doc_id"])


def downgrade() -> None:
    op.drop_index("ix_failures_doc_id", table_name="failures")
    for name in ("recovered", "region_idx", "page_no", "doc_id"):
        op.drop_column("failures", name)
    with op.batch_alter_table("regions") as batch:
        batch.drop_constraint(op.f("ck_regions_status"), type_="check")
        batch.drop_column("error")
        batch.drop_column("status")
    op.drop_column("pages", "text")
    op.drop_index("ix_documents_partition_doc_id", table_name="documents")
    op.execute("UPDATE documents SET status = 'ok' WHERE status = 'partial'")
    with op.batch_alter_table("documents") as batch:
        batch.drop_constraint(op.f("ck_documents_status"), type_="check")
        batch.create_check_constraint(op.f("ck_documents_status"), sa.text("status IN ('ok', 'error')"))
        for name in ("recovered_regions", "failed_regions", "failures", "flags", "doc_id"):
            batch.drop_column(name)
