"""What one run produced, as one value: the input of the database write.

A plain value of domain objects (no database types), so the stages can build it and the
storage layer can write it without either knowing the other.
"""

from __future__ import annotations

from dataclasses import dataclass

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
