"""The partitioned asset chain: thin wrappers that hand all partitions of a run to a stage.

Every asset reads `context.partition_keys` (never `partition_key`) and has the same
partitions definition and backfill policy: a backfill runs up to `MAX_PARTITIONS_PER_RUN`
folders per run (env `PDF_ASSETS_MAX_PARTITIONS_PER_RUN`, default 50), so each model batches
across many documents while one run's values, memory and database writes stay bounded.
What is retried, what fails at once and what blocks downstream assets: see `guards`.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, cast

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetOut,
    AssetSpec,
    BackfillPolicy,
    BetaWarning,
    MaterializeResult,
    MetadataValue,
    Output,
    ResourceParam,
    asset,
    multi_asset,
)

from pdf_assets.core.types import ItemFailure
from pdf_assets.defs.guards import (
    failed_share_check,
    refuse_overlapping_runs,
    share_check_spec,
    stage_guard,
)
from pdf_assets.defs.io_manager import PartitionedValueIOManager
from pdf_assets.defs.metadata import (
    failures_metadata,
    metrics_metadata,
    progress_to_log,
)
from pdf_assets.defs.partitions import MAX_PARTITIONS_PER_RUN, folder_partitions
from pdf_assets.defs.previews import (
    Meta,
    add_partition_metadata,
    categorized_preview,
    counts_table,
    figures_preview,
    layouts_preview,
    pages_preview,
    partition_counts,
    tables_preview,
    text_preview,
)
from pdf_assets.defs.resources import PdfAssetsResource
from pdf_assets.export import export_partitions
from pdf_assets.stages.engine import InferenceEngine
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
from pdf_assets.stages.pipeline import (
    PipelineOutputs,
    all_failures,
    build_bundle,
    categorize_all,
    partition_rows,
    stage_metrics,
)
from pdf_assets.stages.render import render_pages
from pdf_assets.stages.render_layout import render_and_detect
from pdf_assets.stages.tables import extract_tables
from pdf_assets.stages.text import extract_text
from pdf_assets.storage.db import check_database, engine_scope
from pdf_assets.storage.writes import write_by_partition

# `backfill_policy` is marked beta in Dagster 1.13; every asset here needs it (a backfill must
# batch many folders in one run), so the warning would only repeat on every import.
warnings.filterwarnings("ignore", category=BetaWarning, message=r"Parameter `backfill_policy`")

GROUP = "pdf"
# Keyword arguments every asset shares; their types are as varied as `@asset`'s parameters.
# No retry policy: `guards.stage_guard` retries transient errors only (see there why).
OWNERS = ["team:pdf-assets"]
COMMON: dict[str, Any] = {
    "owners": OWNERS,
    "partitions_def": folder_partitions,
    "backfill_policy": BackfillPolicy.multi_run(max(1, MAX_PARTITIONS_PER_RUN)),
    "io_manager_key": "pdf_values",
    "group_name": GROUP,
}
GPU: dict[str, Any] = {"pool": "gpu", "kinds": {"pytorch"}}
# Each output of the render-and-layout step: stored like every asset value, and optional, so
# either asset can be materialized without the other.
STEP_OUT: dict[str, Any] = {"io_manager_key": COMMON["io_manager_key"], "is_required": False, "owners": OWNERS}

pdf_folders = AssetSpec(
    "pdf_folders",
    partitions_def=folder_partitions,
    group_name=GROUP,
    description="Folders of PDFs under the inbox; the sensor reports each new or changed folder.",
)


def _check(asset: str, name: str, description: str) -> list[AssetCheckSpec]:
    return [AssetCheckSpec(name, asset=asset, description=description)]


def _failures_check(name: str, failures: Sequence[ItemFailure]) -> AssetCheckResult:
    """Unreadable documents warn (the rest of the data is fine) and say which failed: a broken
    PDF is the input's fault, so rendering never blocks the stages after it."""
    return AssetCheckResult(
        check_name=name,
        asset_key="pages",
        passed=not failures,
        severity=AssetCheckSeverity.WARN,
        metadata={"failed_items": len(failures), "first": MetadataValue.text(failures[0].item if failures else "")},
    )


