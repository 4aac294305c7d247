"""A run's write as one transaction per partition, for backfills too big for one.

`replace_partitions` in one transaction holds every row of the run in memory and, on
SQLite, the write lock for the whole write. Here each partition is replaced in its own
transaction (`write_partition`), then the run's own rows (stage metrics, failures of no
partition) in a last one: a reader sees each folder switch from old rows to new at once,
other writers get the lock between partitions, and what a write holds at a time is one
partition's rows. A crash part-way leaves earlier partitions written and later ones as they
were, which a re-run of the same partitions repairs.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timezone

from sqlalchemy import Engine

from pdf_assets.core.bundle import RunBundle
from pdf_assets.storage.db import session_scope
from pdf_assets.storage.repository import replace_partitions

logger = logging.getLogger(__name__)


def write_partition(engine: Engine, bundle: RunBundle, key: str, *, now: datetime | None = None) -> dict[str, int]:
    """Replace partition `key`'s rows with its part of `bundle`, in a transaction of its own.

    Stage metrics and failures of no partition are left out: `write_run_rows` writes them
    once per run. Raises `repository.MissingFolderError` rather than empty a partition
    whose folder is gone.
    """
    with session_scope(engine) as session:
        return replace_partitions(session, bundle.only(key), now=now)


def write_run_rows(engine: Engine, bundle: RunBundle, *, now: datetime | None = None) -> dict[str, int]:
    """The run's stage metrics and the failures no partition owns, in a transaction of their own."""
    with session_scope(engine) as session:
        return replace_partitions(session, bundle.run_level(), now=now)


def write_by_partition(engine: Engine, bundle: RunBundle, *, now: datetime | None = None) -> dict[str, int]:
    """Every partition of `bundle` in its own transaction, then the run's rows; inserted rows per table."""
    now = now or datetime.now(timezone.utc)
    total: Counter[str] = Counter()
    for key, part in bundle.by_partition().items():
        with session_scope(engine) as session:
            total.update(replace_partitions(session, part, now=now))
        logger.debug("run %s: partition %s written", bundle.run_id, key)
    total.update(write_run_rows(engine, bundle, now=now))
    logger.info("run %s: wrote %d partitions one by one: %s", bundle.run_id, len(bundle.partitions), dict(total))
    return dict(total)
