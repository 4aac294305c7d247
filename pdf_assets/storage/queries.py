"""Read-side queries: row counts, partition states, whole tables as DataFrames and the
summary the CLI's `show` prints. Kept apart from the write path in `repository`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pdf_assets.core.errors import ConfigError
from pdf_assets.storage.schema import (
    TABLES,
    Base,
    DocumentRow,
    FailureRow,
    FigureRow,
    PageRow,
    PartitionRow,
    RegionRow,
    TableRow,
    TextRow,
)


def _utc(value: datetime) -> datetime:
    # SQLite keeps no zone: values written as UTC come back naive.
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def row_counts(session: Session) -> dict[str, int]:
    """Rows in every table of the schema."""
    return {name: session.scalar(select(func.count()).select_from(model)) or 0 for name, model in TABLES.items()}


def partition_states(session: Session) -> dict[str, tuple[str, datetime]]:
    """What each stored partition was built from: key -> (fingerprint, updated_at in UTC)."""
    rows = session.execute(select(PartitionRow.key, PartitionRow.fingerprint, PartitionRow.updated_at))
    return {key: (fingerprint, _utc(updated_at)) for key, fingerprint, updated_at in rows}


def read_frame(engine: Engine, table_name: str) -> pd.DataFrame:
    """A whole table as a DataFrame; the name is checked against the schema, never interpolated."""
    model = TABLES.get(table_name)
    if model is None:
        raise ConfigError(f"unknown table {table_name!r}; expected one of {sorted(TABLES)}")
    with engine.connect() as conn:
        return pd.read_sql(select(model.__table__), conn)


def stored_frames(engine: Engine, names: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Whole tables with the columns the database has, not the ones this checkout's schema
    declares (`read_sql_table` reflects them), so a database written by an older or newer
    version still reads; the readers that turn stored rows back into documents share it."""
    with engine.connect() as conn:
        return {name: pd.read_sql_table(name, conn) for name in names}


@dataclass(frozen=True)
class PartitionSummary:
    """Counts for one stored partition, as the CLI's `show` prints them."""

    key: str
    folder: str
    run_id: str
    updated_at: datetime
    documents_ok: int
    documents_error: int
    pages: int
    regions_by_kind: dict[str, int]
    texts_by_source: dict[str, int]
    tables: int
    figures: int
    documents_partial: int = 0  # read, but a stage failed on part of it
    regions_failed: int = 0  # a stage failed and nothing was kept
    regions_recovered: int = 0  # a stage failed and a fallback result was kept


@dataclass(frozen=True)
class FailureRecord:
    partition: str | None
    run_id: str
    stage: str
    item: str
    error: str


@dataclass(frozen=True)
class SummaryData:
    """The database at a glance: partitions and recent failures (a run's stage metrics are
    printed by `report.print_run_summary`)."""

    partitions: tuple[PartitionSummary, ...]
    recent_failures: tuple[FailureRecord, ...]


# How each child table reaches documents.partition, nearest parent first.
_PATHS: dict[type[Base], tuple[type[Base], ...]] = {
    PageRow: (DocumentRow,),
    RegionRow: (PageRow, DocumentRow),
    TextRow: (RegionRow, PageRow, DocumentRow),
    FigureRow: (RegionRow, PageRow, DocumentRow),
    TableRow: (RegionRow, PageRow, DocumentRow),
}


def _count_by_partition(session: Session, model: type[Base], column: str | None = None) -> dict[tuple[str, str], int]:
    """Rows of `model` per (partition, value of `column`), joined up to documents."""
    table = model.__table__
    group = [DocumentRow.partition, table.c[column]] if column else [DocumentRow.partition]
    stmt = select(*group, func.count()).select_from(table)
    for parent in _PATHS.get(model, ()):
        stmt = stmt.join(parent)
    result: dict[tuple[str, str], int] = {}
    for row in session.execute(stmt.group_by(*group)):
        result[(row[0], row[1] if column else "")] = row[-1]
    return result


def _by_value(counts: dict[tuple[str, str], int], key: str) -> dict[str, int]:
    return {value: n for (partition, value), n in sorted(counts.items()) if partition == key}


def _partition_summaries(session: Session) -> tuple[PartitionSummary, ...]:
    docs = _count_by_partition(session, DocumentRow, "status")
    pages = _count_by_partition(session, PageRow)
    regions = _count_by_partition(session, RegionRow, "kind")
    region_status = _count_by_partition(session, RegionRow, "status")
    texts = _count_by_partition(session, TextRow, "source")
    tables = _count_by_partition(session, TableRow)
    figures = _count_by_partition(session, FigureRow)
    stored = session.execute(select(PartitionRow).order_by(PartitionRow.key)).scalars()
    return tuple(
        PartitionSummary(
            key=p.key,
            folder=p.folder,
            run_id=p.run_id,
            updated_at=_utc(p.updated_at),
            documents_ok=docs.get((p.key, "ok"), 0),
            documents_error=docs.get((p.key, "error"), 0),
            pages=pages.get((p.key, ""), 0),
            regions_by_kind=_by_value(regions, p.key),
            texts_by_source=_by_value(texts, p.key),
            tables=tables.get((p.key, ""), 0),
            figures=figures.get((p.key, ""), 0),
            documents_partial=docs.get((p.key, "partial"), 0),
            regions_failed=region_status.get((p.key, "failed"), 0),
            regions_recovered=region_status.get((p.key, "recovered"), 0),
        )
        for p in stored
    )


def summary(session: Session, *, failure_limit: int = 20) -> SummaryData:
    """Per-partition counts and the newest failures."""
    newest = select(FailureRow).order_by(FailureRow.id.desc()).limit(failure_limit)
    failures = session.execute(newest).scalars()
    recent = tuple(FailureRecord(f.partition, f.run_id, f.stage, f.item, f.error) for f in failures)
    return SummaryData(_partition_summaries(session), recent)


def document_status_counts(session: Session, keys: Sequence[str]) -> dict[str, int]:
    """How many documents of the partitions `keys` are `ok`, `partial` and `error`."""
    counts = _count_by_partition(session, DocumentRow, "status")
    wanted = set(keys)
    out: dict[str, int] = {}
    for (partition, status), n in counts.items():
        if partition in wanted:
            out[status] = out.get(status, 0) + n
    return out
