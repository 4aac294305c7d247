"""The schema as the project first shipped it (before documents had a status of `partial`).

Written out table by table rather than from `storage.schema`, which moves on with later
revisions: this one must always build the same tables. A database created before the
project used Alembic has exactly these tables and no `alembic_version`; `db.init_db` stamps
it with this revision instead of running it.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# SQLite auto-increments only a column declared exactly INTEGER PRIMARY KEY.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", BIG_ID, nullable=False)


def _region_child(name: str, *columns: sa.schema.SchemaItem) -> None:
    """A table with one row per region (texts, figures, tables)."""
    op.create_table(
        name,
        _id(),
        sa.Column("region_id", BIG_ID, nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f(f"fk_{name}_region_id_regions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("region_id", name=op.f(f"uq_{name}_region_id")),
    )


def _partitions_and_documents() -> None:
    op.create_table(
        "partitions",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_partitions")),
    )
    op.create_table(
        "documents",
        _id(),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.String(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('ok', 'error')", name=op.f("ck_documents_status")),
        sa.ForeignKeyConstraint(
            ["partition"], ["partitions.key"], name=op.f("fk_documents_partition_partitions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("partition", "path", name=op.f("uq_documents_partition_path")),
    )
    op.create_index(op.f("ix_documents_partition"), "documents", ["partition"])
    op.create_index(op.f("ix_documents_sha256"), "documents", ["sha256"])


def _pages_and_regions() -> None:
    op.create_table(
        "pages",
        _id(),
        sa.Column("document_id", BIG_ID, nullable=False),
        sa.Column("page_no", sa.Integer(), nullable=False),
        sa.Column("width_pt", sa.Float(), nullable=False),
        sa.Column("height_pt", sa.Float(), nullable=False),
        sa.Column("image_path", sa.Text(), nullable=False),
        sa.Column("text_chars", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_pages_document_id_documents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pages")),
        sa.UniqueConstraint("document_id", "page_no", name=op.f("uq_pages_document_id_page_no")),
    )
    op.create_index(op.f("ix_pages_document_id"), "pages", ["document_id"])
    op.create_table(
        "regions",
        _id(),
        sa.Column("page_id", BIG_ID, nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=False) for name in ("x0", "y0", "x1", "y1", "score")),
        sa.CheckConstraint("kind IN ('text', 'figure', 'table')", name=op.f("ck_regions_kind")),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], name=op.f("fk_regions_page_id_pages"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions")),
        sa.UniqueConstraint("page_id", "idx", name=op.f("uq_regions_page_id_idx")),
    )
    op.create_index(op.f("ix_regions_page_id"), "regions", ["page_id"])


def _results() -> None:
    _region_child(
        "texts",
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("engine", sa.String(), nullable=False),
        sa.CheckConstraint("source IN ('text_layer', 'ocr')", name=op.f("ck_texts_source")),
    )
    _region_child(
        "figures",
        sa.Column("crop_path", sa.Text(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=True) for name in ("caption", "chart_title", "chart_json", "chart_raw")),
        sa.Column("chart_parse_ok", sa.Boolean(), nullable=True),
        sa.Column("engine", sa.String(), nullable=False),
    )
    _region_child(
        "tables",
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("n_cols", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in ("cells_json", "csv", "markdown", "html")),
        sa.Column("engine", sa.String(), nullable=False),
    )


def _run_records() -> None:
    op.create_table(
        "failures",
        _id(),
        sa.Column("partition", sa.String(), nullable=True),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("item", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failures")),
    )
    op.create_index(op.f("ix_failures_partition"), "failures", ["partition"])
    op.create_index(op.f("ix_failures_run_id"), "failures", ["run_id"])
    counters = ("items", "batches", "max_batch_size", "min_batch_size", "oom_retries", "failures")
    op.create_table(
        "stage_metrics",
        _id(),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("partitions", sa.Text(), nullable=False),
        *(sa.Column(name, sa.String(), nullable=False) for name in ("stage", "backend", "device")),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in counters),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("items_per_s", sa.Float(), nullable=False),
        sa.Column("peak_memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_metrics")),
    )
    op.create_index(op.f("ix_stage_metrics_run_id"), "stage_metrics", ["run_id"])


def upgrade() -> None:
    _partitions_and_documents()
    _pages_and_regions()
    _results()
    _run_records()


def downgrade() -> None:
    for name in ("stage_metrics", "failures", "tables", "figures", "texts", "regions", "pages", "documents"):
        op.drop_table(name)
    op.drop_table("partitions")
