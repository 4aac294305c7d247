"""The partitioned asset chain: thin wrappers that hand all partitions of a run to a stage.

Every asset reads `context.partition_keys` (never `partition_key`) and has the same
partitions definition and a single-run backfill policy, so a backfill over many folders is
ONE run and each model batches across all of its documents.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    Backoff,
    Failure,
    MetadataValue,
    Output,
    RetryPolicy,
    asset,
)

from pdf_assets.core.errors import ConfigError, SystemicError
from pdf_assets.core.types import ItemFailure
from pdf_assets.defs.metadata import (
    counts_preview,
    failures_metadata,
    metrics_metadata,
    progress_to_log,
    run_log_progress,
)
from pdf_assets.defs.partitions import folder_partitions
from pdf_assets.defs.resources import PdfAssetsResource
from pdf_assets.stages.figures import extract_figures
from pdf_assets.stages.layout import detect_layouts
from pdf_assets.stages.manifests import (
    CategorizedRegions,
    FigureManifest,
    LayoutManifest,
    PagesManifest,
    TableManifest,
    TextManifest,
)
from pdf_assets.stages.pipeline import PipelineOutputs, all_failures, build_bundle, categorize_all, stage_metrics
from pdf_assets.stages.render import render_partitions
from pdf_assets.stages.tables import extract_tables
from pdf_assets.stages.text import extract_text
from pdf_assets.storage.db import init_db, make_engine, session_scope
from pdf_assets.storage.repository import replace_partitions

GROUP = "pdf"
# Keyword arguments every asset shares; their types are as varied as `@asset`'s parameters.
COMMON: dict[str, Any] = {
    "partitions_def": folder_partitions,
    "backfill_policy": BackfillPolicy.single_run(),
    "retry_policy": RetryPolicy(max_retries=2, delay=5, backoff=Backoff.EXPONENTIAL),
    "io_manager_key": "pdf_values",
    "group_name": GROUP,
}
GPU: dict[str, Any] = {"pool": "gpu"}

pdf_folders = AssetSpec(
    "pdf_folders",
    partitions_def=folder_partitions,
    group_name=GROUP,
    description="Folders of PDFs under the inbox; the sensor reports each new or changed folder.",
)


@contextmanager
def fail_fast_on_systemic_errors() -> Iterator[None]:
    """A missing model or device will not fix itself: fail without the retry policy's retries."""
    try:
        yield
    except (SystemicError, ConfigError) as exc:
        raise Failure(description=f"{type(exc).__name__}: {exc}", allow_retries=False) from exc


def _check(asset: str, name: str, description: str) -> list[AssetCheckSpec]:
    return [AssetCheckSpec(name, asset=asset, description=description)]


def _failures_check(name: str, failures: Sequence[ItemFailure]) -> AssetCheckResult:
    """Item failures warn (the rest of the data is fine) and say which items failed."""
    return AssetCheckResult(
        check_name=name,
        passed=not failures,
        severity=AssetCheckSeverity.WARN,
        metadata={"failed_items": len(failures), "first": MetadataValue.text(failures[0].item if failures else "")},
    )


@asset(deps=[pdf_folders], check_specs=_check("pages", "documents_readable", "Every PDF opened and rendered"), **COMMON)
def pages(context: AssetExecutionContext, pdf: PdfAssetsResource) -> Iterator[Output | AssetCheckResult]:
    """Every page of every PDF of the run, rendered in parallel processes into the page store."""
    folders = {key: pdf.folder_path(key) for key in context.partition_keys}
    store = pdf.data_path() / "pages"
    result = render_partitions(
        folders, store, pdf.render_dpi, pdf.render_workers, run_log_progress(context), pdf.render_max_pixels
    )
    failures = all_failures(result)
    counts = {
        k: {"documents": len(m.documents), "pages": len(m.pages), "errors": len(m.failures)} for k, m in result.items()
    }
    yield Output(result, metadata=_stage_meta(result, counts))
    yield _failures_check("documents_readable", failures)


@asset(check_specs=_check("layouts", "pages_analysed", "Every page went through layout"), **COMMON, **GPU)
def layouts(
    context: AssetExecutionContext, pdf: PdfAssetsResource, pages: dict[str, PagesManifest]
) -> Iterator[Output | AssetCheckResult]:
    """Regions with labels and boxes (PDF points) for all pages of the run, in batches."""
    with fail_fast_on_systemic_errors():
        result = detect_layouts(pages, progress_to_log(context, pdf.engine()))
    failures = all_failures(result)
    counts = {k: {"regions": len(m.regions)} for k, m in result.items()}
    yield Output(result, metadata=_stage_meta(result, counts))
    yield _failures_check("pages_analysed", failures)