@multi_asset(
    outs={
        "pages": AssetOut(
            description="Every page of every PDF of the run, rendered into the page store.", kinds={"pdf"}, **STEP_OUT
        ),
        "layouts": AssetOut(
            description="Regions with labels and boxes (PDF points) for every page.", kinds={"pytorch"}, **STEP_OUT
        ),
    },
    deps=[pdf_folders],
    internal_asset_deps={"pages": {pdf_folders.key}, "layouts": {AssetKey("pages")}},
    check_specs=[
        *_check("pages", "documents_readable", "Every PDF opened and rendered"),
        *share_check_spec("layouts", "pages_analysed", "Layout failed on at most max_failed_share of pages"),
    ],
    can_subset=True,
    partitions_def=COMMON["partitions_def"],
    backfill_policy=COMMON["backfill_policy"],
    group_name=GROUP,
    pool=GPU["pool"],
)
def pages_and_layouts(
    context: AssetExecutionContext, pdf: PdfAssetsResource, pdf_values: ResourceParam[PartitionedValueIOManager]
) -> Iterator[Output | AssetCheckResult]:
    """Render and layout in one step, overlapped: the layout model starts on the first rendered
    pages while later PDFs still render (`stages.render_layout`), so neither the CPUs nor the
    GPU wait for the other. Either asset can be materialized alone; layouts then reads the
    partitions' stored pages."""
    selected = context.op_execution_context.selected_output_names
    with stage_guard():
        refuse_overlapping_runs(context)
        check_database(pdf.database_url())  # before any work: an unreachable DB fails in seconds
        pages, layouts = _render_and_detect(context, pdf, pdf_values, selected)
    if "pages" in selected:
        yield Output(pages, output_name="pages", metadata=_publish(context, "pages", pages, pages_preview))
        yield _failures_check("documents_readable", all_failures(pages))
    if layouts is not None:
        yield Output(layouts, output_name="layouts", metadata=_publish(context, "layouts", layouts, layouts_preview))
        analysed = sum(len(m.pages) for m in pages.values())
        yield failed_share_check("pages_analysed", all_failures(layouts), analysed, pdf.max_failed_share, "layouts")


def _render_and_detect(
    context: AssetExecutionContext,
    pdf: PdfAssetsResource,
    values: PartitionedValueIOManager,
    selected: AbstractSet[str],
) -> tuple[dict[str, PagesManifest], dict[str, LayoutManifest] | None]:
    """The pages (rendered now, or the stored ones when only layouts is selected) and, when
    selected, their layouts."""
    engine = progress_to_log(context, pdf.engine())
    keys = context.partition_keys
    if "pages" not in selected:
        stored = cast("dict[str, PagesManifest]", values.load_latest(context.instance, AssetKey("pages"), keys))
        return stored, detect_layouts(stored, engine)
    folders = {key: pdf.folder_path(key) for key in keys}
    store = pdf.data_path() / "pages"
    if "layouts" not in selected:
        return render_pages(folders, store, pdf.render_settings(), engine.progress), None
    both = render_and_detect(folders, store, engine, pdf.render_settings(), stream=pdf.stream_layout)
    return both.pages, both.layouts


@asset(
    kinds={"pdf"},
    check_specs=_check("categorized_regions", "crops_cut", "Crops were cut for at most max_failed_share of regions"),
    **COMMON,
)
def categorized_regions(
    context: AssetExecutionContext,
    pdf: PdfAssetsResource,
    layouts: dict[str, LayoutManifest],
    pages: dict[str, PagesManifest],
) -> Iterator[Output | AssetCheckResult]:
    """Regions bucketed into text / figure / table, with crops cut from the stored pages (a
    page image that cannot be cut fails its regions that need pixels: the check says how many)."""
    refuse_overlapping_runs(context)
    result = categorize_all(layouts, pages, pdf.data_path())
    yield Output(result, metadata=_publish(context, "categorized_regions", result, categorized_preview))
    regions = sum(len(m.regions) for m in result.values())
    yield failed_share_check("crops_cut", all_failures(result), regions, pdf.max_failed_share, "categorized_regions")


