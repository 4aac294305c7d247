"""Each partition's materialization carries its own numbers and a look at its content."""

from __future__ import annotations

import shutil
from pathlib import Path

from dagster import DagsterInstance, TableMetadataValue

from pdf_assets.samples import write_samples
from tests.dagster.pipeline_helpers import make_resource, run_job


def _events(result: object, asset: str) -> dict[str, dict[str, object]]:
    return {
        e.partition: e.materialization.metadata  # type: ignore[attr-defined]
        for e in result.get_asset_materialization_events()  # type: ignore[attr-defined]
        if e.asset_key.to_user_string() == asset
    }


def test_each_partition_gets_its_own_counts_and_samples(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    samples = write_samples(inbox / "alpha")  # four one-page samples
    (inbox / "beta").mkdir()
    shutil.copy(samples[0], inbox / "beta" / "only.pdf")  # one of them
    resource = make_resource(tmp_path, inbox)
    with DagsterInstance.ephemeral() as instance:
        result = run_job(resource, instance, ["alpha", "beta"])
    assert result.success
    tables = result.output_for_node("table_results")
    pages = _events(result, "pages")
    assert {k: m["partition/pages"].value for k, m in pages.items()} == {"alpha": 4, "beta": 1}

    table_events = _events(result, "table_results")
    for key in ("alpha", "beta"):
        assert table_events[key]["partition/tables"].value == len(tables[key].results)
    assert table_events["alpha"]["partition/tables"].value != table_events["beta"]["partition/tables"].value
    first = table_events["alpha"]["first_table"]
    assert isinstance(first, TableMetadataValue) and first.records
    expected = tables["alpha"].results[0]
    assert len(first.schema.columns) == expected.n_cols
    # The run-wide overview lists every partition; the model metrics are the run's.
    overview = table_events["alpha"]["preview"]
    assert isinstance(overview, TableMetadataValue)
    assert [r.data["partition"] for r in overview.records] == ["alpha", "beta"]

    texts = _events(result, "text_results")
    assert texts["beta"]["text_sample"].value and texts["beta"]["text_sample"].value in "\n".join(
        r.text for r in result.output_for_node("text_results")["beta"].results
    )
    rows = _events(result, "db_rows")
    assert rows["alpha"]["dagster/row_count"].value > rows["beta"]["dagster/row_count"].value > 0
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["rows_match"] is True


def test_rows_match_fails_when_the_database_lacks_rows() -> None:
    from pdf_assets.defs.assets import _rows_check

    produced = {"alpha": {"documents": 2, "texts": 5}, "beta": {"documents": 1, "texts": 0}}
    assert _rows_check({"documents": 3, "texts": 5}, produced).passed
    short = _rows_check({"documents": 3, "texts": 4}, produced)
    assert not short.passed and short.description == "texts: 4 written, 5 produced"


def test_the_optional_document_files_asset_writes_the_export(tmp_path: Path) -> None:
    from dagster import AssetKey

    from pdf_assets.defs.definitions import build_definitions

    write_samples(tmp_path / "inbox" / "alpha")
    resource = make_resource(tmp_path, tmp_path / "inbox")
    with DagsterInstance.ephemeral() as instance:
        assert run_job(resource, instance, ["alpha"]).success
        job = build_definitions(resource).resolve_implicit_global_asset_job_def()
        files = job.execute_in_process(
            instance=instance, partition_key="alpha", asset_selection=[AssetKey("document_files")]
        )
    assert files.success
    folder = tmp_path / "data" / "exports" / "alpha"
    assert len(list(folder.glob("*.md"))) == len(list(folder.glob("*.json"))) == 4
    (event,) = files.get_asset_materialization_events()
    assert event.materialization.metadata["partition/files"].value == 8
