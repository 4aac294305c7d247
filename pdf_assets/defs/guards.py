"""What a step does when something goes wrong: fail, retry, or block what comes after.

- Only errors that a retry can fix are retried: a dropped or refused database connection,
  a locked SQLite file (`TRANSIENT_ERRORS`), twice, 5 s apart. Everything else fails the step at once.
  Out-of-memory errors are not retried here: the batch runner already halves the batch down
  to `min_batch_size` and records what still does not fit as item failures; a rerun of the
  step on the same device would meet the same limit.
  The assets carry no `RetryPolicy` on purpose: Dagster turns an interrupt (Terminate in
  the UI, SIGTERM to the run worker) into a retry of the step when a policy is set, and a
  run being cancelled then runs its stage again instead of stopping.
- A systemic error (no device, missing weights, a model that breaks its contract, the
  database unreachable) is a `Failure` that forbids retries: it will not fix itself. Steps
  call `pdf_assets.storage.db.check_database` inside `stage_guard` before any model work, so
  an unreachable database fails the step in seconds with such a `Failure`.
- A stage whose share of failed items is above `max_failed_share` fails a blocking check
  of ERROR severity, so the assets after it do not materialize from mostly-missing data.
- One run per partition at a time: a step refuses to start while an older unfinished run
  covers one of its partitions (`refuse_overlapping_runs`); pages are rendered in place
  and the database rows of a partition are replaced, so two runs must never interleave.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    DagsterInstance,
    DagsterRunStatus,
    Failure,
    MetadataValue,
    RetryRequested,
    RunsFilter,
)
from sqlalchemy import exc as sa_exc

from pdf_assets.core.errors import ConfigError, SystemicError
from pdf_assets.core.types import ItemFailure
from pdf_assets.defs.automation import RANGE_END, RANGE_START
from pdf_assets.defs.partitions import PARTITIONS_NAME
from pdf_assets.storage.db import mask

#: Errors that may pass on their own; a step raising one is retried.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    ConnectionError,
)
TRANSIENT_RETRIES = 2
TRANSIENT_WAIT_S = 5.0


@contextmanager
def stage_guard() -> Iterator[None]:
    """Map a stage's errors onto Dagster's control flow (see the module docstring).

    Interrupts (`KeyboardInterrupt`, Dagster's `DagsterExecutionInterruptedError`) are
    BaseExceptions and pass through untouched: the step stops and the run is cancelled.
    """
    try:
        yield
    except (SystemicError, ConfigError) as exc:
        raise Failure(description=f"{type(exc).__name__}: {exc}", allow_retries=False) from exc
    except TRANSIENT_ERRORS as exc:
        raise RetryRequested(max_retries=TRANSIENT_RETRIES, seconds_to_wait=TRANSIENT_WAIT_S) from exc


def masked_url(url: str) -> str:
    """The database URL as it may appear in logs and errors: the password replaced by ***."""
    return mask(url)


def share_check_spec(asset: str, name: str, description: str) -> list[AssetCheckSpec]:
    """A blocking check: when it fails with ERROR severity, downstream assets do not run."""
    return [AssetCheckSpec(name, asset=asset, description=description, blocking=True)]


def failed_share_check(
    name: str, failures: Sequence[ItemFailure], items: int, max_share: float, asset: str | None = None
) -> AssetCheckResult:
    """Item failures warn while they are few; above `max_share` of `items` they block.
    (`asset` names the checked asset where the step materializes several.)

    Failures with a fallback (`recovered`, e.g. a table kept as its text) count too: the
    share measures whether the stage's model works, and a broken one must not pass.
    """
    share = len(failures) / items if items else 0.0
    blocked = share > max_share
    return AssetCheckResult(
        check_name=name,
        asset_key=asset,
        passed=not failures,
        severity=AssetCheckSeverity.ERROR if blocked else AssetCheckSeverity.WARN,
        description=(
            f"{len(failures)} of {items} items failed ({share:.0%}), above the limit of {max_share:.0%}"
            if blocked
            else None
        ),
        metadata={
            "failed_items": len(failures),
            "items": items,
            "failed_share": MetadataValue.float(round(share, 4)),
            "max_failed_share": MetadataValue.float(max_share),
            "first": MetadataValue.text(f"{failures[0].item}: {failures[0].error}" if failures else ""),
        },
    )


#: Runs that may still be writing pages, values or rows.
UNFINISHED = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
PARTITION_TAG = "dagster/partition"


def run_partitions(instance: DagsterInstance, tags: dict[str, str]) -> set[str]:
    """The folder partitions a run covers, from its partition or partition-range tags."""
    if PARTITION_TAG in tags:
        return {tags[PARTITION_TAG]}
    start, end = tags.get(RANGE_START), tags.get(RANGE_END)
    if start is None or end is None:
        return set()
    keys = list(instance.get_dynamic_partitions(PARTITIONS_NAME))
    if start not in keys or end not in keys:
        return {start, end}
    return set(keys[keys.index(start) : keys.index(end) + 1])


def refuse_overlapping_runs(context: AssetExecutionContext) -> None:
    """Fail (without retries) if an older unfinished run covers one of this run's partitions.

    The older run wins, so of two runs started together exactly one goes on. A run killed
    without a chance to record its end stays STARTED until run monitoring or the CLI marks
    it failed (see `dagster_home/dagster.yaml` and `runner.reap_dead_cli_runs`).
    """
    instance = context.instance
    me = context.run.run_id
    mine = set(context.partition_keys)
    own = instance.get_run_record_by_id(me)
    own_key = (own.create_timestamp.timestamp(), me) if own else (float("inf"), me)
    for record in instance.get_run_records(RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        if run.run_id == me or (record.create_timestamp.timestamp(), run.run_id) > own_key:
            continue
        held = run_partitions(instance, dict(run.tags)) & mine
        if held:
            raise Failure(
                description=(
                    f"partitions {', '.join(sorted(held))} are being processed by run {run.run_id} "
                    f"({run.status.value}); one run per partition at a time, so this run stops"
                ),
                allow_retries=False,
            )
