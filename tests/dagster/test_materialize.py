"""The whole asset graph executed in process, on fakes and on the embedded default."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterInstance

from pdf_assets.defs.jobs import PIPELINE_ASSETS
from pdf_assets.defs.resources import PdfAssetsResource
from pdf_assets.samples import write_samples
from pdf_assets.storage.db import make_engine
from pdf_assets.storage.queries import read_frame
from tests.dagster.pipeline_helpers import db_counts, make_resource, run_job


@pytest.fixture()
def inbox(tmp_path: Path) -> Path:
    root = tmp_path / "inbox"
    samples = write_samples(root / "alpha")
    (root / "beta").mkdir()
    shutil.copy(samples[0], root / "beta" / "copy.pdf")
    (root / "beta" / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    return root


def _materialized_partitions(instance: DagsterInstance, asset: str) -> set[str]:
    return set(instance.get_materialized_partitions(AssetKey(asset)))


def test_one_run_materializes_every_asset_for_every_partition(tmp_path: Path, inbox: Path) -> None:
    resource = make_resource(tmp_path, inbox)
    with DagsterInstance.ephemeral() as instance:
        result = run_job(resource, instance, ["alpha", "beta"])
        assert result.success
        for asset in PIPELINE_ASSETS:
            assert _materialized_partitions(instance, asset) == {"alpha", "beta"}, asset
    counts = db_counts(resource)
    assert counts["documents"] == 6  # 4 samples + 1 copy + 1 broken
    assert counts["pages"] == 5
    assert counts["regions"] > 0 and counts["texts"] > 0 and counts["tables"] > 0 and counts["figures"] > 0


def test_rerun_is_idempotent(tmp_path: Path, inbox: Path) -> None:
    resource = make_resource(tmp_path, inbox)
    with DagsterInstance.ephemeral() as instance:
        assert run_job(resource, instance, ["alpha", "beta"]).success
        first = db_counts(resource)
        assert run_job(resource, instance, ["alpha", "beta"]).success
    second = db_counts(resource)
    first.pop("stage_metrics"), second.pop("stage_metrics")  # metrics are history: appended per run
    assert first == second


def test_corrupt_pdf_is_recorded_and_the_folder_carries_on(tmp_path: Path, inbox: Path) -> None:
    resource = make_resource(tmp_path, inbox)
    with DagsterInstance.ephemeral() as instance:
        result = run_job(resource, instance, ["alpha", "beta"])
        assert result.success
        pages_event = next(e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("pages"))
        metadata = pages_event.materialization.metadata
        assert metadata["failures"].value == 1
        assert "broken.pdf" in metadata["failed_items"].value
        checks = [e for e in result.get_asset_check_evaluations() if e.check_name == "documents_readable"]
        assert checks and not checks[0].passed
    engine = make_engine(resource.database_url())
    docs = read_frame(engine, "documents")
    failures = read_frame(engine, "failures")
    engine.dispose()
    broken = docs[docs["path"].str.endswith("broken.pdf")]
    assert list(broken["status"]) == ["error"] and broken["error"].iloc[0]
    assert set(docs[docs["partition"] == "beta"]["status"]) == {"ok", "error"}
    assert (failures["item"].str.endswith("broken.pdf")).any()


def test_poisoned_item_fails_alone(tmp_path: Path, inbox: Path) -> None:
    """A region a model cannot handle becomes a failure row; every other region still lands.

    The poison hits 2 of alpha's 8 text regions (25%): the limit is raised above that, or
    the blocking check would (rightly) stop the run, see tests/reliability/test_systemic.py."""
    poisoned = make_resource(tmp_path, inbox, fail_on="-p0000-r001")
    resource = PdfAssetsResource(**{**dict(poisoned), "max_failed_share": 0.5})
    with DagsterInstance.ephemeral() as instance:
        result = run_job(resource, instance, ["alpha"])
        assert result.success
        check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "regions_read")
        assert not check.passed and check.severity == AssetCheckSeverity.WARN
    engine = make_engine(resource.database_url())
    failures = read_frame(engine, "failures")
    texts = read_frame(engine, "texts")
    engine.dispose()
    assert (failures["item"].str.contains("-p0000-r001")).any()
    assert len(texts) > 0


@pytest.mark.postgres
def test_job_writes_to_postgresql_idempotently(tmp_path: Path, inbox: Path, postgres_url: str) -> None:
    """The production database: same rows as SQLite would get, replaced on a re-run."""
    resource = make_resource(tmp_path, inbox, db_url=postgres_url)
    with DagsterInstance.ephemeral() as instance:
        assert run_job(resource, instance, ["alpha", "beta"]).success
        first = db_counts(resource)
        assert run_job(resource, instance, ["alpha", "beta"]).success
    second = db_counts(resource)
    assert first["documents"] == 6 and first["regions"] > 0
    first.pop("stage_metrics"), second.pop("stage_metrics")
    assert first == second
