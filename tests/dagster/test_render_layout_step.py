"""`pages` and `layouts` share one overlapped step, yet each can be materialized alone."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult

from pdf_assets.defs.automation import RANGE_END, RANGE_START
from pdf_assets.defs.definitions import build_definitions
from pdf_assets.defs.partitions import PARTITIONS_NAME
from pdf_assets.defs.resources import PdfAssetsResource
from pdf_assets.samples import write_samples
from tests.dagster.pipeline_helpers import make_resource


def _materialize(resource: PdfAssetsResource, instance: DagsterInstance, *assets: str) -> ExecuteInProcessResult:
    job = build_definitions(resource).resolve_job_def("process_pdf_folders")
    return job.execute_in_process(
        instance=instance,
        tags={RANGE_START: "alpha", RANGE_END: "alpha"},
        asset_selection=[AssetKey(a) for a in assets],
        raise_on_error=False,
    )


def _materialized(result: ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_pages_alone_then_layouts_alone_reads_the_stored_pages(tmp_path: Path) -> None:
    write_samples(tmp_path / "inbox" / "alpha")
    resource = make_resource(tmp_path, tmp_path / "inbox")
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(PARTITIONS_NAME, ["alpha"])
        pages_run = _materialize(resource, instance, "pages")
        assert pages_run.success and _materialized(pages_run) == {"pages"}
        checks = {e.asset_check_key.name for e in pages_run.get_asset_check_evaluations()}
        assert checks == {"documents_readable"}

        layouts_run = _materialize(resource, instance, "layouts")
        assert layouts_run.success and _materialized(layouts_run) == {"layouts"}
        layouts = layouts_run.asset_value("layouts")
        pages = pages_run.asset_value("pages")
        page_keys = {p.key for p in pages["alpha"].pages}
        assert (
            layouts["alpha"].regions and {(r.key.doc_id, r.key.page_no) for r in layouts["alpha"].regions} <= page_keys
        )

        both = _materialize(resource, instance, "pages", "layouts")
        assert both.success and _materialized(both) == {"pages", "layouts"}
        assert both.asset_value("layouts")["alpha"].regions == layouts["alpha"].regions
