"""What one run produced, as one value: the input of the database write.

A plain value of domain objects (no database types), so the stages can build it and the
storage layer can write it without either knowing the other. A bundle can be cut into one
bundle per partition plus one of run-level rows (`only`, `run_level`), so a large backfill
is written one partition per transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pdf_assets.core.types import (
    DocumentInfo,
    FigureResult,
    ItemFailure,
    PageRef,
    Region,
    StageMetrics,
    TableResult,
    TextResult,
)

# The row groups that carry their partition on every item.
_PER_PARTITION = ("documents", "pages", "regions", "texts", "figures", "tables")


def failure_doc_id(failure: ItemFailure) -> str | None:
    """The document a failure hit, named directly or through its region."""
    if failure.doc_id is not None:
        return failure.doc_id
    return failure.region.doc_id if failure.region is not None else None


@dataclass(frozen=True)
class RunBundle:
    """Everything one run produced for a set of partitions, ready to be written at once."""

    run_id: str
    partitions: dict[str, tuple[str, str]]  # key -> (folder path, fingerprint)
    documents: tuple[DocumentInfo, ...] = ()
    pages: tuple[PageRef, ...] = ()
    regions: tuple[Region, ...] = ()
    texts: tuple[TextResult, ...] = ()
    figures: tuple[FigureResult, ...] = ()
    tables: tuple[TableResult, ...] = ()
    failures: tuple[ItemFailure, ...] = ()
    metrics: tuple[StageMetrics, ...] = ()
    _doc_partitions: dict[str, set[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where: dict[str, set[str]] = {}
        for doc in self.documents:
            where.setdefault(doc.doc_id, set()).add(doc.partition)
        object.__setattr__(self, "_doc_partitions", where)

    def partition_of(self, failure: ItemFailure) -> str | None:
        """The partition a failure belongs to: its own, its document's, or the run's only one.

        Runner failures often carry no partition; the document they name (when it lives in
        exactly one of the bundle's partitions) or a one-partition run settles it. None means
        the failure is the run's, not any partition's.
        """
        if failure.partition is not None:
            return failure.partition
        doc_id = failure_doc_id(failure)
        homes = self._doc_partitions.get(doc_id, set()) if doc_id is not None else set()
        if len(homes) == 1:
            return next(iter(homes))
        return next(iter(self.partitions)) if len(self.partitions) == 1 else None

    def only(self, key: str) -> RunBundle:
        """Partition `key`'s rows and failures, without the run's stage metrics."""
        if key not in self.partitions:
            raise KeyError(f"partition {key!r} is not in bundle {self.run_id}")
        return RunBundle(
            run_id=self.run_id,
            partitions={key: self.partitions[key]},
            documents=tuple(d for d in self.documents if d.partition == key),
            pages=tuple(p for p in self.pages if p.partition == key),
            regions=tuple(r for r in self.regions if r.partition == key),
            texts=tuple(t for t in self.texts if t.partition == key),
            figures=tuple(f for f in self.figures if f.partition == key),
            tables=tuple(t for t in self.tables if t.partition == key),
            failures=tuple(f for f in self.failures if self.partition_of(f) == key),
        )

    def by_partition(self) -> dict[str, RunBundle]:
        """`only(key)` for every partition, in one pass over the rows (`only` in a loop is quadratic)."""
        groups: dict[str, dict[str, list[Any]]] = {
            key: {name: [] for name in _PER_PARTITION} for key in self.partitions
        }
        for name in _PER_PARTITION:
            for item in getattr(self, name):
                if item.partition not in groups:
                    raise ValueError(f"bundle {self.run_id} holds {name} of undeclared partition {item.partition!r}")
                groups[item.partition][name].append(item)
        failures: dict[str, list[ItemFailure]] = {key: [] for key in self.partitions}
        for failure in self.failures:
            key = self.partition_of(failure)
            if key in failures:
                failures[key].append(failure)
        return {
            key: RunBundle(
                self.run_id,
                {key: self.partitions[key]},
                **{name: tuple(items) for name, items in groups[key].items()},
                failures=tuple(failures[key]),
            )
            for key in self.partitions
        }

    def run_level(self) -> RunBundle:
        """What belongs to no partition: the stage metrics and failures `partition_of` cannot place."""
        return RunBundle(
            run_id=self.run_id,
            partitions={},
            failures=tuple(f for f in self.failures if self.partition_of(f) is None),
            metrics=self.metrics,
        )