@asset(
    check_specs=share_check_spec("text_results", "regions_read", "Text failed on at most max_failed_share of regions"),
    **COMMON,
    **GPU,
)
def text_results(
    context: AssetExecutionContext, pdf: PdfAssetsResource, categorized_regions: dict[str, CategorizedRegions]
) -> Iterator[Output | AssetCheckResult]:
    """Text per region: the text layer where usable, OCR (batched over the run) elsewhere."""
    yield from _model_stage(
        context,
        pdf,
        lambda engine: extract_text(categorized_regions, engine),
        text_preview,
        ("regions_read", sum(len(m.text) for m in categorized_regions.values())),
    )


@asset(
    check_specs=share_check_spec("table_results", "tables_read", "Tables failed on at most max_failed_share of them"),
    **COMMON,
    **GPU,
)
def table_results(
    context: AssetExecutionContext, pdf: PdfAssetsResource, categorized_regions: dict[str, CategorizedRegions]
) -> Iterator[Output | AssetCheckResult]:
    """Cell grids with spans for every table region, exported as CSV / Markdown / HTML."""
    yield from _model_stage(
        context,
        pdf,
        lambda engine: extract_tables(categorized_regions, engine),
        tables_preview,
        ("tables_read", sum(len(m.tables) for m in categorized_regions.values())),
    )


@asset(
    check_specs=share_check_spec("figure_results", "figures_read", "Figures failed on at most max_failed_share"),
    **COMMON,
    **GPU,
)
def figure_results(
    context: AssetExecutionContext,
    pdf: PdfAssetsResource,
    categorized_regions: dict[str, CategorizedRegions],
    text_results: dict[str, TextManifest],
) -> Iterator[Output | AssetCheckResult]:
    """Figure crops with linked captions, and chart data where a chart model is configured."""
    yield from _model_stage(
        context,
        pdf,
        lambda engine: extract_figures(categorized_regions, text_results, engine),
        figures_preview,
        ("figures_read", sum(len(m.figures) for m in categorized_regions.values())),
    )


@asset(
    kinds={"sqlite", "postgres"},
    check_specs=_check("db_rows", "rows_match", "The database holds exactly the rows the stages produced"),
    **COMMON,
)
def db_rows(
    context: AssetExecutionContext,
    pdf: PdfAssetsResource,
    pages: dict[str, PagesManifest],
    layouts: dict[str, LayoutManifest],
    categorized_regions: dict[str, CategorizedRegions],
    text_results: dict[str, TextManifest],
    table_results: dict[str, TableManifest],
    figure_results: dict[str, FigureManifest],
) -> MaterializeResult:
    """The database rows of every partition of the run, one transaction per partition."""
    outputs = PipelineOutputs(pages, layouts, categorized_regions, text_results, table_results, figure_results)
    refuse_overlapping_runs(context)
    with stage_guard():
        inserted, failures = write_partitions(pdf.database_url(), outputs, context.run.run_id)
    per_partition = {key: partition_rows(outputs, key) for key in pages}
    add_partition_metadata(
        context,
        "db_rows",
        {
            k: {"dagster/row_count": MetadataValue.int(sum(rows.values())), **partition_counts(rows)}
            for k, rows in per_partition.items()
        },
    )
    meta: dict[str, MetadataValue] = {f"rows/{table}": MetadataValue.int(n) for table, n in inserted.items()}
    meta["failures"] = MetadataValue.int(failures)
    meta["preview"] = counts_table(per_partition)
    return MaterializeResult(metadata=meta, check_results=[_rows_check(inserted, per_partition)])


