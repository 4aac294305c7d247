"""The whole asset graph executed in process, on fakes and on the embedded default."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterInstance, ExecuteInProcessResult

from pdf_assets.defs.jobs import PIPELINE_ASSETS
from pdf_assets.defs.resources import PdfAssetsResource
from pdf_assets.samples import write_samples
from pdf_assets.storage.db import make_engine
from pdf_assets.storage.queries import read_frame
from tests.conftest import throwaway_postgres
from tests.dagster.pipeline_helpers import db_counts, make_resource, run_job


def _write_inbox(root: Path) -> Path:
    """Folder alpha: the 4 one-page samples; beta: a copy of alpha's text page and a broken PDF."""
    samples = write_samples(root / "alpha")
    (root / "beta").mkdir()
    shutil.copy(samples[0], root / "beta" / "copy.pdf")
    (root / "beta" / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    return root


@pytest.fixture()
def inbox(tmp_path: Path) -> Path:
    return _write_inbox(tmp_path / "inbox")


@dataclass(frozen=True)
class TwoRuns:
    """The job run twice over alpha+beta on the fakes, with the row counts after each run."""

    resource: PdfAssetsResource
    first_result: ExecuteInProcessResult
    materialized: dict[str, set[str]]
    first: dict[str, int]
    second: dict[str, int]


# What the fakes deterministically make of `_write_inbox`'s folders (backends/fake.py):
EXPECTED = {
    "partitions": 2,  # alpha and beta
    "documents": 6,  # 4 samples + copy.pdf + broken.pdf (a document row with status "error")
    "pages": 5,  # every readable sample is one page; broken.pdf has none
    "regions": 20,  # FakeLayout: title, text, table and figure bands on each of the 5 pages
    # The title and text band of each page: 7 read from the text layer, 3 by FakeOcr (chart_page's
    # text band lies between its title and the chart, scanned_page has no text layer at all).
    "texts": 10,
    "tables": 5,  # one FakeTables 2x2 grid per table band
    "figures": 5,  # one figure row per figure band
    "failures": 1,  # broken.pdf cannot be opened by the render stage
    "stage_metrics": 5,  # per run, one row per stage (render, layout, ocr, tables, figures) for both partitions
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoRuns]:
    """One shared pair of runs per database: each run takes seconds, and every test below reads it."""
    tmp = tmp_path_factory.mktemp(f"two_runs_{request.param}")
    with ExitStack() as stack:
        env = stack.enter_context(pytest.MonkeyPatch.context())  # the per-test isolation of conftest
        env.setenv("PDF_ASSETS_DATA_DIR", str(tmp / "data"))
        env.setenv("PDF_ASSETS_INBOX", str(tmp / "inbox"))
        env.delenv("PDF_ASSETS_DB_URL", raising=False)
        env.delenv("PDF_ASSETS_BACKEND", raising=False)
        db_url = stack.enter_context(throwaway_postgres()) if request.param == "postgres" else None
        resource = make_resource(tmp, _write_inbox(tmp / "inbox"), db_url=db_url)
        with DagsterInstance.ephemeral() as instance:
            first_result = run_job(resource, instance, ["alpha", "beta"])
            assert first_result.success
            materialized = {asset: _materialized_partitions(instance, asset) for asset in PIPELINE_ASSETS}
            first = db_counts(resource)
            assert run_job(resource, instance, ["alpha", "beta"]).success
        yield TwoRuns(resource, first_result, materialized, first, db_counts(resource))


def _materialized_partitions(instance: DagsterInstance, asset: str) -> set[str]:
    return set(instance.get_materialized_partitions(AssetKey(asset)))


def test_one_run_materializes_every_asset_for_every_partition(two_runs: TwoRuns) -> None:
    assert two_runs.materialized == {asset: {"alpha", "beta"} for asset in PIPELINE_ASSETS}


def test_one_run_stores_the_rows_the_fakes_produce(two_runs: TwoRuns) -> None:
    assert two_runs.first == EXPECTED


def test_rerun_is_idempotent(two_runs: TwoRuns) -> None:
    """Every table is replaced by the re-run except the metrics, which are history (appended per run)."""
    first, second = dict(two_runs.first), dict(two_runs.second)
    assert second.pop("stage_metrics") == 2 * first.pop("stage_metrics")
    assert first == second


def test_corrupt_pdf_is_recorded_and_the_folder_carries_on(two_runs: TwoRuns) -> None:
    result = two_runs.first_result
    pages_event = next(e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("pages"))
    metadata = pages_event.materialization.metadata
    assert metadata["failures"].value == 1
    assert "broken.pdf" in metadata["failed_items"].value
    checks = [e for e in result.get_asset_check_evaluations() if e.check_name == "documents_readable"]
    assert checks and not checks[0].passed
    engine = make_engine(two_runs.resource.database_url())
    docs = read_frame(engine, "documents")
    failures = read_frame(engine, "failures")
    engine.dispose()
    broken = docs[docs["path"].str.endswith("broken.pdf")]
    assert list(broken["status"]) == ["error"] and broken["error"].iloc[0]
    assert set(docs[docs["partition"] == "beta"]["status"]) == {"ok", "error"}
    assert list(failures["item"].str.endswith("broken.pdf")) == [True]


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
    # Only OCR sees the poison: the text band (r001) of the 2 pages without a text layer under
    # it (chart_page's band is below its title, scanned_page has no text layer at all).
    assert sorted(failures["stage"]) == ["ocr", "ocr"]
    assert failures["item"].str.endswith("-p0000-r001").all()
    assert len(texts) == 8 - 2  # title and text bands of alpha's 4 pages, less the 2 poisoned