@asset(**COMMON)
def categorized_regions(
    pdf: PdfAssetsResource, layouts: dict[str, LayoutManifest], pages: dict[str, PagesManifest]
) -> Output[dict[str, CategorizedRegions]]:
    """Regions bucketed into text / figure / table, with crops cut from the stored pages."""
    result = categorize_all(layouts, pages, pdf.data_path())
    counts = {k: {"text": len(m.text), "figures": len(m.figures), "tables": len(m.tables)} for k, m in result.items()}
    return Output(result, metadata={**failures_metadata(all_failures(result)), "preview": counts_preview(counts)})


@asset(**COMMON, **GPU)
def text_results(
    context: AssetExecutionContext, pdf: PdfAssetsResource, categorized_regions: dict[str, CategorizedRegions]
) -> Output[dict[str, TextManifest]]:
    """Text per region: the text layer where usable, OCR (batched over the run) elsewhere."""
    with fail_fast_on_systemic_errors():
        result = extract_text(categorized_regions, progress_to_log(context, pdf.engine()))
    counts = {k: _by_source(m) for k, m in result.items()}
    return Output(result, metadata=_stage_meta(result, counts))


@asset(**COMMON, **GPU)
def table_results(
    context: AssetExecutionContext, pdf: PdfAssetsResource, categorized_regions: dict[str, CategorizedRegions]
) -> Output[dict[str, TableManifest]]:
    """Cell grids with spans for every table region, exported as CSV / Markdown / HTML."""
    with fail_fast_on_systemic_errors():
        result = extract_tables(categorized_regions, progress_to_log(context, pdf.engine()))
    counts = {k: {"tables": len(m.results), "cells": sum(len(t.cells) for t in m.results)} for k, m in result.items()}
    return Output(result, metadata=_stage_meta(result, counts))


@asset(**COMMON, **GPU)
def figure_results(
    context: AssetExecutionContext,
    pdf: PdfAssetsResource,
    categorized_regions: dict[str, CategorizedRegions],
    text_results: dict[str, TextManifest],
) -> Output[dict[str, FigureManifest]]:
    """Figure crops with linked captions, and chart data where a chart model is configured."""
    with fail_fast_on_systemic_errors():
        result = extract_figures(categorized_regions, text_results, progress_to_log(context, pdf.engine()))
    counts = {k: {"figures": len(m.results), "charts": sum(1 for f in m.results if f.chart)} for k, m in result.items()}
    return Output(result, metadata=_stage_meta(result, counts))


@asset(**COMMON)
def db_rows(
    context: AssetExecutionContext,
    pdf: PdfAssetsResource,
    pages: dict[str, PagesManifest],
    layouts: dict[str, LayoutManifest],
    categorized_regions: dict[str, CategorizedRegions],
    text_results: dict[str, TextManifest],
    table_results: dict[str, TableManifest],
    figure_results: dict[str, FigureManifest],
) -> Output[dict[str, dict[str, int]]]:
    """One transaction that replaces the database rows of every partition of the run."""
    outputs = PipelineOutputs(pages, layouts, categorized_regions, text_results, table_results, figure_results)
    bundle = build_bundle(outputs, context.run.run_id)
    engine = make_engine(pdf.database_url())
    try:
        init_db(engine)
        with session_scope(engine) as session:
            inserted = replace_partitions(session, bundle)
    finally:
        engine.dispose()
    per_partition = {
        k: {"documents": len(m.documents), "pages": len(m.pages), "regions": len(categorized_regions[k].regions)}
        for k, m in pages.items()
    }
    meta: dict[str, MetadataValue] = {f"rows/{table}": MetadataValue.int(n) for table, n in inserted.items()}
    meta["failures"] = MetadataValue.int(len(bundle.failures))
    meta["preview"] = counts_preview(per_partition)
    return Output(per_partition, metadata=meta)


def _by_source(manifest: TextManifest) -> dict[str, int]:
    counts = {"text_layer": 0, "ocr": 0}
    for r in manifest.results:
        counts[r.source] = counts.get(r.source, 0) + 1
    return counts


def _stage_meta(result: Mapping[str, object], counts: Mapping[str, Mapping[str, int]]) -> dict[str, MetadataValue]:
    return {
        **metrics_metadata(stage_metrics(result)),
        **failures_metadata(all_failures(result)),
        "preview": counts_preview(counts),
    }
