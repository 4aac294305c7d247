"""Repository functions: domain objects in, rows out, nothing committed here.

A run writes through `replace_partitions`, which deletes every row of the run's partitions
and inserts the new ones inside the caller's transaction (`db.session_scope`), so a
re-run replaces rather than duplicates and readers never see half a run. The domain objects
know each other by keys (partition and doc_id, page number, reading-order index), the rows by
integer ids: each parent table is inserted by a `bulk.BulkWriter` that hands back the new ids
in row order (COPY on PostgreSQL, one executemany on SQLite; see `bulk` for why that is safe).
Nothing is keyed by content hash: two byte-identical PDFs are two documents with their own
doc_ids and one sha256. What failures mean for the rows (status, counts) is `quality`'s.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from pdf_assets.core.bundle import RunBundle, failure_doc_id
from pdf_assets.core.errors import PdfAssetsError
from pdf_assets.core.types import (
    ChartData,
    DocumentInfo,
    FigureResult,
    ItemFailure,
    PageRef,
    Region,
    RegionKey,
    TableCell,
    TableResult,
    TextResult,
)
from pdf_assets.storage.bulk import BulkWriter, writer_for
from pdf_assets.storage.quality import DocumentState, RegionState, document_states, page_texts, region_states
from pdf_assets.storage.schema import (
    DocumentRow,
    FailureRow,
    FigureRow,
    PageRow,
    PartitionRow,
    RegionRow,
    StageMetricRow,
    TableRow,
    TextRow,
)

logger = logging.getLogger(__name__)

Row = dict[str, object]
DocLookup = dict[tuple[str, str], int]  # (partition, doc_id) -> documents.id
PageLookup = dict[tuple[str, str, int], int]  # (partition, doc_id, page_no) -> pages.id
RegionLookup = dict[tuple[str, RegionKey], int]  # (partition, key) -> regions.id
DocKey = tuple[str, str]  # (partition, doc_id)
PageTexts = dict[tuple[str, str, int], str]  # (partition, doc_id, page_no) -> pages.text


class BundleError(PdfAssetsError, ValueError):
    """A bundle refers to something it does not contain (a region on a page never rendered)."""


class MissingFolderError(BundleError):
    """A partition would be emptied although its folder is gone: a moved or unmounted inbox
    must not wipe what was extracted from it. `delete_partitions` removes a partition on purpose."""


# The namespace of the per-partition advisory locks (any fixed int4; "pdfa").
_PG_PARTITION_LOCKS = 0x70646661


def lock_partitions(session: Session, keys: Iterable[str]) -> None:
    """On PostgreSQL, wait for other transactions writing any of these partitions to end.

    Without it, two runs replacing one partition at once both delete nothing the other can
    see yet, and the later insert fails on a unique key. The locks are transaction-scoped
    (released at commit) and taken in sorted order so two writers cannot deadlock. SQLite
    needs none: its one write lock already serializes writers.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):
        session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))"), {"ns": _PG_PARTITION_LOCKS, "key": key}
        )


def delete_partitions(session: Session, keys: Iterable[str]) -> None:
    """Delete the partitions' rows; the database cascades documents down to texts and tables."""
    wanted = sorted(set(keys))
    if not wanted:
        return
    options = {"synchronize_session": False}
    # Documents explicitly as well, so the delete does not hinge on the partitions FK alone.
    session.execute(delete(DocumentRow).where(DocumentRow.partition.in_(wanted)).execution_options(**options))
    session.execute(delete(PartitionRow).where(PartitionRow.key.in_(wanted)).execution_options(**options))
    session.execute(delete(FailureRow).where(FailureRow.partition.in_(wanted)).execution_options(**options))


def _check_partitions(bundle: RunBundle) -> None:
    known = bundle.partitions.keys()
    groups: tuple[Sequence[DocumentInfo | PageRef | Region | TextResult | FigureResult | TableResult], ...]
    groups = (bundle.documents, bundle.pages, bundle.regions, bundle.texts, bundle.figures, bundle.tables)
    for group in groups:
        stray = {item.partition for item in group} - known
        if stray:
            raise BundleError(f"bundle {bundle.run_id} holds rows of undeclared partitions {sorted(stray)}")
    seen: dict[tuple[str, str], str] = {}
    for doc in bundle.documents:
        other = seen.setdefault((doc.partition, doc.doc_id), doc.path)
        if other != doc.path:
            message = f"documents {other} and {doc.path} of partition {doc.partition} share the doc_id {doc.doc_id}"
            raise BundleError(message + "; a doc_id must name one file in one folder")
    has_documents = {doc.partition for doc in bundle.documents}
    for key, (folder, _fingerprint) in bundle.partitions.items():
        if key not in has_documents and not Path(folder).is_dir():
            raise MissingFolderError(
                f"partition {key}: its folder {folder} does not exist and the run found no documents; "
                "refusing to replace its stored rows with nothing (delete_partitions removes a partition)"
            )


