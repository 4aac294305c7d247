"""What the UI shows of each partition: its own numbers and a look at its content.

One step materializes many partitions, and metadata given with the output lands on every
partition's materialization alike; so the run-wide numbers (the stage's model metrics) stay
on the output, and each partition gets its own counts and samples through
`context.add_asset_metadata(..., partition_key=...)`: the first table's cells as a table, a
sample of the text in reading order, the first page's image.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

from dagster import AssetExecutionContext, MetadataValue, TableColumn, TableRecord, TableSchema

from pdf_assets.core.types import TableResult
from pdf_assets.stages.manifests import (
    CategorizedRegions,
    FigureManifest,
    LayoutManifest,
    PagesManifest,
    TableManifest,
    TextManifest,
)

#: characters of a partition's text shown as its sample
TEXT_SAMPLE_CHARS = 600
#: rows of a partition's first table shown in its preview
TABLE_PREVIEW_ROWS = 20

Meta = dict[str, MetadataValue]


def counts_table(counts: Mapping[str, Mapping[str, int]]) -> MetadataValue:
    """One row per partition, one integer column per count: the run's overview."""
    names = sorted({c for row in counts.values() for c in row})
    schema = TableSchema(columns=[TableColumn("partition", "string"), *(TableColumn(n, "int") for n in names)])
    records = [
        TableRecord({"partition": key, **{n: int(row.get(n, 0)) for n in names}}) for key, row in sorted(counts.items())
    ]
    return MetadataValue.table(records, schema)


def table_cells(table: TableResult, limit: int = TABLE_PREVIEW_ROWS) -> MetadataValue:
    """A table's cells as the UI's table (first row as the header; spans repeat their text)."""
    rows = list(csv.reader(io.StringIO(table.csv))) or [[]]
    width = max(len(r) for r in rows)
    header = [h or f"column {i + 1}" for i, h in enumerate(rows[0] + [""] * (width - len(rows[0])))]
    names = (
        list(dict.fromkeys(header))
        if len(set(header)) == len(header)
        else [f"{i + 1}: {h}" for i, h in enumerate(header)]
    )
    schema = TableSchema(columns=[TableColumn(n, "string") for n in names])
    body = [dict(zip(names, r + [""] * (width - len(r)), strict=True)) for r in rows[1 : limit + 1]]
    return MetadataValue.table([TableRecord(r) for r in body], schema)


def partition_counts(values: Mapping[str, int]) -> Meta:
    """Counts of one partition, as `partition/<name>` integers (the overview table reads them back)."""
    return {f"partition/{k}": MetadataValue.int(v) for k, v in values.items()}


def pages_preview(m: PagesManifest) -> Meta:
    meta = partition_counts({"documents": len(m.documents), "pages": len(m.pages), "errors": len(m.failures)})
    if m.pages and Path(m.pages[0].image_path).exists():
        meta["first_page"] = MetadataValue.path(m.pages[0].image_path)
    return meta


def layouts_preview(m: LayoutManifest) -> Meta:
    kinds: dict[str, int] = {}
    for region in m.regions:
        kinds[region.kind.value] = kinds.get(region.kind.value, 0) + 1
    return partition_counts({"regions": len(m.regions), **{f"regions_{k}": n for k, n in sorted(kinds.items())}})


def categorized_preview(m: CategorizedRegions) -> Meta:
    return partition_counts(
        {"text": len(m.text), "figures": len(m.figures), "tables": len(m.tables), "failed": len(m.failures)}
    )


def text_preview(m: TextManifest) -> Meta:
    sources = {"text_layer": 0, "ocr": 0}
    for r in m.results:
        sources[r.source] = sources.get(r.source, 0) + 1
    meta = partition_counts({"texts": len(m.results), **sources, "failed": len(m.failures)})
    meta["text_sample"] = MetadataValue.text("\n".join(r.text for r in m.results)[:TEXT_SAMPLE_CHARS])
    return meta


def tables_preview(m: TableManifest) -> Meta:
    meta = partition_counts(
        {"tables": len(m.results), "cells": sum(len(t.cells) for t in m.results), "failed": len(m.failures)}
    )
    if m.results:
        first = m.results[0]
        meta["first_table"] = table_cells(first)
        meta["first_table_markdown"] = MetadataValue.md(first.markdown)
    return meta


def figures_preview(m: FigureManifest) -> Meta:
    charts = [f for f in m.results if f.chart]
    return partition_counts({"figures": len(m.results), "charts": len(charts), "failed": len(m.failures)})


def add_partition_metadata(context: AssetExecutionContext, asset: str, per_partition: Mapping[str, Meta]) -> None:
    """Each partition's own metadata on its own materialization (before the output is yielded)."""
    for key, meta in per_partition.items():
        context.add_asset_metadata(meta, asset_key=asset, partition_key=key)