def _rows_check(inserted: Mapping[str, int], per_partition: Mapping[str, Mapping[str, int]]) -> AssetCheckResult:
    """Rows written per table against the rows the partitions' results make: a difference
    means results were dropped (or duplicated) between the stages and the database."""
    expected: dict[str, int] = {}
    for rows in per_partition.values():
        for table, n in rows.items():
            expected[table] = expected.get(table, 0) + n
    wrong = {t: (n, inserted.get(t, 0)) for t, n in expected.items() if inserted.get(t, 0) != n}
    return AssetCheckResult(
        check_name="rows_match",
        passed=not wrong,
        description=", ".join(f"{t}: {got} written, {n} produced" for t, (n, got) in wrong.items()) or None,
        metadata={"tables": MetadataValue.json(expected)},
    )


@asset(
    deps=["db_rows"],
    kinds={"json", "markdown"},
    owners=OWNERS,
    partitions_def=COMMON["partitions_def"],
    backfill_policy=COMMON["backfill_policy"],
    group_name=GROUP,
)
def document_files(context: AssetExecutionContext, pdf: PdfAssetsResource) -> MaterializeResult:
    """Each stored document of the partitions as Markdown and JSON files with its figure crops
    (what `pdf-assets export` writes), under `<data_dir>/exports/<partition>/`. Optional: not
    part of the job; materialize it from the UI when files are wanted."""
    out = pdf.data_path() / "exports"
    written = export_partitions(pdf.database_url(), list(context.partition_keys), out)
    for key in context.partition_keys:
        mine = [p for p in written if p.parent.name == key]
        context.add_asset_metadata(
            {"partition/files": MetadataValue.int(len(mine)), "folder": MetadataValue.path(str(out / key))},
            partition_key=key,
        )
    return MaterializeResult(metadata={"files": MetadataValue.int(len(written)), "root": MetadataValue.path(str(out))})


def write_partitions(url: str, outputs: PipelineOutputs, run_id: str) -> tuple[dict[str, int], int]:
    """Replace each partition's rows in its own transaction, then the run's own rows (stage
    metrics, failures of no partition): a backfill of many folders never holds one huge
    transaction. Returns the inserted rows per table and the number of failures written."""
    bundle = build_bundle(outputs, run_id)
    with engine_scope(url) as engine:
        inserted = write_by_partition(engine, bundle)
    return inserted, len(bundle.failures)


def _model_stage(
    context: AssetExecutionContext,
    pdf: PdfAssetsResource,
    run: Callable[[InferenceEngine], Mapping[str, Any]],
    preview: Callable[[Any], Meta],
    check: tuple[str, int],
) -> Iterator[Output | AssetCheckResult]:
    """The body every model stage shares: refuse a partition an older run still holds, check
    the database before the model work, run the stage over every partition, then report
    its metadata and the blocking failed-share check (`check` = its name and item count)."""
    with stage_guard():
        refuse_overlapping_runs(context)
        check_database(pdf.database_url())
        result = run(progress_to_log(context, pdf.engine()))
    yield Output(result, metadata=_publish(context, context.asset_key.to_user_string(), result, preview))
    name, items = check
    yield failed_share_check(name, all_failures(result), items, pdf.max_failed_share)


def _publish(
    context: AssetExecutionContext, asset: str, result: Mapping[str, Any], preview: Callable[[Any], Meta]
) -> Meta:
    """Each partition's own numbers and samples on its own materialization; the run's model
    metrics, failures and a table of every partition's counts on the output."""
    per_partition = {key: preview(value) for key, value in result.items()}
    add_partition_metadata(context, asset, per_partition)
    counts = {
        key: {name.split("/", 1)[1]: int(v.value) for name, v in meta.items() if name.startswith("partition/")}  # type: ignore[arg-type]
        for key, meta in per_partition.items()
    }
    return {
        **metrics_metadata(stage_metrics(result)),
        **failures_metadata(all_failures(result)),
        "preview": counts_table(counts),
    }
