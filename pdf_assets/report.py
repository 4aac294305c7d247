"""Plain-text views of the database for the CLI."""

from __future__ import annotations

from sqlalchemy import select

from pdf_assets.core.config import default_db_url
from pdf_assets.storage.db import engine_scope, session_scope
from pdf_assets.storage.queries import summary
from pdf_assets.storage.schema import StageMetricRow

METRIC_COLUMNS = (
    "stage",
    "backend",
    "device",
    "items",
    "batches",
    "max_batch_size",
    "oom_retries",
    "failures",
    "seconds",
    "items_per_s",
)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])


def print_run_summary(db_url: str | None, run_id: str) -> None:
    """Per-stage numbers of one run, as stored by its database write."""
    with engine_scope(db_url or default_db_url()) as engine, session_scope(engine) as session:
        rows = session.execute(select(StageMetricRow).where(StageMetricRow.run_id == run_id)).scalars().all()
        table = [
            [
                str(getattr(r, c)) if not isinstance(getattr(r, c), float) else f"{getattr(r, c):.2f}"
                for c in METRIC_COLUMNS
            ]
            for r in rows
        ]
    print(f"\nrun {run_id}")
    print(
        _table(table, list(METRIC_COLUMNS))
        if table
        else "(no stage metrics recorded: the run failed before the database write)"
    )


def print_summary(db_url: str | None) -> int:
    with engine_scope(db_url or default_db_url()) as engine, session_scope(engine) as session:
        data = summary(session)
    if not data.partitions:
        print("the database is empty: run `pdf-assets demo` or drop a folder into the inbox")
        return 0
    rows = [
        [
            p.key,
            f"{p.documents_ok}/{p.documents_partial}/{p.documents_error}",
            str(p.pages),
            " ".join(f"{k}={v}" for k, v in p.regions_by_kind.items()),
            f"{p.regions_failed}/{p.regions_recovered}",
            " ".join(f"{k}={v}" for k, v in p.texts_by_source.items()),
            str(p.tables),
            str(p.figures),
        ]
        for p in data.partitions
    ]
    header = ["partition", "docs ok/partial/error", "pages", "regions", "failed/recovered", "text", "tables", "figures"]
    print(_table(rows, header))
    if data.recent_failures:
        print("\nrecent failures:")
        for f in data.recent_failures:
            print(f"  [{f.partition}] {f.stage} {f.item}: {f.error[:160]}")
    return 0