def _insert_documents(
    writer: BulkWriter, docs: Sequence[DocumentInfo], states: dict[DocKey, DocumentState]
) -> DocLookup:
    rows: list[Row] = []
    for d in docs:
        state = states[(d.partition, d.doc_id)]
        rows.append(
            {
                "doc_id": d.doc_id,
                "sha256": d.sha256 or d.doc_id,  # a bundle from before content hashes: the id
                "partition": d.partition,
                "path": d.path,
                "pages": d.pages,
                "status": state.status,
                "error": d.error,
                "flags": ",".join(d.flags),
                "failures": state.failures,
                "failed_regions": state.failed_regions,
                "recovered_regions": state.recovered_regions,
            }
        )
    ids = writer.insert_ids(DocumentRow, rows)
    return {(d.partition, d.doc_id): new_id for d, new_id in zip(docs, ids, strict=True)}


def _insert_pages(writer: BulkWriter, pages: Sequence[PageRef], docs: DocLookup, texts: PageTexts) -> PageLookup:
    rows: list[Row] = []
    for page in pages:
        document_id = docs.get((page.partition, page.doc_id))
        if document_id is None:
            raise BundleError(f"page {page.page_no} of {page.pdf_path} has no document in the bundle")
        rows.append(
            {
                "document_id": document_id,
                "page_no": page.page_no,
                "width_pt": page.width_pt,
                "height_pt": page.height_pt,
                "image_path": page.image_path,
                "text_chars": page.text_chars,
                "text": texts.get((page.partition, page.doc_id, page.page_no), ""),
            }
        )
    ids = writer.insert_ids(PageRow, rows)
    return {(p.partition, p.doc_id, p.page_no): new_id for p, new_id in zip(pages, ids, strict=True)}


def _insert_regions(
    writer: BulkWriter, regions: Sequence[Region], pages: PageLookup, states: dict[tuple[str, RegionKey], RegionState]
) -> RegionLookup:
    rows: list[Row] = []
    for region in regions:
        page_id = pages.get((region.partition, region.key.doc_id, region.key.page_no))
        if page_id is None:
            raise BundleError(f"region {region.key.slug()} of {region.partition} is on no page of the bundle")
        box = region.box
        state = states.get((region.partition, region.key))
        rows.append(
            {
                "page_id": page_id,
                "idx": region.key.index,
                "kind": region.kind.value,
                "label": region.label,
                "x0": box.x0,
                "y0": box.y0,
                "x1": box.x1,
                "y1": box.y1,
                "score": region.score,
                "status": state.status if state else "ok",
                "error": state.error if state else None,
            }
        )
    ids = writer.insert_ids(RegionRow, rows)
    return {(r.partition, r.key): new_id for r, new_id in zip(regions, ids, strict=True)}


def _region_id(regions: RegionLookup, partition: str, key: RegionKey) -> int:
    try:
        return regions[(partition, key)]
    except KeyError as exc:
        message = f"result for region {key.slug()} of {partition} has no region in the bundle"
        raise BundleError(message) from exc


def _text_row(t: TextResult, regions: RegionLookup) -> Row:
    return {
        "region_id": _region_id(regions, t.partition, t.key),
        "text": t.text,
        "source": t.source,
        "confidence": t.confidence,
        "engine": t.engine,
    }


def _chart_json(chart: ChartData | None) -> str | None:
    # A chart whose model output did not parse has no trustworthy table; chart_raw keeps it.
    if chart is None or not chart.parse_ok:
        return None
    return json.dumps({"header": list(chart.header), "rows": [list(r) for r in chart.rows]})


