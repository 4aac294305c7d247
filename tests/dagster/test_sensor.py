"""The inbox sensor and the nightly catch-up schedule, evaluated directly against an instance.

What matters operationally: new folders become partitions and are processed by ONE run
(not one run per folder), an unchanged inbox requests nothing, a changed folder is
re-requested alone, odd folder names never crash the sensor, and the schedule re-requests
exactly the partitions whose database rows are missing or stale.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pytest
from dagster import (
    AddDynamicPartitionsRequest,
    DagsterInstance,
    RunRequest,
    SensorResult,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from pdf_assets.core.folders import KEY_PATTERN
from pdf_assets.defs import automation
from pdf_assets.defs.automation import RANGE_END, RANGE_START, inbox_sensor, nightly_catch_up
from pdf_assets.defs.definitions import build_definitions
from pdf_assets.defs.jobs import PIPELINE_ASSETS
from pdf_assets.defs.partitions import PARTITIONS_NAME
from pdf_assets.defs.resources import PdfAssetsResource, StageConfig
from pdf_assets.storage.db import init_db, make_engine, session_scope
from pdf_assets.storage.queries import partition_states, row_counts
from pdf_assets.storage.schema import PartitionRow
from tests.dagster.e2e_helpers import touch, write_pdfs

FOLDERS = {"a-folder": ("text_page.pdf", "table_page.pdf"), "b-folder": ("text_page.pdf",)}


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    root = tmp_path / "inbox"
    for name, pdfs in FOLDERS.items():
        write_pdfs(root / name, pdfs)
    return root


@pytest.fixture
def resource(tmp_path: Path, inbox: Path) -> PdfAssetsResource:
    # data_dir matches the PDF_ASSETS_DATA_DIR the shared conftest sets, which is where the
    # IO manager keeps its values: pages, values and the database all stay under tmp_path.
    fake = StageConfig(backend="fake", device="cpu")
    return PdfAssetsResource(
        inbox=str(inbox),
        data_dir=str(tmp_path / "data"),
        db_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        render_workers=1,
        sensor_settle_s=0,
        layout=fake,
        ocr=fake,
        tables=fake,
        figures=fake,
    )


@pytest.fixture
def instance() -> DagsterInstance:
    # In-memory storage: dynamic partitions and in-process runs work, and it starts in ~0.1 s.
    return DagsterInstance.ephemeral()


def evaluate(instance: DagsterInstance, resource: PdfAssetsResource, cursor: str | None) -> SensorResult | SkipReason:
    # As a context manager, so the resources' teardown runs now rather than at interpreter exit.
    with build_sensor_context(instance=instance, cursor=cursor, resources={"pdf": resource}) as context:
        return inbox_sensor(context)


def apply(instance: DagsterInstance, result: SensorResult) -> None:
    """What the daemon does with a sensor result before the next tick."""
    for request in result.dynamic_partitions_requests or []:
        assert isinstance(request, AddDynamicPartitionsRequest)
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))


def keys_in_range(instance: DagsterInstance, request: RunRequest) -> list[str]:
    """The partitions a range-tagged run request covers, in the instance's partition order."""
    order = list(instance.get_dynamic_partitions(PARTITIONS_NAME))
    start, end = order.index(request.tags[RANGE_START]), order.index(request.tags[RANGE_END])
    assert start <= end, f"range {request.tags[RANGE_START]}..{request.tags[RANGE_END]} runs backwards"
    return order[start : end + 1]


def covered(instance: DagsterInstance, requests: Sequence[RunRequest]) -> list[str]:
    return sorted(k for r in requests for k in keys_in_range(instance, r))


def test_first_tick_adds_both_partitions_and_requests_one_run(
    instance: DagsterInstance, resource: PdfAssetsResource
) -> None:
    result = evaluate(instance, resource, cursor=None)

    assert isinstance(result, SensorResult)
    [add] = result.dynamic_partitions_requests
    assert isinstance(add, AddDynamicPartitionsRequest)
    assert add.partitions_def_name == PARTITIONS_NAME
    assert sorted(add.partition_keys) == sorted(FOLDERS)
    [run] = result.run_requests
    apply(instance, result)
    assert covered(instance, [run]) == sorted(FOLDERS)
    events = {e.partition: e for e in result.asset_events}
    assert sorted(events) == sorted(FOLDERS)
    assert all(e.asset_key.to_user_string() == "pdf_folders" for e in events.values())
    assert {k: e.metadata["pdfs"].value for k, e in events.items()} == {k: len(v) for k, v in FOLDERS.items()}


