"""A broken model, an unreachable database or an interrupt stops the run; it never ends green.

Each test runs the real job in process on the deterministic fakes and asserts outcomes:
which steps ran, failed or were skipped, the check results, and the database rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterEventType, DagsterInstance
from dagster._core.errors import DagsterExecutionInterruptedError
from sqlalchemy.exc import OperationalError

import pdf_assets.defs.assets as assets_module
import pdf_assets.defs.guards as guards
from pdf_assets.backends.fake import FakeLayout
from pdf_assets.core.types import PageRef
from tests.dagster.pipeline_helpers import db_counts, run_job
from tests.reliability.run_helpers import failing_fake, resource, sample_inbox, step_events

STEP_FAILURE = DagsterEventType.STEP_FAILURE
STEP_START = DagsterEventType.STEP_START
RETRY = DagsterEventType.STEP_UP_FOR_RETRY


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs on SQLite and on the PostgreSQL server at 127.0.0.1."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


# The step that materializes `pages` and `layouts` (rendering streams into the layout model).
STEP = "pages_and_layouts"


def _started(result: object) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type == STEP_START}  # type: ignore[attr-defined]


def test_every_table_and_figure_failing_blocks_the_database_write(tmp_path: Path, db_url: str) -> None:
    """Fakes that fail every table and figure: the blocking checks fail, nothing is written."""
    inbox = sample_inbox(tmp_path, "alpha")
    res = resource(tmp_path, inbox, db_url=db_url, tables=failing_fake("-r"), figures=failing_fake("-r"))
    with DagsterInstance.ephemeral() as instance:
        result = run_job(res, instance, ["alpha"])
        assert not result.success
        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert not checks["tables_read"].passed and checks["tables_read"].severity == AssetCheckSeverity.ERROR
        items = checks["tables_read"].metadata["items"].value
        assert items > 0 and checks["tables_read"].metadata["failed_items"].value == items
        assert checks["regions_read"].passed and checks["pages_analysed"].passed
        assert "db_rows" not in _started(result)
        assert not instance.get_materialized_partitions(AssetKey("db_rows"))
    assert db_counts(res)["documents"] == 0


def test_a_few_failed_items_under_the_limit_warn_and_the_run_succeeds(tmp_path: Path) -> None:
    """One poisoned table out of four (25%) with the limit raised to 30%: a warning only."""
    inbox = sample_inbox(tmp_path, "alpha")
    first_run = resource(tmp_path, inbox)
    with DagsterInstance.ephemeral() as instance:
        assert run_job(first_run, instance, ["alpha"]).success
    tables = db_counts(first_run)["tables"]
    assert tables == 4  # every sample page has one table region with the fake layout
    # Poison one specific table: its region slug holds its document id.
    res = resource(tmp_path, inbox, tables=failing_fake(_one_table_slug(first_run)), max_failed_share=0.3)
    with DagsterInstance.ephemeral() as instance:
        result = run_job(res, instance, ["alpha"])
        assert result.success
        check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "tables_read")
        assert not check.passed and check.severity == AssetCheckSeverity.WARN
        assert check.metadata["failed_items"].value == 1
    assert db_counts(res)["tables"] == tables - 1


def _one_table_slug(res: object) -> str:
    from pdf_assets.storage.db import make_engine
    from pdf_assets.storage.queries import read_frame

    engine = make_engine(res.database_url())  # type: ignore[attr-defined]
    try:
        regions = read_frame(engine, "regions")
        docs = read_frame(engine, "documents")
    finally:
        engine.dispose()
    table = regions[regions["label"] == "table"].iloc[0]
    doc = docs[docs["id"] == table["document_id"]].iloc[0] if "document_id" in regions else docs.iloc[0]
    return str(doc["doc_id"])[:16] + "-p0000"


def test_a_contract_violation_fails_the_stage_at_once_without_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    original = FakeLayout.postprocess

    def one_output_short(self: FakeLayout, raw: list[PageRef], items: Sequence[PageRef]) -> list[object]:
        return list(original(self, raw, items))[:-1]

    monkeypatch.setattr(FakeLayout, "postprocess", one_output_short)
    res = resource(tmp_path, sample_inbox(tmp_path, "alpha"), db_url=db_url)
    with DagsterInstance.ephemeral() as instance:
        result = run_job(res, instance, ["alpha"])
    assert not result.success
    failures = step_events(result, STEP, STEP_FAILURE)
    assert len(failures) == 1 and not step_events(result, STEP, RETRY)
    message = str(failures[0].step_failure_data.user_failure_data.description)  # type: ignore[attr-defined]
    assert "ModelContractError" in message and "outputs for" in message
    assert _started(result) == {STEP}
    assert db_counts(res)["documents"] == 0


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_unreachable_database_fails_before_any_model_work(tmp_path: Path, kind: str) -> None:
    """The first step checks the database; the error names it with the password masked."""
    (tmp_path / "not-a-folder").write_text("a file where the database folder should be")
    url = (
        f"sqlite:///{tmp_path / 'not-a-folder' / 'db.sqlite'}"
        if kind == "sqlite"
        else "postgresql://postgres:s3cret@127.0.0.1:1/pdf_assets"
    )
    res = resource(tmp_path, sample_inbox(tmp_path, "alpha"), db_url=url)
    with DagsterInstance.ephemeral() as instance:
        result = run_job(res, instance, ["alpha"])
    assert not result.success
    assert _started(result) == {STEP}
    failures = step_events(result, STEP, STEP_FAILURE)
    assert len(failures) == 1 and not step_events(result, STEP, RETRY)
    message = str(failures[0].step_failure_data.user_failure_data.description)  # type: ignore[attr-defined]
    assert "DatabaseUnavailableError" in message and "s3cret" not in message
    assert ("127.0.0.1:1" in message and "***" in message) if kind == "postgresql" else "db.sqlite" in message
    assert not (tmp_path / "data" / "pages").exists() or not any((tmp_path / "data" / "pages").iterdir())


def test_an_interrupt_stops_the_step_instead_of_retrying_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Terminate in the UI raises this interrupt inside the step: it must not become a retry."""
    calls: list[int] = []

    def interrupted(*_args: object, **_kwargs: object) -> object:
        calls.append(1)
        raise DagsterExecutionInterruptedError("terminated")

    monkeypatch.setattr(assets_module, "render_and_detect", interrupted)
    res = resource(tmp_path, sample_inbox(tmp_path, "alpha"))
    with DagsterInstance.ephemeral() as instance:
        result = run_job(res, instance, ["alpha"])
    assert not result.success
    assert calls == [1]
    assert not step_events(result, STEP, RETRY)
    assert len(step_events(result, STEP, STEP_FAILURE)) == 1


def test_a_transient_database_error_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    """A dropped connection during the write is the one kind of error a retry can fix."""
    real = assets_module.write_partitions
    calls: list[int] = []

    def flaky(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, ConnectionResetError("server closed the connection"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(guards, "TRANSIENT_WAIT_S", 0.0)
    monkeypatch.setattr(assets_module, "write_partitions", flaky)
    res = resource(tmp_path, sample_inbox(tmp_path, "alpha"), db_url=db_url)
    with DagsterInstance.ephemeral() as instance:
        result = run_job(res, instance, ["alpha"])
    assert result.success
    assert calls == [1, 1]
    assert len(step_events(result, "db_rows", RETRY)) == 1
    assert db_counts(res)["documents"] == 4
