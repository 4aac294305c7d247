"""The database schema: one typed ORM class per table.

Rows hang off `partitions` through `documents`, and every foreign key below a document is
`ON DELETE CASCADE`, so replacing a partition is "delete its documents, insert the new
ones" with the database removing pages, regions, texts, figures and tables in the same
transaction. Relationships are `lazy="raise"`: a reader must say what it loads, so no
code path silently issues one query per row. JSON payloads are stored as text so pandas
`read_sql` and plain SQL see the same value on SQLite and PostgreSQL.

Quality is stored where a SQL user looks for it:

- `documents.status` is `ok`, `partial` (read, but some stage failed on part of it: see
  `failures`, `failed_regions`, `recovered_regions`; or only partly read: flag `repaired`,
  `pages_empty` or `timeout`) or `error` (unreadable: see `error`);
  `flags` is the comma-joined `core.types.DOCUMENT_FLAGS` it carries (`flags LIKE
  '%encrypted%'`); `sha256` is the content hash (two copies of one file share it), `doc_id`
  the pipeline's key of this file in this folder.
- `regions.status` is `ok`, `failed` (a stage failed and nothing was kept; `error` says why)
  or `recovered` (a stage failed but a fallback result was stored, e.g. OCR text for a broken
  text layer); `regions.score` is the layout model's score, `texts.confidence` the text
  engine's.
- `failures` has one row per failure with `doc_id`, `page_no` and `region_idx` where it hit
  one: join `documents` on (`partition`, `doc_id`), then `pages`/`regions` on the numbers.
  No foreign key: a failure row outlives a re-run of its document.
- `pages.text` is the page's text results joined in reading order, for full-text use without
  a join.

The schema is created and changed only by the Alembic revisions in `storage/migrations`
(`db.init_db` runs them); a change here needs a new revision there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeEngine

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY; PostgreSQL
# gets 64-bit ids because regions and texts grow by millions on a large backfill.
BigId = BigInteger().with_variant(Integer(), "sqlite")

DOCUMENT_STATUSES = ("ok", "partial", "error")
REGION_STATUSES = ("ok", "failed", "recovered")
TEXT_SOURCES = ("text_layer", "ocr")
REGION_KINDS = ("text", "figure", "table")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention, so constraint names are stable."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[type, TypeEngine[Any]]] = {
        str: String(),
        datetime: DateTime(timezone=True),
        float: Float(),
        int: Integer(),
    }


class PartitionRow(Base):
    """One folder of PDFs as last written; the fingerprint lets a sensor skip unchanged folders."""

    __tablename__ = "partitions"

    key: Mapped[str] = mapped_column(primary_key=True)
    folder: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str]
    run_id: Mapped[str]
    updated_at: Mapped[datetime]

    documents: Mapped[list[DocumentRow]] = relationship(
        back_populates="partition_row", lazy="raise", passive_deletes=True
    )


class DocumentRow(Base):
    """One PDF in one folder. The same file in two folders is two rows with one sha256.

    `doc_id` is unique within a partition (the writer checks it; not a database constraint,
    because databases written before it existed may hold copies that shared one).
    """

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("partition", "path"),
        CheckConstraint(_in("status", DOCUMENT_STATUSES), name="status"),
        Index("ix_documents_partition_doc_id", "partition", "doc_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    partition: Mapped[str] = mapped_column(ForeignKey("partitions.key", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    pages: Mapped[int]
    status: Mapped[str] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(Text)
    # Server defaults: rows of databases migrated from before these columns existed get them.
    doc_id: Mapped[str] = mapped_column(server_default="")
    flags: Mapped[str] = mapped_column(Text, server_default="")  # comma-joined DOCUMENT_FLAGS
    failures: Mapped[int] = mapped_column(server_default="0")  # failure rows that hit it
    failed_regions: Mapped[int] = mapped_column(server_default="0")
    recovered_regions: Mapped[int] = mapped_column(server_default="0")

    partition_row: Mapped[PartitionRow] = relationship(back_populates="documents", lazy="raise")
    page_rows: Mapped[list[PageRow]] = relationship(back_populates="document", lazy="raise", passive_deletes=True)


class PageRow(Base):
    """A rendered page; `page_no` is 0-based and sizes are in PDF points."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("document_id", "page_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    document_id: Mapped[int] = mapped_column(BigId, ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    page_no: Mapped[int]
    width_pt: Mapped[float]
    height_pt: Mapped[float]
    image_path: Mapped[str] = mapped_column(Text)
    text_chars: Mapped[int]
    text: Mapped[str] = mapped_column(Text, server_default="")  # text results in reading order

    document: Mapped[DocumentRow] = relationship(back_populates="page_rows", lazy="raise")
    regions: Mapped[list[RegionRow]] = relationship(back_populates="page", lazy="raise", passive_deletes=True)


class RegionRow(Base):
    """A layout region; the box is in PDF points, top-left origin, like `core.types.Box`."""

    __tablename__ = "regions"
    __table_args__ = (
        UniqueConstraint("page_id", "idx"),
        CheckConstraint(_in("kind", REGION_KINDS), name="kind"),
        CheckConstraint(_in("status", REGION_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page_id: Mapped[int] = mapped_column(BigId, ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int]
    kind: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(32))
    x0: Mapped[float]
    y0: Mapped[float]
    x1: Mapped[float]
    y1: Mapped[float]
    score: Mapped[float]
    status: Mapped[str] = mapped_column(String(10), server_default="ok")
    error: Mapped[str | None] = mapped_column(Text)  # the failures' errors when not `ok`

    page: Mapped[PageRow] = relationship(back_populates="regions", lazy="raise")
    text: Mapped[TextRow | None] = relationship(back_populates="region", lazy="raise", passive_deletes=True)
    figure: Mapped[FigureRow | None] = relationship(back_populates="region", lazy="raise", passive_deletes=True)
    table: Mapped[TableRow | None] = relationship(back_populates="region", lazy="raise", passive_deletes=True)


class TextRow(Base):
    """The text of one region, from the PDF's text layer or from OCR."""

    __tablename__ = "texts"
    __table_args__ = (CheckConstraint(_in("source", TEXT_SOURCES), name="source"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    region_id: Mapped[int] = mapped_column(BigId, ForeignKey("regions.id", ondelete="CASCADE"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float]
    engine: Mapped[str]

    region: Mapped[RegionRow] = relationship(back_populates="text", lazy="raise")


class FigureRow(Base):
    """A figure crop; `chart_json` is {"header": [...], "rows": [[...]]} when a chart parsed."""

    __tablename__ = "figures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    region_id: Mapped[int] = mapped_column(BigId, ForeignKey("regions.id", ondelete="CASCADE"), unique=True)
    crop_path: Mapped[str] = mapped_column(Text)
    caption: Mapped[str | None] = mapped_column(Text)
    chart_title: Mapped[str | None] = mapped_column(Text)
    chart_json: Mapped[str | None] = mapped_column(Text)
    chart_raw: Mapped[str | None] = mapped_column(Text)
    chart_parse_ok: Mapped[bool | None]
    engine: Mapped[str]

    region: Mapped[RegionRow] = relationship(back_populates="figure", lazy="raise")


class TableRow(Base):
    """A table: cells with spans as JSON plus ready-made CSV, Markdown and HTML renderings."""

    __tablename__ = "tables"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    region_id: Mapped[int] = mapped_column(BigId, ForeignKey("regions.id", ondelete="CASCADE"), unique=True)
    n_rows: Mapped[int]
    n_cols: Mapped[int]
    cells_json: Mapped[str] = mapped_column(Text)
    csv: Mapped[str] = mapped_column(Text)
    markdown: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    engine: Mapped[str]

    region: Mapped[RegionRow] = relationship(back_populates="table", lazy="raise")


class FailureRow(Base):
    """An item a stage could not process. Not a foreign key: failures outlive their documents.

    `doc_id`, `page_no` and `region_idx` locate it (NULL where the failure did not name a
    document or region); `recovered` is what was stored instead (e.g. `ocr`), NULL if nothing.
    """

    __tablename__ = "failures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partition: Mapped[str | None] = mapped_column(index=True)
    run_id: Mapped[str] = mapped_column(index=True)
    stage: Mapped[str]
    item: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)
    doc_id: Mapped[str | None] = mapped_column(index=True)
    page_no: Mapped[int | None]
    region_idx: Mapped[int | None]
    recovered: Mapped[str | None]


class StageMetricRow(Base):
    """What one stage did in one run; appended, never replaced, so throughput has a history."""

    __tablename__ = "stage_metrics"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[str] = mapped_column(index=True)
    partitions: Mapped[str] = mapped_column(Text)  # comma-joined, sorted partition keys
    stage: Mapped[str]
    backend: Mapped[str]
    device: Mapped[str]
    items: Mapped[int]
    batches: Mapped[int]
    max_batch_size: Mapped[int]
    min_batch_size: Mapped[int]
    oom_retries: Mapped[int]
    failures: Mapped[int]
    seconds: Mapped[float]
    items_per_s: Mapped[float]
    peak_memory_bytes: Mapped[int] = mapped_column(BigInteger)  # GPU memory exceeds 2**31
    created_at: Mapped[datetime]


#: every table, parents first
TABLES: dict[str, type[Base]] = {
    cls.__tablename__: cls
    for cls in (
        PartitionRow,
        DocumentRow,
        PageRow,
        RegionRow,
        TextRow,
        FigureRow,
        TableRow,
        FailureRow,
        StageMetricRow,
    )
}