def _figure_row(f: FigureResult, regions: RegionLookup) -> Row:
    chart = f.chart
    return {
        "region_id": _region_id(regions, f.partition, f.key),
        "crop_path": f.crop_path,
        "caption": f.caption,
        "chart_title": chart.title if chart else None,
        "chart_json": _chart_json(chart),
        "chart_raw": chart.raw_text if chart else None,
        "chart_parse_ok": chart.parse_ok if chart else None,
        "engine": f.engine,
    }


_CELL_FIELDS = tuple(f.name for f in fields(TableCell))


def _cells_json(cells: Sequence[TableCell]) -> str:
    """The cells as `dataclasses.asdict` would give them, without its deep copy of every value.

    Cells hold only ints, strings and bools, and the deep copy was the slowest step of a write.
    """
    return json.dumps([{name: getattr(cell, name) for name in _CELL_FIELDS} for cell in cells])


def _table_row(t: TableResult, regions: RegionLookup) -> Row:
    return {
        "region_id": _region_id(regions, t.partition, t.key),
        "n_rows": t.n_rows,
        "n_cols": t.n_cols,
        "cells_json": _cells_json(t.cells),
        "csv": t.csv,
        "markdown": t.markdown,
        "html": t.html,
        "engine": t.engine,
    }


def _failure_row(bundle: RunBundle, f: ItemFailure) -> Row:
    region = f.region
    return {
        "partition": bundle.partition_of(f),
        "run_id": bundle.run_id,
        "stage": f.stage,
        "item": f.item,
        "error": f.error,
        "doc_id": failure_doc_id(f),
        "page_no": region.page_no if region else None,
        "region_idx": region.index if region else None,
        "recovered": f.recovered,
    }


def _metric_rows(bundle: RunBundle, now: datetime) -> list[Row]:
    joined = ",".join(sorted(bundle.partitions))
    extra = {"run_id": bundle.run_id, "partitions": joined, "created_at": now}
    return [{**m.as_dict(), **extra} for m in bundle.metrics]


def replace_partitions(
    session: Session, bundle: RunBundle, *, now: datetime | None = None, writer: BulkWriter | None = None
) -> dict[str, int]:
    """Replace every row of the bundle's partitions with the bundle; returns inserted rows per table.

    Failures that `RunBundle.partition_of` cannot place are replaced per run id, so writing
    the same bundle twice stays idempotent. Stage metrics are history and are appended. The
    deletes come first: on SQLite they take the write lock that `bulk.SqliteWriter` relies
    on. `writer` defaults to the fastest one for the dialect. Raises `BundleError` (and
    writes nothing) for an inconsistent bundle, `MissingFolderError` for a partition that
    would be emptied because its folder is gone.
    """
    _check_partitions(bundle)
    now = now or datetime.now(timezone.utc)
    keys = list(bundle.partitions)
    lock_partitions(session, keys)
    delete_partitions(session, keys)
    session.execute(
        delete(FailureRow)
        .where(FailureRow.partition.is_(None), FailureRow.run_id == bundle.run_id)
        .execution_options(synchronize_session=False)
    )
    writer = writer or writer_for(session)
    partitions: list[Row] = [
        {"key": key, "folder": folder, "fingerprint": fp, "run_id": bundle.run_id, "updated_at": now}
        for key, (folder, fp) in bundle.partitions.items()
    ]
    counts = {"partitions": writer.insert(PartitionRow, partitions)}
    region_state = region_states(bundle)
    docs = _insert_documents(writer, bundle.documents, document_states(bundle, region_state))
    pages = _insert_pages(writer, bundle.pages, docs, page_texts(bundle))
    regions = _insert_regions(writer, bundle.regions, pages, region_state)
    counts.update(documents=len(bundle.documents), pages=len(bundle.pages), regions=len(bundle.regions))
    counts["texts"] = writer.insert(TextRow, [_text_row(t, regions) for t in bundle.texts])
    counts["figures"] = writer.insert(FigureRow, [_figure_row(f, regions) for f in bundle.figures])
    counts["tables"] = writer.insert(TableRow, [_table_row(t, regions) for t in bundle.tables])
    counts["failures"] = writer.insert(FailureRow, [_failure_row(bundle, f) for f in bundle.failures])
    counts["stage_metrics"] = writer.insert(StageMetricRow, _metric_rows(bundle, now))
    logger.info("run %s: replaced partitions %s: %s", bundle.run_id, keys, counts)
    return counts
