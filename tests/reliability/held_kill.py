"""A writer that SIGKILLs itself inside its open write transaction, run as a child process:
`python -m tests.reliability.held_kill <db url> <point>`.

Points: `first_insert` (the partition's old rows already deleted), `mid_insert` (documents,
pages and regions inserted, texts next) and `before_commit` (every row written, COMMIT not
yet sent). No signal handler, `finally` or atexit runs after SIGKILL, so what the database
keeps is only what it had committed.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import replace
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from pdf_assets.core.bundle import RunBundle
from pdf_assets.storage import repository
from pdf_assets.storage.db import make_engine, session_scope
from pdf_assets.storage.repository import replace_partitions
from pdf_assets.storage.schema import PartitionRow, TextRow
from tests.unit.test_bulk_write import tricky_bundle

POINTS = ("first_insert", "mid_insert", "before_commit")


def new_bundle() -> RunBundle:
    """Partition `a` again with other text, as a later run would write it."""
    old = tricky_bundle("a", run_id="run-new")
    return replace(old, texts=tuple(replace(t, text=f"new {t.text}") for t in old.texts))


def _die(*_: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(point: str) -> None:
    if point == "before_commit":
        event.listen(Session, "before_commit", _die)
        return
    target = PartitionRow if point == "first_insert" else TextRow
    real = repository.writer_for  # type: ignore[attr-defined]  # the name replace_partitions calls

    def writer_for(session: Session) -> Any:
        writer = real(session)
        insert = writer.insert

        def killing_insert(model: Any, rows: Any) -> int:
            if model is target:
                _die()
            return insert(model, rows)

        writer.insert = killing_insert  # type: ignore[method-assign]
        return writer

    setattr(repository, "writer_for", writer_for)  # noqa: B010 - the name replace_partitions looks up


def main(url: str, point: str) -> None:
    if point not in POINTS:
        raise SystemExit(f"unknown kill point {point!r}; one of {POINTS}")
    _arm(point)
    engine = make_engine(url)
    with session_scope(engine) as session:
        replace_partitions(session, new_bundle())
    raise SystemExit("the write committed: the kill point was never reached")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