def test_the_sensor_splits_new_folders_at_the_partitions_per_run_limit(
    instance: DagsterInstance, resource: PdfAssetsResource, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(automation, "MAX_PARTITIONS_PER_RUN", 1)
    result = evaluate(instance, resource, cursor=None)

    assert isinstance(result, SensorResult)
    apply(instance, result)
    assert [keys_in_range(instance, r) for r in result.run_requests] == [[k] for k in FOLDERS]
    assert len({r.run_key for r in result.run_requests}) == len(FOLDERS)


def test_unchanged_inbox_skips_and_a_changed_folder_runs_alone(
    instance: DagsterInstance, resource: PdfAssetsResource, inbox: Path
) -> None:
    first = evaluate(instance, resource, cursor=None)
    assert isinstance(first, SensorResult)
    apply(instance, first)

    assert isinstance(evaluate(instance, resource, cursor=first.cursor), SkipReason)

    touch(inbox / "b-folder" / "text_page.pdf")
    touched = evaluate(instance, resource, cursor=first.cursor)
    assert isinstance(touched, SensorResult)
    assert not touched.dynamic_partitions_requests
    assert covered(instance, touched.run_requests) == ["b-folder"]
    assert [e.partition for e in touched.asset_events] == ["b-folder"]

    write_pdfs(inbox / "a-folder", ("chart_page.pdf",))
    added = evaluate(instance, resource, cursor=touched.cursor)
    assert isinstance(added, SensorResult)
    assert covered(instance, added.run_requests) == ["a-folder"]
    assert isinstance(evaluate(instance, resource, cursor=added.cursor), SkipReason)


def test_every_change_of_a_folder_gets_a_new_run_key(
    instance: DagsterInstance, resource: PdfAssetsResource, inbox: Path
) -> None:
    first = evaluate(instance, resource, cursor=None)
    assert isinstance(first, SensorResult)
    apply(instance, first)
    cursor, run_keys = first.cursor, []
    for _ in range(2):
        touch(inbox / "b-folder" / "text_page.pdf")
        result = evaluate(instance, resource, cursor=cursor)
        assert isinstance(result, SensorResult)
        [request] = result.run_requests
        cursor = result.cursor
        run_keys.append(request.run_key)
    assert len(set(run_keys)) == 2, run_keys


def test_new_folder_after_the_first_tick_is_added_and_run_alone(
    instance: DagsterInstance, resource: PdfAssetsResource, inbox: Path
) -> None:
    first = evaluate(instance, resource, cursor=None)
    assert isinstance(first, SensorResult)
    apply(instance, first)

    write_pdfs(inbox / "c-folder")
    later = evaluate(instance, resource, cursor=first.cursor)
    assert isinstance(later, SensorResult)
    assert [list(r.partition_keys) for r in later.dynamic_partitions_requests] == [["c-folder"]]
    apply(instance, later)
    assert covered(instance, later.run_requests) == ["c-folder"]


def test_unsafe_folder_names_are_sanitized_or_skipped(
    instance: DagsterInstance, resource: PdfAssetsResource, inbox: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    write_pdfs(inbox / "Bad Name!!")
    write_pdfs(inbox / "!!!")
    write_pdfs(inbox / ".hidden")
    (inbox / "empty").mkdir()

    result = evaluate(instance, resource, cursor=None)

    assert isinstance(result, SensorResult)
    [add] = result.dynamic_partitions_requests
    keys = list(add.partition_keys)
    assert sorted(keys) == sorted([*FOLDERS, "bad-name"])
    assert all(KEY_PATTERN.match(k) for k in keys)
    apply(instance, result)
    assert covered(instance, result.run_requests) == sorted(keys)
    # The sensor's logger is Dagster's own (not under the root logger): read what it printed.
    assert "'!!!'" in capfd.readouterr().err


def test_a_folder_still_being_copied_waits_for_the_settle_time(
    instance: DagsterInstance, resource: PdfAssetsResource, inbox: Path
) -> None:
    settling = PdfAssetsResource(inbox=resource.inbox, db_url=resource.db_url, sensor_settle_s=3600.0)
    old = time.time() - 7200
    for pdf in (inbox / "a-folder").iterdir():
        os.utime(pdf, (old, old))
    os.utime(inbox / "a-folder", (old, old))

    first = evaluate(instance, settling, cursor=None)
    assert isinstance(first, SensorResult)
    apply(instance, first)
    assert covered(instance, first.run_requests) == ["a-folder"]  # b-folder was just written

    again = evaluate(instance, settling, cursor=first.cursor)
    assert isinstance(again, SkipReason)  # b-folder is still "being copied": not in the cursor
    later = evaluate(instance, resource, cursor=first.cursor)  # settle time over (0 s)
    assert isinstance(later, SensorResult)
    apply(instance, later)
    assert covered(instance, later.run_requests) == ["b-folder"]


def test_an_inbox_folder_whose_key_holds_another_folders_rows_is_skipped(
    instance: DagsterInstance, resource: PdfAssetsResource, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere" / "a-folder"
    write_pdfs(elsewhere)
    record_partition(resource, "a-folder", elsewhere)

    result = evaluate(instance, resource, cursor=None)
    assert isinstance(result, SensorResult)
    apply(instance, result)
    assert covered(instance, result.run_requests) == ["b-folder"]
    assert [e.partition for e in result.asset_events] == ["b-folder"]


def record_partition(resource: PdfAssetsResource, key: str, folder: Path) -> None:
    """A partitions row as a finished run leaves it, bound to `folder`."""
    engine = make_engine(resource.database_url())
    try:
        init_db(engine)
        with session_scope(engine) as session:
            now = datetime.now(timezone.utc)
            session.add(PartitionRow(key=key, folder=str(folder), fingerprint="x", run_id="r", updated_at=now))
    finally:
        engine.dispose()


def test_empty_inbox_skips(instance: DagsterInstance, resource: PdfAssetsResource, tmp_path: Path) -> None:
    empty = PdfAssetsResource(inbox=str(tmp_path / "no-such-inbox"), db_url=resource.db_url)
    assert isinstance(evaluate(instance, empty, cursor=None), SkipReason)
    assert not instance.get_dynamic_partitions(PARTITIONS_NAME)


def run_schedule(instance: DagsterInstance, resource: PdfAssetsResource) -> list[RunRequest] | SkipReason:
    with build_schedule_context(
        instance=instance, resources={"pdf": resource}, scheduled_execution_time=datetime.now(timezone.utc)
    ) as context:
        result = nightly_catch_up(context)
    return result if isinstance(result, SkipReason) else list(result)


def stored_state(resource: PdfAssetsResource) -> tuple[dict[str, int], dict[str, str]]:
    engine = make_engine(resource.database_url())
    try:
        init_db(engine)
        with session_scope(engine) as session:
            return row_counts(session), {k: fp for k, (fp, _) in partition_states(session).items()}
    finally:
        engine.dispose()


@pytest.fixture
def persistent_instance() -> Iterator[DagsterInstance]:
    """Schedule contexts need an instance reference, which in-memory instances do not have."""
    with instance_for_test() as inst:
        yield inst


def test_catch_up_requests_missing_partitions_until_the_rows_exist(
    persistent_instance: DagsterInstance, resource: PdfAssetsResource, inbox: Path
) -> None:
    instance = persistent_instance
    instance.add_dynamic_partitions(PARTITIONS_NAME, list(FOLDERS))

    requests = run_schedule(instance, resource)
    assert isinstance(requests, list) and requests
    assert covered(instance, requests) == sorted(FOLDERS)

    job = build_definitions(resource).resolve_job_def("process_pdf_folders")
    for request in requests:
        outcome = job.execute_in_process(instance=instance, tags=request.tags)
        assert outcome.success
        materialized = {(e.asset_key.to_user_string(), e.partition) for e in outcome.get_asset_materialization_events()}
        expected = {(a, k) for a in PIPELINE_ASSETS for k in keys_in_range(instance, request)}
        assert materialized == expected

    counts, fingerprints = stored_state(resource)
    assert sorted(fingerprints) == sorted(FOLDERS)
    assert counts["documents"] == sum(len(v) for v in FOLDERS.values())
    assert isinstance(run_schedule(instance, resource), SkipReason)

    touch(inbox / "a-folder" / "table_page.pdf")
    stale = run_schedule(instance, resource)
    assert isinstance(stale, list)
    assert covered(instance, stale) == ["a-folder"]
